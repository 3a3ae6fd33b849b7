"""The variational autoencoder (Kingma & Welling, 2013), in Flax NNX.

Taught in 04_vae.ipynb. The encoder gives q(z|x) = N(mu(x), diag(exp(logvar(x)))),
the prior is p(z) = N(0, I), and the decoder gives p(x|z) with one of three
likelihoods:

- ``bernoulli``: binary pixels, decoder outputs logits (B, D);
- ``categorical``: integer levels 0..K-1, decoder outputs logits (B, D, K);
- ``gaussian``: real values, decoder outputs means (B, D) with a learned
  per-dimension log-variance.

The per-example negative ELBO is
    -ELBO(x) = -E_q[log p(x|z)] + KL(q(z|x) || p(z)),
estimated with one reparameterised sample z = mu + exp(logvar / 2) * eps.
"""
from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from course_lib import _validate, losses
from course_lib.models.mlp import MLP, check_sizes
from course_lib.models.registry import build_from_config, register

LIKELIHOODS = ("bernoulli", "categorical", "gaussian")


class Encoder(nnx.Module):
    """x (B, D) -> (mu, logvar), each (B, J): the amortised posterior q(z|x)."""

    def __init__(self, x_dim: int, z_dim: int, hidden: Sequence[int], *, activation: str, rngs: nnx.Rngs):
        self.z_dim = z_dim
        self.net = MLP((x_dim, *hidden, 2 * z_dim), activation=activation, rngs=rngs)

    def __call__(self, x):
        h = self.net(x)  # (B, 2J)
        mu, logvar = jnp.split(h, 2, axis=-1)  # (B, J) each
        return mu, logvar


class Decoder(nnx.Module):
    """z (B, J) -> parameters of p(x|z): logits (B, D) or (B, D, K), or means (B, D)."""

    def __init__(self, z_dim: int, x_dim: int, hidden: Sequence[int], *, num_levels: int,
                 activation: str, rngs: nnx.Rngs):
        self.x_dim = x_dim
        self.num_levels = num_levels
        self.net = MLP((z_dim, *hidden, x_dim * num_levels), activation=activation, rngs=rngs)

    def __call__(self, z):
        out = self.net(z)
        if self.num_levels > 1:
            return out.reshape(out.shape[:-1] + (self.x_dim, self.num_levels))  # (B, D, K)
        return out  # (B, D)


@register
class VAE(nnx.Module):
    """A VAE with MLP encoder and decoder.

    Args:
      x_dim: D, the flattened data size (64 for 8x8 digits, 784 for MNIST).
      z_dim: J, the latent size (2 for the live latent explorer).
      hidden: hidden widths of the encoder; the decoder mirrors them.
      likelihood: one of ``bernoulli``, ``categorical``, ``gaussian``.
      num_levels: K for the categorical likelihood (17 for the 8x8 digits).
      activation: hidden activation name.
      rngs: ``nnx.Rngs`` for the initial weights.

    Data conventions (what ``x`` means everywhere below):
      bernoulli: float (B, D) in [0, 1]; categorical: int (B, D) in 0..K-1;
      gaussian: float (B, D).
    """

    def __init__(self, x_dim: int, z_dim: int, hidden: Sequence[int] = (256,), *,
                 likelihood: str = "bernoulli", num_levels: int | None = None,
                 activation: str = "relu", rngs: nnx.Rngs):
        x_dim = _validate.positive_int("x_dim", x_dim)
        z_dim = _validate.positive_int("z_dim", z_dim)
        hidden = check_sizes("hidden", hidden)
        _validate.one_of("likelihood", likelihood, LIKELIHOODS)
        if likelihood == "categorical":
            if num_levels is None:
                raise ValueError("num_levels is required for the categorical likelihood (e.g. 17 for 8x8 digits)")
            num_levels = _validate.positive_int("num_levels", num_levels, minimum=2)
        elif num_levels not in (None, 1):
            raise ValueError(f"num_levels only applies to the categorical likelihood, got {num_levels} with {likelihood!r}")
        self.x_dim, self.z_dim, self.hidden = x_dim, z_dim, hidden
        self.likelihood = likelihood
        self.num_levels = num_levels if likelihood == "categorical" else 1
        self.activation = activation
        self.encoder = Encoder(x_dim, z_dim, hidden, activation=activation, rngs=rngs)
        self.decoder = Decoder(z_dim, x_dim, tuple(reversed(hidden)), num_levels=self.num_levels,
                               activation=activation, rngs=rngs)
        if likelihood == "gaussian":
            self.decoder_logvar = nnx.Param(jnp.zeros((x_dim,)))

    @property
    def config(self) -> dict:
        """The architecture as a JSON-serialisable dict (stored in checkpoints)."""
        return {"model": "VAE", "x_dim": self.x_dim, "z_dim": self.z_dim, "hidden": list(self.hidden),
                "likelihood": self.likelihood,
                "num_levels": self.num_levels if self.likelihood == "categorical" else None,
                "activation": self.activation}

    @classmethod
    def from_config(cls, config: dict, *, rngs: nnx.Rngs | None = None) -> VAE:
        """Rebuild the architecture from :attr:`config` (fresh weights; ``rngs`` defaults to seed 0)."""
        return build_from_config(cls, config, rngs)

    # --- the pieces -------------------------------------------------------------------------
    def _check_data(self, name: str, x) -> None:
        """x must follow this VAE's data convention (see the class docstring)."""
        _validate.array(name, x, ndim=2, shape=(None, self.x_dim), dtype_kind="number")
        if self.likelihood == "categorical":
            _validate.levels(name, x, self.num_levels)
        elif self.likelihood == "bernoulli":
            _validate.unit_interval(name, x, hint="a Bernoulli VAE needs data in [0, 1]: scale integer "
                                    "levels first with data.to_unit_interval or data.binarize")

    def encoder_input(self, x):
        """Scale data to the encoder's input: categorical levels -> [0, 1]; others unchanged."""
        if self.likelihood == "categorical":
            return x.astype(jnp.float32) / (self.num_levels - 1)
        return x

    def encode(self, x):
        """q(z|x): x (B, D) -> (mu, logvar), each (B, J)."""
        self._check_data("x", x)
        return self.encoder(self.encoder_input(x))

    def decode(self, z):
        """p(x|z) parameters for z (B, J): logits (B, D) / (B, D, K), or means (B, D)."""
        _validate.array("z", z, ndim=2, dtype_kind="float")
        if z.shape[-1] != self.z_dim:
            raise ValueError(f"z must have shape (B, {self.z_dim}) for this VAE (z_dim={self.z_dim}), "
                             f"got shape {tuple(z.shape)}")
        return self.decoder(z)

    def log_likelihood(self, x, params) -> jax.Array:
        """log p(x|z) per example, (B,), for decoder outputs ``params``."""
        if self.likelihood == "bernoulli":
            return losses.bernoulli_log_likelihood(x, params)
        if self.likelihood == "categorical":
            return losses.categorical_log_likelihood(x, params)
        return losses.gaussian_log_likelihood(x, params, self.decoder_logvar[...])

    def mean_image(self, params) -> jax.Array:
        """E[x|z] in [0, 1] (or data units for gaussian), (B, D): what we draw on screen."""
        if self.likelihood == "bernoulli":
            return jax.nn.sigmoid(params)
        if self.likelihood == "categorical":
            levels = jnp.arange(self.num_levels, dtype=jnp.float32) / (self.num_levels - 1)
            return jnp.sum(jax.nn.softmax(params, axis=-1) * levels, axis=-1)
        return params

    def decode_mean(self, z) -> jax.Array:
        """z (B, J) -> E[x|z] (B, D): decode and take the mean image."""
        return self.mean_image(self.decode(z))

    # --- the objective ----------------------------------------------------------------------
    def negative_elbo(self, x, key, *, beta: float = 1.0) -> dict:
        """Per-example terms of the (beta-weighted) negative ELBO, one reparameterised sample.

        rec = -log p(x | z),  z = mu + exp(logvar/2) * eps,  eps ~ N(0, I)
        kl  = KL(q(z|x) || N(0, I))  (closed form)
        loss = rec + beta * kl                                       (04_vae, "The ELBO")

        Returns:
          dict with ``loss``, ``rec``, ``kl`` (each (B,)) and ``kl_per_dim`` (B, J).
        """
        _validate.prng_key("key", key)
        if not isinstance(beta, jax.core.Tracer):
            _validate.positive_float("beta", beta, allow_zero=True)
        mu, logvar = self.encode(x)
        eps = jax.random.normal(key, mu.shape)
        z = mu + jnp.exp(0.5 * logvar) * eps
        rec = -self.log_likelihood(x, self.decode(z))
        kl_per_dim = 0.5 * (jnp.exp(logvar) + mu**2 - 1.0 - logvar)
        kl = jnp.sum(kl_per_dim, axis=-1)
        return {"loss": rec + beta * kl, "rec": rec, "kl": kl, "kl_per_dim": kl_per_dim}

    def sample(self, key, num_samples: int) -> jax.Array:
        """Ancestral samples' mean images: z ~ N(0, I), x = E[x|z]. Returns (N, D)."""
        _validate.prng_key("key", key)
        num_samples = _validate.sample_count("num_samples", num_samples,
                                             per_sample=self.x_dim * self.num_levels)
        z = jax.random.normal(key, (num_samples, self.z_dim))
        return self.decode_mean(z)
