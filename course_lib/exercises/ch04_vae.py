"""Checks for the exercises of 04_vae.ipynb: each prints immediate feedback.

- :func:`check_gaussian_kl`: the closed-form KL(N(mu, diag(exp(logvar))) || N(0, I));
- :func:`check_reparameterize`: z = mu + exp(logvar / 2) * eps, differentiable in mu and logvar;
- :func:`check_iwae_bound`: L_K = log (1/K) sum_k exp(log w_k), computed stably;
- :func:`check_collapse_quiz`: what a KL of almost zero says about the latent code.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from course_lib import losses
from course_lib.evaluation.likelihood import iwae_bound
from course_lib.exercises.core import Case, CheckResult, require_numeric, check_choice, check_function


def _normal(seed: int, shape, scale: float = 1.0):
    """Fixed test inputs (NumPy's generator: nothing to compile)."""
    return jnp.asarray(scale * np.random.default_rng(seed).normal(size=shape), jnp.float32)


def check_gaussian_kl(gaussian_kl) -> CheckResult:
    """Check ``gaussian_kl(mu, logvar) -> (B,)`` against the course's closed form."""
    cases = [
        # one shape for every case: the reader's function compiles its operations only once
        Case((jnp.zeros((4, 3)), jnp.zeros((4, 3))), None, "q equals the prior: KL must be 0"),
        Case((_normal(0, (4, 3)), _normal(1, (4, 3), 0.5)), None, "random mu and logvar"),
        Case((_normal(2, (4, 3), 2.0), _normal(3, (4, 3), 2.0)), None, "wide values"),
    ]
    return check_function(
        gaussian_kl, losses.gaussian_kl, cases, name="gaussian_kl", rtol=1e-4, atol=1e-5,
        hint="KL = 1/2 * sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j), summed over the last axis "
             "(one number per example). logvar is a log-variance, so the variance is exp(logvar).")


def _reference_reparameterize(mu, logvar, eps):
    return mu + jnp.exp(0.5 * logvar) * eps


def _with_gradient(fn):
    """fn -> (z, d sum(z) / d logvar): the gradient is what the reparameterization trick is for."""

    def wrapped(mu, logvar, eps):
        z = require_numeric(fn(mu, logvar, eps), f"an array z of shape {tuple(mu.shape)}")
        grad = jax.grad(lambda lv: jnp.sum(fn(mu, lv, eps)))(logvar)
        return z, grad

    return wrapped


def check_reparameterize(reparameterize) -> CheckResult:
    """Check ``reparameterize(mu, logvar, eps) -> z`` (values and the gradient with respect to logvar)."""
    cases = [
        Case((jnp.zeros((3, 4)), jnp.zeros((3, 4)), _normal(4, (3, 4))), None, "mu = 0, unit variance: z = eps"),
        Case((_normal(5, (3, 4)), _normal(6, (3, 4)), _normal(7, (3, 4))), None, "random mu, logvar, eps"),
        Case((_normal(8, (3, 4)), jnp.full((3, 4), -2.0), _normal(9, (3, 4))), None, "small variance"),
    ]
    return check_function(
        _with_gradient(reparameterize), _with_gradient(_reference_reparameterize), cases, name="reparameterize",
        rtol=1e-4, atol=1e-5,
        hint="z = mu + sigma * eps with sigma = exp(logvar / 2), the standard deviation (not the variance). "
             "Use jnp (not np) so that jax.grad can differentiate through it.")


def _reference_iwae(log_w):
    return jnp.asarray(iwae_bound(np.asarray(log_w, np.float64)), jnp.float32)


def check_iwae_bound(iwae_from_log_weights) -> CheckResult:
    """Check ``iwae_from_log_weights(log_w (B, K)) -> (B,)``, including very negative log-weights."""
    cases = [
        Case((jnp.zeros((3, 50)),), None, "all weights equal to 1: L_K = 0"),
        Case((_normal(10, (3, 1), 3.0),), None, "K = 1: L_1 is the log-weight itself"),
        Case((_normal(11, (3, 50), 3.0),), None, "K = 50, spread-out log-weights"),
        Case((_normal(12, (3, 50), 5.0) - 1000.0,), None, "log-weights near -1000, as for real images"),
    ]
    return check_function(
        iwae_from_log_weights, _reference_iwae, cases, name="iwae_bound", rtol=1e-5, atol=1e-4,
        hint="L_K = log((1/K) sum_k exp(log w_k)) = logsumexp(log w) - log K. Computing exp(log w) directly "
             "underflows to 0 for log-weights like -1000: use jax.scipy.special.logsumexp (or subtract the max).")


def check_collapse_quiz(answer) -> CheckResult:
    """Multiple choice: a trained VAE has KL(q(z|x) || p(z)) of about 0.01 nats for every x."""
    return check_choice(
        answer, "b", name="collapse_quiz", choices="abcd",
        explanation="A KL near 0 for every x means q(z|x) is (almost) the prior whatever the input, so z "
                    "carries almost no information about x: the posterior has collapsed and the decoder "
                    "models the data on its own.",
        why_wrong={
            "a": "a small KL is not a sign of a good fit: it says q(z|x) hardly depends on x.",
            "c": "the reconstruction term is the one that got worse; the KL cannot be made negative.",
            "d": "the prior is fixed to N(0, I); it is the approximate posterior that became equal to it.",
        })
