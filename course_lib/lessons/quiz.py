"""The question bank of 10_faq_glossary.ipynb's quiz: multiple-choice questions, as data.

Each :class:`Question` has lettered choices, the right letter, an explanation shown
when the answer is right, and for each wrong choice a sentence saying why it is
wrong. The checker that asks them and prints verdicts is :mod:`course_lib.exercises.ch10_quiz`.
"""
from __future__ import annotations

from typing import NamedTuple


class Question(NamedTuple):
    """One multiple-choice question.

    prompt: the question.
    choices: letter -> text of the choice.
    correct: the right letter.
    explanation: why it is right (shown on a right answer).
    why_wrong: letter -> why that choice is wrong (shown on that wrong answer).
    notebook: where the topic is taught (file stem).
    """

    prompt: str
    choices: dict
    correct: str
    explanation: str
    why_wrong: dict
    notebook: str


def _answer_at(letter: str, q: Question) -> Question:
    """``q`` with its right choice moved to ``letter`` (swapped with the choice there).

    The questions are written with their choices in a natural order; this spreads the right
    letters over a-d so that the answer key has no pattern to game.
    """
    if letter not in q.choices:
        raise ValueError(f"letter must be one of {list(q.choices)}, got {letter!r}")
    if letter == q.correct:
        return q
    choices = dict(q.choices)
    choices[letter], choices[q.correct] = q.choices[q.correct], q.choices[letter]
    why_wrong = {k: v for k, v in q.why_wrong.items() if k != letter}
    why_wrong[q.correct] = q.why_wrong[letter]
    return q._replace(choices=dict(sorted(choices.items())), correct=letter, why_wrong=dict(sorted(why_wrong.items())))


_QUESTIONS: dict[str, tuple[str, Question]] = {
    "gan_year": ("d", Question(
        "When were generative adversarial networks introduced?",
        {"a": "In the 1980s, together with Boltzmann machines", "b": "In 2006, with deep belief networks",
         "c": "In 2014, by Goodfellow et al.", "d": "In 2020, with diffusion models"},
        "c",
        "Goodfellow et al. presented GANs at NIPS 2014 (today NeurIPS). Older deep generative models exist "
        "(Boltzmann machines 1985, deep belief nets 2006), but they are not GANs.",
        {"a": "Boltzmann machines are from the 1980s; GANs came three decades later.",
         "b": "2006 is the year of deep belief networks (Hinton et al.), not of GANs.",
         "d": "Diffusion models became popular around 2020; GANs are older."},
        "01_concepts")),
    "discriminative": ("a", Question(
        "Which of these is a generative model of images?",
        {"a": "A random forest that labels digits", "b": "A support vector machine",
         "c": "A variational autoencoder", "d": "A logistic-regression classifier"},
        "c",
        "A VAE models p(x) and can sample new images; the others model p(y | x) or a decision rule.",
        {"a": "A random forest predicts a label from an image; it cannot produce an image.",
         "b": "An SVM draws a decision boundary; it has no distribution over images to sample.",
         "d": "Logistic regression models p(y | x), a discriminative model."},
        "01_concepts")),
    "vae_loss": ("c", Question(
        "What does a VAE minimise for each training example x?",
        {"a": "-log p(x), computed exactly",
         "b": "The negative ELBO: -E_q[log p(x|z)] + KL(q(z|x) || p(z))",
         "c": "The Jensen-Shannon divergence between data and samples",
         "d": "The squared error between x and a random sample"},
        "b",
        "The negative ELBO = reconstruction term + KL to the prior; it is an upper bound on -log p(x).",
        {"a": "-log p(x) needs an integral over z that has no closed form; the VAE minimises a bound on it.",
         "c": "That is what a GAN's generator minimises when its discriminator is optimal.",
         "d": "A reconstruction error alone is an autoencoder; without the KL term there is no sampler."},
        "04_vae")),
    "reparam": ("b", Question(
        "What does the reparameterization trick z = mu + sigma * eps achieve?",
        {"a": "It makes the KL term zero", "b": "It lets gradients flow from the loss back through the sampling of z",
         "c": "It prevents mode collapse", "d": "It makes sampling faster"},
        "b",
        "The randomness moves into eps ~ N(0, I), so z is a differentiable function of mu and sigma.",
        {"a": "The KL term is unchanged; it has its own closed form.",
         "c": "Mode collapse is a GAN failure; the trick is about VAE gradients.",
         "d": "Sampling costs the same; what changes is that it can be differentiated."},
        "04_vae")),
    "gan_likelihood": ("d", Question(
        "Does training a GAN maximise the log-likelihood of the data?",
        {"a": "Yes, exactly", "b": "Yes, through a lower bound, like a VAE",
         "c": "No: with an optimal discriminator the generator minimises 2 JS(p_data || p_g) - log 4",
         "d": "No: it maximises the entropy of the samples"},
        "c",
        "A GAN is an implicit model with no likelihood; its game targets the Jensen-Shannon divergence "
        "(Goodfellow et al. 2014, Theorem 1).",
        {"a": "A GAN never evaluates p(x); its generator has no density formula.",
         "b": "The lower bound is the VAE's ELBO; GANs have no likelihood bound.",
         "d": "Nothing in the GAN objective rewards entropy; low diversity (mode collapse) is a known failure."},
        "05_gan")),
    "freeze": ("a", Question(
        "In JAX, how is the discriminator kept fixed while the generator takes a step?",
        {"a": "Set D.trainable = False", "b": "Differentiate the generator loss only with respect to G's parameters",
         "c": "Wrap the generator in jax.lax.stop_gradient", "d": "Compile the discriminator again"},
        "b",
        "jax.grad takes the gradient with respect to the arguments you choose; D's parameters are "
        "inputs of the loss but get no update.",
        {"a": "There is no trainable flag in a pure function; and in Keras it only takes effect at compile time.",
         "c": "stop_gradient on G would stop the generator from learning, the opposite of what we want.",
         "d": "Compilation (jit) does not decide which parameters are updated."},
        "06_code_walkthrough")),
    "article_d": ("c", Question(
        "In the article's program, what does the discriminator learn?",
        {"a": "To tell real digits from generated ones", "b": "To answer 'real' for every input",
         "c": "Nothing, because it is frozen", "d": "To reconstruct the images"},
        "b",
        "It only ever sees generated images labelled 1, so the constant answer 1 is optimal: "
        "it calls noise and digits alike 'real'.",
        {"a": "It never sees a real digit: no data are loaded.",
         "c": "Its train_on_batch call updates it; the trainable flag does not stop that.",
         "d": "A discriminator outputs one probability per image, not an image."},
        "06_code_walkthrough")),
    "mode_collapse": ("b", Question(
        "What is mode collapse?",
        {"a": "The generator produces only a few kinds of sample",
         "b": "The discriminator's output becomes 0.5 everywhere",
         "c": "A VAE's KL term drops to zero", "d": "The loss becomes NaN"},
        "a",
        "The generator covers a few modes of the data (say, two digit classes) and ignores the rest.",
        {"b": "D = 1/2 everywhere is the ideal end of training, not a failure.",
         "c": "That is posterior collapse, a VAE failure.",
         "d": "That is divergence; a collapsed generator usually has finite losses."},
        "05_gan")),
    "kl": ("d", Question(
        "Which statement about KL(q || p) is true?",
        {"a": "It is symmetric: KL(q || p) = KL(p || q)", "b": "It is never negative, and zero only when q = p",
         "c": "It can be negative when q is wider than p", "d": "It is a distance that obeys the triangle inequality"},
        "b",
        "Gibbs' inequality: KL(q || p) >= 0 with equality only for q = p; this is why the ELBO is a lower bound.",
        {"a": "KL is not symmetric; VAEs use KL(q || p) and the two directions behave differently.",
         "c": "KL is never negative, whatever the widths.",
         "d": "KL is not symmetric and has no triangle inequality, so it is not a metric."},
        "02_probability")),
    "evaluate": ("a", Question(
        "A generator's samples all look like the same sharp digit. Which measure would flag this?",
        {"a": "The discriminator's loss alone", "b": "The average pixel brightness",
         "c": "A distance between the distributions of generated and real samples, such as the Fréchet distance",
         "d": "The generator's loss going down"},
        "c",
        "A distribution-level measure compares means and spreads: identical samples have almost no spread.",
        {"a": "D's loss says how well D separates the two sets now, not whether samples are diverse.",
         "b": "One well-drawn digit can have exactly the average brightness of the data.",
         "d": "The generator's loss can fall while it collapses onto one sample that fools D."},
        "06_code_walkthrough")),
    "exact_likelihood": ("c", Question(
        "On the 8x8 digits of 07, which model's negative log-likelihood is an exact value, not a bound or an "
        "estimate?",
        {"a": "The VAE", "b": "The RealNVP flow on dequantised pixels", "c": "MADE, the autoregressive model",
         "d": "The DDPM diffusion model"},
        "c",
        "An autoregressive model multiplies normalised conditionals over the 17 grey levels: p(x) is computed "
        "exactly, one conditional per pixel.",
        {"a": "A VAE gives a lower bound (the ELBO) on log p(x), or an importance-sampled estimate of it.",
         "b": "A flow's density is exact for continuous data, but on discrete pixels it gives a dequantisation "
              "bound.",
         "d": "A diffusion model is scored with a variational bound summed over its steps."},
        "07_beyond")),
    "dequantization": ("b", Question(
        "A flow models pixels plus uniform noise u. Why is its -E_u[log p(x + u)] only an upper bound on the "
        "discrete -log P(x)?",
        {"a": "Because the flow is not exactly invertible",
         "b": "By Jensen's inequality: log P(x) = log E_u[p(x + u)] >= E_u[log p(x + u)]",
         "c": "Because the log-determinant is estimated by sampling",
         "d": "Because the flow's base distribution is a Gaussian"},
        "b",
        "P(x) is the integral of p over the bin of x, and the log of an average is at least the average of the "
        "logs (Theis et al. 2016).",
        {"a": "Coupling flows are exactly invertible; the gap comes from the noise, not the map.",
         "c": "A coupling layer's log-determinant is computed exactly, as a sum.",
         "d": "The base distribution is the model's choice; the gap comes from averaging log p over the noise."},
        "07_beyond")),
    "diffusion_cost": ("d", Question(
        "Why does sampling from a DDPM take much longer than sampling from a GAN of the same size?",
        {"a": "It must compute each sample's likelihood", "b": "It generates one pixel at a time",
         "c": "It runs a Markov chain until it mixes, like an energy-based model",
         "d": "It runs its denoising network once per step, for hundreds to a thousand steps"},
        "d",
        "Each reverse step p(x_(t-1) | x_t) is one network pass; a GAN needs a single pass. Faster samplers and "
        "distillation cut the number of steps.",
        {"a": "Sampling needs no likelihood; the bound is only computed for evaluation.",
         "b": "That is an autoregressive model; a DDPM updates all pixels together at each step.",
         "c": "The number of steps T is fixed in advance; there is no mixing to wait for."},
        "07_beyond")),
    "precision_recall": ("a", Question(
        "A generator of digits produces only perfect 1s. Against real digits of all classes, its precision "
        "and recall are ...",
        {"a": "high precision, low recall", "b": "low precision, high recall", "c": "both high",
         "d": "both low"},
        "a",
        "Every sample is realistic (inside the region of real digits): high precision; but most real digits "
        "have no generated sample near them: low recall.",
        {"b": "That is a generator of varied but unrealistic samples.",
         "c": "Recall needs the real variety to be covered; nine classes are missing.",
         "d": "The samples are perfect 1s, which lie among the real digits: precision is high."},
        "05_gan")),
}
"""Each question with the letter its right choice is moved to (:func:`_answer_at`)."""

QUESTIONS: dict[str, Question] = {name: _answer_at(letter, q) for name, (letter, q) in _QUESTIONS.items()}
"""The quiz, in the order it is asked, with its right letters spread over a-d."""
