"""Per-example losses and log-likelihoods: small pure functions.

Every function returns one value per example (shape ``(B,)``); the training step
takes the mean. Taught in 02_probability.ipynb (likelihoods, KL), 04_vae.ipynb
(ELBO terms) and 05_gan.ipynb (GAN losses). Tests compare each against scipy,
jax.scipy, optax or a fixed-key Monte-Carlo estimate.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from course_lib import _validate

GAN_LOSSES = ("minimax", "non_saturating", "least_squares")
"""Generator/discriminator loss families accepted by the GAN losses."""

_LOG_2PI = math.log(2 * math.pi)


def _same_shape(name_a, a, name_b, b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def gaussian_kl(mu, logvar) -> jax.Array:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over the latent dimensions.

    KL = 1/2 * sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j)          (04_vae, "Closed-form KL")

    Args:
      mu, logvar: (B, J) mean and log-variance of q(z|x).

    Returns:
      (B,) KL in nats.
    """
    _validate.array("mu", mu, ndim=2, dtype_kind="float")
    _validate.array("logvar", logvar, ndim=2, dtype_kind="float")
    _same_shape("mu", mu, "logvar", logvar)
    return 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)


def gaussian_kl_between(mu_q, logvar_q, mu_p, logvar_p) -> jax.Array:
    """KL(N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p)))), summed over the last axis.

    KL = 1/2 * sum_j [logvar_p - logvar_q + (exp(logvar_q) + (mu_q - mu_p)^2) / exp(logvar_p) - 1]

    Args:
      mu_q, logvar_q, mu_p, logvar_p: (B, J) arrays (p's may broadcast).

    Returns:
      (B,) KL in nats.                                                  (02_probability, "KL")
    """
    for name, value in (("mu_q", mu_q), ("logvar_q", logvar_q), ("mu_p", mu_p), ("logvar_p", logvar_p)):
        _validate.array(name, value, dtype_kind="float")
        if value.ndim == 0:
            raise ValueError(f"{name} must have at least one axis (the latent dimensions), got a 0-d array")
    try:
        jnp.broadcast_shapes(mu_q.shape, logvar_q.shape, mu_p.shape, logvar_p.shape)
    except ValueError:
        raise ValueError(
            "mu_q, logvar_q, mu_p and logvar_p must have broadcastable shapes, got "
            f"{tuple(mu_q.shape)}, {tuple(logvar_q.shape)}, {tuple(mu_p.shape)}, {tuple(logvar_p.shape)}"
        ) from None
    return 0.5 * jnp.sum(
        logvar_p - logvar_q + (jnp.exp(logvar_q) + (mu_q - mu_p) ** 2) / jnp.exp(logvar_p) - 1.0,
        axis=-1,
    )


def gaussian_log_likelihood(x, mu, logvar) -> jax.Array:
    """log N(x; mu, diag(exp(logvar))), summed over the last axis.

    log p = -1/2 * sum_d [log(2 pi) + logvar_d + (x_d - mu_d)^2 / exp(logvar_d)]

    Args:
      x: (B, D) data; mu: (B, D); logvar: (B, D) or broadcastable (e.g. a scalar).

    Returns:
      (B,) log-likelihood in nats.                                      (02_probability)
    """
    _validate.array("x", x, ndim=2, dtype_kind="float")
    _validate.array("mu", mu, ndim=2, dtype_kind="float")
    _same_shape("x", x, "mu", mu)
    if hasattr(logvar, "shape"):
        _validate.array("logvar", logvar, dtype_kind="float")
    else:
        _validate.finite_float("logvar", logvar)
    try:
        jnp.broadcast_shapes(jnp.shape(logvar), x.shape)
    except (ValueError, TypeError):
        raise ValueError(f"logvar must broadcast to x's shape {tuple(x.shape)}, got shape {jnp.shape(logvar)}") from None
    logvar = jnp.broadcast_to(jnp.asarray(logvar, x.dtype), x.shape)
    return -0.5 * jnp.sum(_LOG_2PI + logvar + (x - mu) ** 2 / jnp.exp(logvar), axis=-1)


def bernoulli_log_likelihood(x, logits) -> jax.Array:
    """log Bernoulli(x; sigmoid(logits)), summed over the last axis.

    log p = sum_d [x_d * logits_d - softplus(logits_d)]
          = sum_d [x_d log sigmoid(l_d) + (1 - x_d) log(1 - sigmoid(l_d))]   (04_vae, "Decoder likelihoods")

    Written with logits, not probabilities, so it never takes log(0).

    Args:
      x: (B, D) targets in [0, 1] (binary for a true Bernoulli).
      logits: (B, D) decoder outputs before the sigmoid.

    Returns:
      (B,) log-likelihood in nats.
    """
    _validate.array("x", x, ndim=2, dtype_kind="float")
    _validate.array("logits", logits, ndim=2, dtype_kind="float")
    _same_shape("x", x, "logits", logits)
    _validate.unit_interval("x", x, hint="scale integer levels first with data.to_unit_interval or data.binarize")
    return jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)


def categorical_log_likelihood(x, logits) -> jax.Array:
    """log Categorical(x; softmax(logits)), summed over the D positions.

    log p = sum_d log_softmax(logits_d)[x_d]                       (04_vae, "Decoder likelihoods")

    Args:
      x: (B, D) integer levels in 0..K-1.
      logits: (B, D, K) unnormalised log-probabilities.

    Returns:
      (B,) log-likelihood in nats.
    """
    _validate.array("x", x, ndim=2, dtype_kind="int")
    _validate.array("logits", logits, ndim=3, dtype_kind="float")
    if tuple(logits.shape[:2]) != tuple(x.shape):
        raise ValueError(
            f"logits must have shape (B, D, K) = {tuple(x.shape)} + (K,), got {tuple(logits.shape)}"
        )
    _validate.levels("x", x, logits.shape[-1])  # JAX would clamp an out-of-range level silently
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(log_probs, x[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return jnp.sum(picked, axis=-1)


def _logits_1d(name, logits):
    _validate.array(name, logits, dtype_kind="float")
    if logits.ndim == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.ndim != 1:
        raise ValueError(f"{name} must have shape (B,) or (B, 1), got {tuple(logits.shape)}")
    return logits


def gan_value(real_logits, fake_logits) -> jax.Array:
    """Per-example value V(D, G) = log D(x) + log(1 - D(G(z))), with D = sigmoid(logits).

    The discriminator maximises V, the generator minimises it (05_gan, "The value function").

    Args:
      real_logits: (B,) or (B, 1) discriminator logits on data.
      fake_logits: (B,) or (B, 1) logits on generated samples.

    Returns:
      (B,) values in nats (always <= 0).
    """
    real_logits = _logits_1d("real_logits", real_logits)
    fake_logits = _logits_1d("fake_logits", fake_logits)
    _same_shape("real_logits", real_logits, "fake_logits", fake_logits)
    # log sigmoid(r) = -softplus(-r);  log(1 - sigmoid(f)) = -softplus(f)
    return -jax.nn.softplus(-real_logits) - jax.nn.softplus(fake_logits)


def discriminator_loss(real_logits, fake_logits, kind: str = "non_saturating") -> jax.Array:
    """Per-example discriminator loss.

    - ``minimax`` / ``non_saturating`` (the same for D): -V = -log D(x) - log(1 - D(G(z)))
    - ``least_squares`` (LSGAN, targets 1 for data and 0 for samples, D is the raw score):
      1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2

    Args:
      real_logits, fake_logits: (B,) or (B, 1).
      kind: one of :data:`GAN_LOSSES`.

    Returns:
      (B,) losses.                                                      (05_gan)
    """
    _validate.one_of("kind", kind, GAN_LOSSES)
    real_logits = _logits_1d("real_logits", real_logits)
    fake_logits = _logits_1d("fake_logits", fake_logits)
    _same_shape("real_logits", real_logits, "fake_logits", fake_logits)
    if kind == "least_squares":
        return 0.5 * (real_logits - 1.0) ** 2 + 0.5 * fake_logits**2
    return jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits)


def generator_loss(fake_logits, kind: str = "non_saturating") -> jax.Array:
    """Per-example generator loss.

    - ``minimax`` (saturating): log(1 - D(G(z))) = -softplus(f); its gradient vanishes
      when D confidently rejects the samples (D(G(z)) -> 0).
    - ``non_saturating``: -log D(G(z)) = softplus(-f), the loss used in practice.
    - ``least_squares``: 1/2 (D(G(z)) - 1)^2.

    Args:
      fake_logits: (B,) or (B, 1) discriminator logits on generated samples.
      kind: one of :data:`GAN_LOSSES`.

    Returns:
      (B,) losses.                                                      (05_gan)
    """
    _validate.one_of("kind", kind, GAN_LOSSES)
    fake_logits = _logits_1d("fake_logits", fake_logits)
    if kind == "minimax":
        return -jax.nn.softplus(fake_logits)
    if kind == "non_saturating":
        return jax.nn.softplus(-fake_logits)
    return 0.5 * (fake_logits - 1.0) ** 2
