"""Two standard unbiased estimators of the gradient of an expectation, and their variance.

Taught in 03_gradient_descent.ipynb ("Bridge to VAEs"). We want

    grad_theta E_{z ~ N(mu, sigma^2)}[f(z)],   theta = (mu, sigma).

- Reparameterization (pathwise) gradient: write z = mu + sigma * eps with eps ~ N(0, 1);
  then grad_theta E[f(z)] = E_eps[f'(mu + sigma eps) * (1, eps)].
  Needs f differentiable; this is how a VAE's encoder is trained (Kingma & Welling 2013); the
  estimator itself is older (Price 1958; Glasserman 1991).
- Score-function (likelihood ratio, Glynn 1990; REINFORCE, Williams 1992) gradient:
  grad_theta E[f(z)] = E_z[f(z) * grad_theta log N(z; mu, sigma^2)]
                     = E_eps[f(z) * (eps / sigma, (eps^2 - 1) / sigma)].
  Works for any f (even a non-differentiable one) but, for smooth f, is usually far noisier
  (for a rapidly varying f the order can flip; Mohamed et al. 2020, JMLR 21(132)).

Noise ``eps`` is passed in, so every function here is deterministic.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from course_lib import _validate


def _check(f, mu, sigma, eps):
    if not callable(f):
        raise TypeError(f"f must be a function of a scalar z, got {type(f).__name__}")
    _validate.callback("f", f, (jnp.zeros((), jnp.float32),), (), signature="of a scalar z returning a scalar")
    _validate.real_in_range("mu", mu, -1e6, 1e6)
    _validate.positive_float("sigma", sigma)
    _validate.array("eps", eps, ndim=1, dtype_kind="float")


def _reparam(f, theta, eps):
    """(N, 2) pathwise estimates: d/dtheta f(theta[0] + theta[1] * eps)."""
    return jax.vmap(jax.grad(lambda th, e: f(th[0] + th[1] * e)), in_axes=(None, 0))(theta, eps)


def _score(f, theta, eps):
    """(N, 2) score-function estimates: f(z) * d/dtheta log N(z; theta) at fixed z."""
    z = jax.lax.stop_gradient(theta[0] + theta[1] * eps)  # (N,)

    def log_normal(th, z):
        return -0.5 * ((z - th[0]) / th[1]) ** 2 - jnp.log(th[1]) - 0.5 * jnp.log(2 * jnp.pi)

    score = jax.vmap(jax.grad(log_normal), in_axes=(None, 0))(theta, z)  # (N, 2)
    return jax.vmap(f)(z)[:, None] * score


# Compiled once per function f (f is a static argument: the same Python function reuses the compiled code).
_reparam_jit = jax.jit(_reparam, static_argnums=0)
_score_jit = jax.jit(_score, static_argnums=0)


def _spread(f, theta, eps):
    """N-sample averages of both estimators for each row of eps (R, N): two (R, 2) arrays."""
    rep = jax.vmap(lambda e: _reparam(f, theta, e).mean(axis=0))(eps)
    sco = jax.vmap(lambda e: _score(f, theta, e).mean(axis=0))(eps)
    return rep, sco


_spread_jit = jax.jit(_spread, static_argnums=0)


def reparameterization_gradient(f: Callable, mu: float, sigma: float, eps) -> jax.Array:
    """Per-sample pathwise estimates of grad_(mu, sigma) E[f(z)].

    Args:
      f: scalar -> scalar, differentiable (written with jnp).
      eps: (N,) standard normal noise.

    Returns:
      (N, 2): column 0 estimates d/dmu, column 1 d/dsigma; their mean is the estimate.
    """
    _check(f, mu, sigma, eps)
    return _reparam_jit(f, jnp.array([mu, sigma], jnp.float32), jnp.asarray(eps, jnp.float32))


def score_function_gradient(f: Callable, mu: float, sigma: float, eps) -> jax.Array:
    """Per-sample score-function (REINFORCE) estimates of grad_(mu, sigma) E[f(z)].

    f(z) * grad_theta log N(z; mu, sigma^2) with z = mu + sigma * eps held fixed
    (f itself is never differentiated).

    Returns:
      (N, 2) as :func:`reparameterization_gradient`.
    """
    _check(f, mu, sigma, eps)
    return _score_jit(f, jnp.array([mu, sigma], jnp.float32), jnp.asarray(eps, jnp.float32))


def estimator_spread(f: Callable, mu: float, sigma: float, key, num_samples: int,
                     num_repeats: int) -> dict:
    """Mean and variance over ``num_repeats`` independent N-sample estimates of each kind.

    Returns:
      dict with ``reparam_mean``, ``reparam_var``, ``score_mean``, ``score_var``, each a
      (2,) numpy array (for d/dmu and d/dsigma; variances with ddof=1).
    """
    _check(f, mu, sigma, np.zeros(1, np.float32))
    _validate.prng_key("key", key)
    r = _validate.positive_int("num_repeats", num_repeats, minimum=2)
    n = _validate.sample_count("num_samples", num_samples, per_sample=r)  # r * n draws in one array
    eps = jax.random.normal(key, (r, n))
    rep, sco = (np.asarray(a, np.float64) for a in _spread_jit(f, jnp.array([mu, sigma], jnp.float32), eps))
    return {"reparam_mean": rep.mean(axis=0), "reparam_var": rep.var(axis=0, ddof=1),
            "score_mean": sco.mean(axis=0), "score_var": sco.var(axis=0, ddof=1)}


__all__ = ["reparameterization_gradient", "score_function_gradient", "estimator_spread"]
