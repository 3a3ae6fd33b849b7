"""Denoising score matching and conditional flow matching, per example (08_vector_fields).

Both draw t ~ U(t_min, 1), eps ~ N(0, I), x_t = alpha_t x_0 + sigma_t eps, and regress a network on a
target that only needs (x_0, eps), never the intractable marginal:

- DSM (Vincent, 2011), in the noise parametrisation of DDPM: the score network s = -eps_hat / sigma_t and
      lambda(t) || s(x_t, t) + eps / sigma_t ||^2  with lambda = sigma_t^2   =   || eps_hat(x_t, t) - eps ||^2.
  The conditional score -eps / sigma_t = grad log N(x_t; alpha_t x_0, sigma_t^2 I).
- CFM (Lipman et al., 2023):  || v_theta(x_t, t) - (alpha'_t x_0 + sigma'_t eps) ||^2.

In both, the conditional target's expectation given x_t is the marginal one, so the gradient equals that
of the intractable marginal loss (the two losses differ by a constant that does not depend on theta).
"""
from __future__ import annotations

import jax.numpy as jnp

from course_lib import _validate
from course_lib.fields.paths import conditional_velocity, sample_path


def _predict(name: str, fn, x_t, t):
    """fn(x_t, t), refused unless it is a function returning an array of x_t's shape."""
    _validate.callable_(name, fn, "a function (x_t (B, D), t (B,)) -> (B, D)")
    out = fn(x_t, t)
    if getattr(out, "shape", None) != x_t.shape:
        got = f"shape {tuple(out.shape)}" if hasattr(out, "shape") else type(out).__name__
        raise TypeError(f"{name} must be a function (x_t (B, D), t (B,)) -> (B, D) returning shape "
                        f"{tuple(x_t.shape)}, got {got}")
    return out


def dsm_loss(eps_fn, path, x0, t, eps):
    """|| eps_theta(x_t, t) - eps ||^2 summed over D, (B,). eps_fn: (x_t (B, D), t (B,)) -> (B, D)."""
    x_t = sample_path(path, x0, t, eps)
    return jnp.sum((_predict("eps_fn", eps_fn, x_t, t) - eps) ** 2, axis=-1)


def cfm_loss(v_fn, path, x0, t, eps):
    """|| v_theta(x_t, t) - u_t(x_t | x_0) ||^2 summed over D, (B,). v_fn: (x_t (B, D), t (B,)) -> (B, D)."""
    x_t = sample_path(path, x0, t, eps)
    return jnp.sum((_predict("v_fn", v_fn, x_t, t) - conditional_velocity(path, x0, t, eps)) ** 2, axis=-1)


LOSSES = {"eps": dsm_loss, "velocity": cfm_loss}
