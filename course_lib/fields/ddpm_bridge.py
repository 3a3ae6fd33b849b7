"""DDIM on 07_beyond's discrete DDPM: the same trained noise predictor, sampled in far fewer steps.

07's DDPM has times t = 1..T with alpha_bar_t; its eps_theta(x_t, t) estimates E[eps | x_t], so
x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t). DDIM (Song, Meng & Ermon, 2021,
eq. 12 with sigma = 0) jumps along a subsequence tau_S > ... > tau_1 of the T times:

    x_{tau_{i-1}} = sqrt(alpha_bar_{tau_{i-1}}) x0_hat + sqrt(1 - alpha_bar_{tau_{i-1}}) eps_hat,

which is the probability-flow ODE of the VP path integrated in the variables (x / alpha, sigma / alpha):
one Euler step there per jump (08_vector_fields, section 2).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from course_lib import _validate


def ddim_times(big_t: int, num_steps: int) -> np.ndarray:
    """The S = num_steps times tau, evenly spaced in 1..T, decreasing, followed by 0 (the data)."""
    big_t = _validate.positive_int("big_t", big_t, maximum=10**5)
    num_steps = _validate.positive_int("num_steps", num_steps)
    if num_steps > big_t:
        raise ValueError(f"num_steps must be at most T = {big_t}, got {num_steps}")
    taus = np.unique(np.round(np.linspace(1, big_t, num_steps)).astype(np.int32))[::-1]
    return np.concatenate([taus, [0]]).astype(np.int32)


def ddim_sample(eps_fn, schedule, x_T, num_steps: int, *, trajectory: bool = False):
    """Deterministic DDIM from x_T (B, D) with ``num_steps`` network evaluations; pure and jittable.

    eps_fn: (x_t (B, D), t (B,) int) -> eps_hat (B, D), e.g. 07's EpsModel.
    """
    _validate.callable_("eps_fn", eps_fn, "a function (x_t (B, D), t (B,) int) -> (B, D)")
    if not (hasattr(schedule, "num_steps") and hasattr(schedule, "alpha_bar")):
        raise TypeError(f"schedule must be a DDPM noise schedule (with num_steps and alpha_bar, e.g. "
                        f"models.diffusion.linear_schedule(...)), got {type(schedule).__name__}")
    _validate.array("x_T", x_T, ndim=2, dtype_kind="float", min_rows=1)
    if trajectory:
        _validate.sample_count("num_steps", num_steps, per_sample=int(np.prod(x_T.shape)))
    taus = jnp.asarray(ddim_times(schedule.num_steps, num_steps))
    ab = schedule.alpha_bar  # ab[0] = 1: the data

    def step(x, pair):
        t, t_prev = pair
        tb = jnp.full((x.shape[0],), t, jnp.int32)
        eps_hat = eps_fn(x, tb)
        x0_hat = (x - jnp.sqrt(1.0 - ab[t]) * eps_hat) / jnp.sqrt(ab[t])
        x_prev = jnp.sqrt(ab[t_prev]) * x0_hat + jnp.sqrt(1.0 - ab[t_prev]) * eps_hat
        return x_prev, x_prev

    x0, xs = jax.lax.scan(step, x_T, (taus[:-1], taus[1:]))
    if trajectory:
        return x0, jnp.concatenate([x_T[None], xs], axis=0)
    return x0
