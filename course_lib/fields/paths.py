"""Gaussian probability paths and the conversions between the four things a network can predict.

A Gaussian path noises data x_0 ~ p_data with eps ~ N(0, I):

    x_t = alpha_t x_0 + sigma_t eps,       t in [0, 1],  alpha_0 = 1, sigma_0 ~ 0,  alpha_1 ~ 0, sigma_1 ~ 1.

- ``vp``: the variance-preserving diffusion of Song et al. (2021), the continuous limit of DDPM's
  linear schedule: beta(t) = beta_min + t (beta_max - beta_min), alpha_t = exp(-1/2 int_0^t beta),
  sigma_t = sqrt(1 - alpha_t^2); beta_min = 0.1, beta_max = 20 (T beta_1 and T beta_T of DDPM, T = 1000).
- ``linear``: the conditional optimal-transport / rectified-flow path (Lipman et al., 2023; Liu et
  al., 2023): alpha_t = 1 - t, sigma_t = t (sigma_min = 0).

Every path has a marginal velocity v(x, t) = E[alpha'_t x_0 + sigma'_t eps | x_t = x] whose ODE
dx/dt = v carries p_t along, a score grad log p_t(x) = -E[eps | x_t = x] / sigma_t, and the posterior
means x0_hat = E[x_0 | x_t], eps_hat = E[eps | x_t]. Given x_t, any one of v, score, eps_hat, x0_hat
fixes the others (08_vector_fields, section 3), because

    [x_t]   [alpha_t   sigma_t ] [x0_hat ]
    [ v ] = [alpha'_t  sigma'_t] [eps_hat],       det = alpha_t sigma'_t - sigma_t alpha'_t > 0.
"""
from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from course_lib import _validate

PATHS = ("vp", "linear")
PREDICTIONS = ("velocity", "eps", "x0", "score")
VP_BETA_MIN, VP_BETA_MAX = 0.1, 20.0


class GaussianPath(NamedTuple):
    """A named path; ``t_min`` is where samplers stop (sigma_0 = 0 makes the VP score blow up at t = 0)."""

    name: str
    t_min: float


def get_path(name: str) -> GaussianPath:
    """The path called ``name`` (one of :data:`PATHS`), with a clear error otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"path must be a str naming one of {PATHS}, got {type(name).__name__}")
    _validate.one_of("path", name, PATHS)
    return GaussianPath(name, 1e-3 if name == "vp" else 0.0)


def as_path(path) -> GaussianPath:
    """``path`` as a :class:`GaussianPath`: one is returned as is, a name ("linear" or "vp") is looked up."""
    return path if isinstance(path, GaussianPath) else get_path(path)


def check_times(t):
    """t: a real number or a numeric array of times in [0, 1] (values checked when concrete)."""
    if hasattr(t, "shape"):
        _validate.array("t", t, dtype_kind="number")
        if _validate._is_concrete(t) and np.size(t) and (np.min(t) < 0 or np.max(t) > 1):
            raise ValueError(f"t must hold times in [0, 1] (0 = data, 1 = noise), got values from "
                             f"{float(np.min(t)):g} to {float(np.max(t)):g}")
        return t
    return _validate.real_in_range("t", t, 0.0, 1.0)


def _check_points(name: str, x, like=None):
    """x: a (B, D) numeric array (of ``like``'s shape when given)."""
    _validate.array(name, x, ndim=2, dtype_kind="number", min_rows=1)
    if like is not None and tuple(x.shape) != tuple(like.shape):
        raise ValueError(f"{name} must have the shape of x {tuple(like.shape)}, got shape {tuple(x.shape)}")
    return x


def coefficients(path, t):
    """(alpha_t, sigma_t, d alpha_t / dt, d sigma_t / dt) at times t (any shape), as arrays of t's shape."""
    path = as_path(path)
    t = jnp.asarray(check_times(t), jnp.float32)
    if path.name == "linear":
        return 1.0 - t, t, -jnp.ones_like(t), jnp.ones_like(t)
    b0, b1 = VP_BETA_MIN, VP_BETA_MAX
    beta = b0 + t * (b1 - b0)
    log_alpha = -0.5 * (b0 * t + 0.5 * (b1 - b0) * t**2)
    alpha = jnp.exp(log_alpha)
    sigma2 = -jnp.expm1(2.0 * log_alpha)  # 1 - alpha^2, accurate for small t
    sigma = jnp.sqrt(sigma2)
    d_alpha = -0.5 * beta * alpha
    d_sigma = 0.5 * beta * alpha**2 / jnp.maximum(sigma, 1e-12)  # from alpha^2 + sigma^2 = 1
    return alpha, sigma, d_alpha, d_sigma


def cols(path, t, like):
    """Coefficients as (B, 1) columns for a batch of points ``like`` (B, D); t is a scalar or (B,)."""
    _check_points("x", like)
    if np.ndim(check_times(t)) and tuple(np.shape(t)) != tuple(like.shape[:1]):
        raise ValueError(f"t must be a number or have shape ({like.shape[0]},) (one time per point), "
                         f"got shape {tuple(np.shape(t))}")
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), like.shape[:1])
    return tuple(c[:, None] for c in coefficients(path, t))


def sample_path(path, x0, t, eps):
    """x_t = alpha_t x_0 + sigma_t eps (B, D); t scalar or (B,)."""
    _check_points("eps", eps, _check_points("x0", x0))
    a, s, _, _ = cols(path, t, x0)
    return a * x0 + s * eps


def conditional_velocity(path, x0, t, eps):
    """u_t(x_t | x_0) = alpha'_t x_0 + sigma'_t eps: the velocity of one noised point, the flow-matching target."""
    _check_points("eps", eps, _check_points("x0", x0))
    _, _, da, ds = cols(path, t, x0)
    return da * x0 + ds * eps


def sde_coefficients(path, t):
    """Drift factor f(t) and squared diffusion g(t)^2 of the forward SDE dx = f x dt + g dw with marginals x_t.

    f = alpha'/alpha,  g^2 = d(sigma^2)/dt - 2 f sigma^2  (Song et al., 2021; Kingma et al., 2021).
    """
    a, s, da, ds = coefficients(path, t)
    f = da / a
    return f, 2.0 * s * ds - 2.0 * f * s**2


def to_x0_eps(path, x, t, prediction, value):
    """(x0_hat, eps_hat) from the network's output ``value`` of kind ``prediction`` at (x, t)."""
    _check_points("value", value, _check_points("x", x))
    _validate.one_of("prediction", prediction, PREDICTIONS)
    a, s, da, ds = cols(path, t, x)
    if prediction == "eps":
        return (x - s * value) / a, value
    if prediction == "score":
        eps = -s * value
        return (x - s * eps) / a, eps
    if prediction == "x0":
        return value, (x - a * value) / s
    det = a * ds - s * da
    return (ds * x - s * value) / det, (a * value - da * x) / det


def convert(path, x, t, value, *, source: str, target: str):
    """Convert a prediction at (x, t) from kind ``source`` to kind ``target`` (see the module docstring).

    velocity = alpha' x0_hat + sigma' eps_hat;  score = -eps_hat / sigma;  x0_hat, eps_hat from the 2x2 system.
    """
    _validate.one_of("target", target, PREDICTIONS)
    x0, eps = to_x0_eps(path, x, t, source, value)
    a, s, da, ds = cols(path, t, x)
    return {"x0": x0, "eps": eps, "score": -eps / s, "velocity": da * x0 + ds * eps}[target]


def velocity_from_score(path, x, t, score):
    """v = (alpha'/alpha) x - (sigma sigma' - (alpha'/alpha) sigma^2) score = f x - g^2/2 score: the probability-flow ODE."""
    _check_points("score", score, _check_points("x", x))
    a, s, da, ds = cols(path, t, x)
    return (da / a) * x - (s * ds - (da / a) * s**2) * score
