"""The source article's Keras "VAE" program, re-created faithfully in JAX, then fixed.

Taught in 06_code_walkthrough.ipynb. The article (the Chinese text the course grew
from) prints a Keras program titled as a VAE. It is in fact a GAN skeleton, and it
cannot learn anything:

- generator 100 -> 256 -> 512 -> 784 (ReLU, ReLU, sigmoid), reshaped to 28x28x1;
- discriminator 28x28x1 -> 784 -> 512 -> 256 -> 1 (ReLU, ReLU, sigmoid);
- both compiled on their own with Keras' default Adam and binary cross-entropy;
- 100 iterations of: noise (100, 100) ~ N(0, 1); images = G(noise); images =
  (images * 127.5 + 127.5) / 255, which maps [0, 1] onto [0.5, 1]; one discriminator
  step on those images with the label 1 ("real"); one generator step on
  (noise, zeros of shape (100, 1)).

No data are loaded, so the discriminator never sees a digit, and the generator is
never connected to the discriminator. Keras itself refuses the generator's step
(the target (100, 1) does not match the output (100, 28, 28, 1) and cannot be
broadcast to it); :data:`ARTICLE` re-creates the smallest edit that makes the
program run, a target of zeros shaped like the output, so the generator minimises
the binary cross-entropy of every pixel against 0.

A :class:`Recipe` switches each defect on or off, so the notebook can fix them one
at a time (:data:`ARTICLE` -> :data:`FIXED_DISCRIMINATOR` -> :data:`FIXED`); the
fully fixed GAN is what :func:`course_lib.training.train_gan` runs. The sample
measures (:func:`frechet_distance` in a PCA space of the training digits, mean pixel
value) and :func:`discriminator_report` say what each version learned.

Differences from Keras that do not change any conclusion: Keras initialises Dense
kernels with Glorot-uniform, Flax's ``nnx.Linear`` with LeCun-normal; the
discriminator's cross-entropy is computed from logits (Keras also does this when the
last layer is a sigmoid).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from course_lib import _validate, losses
from course_lib.evaluation.pca import PCABasis, pca_frechet_distance
from course_lib.models.gan import Discriminator, Generator, check_players
from course_lib.models.vae import VAE
from course_lib.training.core import CompiledStep, History, check_finite
from course_lib.training.gan import GANState, discriminator_update, generator_update, init_gan_state

NOISE_DIM = 100
"""Size of the article's noise vector z."""
X_DIM = 28 * 28
"""Flattened image size."""
G_HIDDEN = (256, 512)
"""Hidden widths of the article's generator."""
D_HIDDEN = (512, 256)
"""Hidden widths of the article's discriminator."""
ARTICLE_BATCH_SIZE = 100
"""Images per iteration in the article's loop."""
ARTICLE_NUM_ITERATIONS = 100
"""Iterations of the article's loop (it calls them epochs; each is one batch)."""
KERAS_ADAM = {"lr": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-7}
"""Keras' ``optimizer='adam'`` defaults (TensorFlow 2 Keras)."""
KERAS_EPSILON = 1e-7
"""Keras' ``backend.epsilon()``: binary cross-entropy clips probabilities to [eps, 1 - eps]."""
GENERATOR_LOSSES = ("pixels_to_zero", "non_saturating")
"""``pixels_to_zero``: the article's generator step; ``non_saturating``: -log D(G(z))."""
GAN_SETTINGS = {"loss": "least_squares", "g_lr": 2e-4, "d_lr": 2e-4, "b1": 0.5, "batch_size": 64}
"""Keyword arguments of :func:`course_lib.training.train_gan` for the fixed GAN of 06 (with a
tanh generator and data scaled to [-1, 1]): Adam(2e-4, b1 = 0.5) as in DCGAN (Radford et al.
2016) and the least-squares loss (Mao et al. 2017), which trains this small MLP pair more
steadily than the cross-entropy losses in a few hundred steps."""
VAE_Z_DIM = 20
"""Latent size of the VAE built from the article's layer widths (encoder 784 -> 512 -> 256,
decoder 20 -> 256 -> 512 -> 784)."""


# --------------------------------------------------------------------------- the pieces


def article_generator(seed: int = 0, *, output: str = "sigmoid", activation: str = "relu") -> Generator:
    """The article's generator: z (B, 100) -> 256 -> 512 -> 784, sigmoid output.

    559,632 parameters: 100*256+256 + 256*512+512 + 512*784+784.   (06, "The program, part by part")
    """
    seed = _validate.positive_int("seed", seed, minimum=0)
    return Generator(NOISE_DIM, X_DIM, G_HIDDEN, activation=activation, output=output,
                     rngs=nnx.Rngs(seed))


def article_discriminator(seed: int = 1, *, activation: str = "relu") -> Discriminator:
    """The article's discriminator: x (B, 784) -> 512 -> 256 -> 1 logit; D(x) = sigmoid(logit).

    533,505 parameters: 784*512+512 + 512*256+256 + 256*1+1.      (06, "The program, part by part")
    """
    seed = _validate.positive_int("seed", seed, minimum=0)
    return Discriminator(X_DIM, D_HIDDEN, activation=activation, rngs=nnx.Rngs(seed))


def article_vae(seed: int = 0, *, z_dim: int = VAE_Z_DIM) -> VAE:
    """The VAE the article's title promised, from the article's layer widths.

    Encoder x (B, 784) -> 512 -> 256 -> (mu, logvar) (B, z_dim) each: the discriminator's body
    with a 2 * z_dim head instead of one logit. Decoder z (B, z_dim) -> 256 -> 512 -> 784
    Bernoulli logits: the generator's widths. Loss: the negative ELBO.   (06, "The VAE the title promised")
    """
    seed = _validate.positive_int("seed", seed, minimum=0)
    return VAE(X_DIM, z_dim, D_HIDDEN, likelihood="bernoulli", rngs=nnx.Rngs(seed))


def article_rescale(x):
    """The article's "conversion": (x * 127.5 + 127.5) / 255 = (x + 1) / 2.

    It maps tanh outputs [-1, 1] onto [0, 1]; applied to the sigmoid outputs [0, 1] of
    the article's generator it gives [0.5, 1].                       (06, "The defects")
    """
    _validate.array("x", x, dtype_kind="float")
    return (x * 127.5 + 127.5) / 255.0


def keras_binary_crossentropy(y_true, y_pred) -> jax.Array:
    """Keras' binary cross-entropy from probabilities, averaged over the last axis.

    p = clip(y_pred, eps, 1 - eps);  bce = -[y log(p + eps) + (1 - y) log(1 - p + eps)],
    eps = 1e-7, then the mean over the last axis (as ``keras.losses.binary_crossentropy``).
    ``y_true`` and ``y_pred`` must broadcast against each other, exactly as in TensorFlow:
    the article's (100, 1) target against the (100, 28, 28, 1) output does not.

    Returns:
      an array of y_pred's shape without its last axis.                (06, "The generator's target")
    """
    y_true = jnp.asarray(_validate.array("y_true", y_true, dtype_kind="number"), jnp.float32)
    _validate.array("y_pred", y_pred, dtype_kind="float")
    try:
        jnp.broadcast_shapes(y_true.shape, y_pred.shape)  # called for its error only
    except ValueError as err:
        raise ValueError(
            f"y_true of shape {tuple(y_true.shape)} cannot be broadcast against y_pred of shape "
            f"{tuple(y_pred.shape)} (Keras fails here too: the target must have the output's shape)"
        ) from err
    p = jnp.clip(y_pred, KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    bce = -(y_true * jnp.log(p + KERAS_EPSILON) + (1.0 - y_true) * jnp.log(1.0 - p + KERAS_EPSILON))
    return jnp.mean(bce, axis=-1)


# --------------------------------------------------------------------------- recipes


class Recipe(NamedTuple):
    """Which version of the training loop to run: the article's, or one with fixes.

    real_data: the discriminator also sees a batch of real images labelled 1
      (article: False, no data are ever loaded).
    fake_label: the label of generated images in the discriminator's loss
      (article: 1.0, "real"; a GAN: 0.0).
    rescale: pass generated images through :func:`article_rescale` before the
      discriminator (article: True).
    generator_loss: ``pixels_to_zero`` (article: every pixel's cross-entropy against
      0, no discriminator involved) or ``non_saturating`` (-log D(G(z)), through D).
    """

    real_data: bool
    fake_label: float
    rescale: bool
    generator_loss: str


ARTICLE = Recipe(real_data=False, fake_label=1.0, rescale=True, generator_loss="pixels_to_zero")
"""The article's loop, made runnable with the smallest edit (generator target = zeros like the output)."""
FIXED_DISCRIMINATOR = Recipe(real_data=True, fake_label=0.0, rescale=False, generator_loss="pixels_to_zero")
"""Data loaded, rescale dropped, D trained on real = 1 and generated = 0; the generator still unfixed."""
FIXED = Recipe(real_data=True, fake_label=0.0, rescale=False, generator_loss="non_saturating")
"""A GAN: both players fixed (what :func:`course_lib.training.train_gan` runs)."""


def _check_recipe(recipe) -> Recipe:
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a walkthrough.Recipe (e.g. walkthrough.ARTICLE), got {type(recipe).__name__}")
    _validate.one_of("recipe.generator_loss", recipe.generator_loss, GENERATOR_LOSSES)
    _validate.real_in_range("recipe.fake_label", recipe.fake_label, 0.0, 1.0)
    for name in ("real_data", "rescale"):
        if not isinstance(getattr(recipe, name), bool):
            raise TypeError(f"recipe.{name} must be True or False, got {getattr(recipe, name)!r}")
    return recipe


def make_recipe_run(generator: Generator, discriminator: Discriminator, recipe: Recipe, *,
                    g_tx: optax.GradientTransformation, d_tx: optax.GradientTransformation,
                    batch_size: int) -> CompiledStep:
    """Compile ``run(state, data, key, num_steps) -> (state, metrics)`` for ``recipe``.

    One iteration, in the article's order (06, "A faithful re-creation, and what it learns"):

    1. z ~ N(0, I) (B, 100); x_gen = G(z) (B, 784); x_d = rescale(x_gen) if recipe.rescale.
    2. Discriminator step on the mean binary cross-entropy of D(x_d) against
       ``fake_label`` (and of D(x_real) against 1 when ``real_data``).
    3. Generator step with the same z: ``pixels_to_zero`` minimises
       mean_pixels BCE(G(z), 0) (:func:`keras_binary_crossentropy`), ``non_saturating``
       minimises mean -log D(G(z)) with the freshly updated D held fixed.

    Metrics per iteration: ``d_loss``, ``d_accuracy`` (Keras' binary accuracy on D's own
    batch), ``g_loss`` and ``pixel_mean`` (mean pixel of the generated batch).
    """
    check_players(generator, discriminator)
    recipe = _check_recipe(recipe)
    batch_size = _validate.positive_int("batch_size", batch_size)
    g_graphdef, _ = nnx.split(generator, nnx.Param)
    d_graphdef, _ = nnx.split(discriminator, nnx.Param)
    noise_dim = generator.noise_dim

    def G(params, z):
        return nnx.merge(g_graphdef, params)(z)

    def D(params, x):
        return nnx.merge(d_graphdef, params)(x)

    def iteration(state: GANState, data, key):
        k_z, k_real = jax.random.split(key)
        z = jax.random.normal(k_z, (batch_size, noise_dim))  # (B, 100)
        x_gen = G(state.g_params, z)  # (B, 784) in [0, 1]: "generator.predict(noise)"
        x_d = (x_gen * 127.5 + 127.5) / 255.0 if recipe.rescale else x_gen
        labels = jnp.full((batch_size,), recipe.fake_label)
        inputs = x_d
        if recipe.real_data:
            x_real = data[jax.random.randint(k_real, (batch_size,), 0, data.shape[0])]  # (B, 784)
            inputs = jnp.concatenate([x_real, x_d])  # (2B, 784)
            labels = jnp.concatenate([jnp.ones((batch_size,)), labels])

        def d_loss_fn(dp):
            logits = D(dp, inputs)  # (B,) or (2B,)
            return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels)), logits

        d_params, d_opt, d_loss, logits = discriminator_update(d_loss_fn, state.d_params, state.d_opt, d_tx)
        d_accuracy = jnp.mean((logits > 0) == (labels > 0.5))

        def g_loss_fn(gp):
            x = G(gp, z)  # (B, 784)
            if recipe.generator_loss == "pixels_to_zero":
                return jnp.mean(keras_binary_crossentropy(jnp.zeros_like(x), x)), None
            return jnp.mean(losses.generator_loss(D(d_params, x), "non_saturating")), None

        # w.r.t. G's parameters only
        g_params, g_opt, g_loss, _ = generator_update(g_loss_fn, state.g_params, state.g_opt, g_tx)
        metrics = {"d_loss": d_loss, "d_accuracy": d_accuracy, "g_loss": g_loss,
                   "pixel_mean": jnp.mean(x_gen)}
        return GANState(g_params, d_params, g_opt, d_opt, state.step + 1), metrics

    def run(state, data, key, num_steps):
        return jax.lax.scan(lambda s, k: iteration(s, data, k), state, jax.random.split(key, num_steps))

    return CompiledStep(run, name=f"walkthrough_run_{recipe.generator_loss}", static_argnums=(3,))


def train_recipe(generator: Generator, discriminator: Discriminator, recipe: Recipe, data=None, *,
                 key, num_steps: int = ARTICLE_NUM_ITERATIONS, batch_size: int = ARTICLE_BATCH_SIZE,
                 lr: float = KERAS_ADAM["lr"], b1: float = KERAS_ADAM["b1"]) -> History:
    """Train both players in place with ``recipe``; returns the per-iteration history.

    Args:
      generator, discriminator: e.g. :func:`article_generator`, :func:`article_discriminator`.
      recipe: :data:`ARTICLE`, :data:`FIXED_DISCRIMINATOR`, :data:`FIXED` or your own.
      data: (N, 784) real images in [0, 1]; required when ``recipe.real_data``, ignored
        (the article loads none) otherwise.
      key: JAX random key.
      num_steps: iterations (the article: 100).
      batch_size: generated images per iteration (the article: 100).
      lr, b1: Adam's step size and first-moment decay, one optimizer per player
        (defaults: Keras' Adam, as the article compiles it).

    Returns:
      History with ``d_loss``, ``d_accuracy``, ``g_loss``, ``pixel_mean``.
    """
    recipe = _check_recipe(recipe)
    _validate.prng_key("key", key)
    num_steps = _validate.positive_int("num_steps", num_steps)
    lr = _validate.positive_float("lr", lr)
    b1 = _validate.real_in_range("b1", b1, 0.0, 0.999)
    if recipe.real_data:
        if data is None:
            raise ValueError("this recipe trains the discriminator on real images: pass data, an (N, 784) "
                             "array in [0, 1] (e.g. MNIST-5k), which the article never loads")
        _validate.array("data", data, ndim=2, shape=(None, generator.out_dim), dtype_kind="float")
        data = jnp.asarray(data)
    else:
        data = jnp.zeros((1, generator.out_dim))  # never read: the article has no data
    g_tx = optax.adam(lr, b1=b1, b2=KERAS_ADAM["b2"], eps=KERAS_ADAM["eps"])
    d_tx = optax.adam(lr, b1=b1, b2=KERAS_ADAM["b2"], eps=KERAS_ADAM["eps"])
    run = make_recipe_run(generator, discriminator, recipe, g_tx=g_tx, d_tx=d_tx, batch_size=batch_size)
    state = init_gan_state(generator, discriminator, g_tx, d_tx)
    state, metrics = run(state, data, key, num_steps)
    check_finite(metrics, where=f"the walkthrough recipe {recipe}", hint="a smaller lr")
    nnx.update(generator, state.g_params)
    nnx.update(discriminator, state.d_params)
    history = History()
    history.append(metrics)
    return history


# --------------------------------------------------------------------------- measurements


def discriminator_report(discriminator: Discriminator, x_real, x_other) -> dict:
    """How well D separates real images from other images (generated ones, or noise).

    With D = sigmoid(logits) on the two sets (each (N, 784), the same N):

    - ``d_real``, ``d_other``: mean D on each set;
    - ``accuracy_real`` = mean[D(x_real) > 1/2], ``accuracy_other`` = mean[D(x_other) < 1/2];
    - ``balanced_accuracy``: their average. 0.5 is chance: a D that calls everything
      "real" scores 1.0 on real images and still only 0.5 here;
    - ``gan_loss``: the GAN discriminator loss -mean log D(x_real) - mean log(1 - D(x_other)),
      2 log 2 = 1.386 for D = 1/2 everywhere, 0 for a perfect D.
                                                  (06, "A faithful re-creation, and what it learns")
    """
    if not isinstance(discriminator, Discriminator):
        raise TypeError(f"discriminator must be a course_lib.models.Discriminator, got {type(discriminator).__name__}")
    _validate.array("x_real", x_real, ndim=2, shape=(None, discriminator.in_dim), dtype_kind="float")
    _validate.array("x_other", x_other, ndim=2, shape=(x_real.shape[0], discriminator.in_dim), dtype_kind="float")
    real_logits = discriminator(jnp.asarray(x_real))  # (N,)
    other_logits = discriminator(jnp.asarray(x_other))  # (N,)
    accuracy_real = float(jnp.mean(real_logits > 0))
    accuracy_other = float(jnp.mean(other_logits < 0))
    return {
        "d_real": float(jnp.mean(jax.nn.sigmoid(real_logits))),
        "d_other": float(jnp.mean(jax.nn.sigmoid(other_logits))),
        "accuracy_real": accuracy_real,
        "accuracy_other": accuracy_other,
        "balanced_accuracy": 0.5 * (accuracy_real + accuracy_other),
        "gan_loss": float(jnp.mean(losses.discriminator_loss(real_logits, other_logits))),
    }


def sample_report(x_gen, x_ref, basis: PCABasis) -> dict:
    """Classifier-free summary of generated images x_gen (N, 784) against real ones x_ref.

    ``frechet``: :func:`course_lib.evaluation.pca.pca_frechet_distance` in the PCA basis; ``pixel_mean``: mean pixel value
    (real MNIST: about 0.13); ``dark_fraction``: fraction of pixels below 0.05 (real: about 0.8).
    """
    _validate.array("x_gen", x_gen, ndim=2, dtype_kind="float")
    x = np.asarray(x_gen)
    return {"frechet": pca_frechet_distance(x_gen, x_ref, basis), "pixel_mean": float(x.mean()),
            "dark_fraction": float(np.mean(x < 0.05))}


__all__ = [
    "ARTICLE", "ARTICLE_BATCH_SIZE", "ARTICLE_NUM_ITERATIONS", "D_HIDDEN", "FIXED",
    "FIXED_DISCRIMINATOR", "GAN_SETTINGS", "GENERATOR_LOSSES", "G_HIDDEN", "KERAS_ADAM",
    "KERAS_EPSILON", "NOISE_DIM", "Recipe", "VAE_Z_DIM", "X_DIM",
    "article_discriminator", "article_generator", "article_rescale", "article_vae", "discriminator_report",
    "keras_binary_crossentropy", "make_recipe_run",
    "sample_report", "train_recipe",
]
