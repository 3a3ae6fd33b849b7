"""Checks for the exercises of 06_code_walkthrough.ipynb ("Exercises").

The references are written in NumPy (no compilation); the reader's functions may use
NumPy or jax.numpy.

Each ``check_*`` function runs the reader's function on fixed cases, compares with
the reference below and prints one verdict line (see :mod:`course_lib.exercises.core`).

1. :func:`check_discriminator_loss`: the GAN discriminator's loss from probabilities,
   with both the real and the generated term (the article kept neither right).
2. :func:`check_to_unit_interval`: where the article's rescale belongs: map a
   generator's output range to [0, 1] for display, for sigmoid and tanh outputs.
3. :func:`check_negative_elbo`: the VAE loss the article's title promised, per example.
"""
from __future__ import annotations

import numpy as np

from course_lib.exercises.core import Case, check_function


# --------------------------------------------------------------------------- references


def reference_discriminator_loss(d_real, d_fake):
    """-[log D(x) + log(1 - D(G(z)))] per example; d_real, d_fake: (B,) probabilities in (0, 1)."""
    return -(np.log(d_real) + np.log1p(-np.asarray(d_fake)))


def reference_to_unit_interval(x, output):
    """Generator output -> [0, 1]: x for ``sigmoid``, (x + 1) / 2 for ``tanh``."""
    if output == "sigmoid":
        return x
    if output == "tanh":
        return (x + 1.0) / 2.0
    raise ValueError(f"output must be 'sigmoid' or 'tanh', got {output!r}")


def reference_negative_elbo(x, logits, mu, logvar):
    """Per-example negative ELBO of a Bernoulli VAE with one sample already decoded to ``logits``.

    rec = -sum_d [x_d l_d - softplus(l_d)];  kl = 1/2 sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j);
    returns rec + kl, shape (B,).
    """
    rec = -np.sum(x * logits - np.logaddexp(0.0, logits), axis=-1)
    kl = 0.5 * np.sum(np.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)
    return rec + kl


# --------------------------------------------------------------------------- cases


def _rng(seed):
    return np.random.default_rng(seed)


# All cases of one check share their shapes, so a jax.numpy answer compiles each operation once.
_D_CASES = [
    Case((np.full(3, 0.5), np.full(3, 0.5)), description="D = 1/2 everywhere: 2 log 2"),
    Case((np.array([0.9, 0.99, 0.6]), np.array([0.1, 0.3, 0.8])), description="a partly trained D"),
    Case((np.array([0.2, 0.7, 0.5]), np.array([0.95, 0.05, 0.5])), description="D fooled on the first example"),
]

_UNIT_CASES = [
    Case((np.array([0.0, 0.25, 1.0]), "sigmoid"), description="sigmoid outputs are already in [0, 1]"),
    Case((np.array([-1.0, 0.0, 1.0]), "tanh"), description="tanh outputs [-1, 1]"),
    Case((np.linspace(-1.0, 1.0, 7).reshape(7, 1), "tanh"), description="a column of tanh values"),
]


def _elbo_case(seed, b, d, j, description):
    r = _rng(seed)
    x = (r.random((b, d)) > 0.5).astype(np.float32)
    return Case((x, r.normal(size=(b, d)).astype(np.float32), r.normal(size=(b, j)).astype(np.float32),
                 r.normal(scale=0.5, size=(b, j)).astype(np.float32)), description=description)


_ELBO_CASES = [
    Case((np.zeros((4, 6), np.float32), np.zeros((4, 6), np.float32), np.zeros((4, 2), np.float32),
          np.zeros((4, 2), np.float32)), description="q = prior, logits 0: 6 log 2 each"),
    _elbo_case(0, 4, 6, 2, "random batch"),
    _elbo_case(1, 4, 6, 2, "another random batch"),
]


# --------------------------------------------------------------------------- checks


def check_discriminator_loss(fn):
    """Check ``fn(d_real, d_fake) -> (B,)``, the per-example GAN discriminator loss."""
    return check_function(
        fn, reference_discriminator_loss, _D_CASES, name="discriminator_loss", rtol=1e-5, atol=1e-5,
        hint="Two terms: -log D(x) for the real image (label 1) and -log(1 - D(G(z))) for the generated "
             "one (label 0). The article labelled generated images 1 and had no real images at all.")


def check_to_unit_interval(fn):
    """Check ``fn(x, output) -> x in [0, 1]`` for ``output`` in {'sigmoid', 'tanh'}."""
    return check_function(
        fn, reference_to_unit_interval, _UNIT_CASES, name="to_unit_interval",
        hint="(x * 127.5 + 127.5) / 255 = (x + 1) / 2 is right for tanh's [-1, 1]; a sigmoid's output "
             "is already in [0, 1] and must be left alone.")


def check_negative_elbo(fn):
    """Check ``fn(x, logits, mu, logvar) -> (B,)``, the per-example negative ELBO."""
    return check_function(
        fn, reference_negative_elbo, _ELBO_CASES, name="negative_elbo", rtol=1e-4, atol=1e-4,
        hint="Add the reconstruction term -log p(x|z) = -sum(x*l - softplus(l)) and the KL term "
             "1/2 sum(exp(logvar) + mu^2 - 1 - logvar); both are summed over their last axis.")


__all__ = [
    "check_discriminator_loss", "check_negative_elbo", "check_to_unit_interval",
    "reference_discriminator_loss", "reference_negative_elbo", "reference_to_unit_interval",
]
