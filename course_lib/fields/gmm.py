"""Exact score and marginal velocity of an isotropic Gaussian mixture pushed along a Gaussian path.

If x_0 ~ sum_k w_k N(m_k, std^2 I) and x_t = alpha_t x_0 + sigma_t eps, then x_t is again a mixture,

    p_t(x) = sum_k w_k N(x; alpha_t m_k, v_t I),        v_t = alpha_t^2 std^2 + sigma_t^2,

with responsibilities r_k(x) proportional to w_k N(x; alpha_t m_k, v_t I), and, per component,

    score_k = -(x - alpha_t m_k) / v_t,
    E[x_0 | x, k] = m_k + alpha_t std^2 / v_t (x - alpha_t m_k),   E[eps | x, k] = sigma_t / v_t (x - alpha_t m_k).

The marginal quantities are the r_k-weighted sums; the marginal velocity is
v(x, t) = alpha'_t E[x_0 | x] + sigma'_t E[eps | x] (Lipman et al., 2023, theorem 1). These are the
references the trained networks of 08_vector_fields are checked against.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from course_lib import _validate
from course_lib.data.toy import GaussianMixture
from course_lib.fields.paths import cols


def _check(mixture, x):
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")
    _validate.array("x", x, ndim=2, shape=(None, mixture.means.shape[1]), dtype_kind="float")


def posterior(mixture: GaussianMixture, path, x, t):
    """(responsibilities (B, K), E[x_0 | x_t = x] (B, D), E[eps | x_t = x] (B, D), score (B, D)) exactly."""
    _check(mixture, x)
    a, s, _, _ = cols(path, t, x)  # (B, 1) each
    means = jnp.asarray(mixture.means)  # (K, D)
    var = a**2 * mixture.std**2 + s**2  # (B, 1)
    diff = x[:, None, :] - a[:, :, None] * means[None]  # (B, K, D): x - alpha m_k
    logits = jnp.log(jnp.asarray(mixture.weights))[None] - 0.5 * jnp.sum(diff**2, -1) / var  # (B, K)
    r = jax.nn.softmax(logits, axis=-1)
    weighted = jnp.einsum("bk,bkd->bd", r, diff)  # E[x - alpha m_k]
    x0 = jnp.einsum("bk,kd->bd", r, means) + a * mixture.std**2 / var * weighted
    eps = s / var * weighted
    return r, x0, eps, -weighted / var


def score(mixture: GaussianMixture, path, x, t):
    """grad_x log p_t(x) (B, D), the score of the noised mixture."""
    return posterior(mixture, path, x, t)[3]


def velocity(mixture: GaussianMixture, path, x, t):
    """The marginal velocity v(x, t) = alpha' E[x_0 | x] + sigma' E[eps | x] (B, D)."""
    _, x0, eps, _ = posterior(mixture, path, x, t)
    _, _, da, ds = cols(path, t, x)
    return da * x0 + ds * eps


def log_density(mixture: GaussianMixture, path, x, t):
    """log p_t(x) (B,) of the noised mixture."""
    _check(mixture, x)
    a, s, _, _ = cols(path, t, x)
    var = a**2 * mixture.std**2 + s**2
    means = jnp.asarray(mixture.means)
    d2 = jnp.sum((x[:, None, :] - a[:, :, None] * means[None]) ** 2, -1)
    dim = x.shape[1]
    log_n = -0.5 * d2 / var - 0.5 * dim * jnp.log(2 * jnp.pi * var)
    return jax.scipy.special.logsumexp(log_n + jnp.log(jnp.asarray(mixture.weights))[None], axis=-1)
