"""Denoising diffusion probabilistic models (DDPM; Ho, Jain & Abbeel, 2020).

Taught in 07_beyond.ipynb ("Diffusion"). Names and indices follow the paper: time
runs t = 1..T, arrays are indexed by t directly (entry 0 stands for the data,
alpha_bar[0] = 1), and every function that needs noise takes it as an argument
(``eps``, ``z``), so it is deterministic under test.

Forward (noising) process, fixed:
    q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I),   alpha_t = 1 - beta_t
    q(x_t | x_0)     = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),   alpha_bar_t = prod_{s<=t} alpha_s
so x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps in one step (``q_sample``).

Reverse (generative) process, learned through a noise predictor eps_theta(x_t, t):
    p(x_{t-1} | x_t) = N(mu_theta(x_t, t), sigma_t^2 I),
    mu_theta = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t).

Training minimises L_simple = E_{t, x_0, eps} ||eps - eps_theta(x_t, t)||^2 (Ho et al., eq. 14).
The variational bound on -log p(x_0) is L_T + sum_{t=2}^T L_{t-1} + L_0 (eq. 5), computed by
:func:`vlb_terms` with a discretized Gaussian decoder for L_0, which makes it a bound on the
negative log-likelihood of the *discrete* images.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.scipy.special import log_ndtr

from course_lib import _validate
from course_lib.models.mlp import ACTIVATIONS, MLP, check_sizes
from course_lib.models.registry import build_from_config, register

SCHEDULES = ("linear", "cosine")
VARIANCES = ("beta", "beta_tilde")


class Schedule(NamedTuple):
    """The noise schedule, arrays of shape (T + 1,) indexed by t = 0..T (entry 0: the data).

    betas[t] = beta_t; alphas[t] = 1 - beta_t; alpha_bar[t] = prod_{s=1..t} alpha_s;
    beta_tilde[t] = (1 - alpha_bar[t-1]) / (1 - alpha_bar[t]) beta_t, the variance of q(x_{t-1} | x_t, x_0).
    """

    betas: jax.Array
    alphas: jax.Array
    alpha_bar: jax.Array
    beta_tilde: jax.Array

    @property
    def num_steps(self) -> int:
        return int(self.betas.shape[0]) - 1


def make_schedule(num_steps: int = 1000, kind: str = "linear", *, beta_1: float = 1e-4,
                  beta_T: float = 0.02) -> Schedule:
    """The DDPM noise schedule.

    ``linear``: beta_t from beta_1 to beta_T (Ho et al., 2020: 1e-4 to 0.02 over T = 1000).
    ``cosine``: alpha_bar_t = cos^2(((t/T + s) / (1 + s)) pi/2) / (same at t=0), s = 0.008,
    betas clipped at 0.999 (Nichol & Dhariwal, 2021).
    """
    num_steps = _validate.positive_int("num_steps", num_steps, minimum=2)
    _validate.one_of("kind", kind, SCHEDULES)
    if kind == "linear":
        beta_1 = _validate.real_in_range("beta_1", beta_1, 1e-8, 0.999)
        beta_T = _validate.real_in_range("beta_T", beta_T, beta_1, 0.999)
        betas = np.linspace(beta_1, beta_T, num_steps, dtype=np.float64)
    else:
        s = 0.008
        f = np.cos((np.arange(num_steps + 1) / num_steps + s) / (1 + s) * np.pi / 2) ** 2
        betas = np.clip(1.0 - f[1:] / f[:-1], 1e-8, 0.999)
    betas = np.concatenate([[0.0], betas])  # (T + 1,): beta_0 = 0 stands for "no noise"
    alphas = 1.0 - betas
    alpha_bar = np.cumprod(alphas)
    beta_tilde = np.zeros_like(betas)
    beta_tilde[1:] = (1.0 - alpha_bar[:-1]) / (1.0 - alpha_bar[1:]) * betas[1:]
    as32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731 - computed in float64, stored in float32
    return Schedule(as32(betas), as32(alphas), as32(alpha_bar), as32(beta_tilde))


def _check_t(t, batch: int, schedule=None, low: int = 0):
    _validate.array("t", t, ndim=1, shape=(batch,), dtype_kind="int")
    if schedule is not None:
        _validate.time_steps("t", t, low, schedule.num_steps)


def _check_schedule(schedule):
    _validate.instance("schedule", schedule, Schedule, "a Schedule from make_schedule(...)")


def _col(a, t):
    """a[t] as a column (B, 1), to broadcast against (B, D)."""
    return a[t][:, None]


def q_sample(schedule: Schedule, x0, t, eps) -> jax.Array:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps: a draw of q(x_t | x_0) (eq. 4).

    Args:
      x0: (B, D) data; t: (B,) integer times in 0..T; eps: (B, D) standard normal noise.
    """
    _check_schedule(schedule)
    _validate.array("x0", x0, ndim=2, dtype_kind="float")
    _check_t(t, x0.shape[0], schedule, low=0)
    _validate.array("eps", eps, shape=tuple(x0.shape), dtype_kind="float")
    ab = _col(schedule.alpha_bar, t)
    return jnp.sqrt(ab) * x0 + jnp.sqrt(1.0 - ab) * eps


def q_posterior(schedule: Schedule, x0, x_t, t):
    """Mean and variance of q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde_t I) (eqs. 6-7), t >= 1.

    mu_tilde = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
             + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t

    Returns:
      (mean (B, D), variance (B, 1)).
    """
    _validate.array("x0", x0, ndim=2, dtype_kind="float")
    _validate.array("x_t", x_t, shape=tuple(x0.shape), dtype_kind="float")
    _check_schedule(schedule)
    _check_t(t, x0.shape[0], schedule, low=1)
    ab, ab_prev = _col(schedule.alpha_bar, t), _col(schedule.alpha_bar, t - 1)
    beta, alpha = _col(schedule.betas, t), _col(schedule.alphas, t)
    mean = jnp.sqrt(ab_prev) * beta / (1.0 - ab) * x0 + jnp.sqrt(alpha) * (1.0 - ab_prev) / (1.0 - ab) * x_t
    return mean, _col(schedule.beta_tilde, t)


def predict_x0(schedule: Schedule, x_t, t, eps_hat) -> jax.Array:
    """x_0 implied by a noise prediction: (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)."""
    _check_schedule(schedule)
    _validate.time_steps("t", t, 0, schedule.num_steps)
    ab = _col(schedule.alpha_bar, t)
    return (x_t - jnp.sqrt(1.0 - ab) * eps_hat) / jnp.sqrt(ab)


def p_mean(schedule: Schedule, x_t, t, eps_hat) -> jax.Array:
    """mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_t)  (eq. 11)."""
    _check_schedule(schedule)
    _validate.time_steps("t", t, 1, schedule.num_steps)
    beta, alpha, ab = _col(schedule.betas, t), _col(schedule.alphas, t), _col(schedule.alpha_bar, t)
    return (x_t - beta / jnp.sqrt(1.0 - ab) * eps_hat) / jnp.sqrt(alpha)


def p_variance(schedule: Schedule, t, kind: str = "beta") -> jax.Array:
    """sigma_t^2 of p(x_{t-1} | x_t), (B, 1): ``beta`` (beta_t) or ``beta_tilde`` (beta_tilde_t; beta_1 at t = 1)."""
    _check_schedule(schedule)
    _validate.time_steps("t", t, 1, schedule.num_steps)
    _validate.one_of("kind", kind, VARIANCES)
    if kind == "beta":
        return _col(schedule.betas, t)
    return _col(jnp.where(jnp.arange(schedule.betas.shape[0]) <= 1, schedule.betas, schedule.beta_tilde), t)


def p_sample(schedule: Schedule, x_t, t, eps_hat, z, *, variance: str = "beta") -> jax.Array:
    """x_{t-1} = mu_theta(x_t, t) + sigma_t z, with no noise added at t = 1 (Algorithm 2)."""
    sigma = jnp.sqrt(p_variance(schedule, t, variance))
    return p_mean(schedule, x_t, t, eps_hat) + jnp.where(t[:, None] > 1, sigma, 0.0) * z


# --------------------------------------------------------------------------- the network


def timestep_embedding(t, num_steps: int, dim: int) -> jax.Array:
    """Sinusoidal features of t (Vaswani et al., 2017), as DDPM uses: (B,) -> (B, dim).

    Frequencies are geometric between 1 and 1/1000 cycles per unit of t / T * 1000.
    """
    half = dim // 2
    freqs = jnp.exp(-math.log(1000.0) * jnp.arange(half) / half)  # (dim/2,)
    angles = (t.astype(jnp.float32) * (1000.0 / num_steps))[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


@register
class EpsModel(nnx.Module):
    """The noise predictor eps_theta(x_t, t): an MLP on [x_t, embedding(t)], (B, D), (B,) -> (B, D).

    Args:
      dim: D.
      num_steps: T (scales the time embedding).
      hidden: hidden widths.
      time_dim: size of the sinusoidal time embedding.
    """

    def __init__(self, dim: int, num_steps: int, hidden: Sequence[int] = (256, 256, 256), *,
                 time_dim: int = 32, activation: str = "gelu", rngs: nnx.Rngs):
        self.dim = _validate.positive_int("dim", dim)
        self.num_steps = _validate.positive_int("num_steps", num_steps, minimum=2)
        self.hidden = check_sizes("hidden", hidden)
        self.time_dim = _validate.positive_int("time_dim", time_dim, minimum=2)
        self.activation = _validate.one_of("activation", activation, ACTIVATIONS)
        self.net = MLP((dim + time_dim, *self.hidden, dim), activation=activation, rngs=rngs)

    @property
    def config(self) -> dict:
        return {"model": "EpsModel", "dim": self.dim, "num_steps": self.num_steps, "hidden": list(self.hidden),
                "time_dim": self.time_dim, "activation": self.activation}

    @classmethod
    def from_config(cls, config: dict, *, rngs: nnx.Rngs | None = None) -> EpsModel:
        """Rebuild the architecture from :attr:`config` (fresh weights; ``rngs`` defaults to seed 0)."""
        return build_from_config(cls, config, rngs)

    def __call__(self, x_t, t):
        _validate.array("x_t", x_t, ndim=2, dtype_kind="float", finite=False)
        _validate.width("x_t", x_t, self.dim, of=f"this EpsModel, dim={self.dim}")
        _validate.array("t", t, ndim=1, shape=(x_t.shape[0],), dtype_kind="int", finite=False)
        _validate.time_steps("t", t, 0, self.num_steps)
        emb = timestep_embedding(t, self.num_steps, self.time_dim)  # (B, time_dim)
        return self.net(jnp.concatenate([x_t, emb], axis=-1))  # (B, D)


# --------------------------------------------------------------------------- training and sampling


def ddpm_loss(eps_fn, schedule: Schedule, x0, t, eps) -> jax.Array:
    """L_simple per example: ||eps - eps_theta(q_sample(x_0, t, eps), t)||^2 summed over D, (B,)."""
    x_t = q_sample(schedule, x0, t, eps)
    return jnp.sum((eps - eps_fn(x_t, t)) ** 2, axis=-1)


def sample_from_noise(eps_fn, schedule: Schedule, x_T, z, *, variance: str = "beta", trajectory: bool = False):
    """Run the reverse process from x_T with given noises (Algorithm 2), deterministically.

    Args:
      eps_fn: (x_t (B, D), t (B,)) -> eps_hat (B, D), pure.
      x_T: (B, D) starting noise; z: (T, B, D) the noise of each step (z[t-1] is used at time t).
      trajectory: also return every x_t.

    Returns:
      x_0 (B, D), or (x_0, xs) with xs (T + 1, B, D) where xs[t] = x_t.
    """
    _validate.array("x_T", x_T, ndim=2, dtype_kind="float")
    num_steps = schedule.num_steps
    _validate.array("z", z, shape=(num_steps,) + tuple(x_T.shape), dtype_kind="float")
    _validate.one_of("variance", variance, VARIANCES)

    def step(x_t, inputs):
        t_scalar, z_t = inputs
        t = jnp.full((x_t.shape[0],), t_scalar, jnp.int32)
        x_prev = p_sample(schedule, x_t, t, eps_fn(x_t, t), z_t, variance=variance)
        return x_prev, x_prev

    ts = jnp.arange(num_steps, 0, -1)  # T, T-1, ..., 1
    x0, path = jax.lax.scan(step, x_T, (ts, z[ts - 1]))
    if not trajectory:
        return x0
    # path[i] = x_{T-1-i}; stack as xs[t] = x_t.
    return x0, jnp.concatenate([path[::-1], x_T[None]], axis=0)


# --------------------------------------------------------------------------- the variational bound


def levels_to_data(x, num_levels: int) -> jax.Array:
    """Integer levels 0..K-1 -> floats in [-1, 1]: 2 x / (K - 1) - 1 (the scale DDPM works in)."""
    num_levels = _validate.positive_int("num_levels", num_levels, minimum=2)
    _validate.array("x", x, dtype_kind="number", finite=False)
    _validate.levels("x", x, num_levels)
    return 2.0 * x.astype(jnp.float32) / (num_levels - 1) - 1.0


def data_to_levels(x, num_levels: int) -> jax.Array:
    """Floats in [-1, 1] -> nearest integer level 0..K-1."""
    num_levels = _validate.positive_int("num_levels", num_levels, minimum=2)
    _validate.array("x", x, dtype_kind="number", finite=False)
    return jnp.clip(jnp.round((x + 1.0) * (num_levels - 1) / 2.0), 0, num_levels - 1).astype(jnp.int32)


def _log_prob_between(a, b):
    """log(Phi(b) - Phi(a)) for a < b, stable in both tails (uses the symmetry Phi(-x) = 1 - Phi(x))."""
    flip = a > 0  # both in the upper tail: compute Phi(-a) - Phi(-b) instead
    lo, hi = jnp.where(flip, -b, a), jnp.where(flip, -a, b)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + jnp.log1p(-jnp.exp(jnp.minimum(log_lo - log_hi, -1e-12)))


def discretized_gaussian_log_likelihood(x_levels, mean, variance, num_levels: int) -> jax.Array:
    """log p(x_0 | x_1) of integer levels under N(mean, variance) integrated over each level's bin.

    Level k sits at c_k = 2k/(K-1) - 1 with bin [c_k - delta, c_k + delta], delta = 1/(K-1); the
    first and last bins extend to -inf and +inf, so the K probabilities sum to 1 (Ho et al., eq. 13).

    Returns:
      (B,) log-likelihood in nats, summed over D.
    """
    c = levels_to_data(x_levels, num_levels)
    delta = 1.0 / (num_levels - 1)
    std = jnp.sqrt(variance)
    lower = jnp.where(x_levels == 0, -jnp.inf, (c - delta - mean) / std)
    upper = jnp.where(x_levels == num_levels - 1, jnp.inf, (c + delta - mean) / std)
    log_p = jnp.where(x_levels == 0, log_ndtr(upper),
                      jnp.where(x_levels == num_levels - 1, log_ndtr(-lower),
                                _log_prob_between(jnp.where(jnp.isfinite(lower), lower, -1e4),
                                                  jnp.where(jnp.isfinite(upper), upper, 1e4))))
    return jnp.sum(log_p, axis=-1)


def _normal_kl(mean_q, var_q, mean_p, var_p):
    """KL(N(mean_q, var_q) || N(mean_p, var_p)) per coordinate, summed over the last axis."""
    return 0.5 * jnp.sum(jnp.log(var_p) - jnp.log(var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0, axis=-1)


def vlb_terms(eps_fn, schedule: Schedule, x_levels, ts, eps, *, num_levels: int, variance: str = "beta"):
    """The terms of the bound -log p(x_0) <= L_T + sum_{t=2}^T L_{t-1} + L_0, per example.

    L_T     = KL(q(x_T | x_0) || N(0, I))                                    (closed form)
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),  x_t ~ q(x_t | x_0)   for each t in ``ts``
    L_0     = -log p(x_0 | x_1) with the discretized Gaussian decoder,        x_1 ~ q(x_1 | x_0)

    Args:
      eps_fn: the noise predictor (x_t, t) -> eps_hat, pure.
      x_levels: (B, D) integer levels 0..K-1.
      ts: (M,) times in 2..T at which to evaluate L_{t-1}.
      eps: (M + 1, B, D) noise: eps[i] draws x_t for ts[i], eps[M] draws x_1 for L_0.

    Returns:
      dict with ``prior`` (L_T, (B,)), ``per_t`` (L_{t-1} at each time of ``ts``, (B, M)) and
      ``decoder`` (L_0, (B,)), in nats. Summing ``per_t`` over all t = 2..T gives the middle term;
      with a subset of times, weight each by how many times it stands for (07_beyond).
    """
    _validate.array("x_levels", x_levels, ndim=2, dtype_kind="int")
    _validate.array("ts", ts, ndim=1, dtype_kind="int")
    b, d = x_levels.shape
    _validate.array("eps", eps, shape=(ts.shape[0] + 1, b, d), dtype_kind="float")
    num_levels = _validate.positive_int("num_levels", num_levels, minimum=2)
    _validate.one_of("variance", variance, VARIANCES)
    _check_schedule(schedule)
    _validate.levels("x_levels", x_levels, num_levels)
    _validate.time_steps("ts", ts, 2, schedule.num_steps)
    x0 = levels_to_data(x_levels, num_levels)
    big_t = schedule.num_steps
    ab_T = schedule.alpha_bar[big_t]
    prior = _normal_kl(jnp.sqrt(ab_T) * x0, 1.0 - ab_T, 0.0, 1.0)

    def term(inputs):
        t_scalar, e = inputs
        t = jnp.full((b,), t_scalar, jnp.int32)
        x_t = q_sample(schedule, x0, t, e)
        mean_q, var_q = q_posterior(schedule, x0, x_t, t)
        mean_p = p_mean(schedule, x_t, t, eps_fn(x_t, t))
        return _normal_kl(mean_q, var_q, mean_p, p_variance(schedule, t, variance))

    per_t = jax.lax.map(term, (ts, eps[:-1])).T  # (B, M)
    one = jnp.ones((b,), jnp.int32)
    x_1 = q_sample(schedule, x0, one, eps[-1])
    mean_1 = p_mean(schedule, x_1, one, eps_fn(x_1, one))
    decoder = -discretized_gaussian_log_likelihood(x_levels, mean_1, schedule.betas[1], num_levels)
    return {"prior": prior, "per_t": per_t, "decoder": decoder}
