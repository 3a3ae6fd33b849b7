# %% [markdown] slideshow={"slide_type": "slide"}
# # FAQ, glossary and self-check quiz
#
# {{COLAB_BADGE}}
#
# **Time:** about 25 minutes. **You will:** get short, correct answers to the questions people
# most often ask about deep generative models, each with a pointer to the notebook that works
# it out; look up any term in English or Chinese; and test yourself with a quiz that explains
# every answer.
#
# The article this course grew from ends with a list of questions and answers and a section
# on future challenges. Several of its answers are wrong (06_code_walkthrough checks them);
# most are too vague to help. Here are the same themes, answered properly and briefly.

# %%
{{COLAB_BOOTSTRAP}}

# %% [markdown]
# One setup cell: the glossary and the quiz live in `course_lib`, as data.

# %% tags=["nbval-ignore-output"]
import jax
import numpy as np
import scipy.stats
from IPython.display import Markdown, display

from course_lib.lessons import glossary
from course_lib.exercises.ch10_quiz import check_quiz, show_quiz

print("JAX devices:", jax.devices())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Frequently asked questions
#
# ### What is a generative model, and what makes one "deep"?
#
# A generative model describes how data come about: a probability distribution p(x) over
# examples (or p(x, y) with labels) from which new examples can be sampled. A *discriminative*
# model only maps an input to an answer, p(y | x) or y = f(x): it can classify a digit but not
# draw one. Random forests and support vector machines are discriminative, not, as the article
# says, other generative models; classical generative models are Gaussian mixtures, naive
# Bayes or hidden Markov models. A generative model is *deep* when neural networks
# parameterise its distribution: the decoder of a VAE, the generator of a GAN, the
# conditionals of an autoregressive model. → [01 Concepts](01_concepts.ipynb)
#
# ### Is the training objective always "maximise the log-likelihood"?
#
# No. Autoregressive models and normalizing flows maximise the exact log-likelihood; a VAE
# maximises a lower bound on it, the ELBO; a diffusion model minimises a weighted form of such
# a bound; a GAN has no likelihood at all and plays a two-player game (with an optimal
# discriminator, its generator minimises a Jensen-Shannon divergence).
# → [04 The VAE](04_vae.ipynb), [05 The GAN](05_gan.ipynb), [07 Beyond](07_beyond.ipynb)
#
# When the objective *is* the likelihood, what does maximising it mean? The average negative
# log-likelihood of data from p under a model q is the cross-entropy H(p, q), and
# H(p, q) = H(p) + KL(p ‖ q). The data's entropy H(p) does not depend on the model, so
# maximum likelihood is the same as making KL(p ‖ q) small. On three outcomes: the first
# assert below is an *identity* (the same three sums, rearranged), so it illustrates the formula
# and cannot fail; the check that can fail is the second, the average negative log-likelihood
# of 100,000 samples from p against the cross-entropy computed from the formula:

# %%
p = np.array([0.5, 0.3, 0.2])  # the data distribution
q = np.array([0.2, 0.5, 0.3])  # a model
cross_entropy = -np.sum(p * np.log(q))
entropy = scipy.stats.entropy(p)  # -sum p log p
kl = scipy.stats.entropy(p, q)  # sum p log(p / q)
samples = np.asarray(jax.random.choice(jax.random.key(0), 3, (100_000,), p=p))
nll_mc = -np.mean(np.log(q[samples]))  # average negative log-likelihood of the samples
print(f"H(p, q) = {cross_entropy:.4f} = H(p) + KL(p || q) = {entropy:.4f} + {kl:.4f}; "
      f"Monte Carlo {nll_mc:.2f}")
assert abs(cross_entropy - (entropy + kl)) < 1e-12  # an identity: an illustration
assert abs(nll_mc - cross_entropy) < 0.01  # the check: samples against the formula (standard error about 0.002)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Which families exist, and how do they compare?
#
# | Family | Likelihood | Sampling | Typical strengths | Typical weaknesses | Where |
# |---|---|---|---|---|---|
# | Variational autoencoder | a lower bound (ELBO) | one network pass | stable training, a useful latent space | blurry samples; posterior collapse | [04](04_vae.ipynb) |
# | Generative adversarial network | none | one network pass | sharp samples | unstable training, mode collapse, hard to evaluate | [05](05_gan.ipynb) |
# | Autoregressive model | exact | one step per dimension or token (slow) | exact likelihood, excellent for text | sequential, slow sampling | [07](07_beyond.ipynb) |
# | Normalizing flow | exact on continuous data; on pixels, a dequantised bound | one network pass for coupling flows (RealNVP, Glow); one pass per dimension for autoregressive flows (MAF) | exact likelihood and exact inverse | invertibility limits the architecture | [07](07_beyond.ipynb) |
# | Diffusion model | a bound | tens to hundreds of network passes | very high quality and coverage | slow sampling without distillation | [07](07_beyond.ipynb) |
#
# On discrete data such as 8-bit pixels a flow models a continuous density of *dequantised*
# pixels (pixel plus uniform noise), which gives an upper bound on the discrete negative
# log-likelihood, not its exact value (Theis et al. 2016; 07 measures it). Masked autoregressive
# flows (Papamakarios et al. 2017) evaluate the density in one pass but sample one dimension at a
# time.
#
# No family wins on every axis: Xiao, Kreis and Vahdat (2022) call the tension between sample
# quality, coverage of the data and fast sampling the *generative learning trilemma*.
#
# ### What are they used for?
#
# Images (synthesis, super-resolution, e.g. SRGAN by Ledig et al. 2017, inpainting), audio
# (WaveNet, an autoregressive model, van den Oord et al. 2016), text (today's language models
# are autoregressive generative models of tokens), molecules (a VAE over molecular strings,
# Gómez-Bombarelli et al. 2018), learned compression (Ballé et al. 2017), data augmentation
# and simulation. Likelihood-based anomaly detection is also proposed, with a caution:
# deep models can give *higher* likelihood to some unrelated data sets than to their own
# (Nalisnick et al. 2019).

# %% [markdown] slideshow={"slide_type": "slide"}
# ### How do I know whether my model is any good?
#
# Use several measures, on held-out data, because each one misses something (Theis, van den
# Oord and Bethge, 2016):
#
# - **held-out log-likelihood** (or its bound), for models that have one, in nats per example
#   or bits per dimension (04, 07);
# - **distribution distances between samples and data**, such as FID (Heusel et al., 2017) or
#   a Fréchet distance in PCA space (no classifier needed), used in 06;
# - **precision and recall** for generative models (Sajjadi et al., 2018; Kynkäänniemi et al.,
#   2019): are samples realistic, and is every part of the data covered? (05 measures mode
#   coverage on toy data);
# - **nearest training examples** of a few samples, to catch memorisation;
# - **looking at samples**, which catches what numbers miss, and misses what numbers catch.
#
# A loss curve is not one of them: in 06, a program whose losses both fall to zero learns
# nothing at all. → [06 Code walkthrough](06_code_walkthrough.ipynb)
#
# ### What are the pitfalls of FID?
#
# FID is the Fréchet distance between Gaussians fitted to Inception-v3 features of real and
# generated images (Heusel et al. 2017); 05 computes the same formula with a digit classifier.
# Its number depends on choices that have nothing to do with the model:
#
# - **the feature network.** Inception-v3 was trained to classify ImageNet, so FID rewards
#   samples whose ImageNet-class statistics match the data's: Kynkäänniemi et al. (ICLR 2023)
#   lowered FID markedly by resampling generated images to match the class histogram, without
#   making any image better. Stein et al. (NeurIPS 2023) found that features of self-supervised
#   networks (DINOv2) agree better with human judgements;
# - **the number of samples.** FID is biased upwards, more for fewer samples, so only numbers
#   computed with the same sample size compare (05 scores real data the same way as a
#   reference; Chong and Forsyth 2020 extrapolate to infinitely many samples);
# - **pre-processing.** Resizing and JPEG compression change the features; Parmar et al. (2022)
#   showed that library differences alone move FID noticeably;
# - **one number.** FID mixes fidelity and diversity; report precision and recall next to it.
#
# ### Why did diffusion models replace GANs for images?
#
# Dhariwal and Nichol (2021) showed diffusion models beating the best GANs on ImageNet FID, and
# the reasons hold up: the training loss is a regression (predict the noise), with no second
# player and no game to balance (05 shows how hard that is), so training is stable and scales to
# large models and data; the objective is tied to a likelihood bound, so the model is pushed to
# cover *all* of the data, with no mode collapse; and conditioning on text is easy. The price is
# sampling speed, tens to hundreds of network passes, which distillation (Salimans and Ho 2022;
# adversarial diffusion distillation, Sauer et al. 2023, which uses a GAN loss) and consistency
# models (Song et al. 2023) cut to a few. GANs survive as *losses*: the autoencoders of latent
# diffusion are trained with an adversarial term (05, "Beyond this notebook").
# → [07](07_beyond.ipynb), [08](08_vector_fields.ipynb)
#
# ### How are diffusion, score matching and flow matching related?
#
# They are three views of one model. The **score** of a density is ∇ₓ log p(x). A diffusion
# model's noise predictor is a scaled score of the noisy data: ε_θ(x_t, t) ≈ −√(1 − ᾱ_t) ∇ log p_t(x_t)
# (Tweedie's formula; learning it is *denoising score matching*, Vincent 2011; Song and Ermon
# 2019). Song et al. (2021) write the noising process as a stochastic differential equation,
# whose reverse and whose deterministic "probability-flow ODE" both need only this score.
# **Flow matching** (Lipman et al. 2023; rectified flow, Liu et al. 2023; stochastic
# interpolants, Albergo and Vanden-Eijnden 2023) skips the SDE: choose a path from noise to data,
# e.g. x_t = (1 − t) x_0 + t x_1 with x_0 noise and x_1 data, and regress a velocity field v_θ(x_t, t) on its derivative
# x_1 − x_0; sampling integrates dx/dt = v_θ. For Gaussian paths the velocity, the score and the
# noise prediction are affine functions of one another, so the three are the same model with
# different parameterisations and weightings of the loss. Flow matching trains many of today's
# image and video models (e.g. Stable Diffusion 3, Esser et al. 2024).
# → [08](08_vector_fields.ipynb)
#
# ### What is guidance, and how does text-to-image generation work?
#
# A text-to-image model is a conditional diffusion or flow model: its network receives the
# noisy image, the time and an embedding of the prompt from a text encoder (CLIP or T5), usually
# through cross-attention, and it often works in the latent space of an autoencoder (latent
# diffusion, Rombach et al. 2022). **Guidance** trades diversity for fidelity to the condition.
# Classifier guidance (Dhariwal and Nichol 2021) adds the gradient of a noisy-image classifier's
# log p(c | x_t) to the score. Classifier-free guidance (Ho and Salimans 2022) trains one network
# with and without the condition (the prompt is dropped for a fraction of the examples) and
# samples with ε̃ = (1 + w) ε_θ(x_t, c) − w ε_θ(x_t), extrapolating away from the unconditional
# prediction; weights w of a few units are typical. → [08](08_vector_fields.ipynb)
#
# ### Are large language models generative models?
#
# Yes: a language model is an autoregressive model of token sequences,
# p(x) = ∏_t p(x_t | x_<t), trained by maximum likelihood (the next-token cross-entropy) and
# sampled one token at a time, exactly the family of 07 with a Transformer (Vaswani et al. 2017)
# computing the conditionals (GPT, Radford et al. 2018, 2019; Brown et al. 2020). Tokenizers turn
# text, and with learned codebooks images and audio, into such sequences. Fine-tuning on
# instructions and human preferences (Ouyang et al. 2022) then moves the model away from the
# pure data distribution towards useful answers. → [09](09_language_models.ipynb)
#
# ### My model trains, but generates garbage. What should I check?
#
# The defects found in 06 make a checklist: Is data loaded, scaled to the range of the model's
# output, and actually reaching the loss? Does the discriminator see real *and* generated
# samples with the right labels? Does the generator's loss go through the discriminator, and
# do its gradients reach every generator weight? Do targets and outputs have the same shape,
# or is broadcasting quietly doing something else? Are the losses checked against a value you
# know (2 log 2 for an undecided discriminator, 784 log 2 nats for a decoder that says 1/2)?
# Is the model measured on data it did not train on? → [06](06_code_walkthrough.ipynb),
# [03 Gradient descent](03_gradient_descent.ipynb)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Future challenges
#
# The article names four challenges: model complexity, the need for training data,
# generalisation, and new applications. Here is what each means in practice, and what is being
# done about it.
#
# - **Compute and model size.** Large image and text models cost a great deal to train and
#   to sample from. Remedies: generate in a compressed latent space (latent diffusion, Rombach
#   et al. 2022), distil many sampling steps into a few (Salimans and Ho 2022; consistency
#   models, Song et al. 2023), and smaller architectures. In this course every model trains on
#   a laptop CPU in seconds because the data are small and the networks are MLPs.
# - **Training data.** GANs overfit small data sets: the discriminator memorises them.
#   Adaptive and differentiable data augmentation let GANs train on a few thousand images
#   (Karras et al. 2020; Zhao et al. 2020); pretrained models can be fine-tuned instead of
#   trained from scratch. The course's 4,000 MNIST digits are enough for its small models.
# - **Generalisation versus memorisation.** A generative model that reproduces training
#   examples has not generalised, and may leak them: Carlini et al. (2023) extracted training
#   images from diffusion models. Check samples against their nearest training examples, and
#   evaluate on held-out data.
# - **Evaluation.** There is no single number for "good": likelihood, sample quality and
#   coverage can disagree (Theis et al. 2016). Report several measures, and look.
# - **Responsible use.** Realistic fakes (images, voices, text) can deceive. Provenance
#   records, watermarks and detectors are active research; none is a solved problem.
#
# ## Questions from the article, answered in the course
#
# | The article asks | Where the course answers it |
# |---|---|
# | What are the core concepts? | [01 Concepts](01_concepts.ipynb), [02 Probability](02_probability.ipynb) |
# | What are the core algorithms and their steps? | [03 Gradient descent](03_gradient_descent.ipynb), [04 The VAE](04_vae.ipynb), [05 The GAN](05_gan.ipynb) |
# | What are the formulas? | the ELBO and KL in [04](04_vae.ipynb); the GAN value function and optimal discriminator in [05](05_gan.ipynb); all checked again in [06](06_code_walkthrough.ipynb), section 8 |
# | Is there a code example? | every notebook; the article's own example is dissected and fixed in [06](06_code_walkthrough.ipynb) |
# | What comes next? | [07 Beyond VAEs and GANs](07_beyond.ipynb) and the challenges above |

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Glossary / 术语表
#
# The key terms of the course in English and Chinese, with the notebook that teaches each one.
# Variants in parentheses are other renderings you will meet in Chinese texts. The table is
# generated from `course_lib.lessons.glossary.TERMS`, so it is the same everywhere the course uses it.

# %%
print(f"{len(glossary.TERMS)} terms")
display(Markdown(glossary.to_markdown()))

# %% [markdown]
# The same data can be searched from code, in either language, with or without abbreviations:

# %%
for query in ("ELBO", "模式坍塌", "reparameterization trick", "KL divergence"):
    term = glossary.lookup(query)
    print(f"{query!r:28} -> {term.english} / {term.chinese}")
print("terms mentioning 'posterior':", [t.english for t in glossary.search("posterior")])
assert glossary.lookup("证据下界").english == "evidence lower bound (ELBO)"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Self-check quiz
#
# Fourteen questions on the whole course. Read them, write your letters in `my_answers` below (leave
# `...` for a question you skip), and run the check: each answer gets an explanation, right or
# wrong.

# %%
show_quiz()

# %% tags=["solution"]
def my_answers():
    """Your answers: question name -> letter."""
    return {"gan_year": "d", "discriminative": "a", "vae_loss": "c", "reparam": "b", "gan_likelihood": "d",
            "freeze": "a", "article_d": "c", "mode_collapse": "b", "kl": "d", "evaluate": "a",
            "exact_likelihood": "c", "dequantization": "b", "diffusion_cost": "d", "precision_recall": "a"}


# %%
score = check_quiz(my_answers)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# - A generative model is a distribution you can sample; deep ones parameterise it with
#   networks. Random forests and SVMs are not generative.
# - Only some families maximise the likelihood; VAEs maximise a bound, GANs play a game.
# - Every family trades sample quality, coverage and speed differently; measure all three on
#   held-out data, and never trust a loss curve alone.
# - The open problems are cost, data, memorisation, evaluation and responsible use.
#
# This is the last notebook. Go back to [00 Start here](00_start_here.ipynb) for the map of
# the course, or to [06 Code walkthrough](06_code_walkthrough.ipynb) to see every idea of the
# course applied to fixing one broken program.
