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
from course_lib.exercises.ch08_quiz import check_quiz, show_quiz

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
# maximum likelihood is the same as making KL(p ‖ q) small. Check it on three outcomes, with
# the average over 100,000 samples from p as a Monte Carlo estimate of the cross-entropy:

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
assert abs(cross_entropy - (entropy + kl)) < 1e-12 and abs(nll_mc - cross_entropy) < 0.01

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Which families exist, and how do they compare?
#
# | Family | Likelihood | Sampling | Typical strengths | Typical weaknesses | Where |
# |---|---|---|---|---|---|
# | Variational autoencoder | a lower bound (ELBO) | one network pass | stable training, a useful latent space | blurry samples; posterior collapse | [04](04_vae.ipynb) |
# | Generative adversarial network | none | one network pass | sharp samples | unstable training, mode collapse, hard to evaluate | [05](05_gan.ipynb) |
# | Autoregressive model | exact | one step per dimension or token (slow) | exact likelihood, excellent for text | sequential, slow sampling | [07](07_beyond.ipynb) |
# | Normalizing flow | exact | one network pass | exact likelihood and exact inverse | invertibility limits the architecture | [07](07_beyond.ipynb) |
# | Diffusion model | a bound | tens to hundreds of network passes | very high quality and coverage | slow sampling without distillation | [07](07_beyond.ipynb) |
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
#   the classifier-free Fréchet distance in a PCA space used in 06;
# - **precision and recall** for generative models (Sajjadi et al., 2018; Kynkäänniemi et al.,
#   2019): are samples realistic, and is every part of the data covered? (05 measures mode
#   coverage on toy data);
# - **nearest training examples** of a few samples, to catch memorisation;
# - **looking at samples**, which catches what numbers miss, and misses what numbers catch.
#
# A loss curve is not one of them: in 06, a program whose losses both fall to zero learns
# nothing at all. → [06 Code walkthrough](06_code_walkthrough.ipynb)
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
# Ten questions on the whole course. Read them, write your letters in `my_answers` below (leave
# `...` for a question you skip), and run the check: each answer gets an explanation, right or
# wrong.

# %%
show_quiz()

# %% tags=["solution"]
def my_answers():
    """Your answers: question name -> letter."""
    return {"gan_year": "c", "discriminative": "c", "vae_loss": "b", "reparam": "b", "gan_likelihood": "c",
            "freeze": "b", "article_d": "b", "mode_collapse": "a", "kl": "b", "evaluate": "c"}


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
