"""Samplers: integrate a learned vector field from noise (t = 1) to data (t = 0).  (08_vector_fields, 2 and 4)

All take ``velocity_fn(x (B, D), t (B,)) -> (B, D)``, the marginal velocity, and a time grid
t_0 = 1 > t_1 > ... > t_N = t_min with N = ``num_steps`` equal steps h_i = t_{i+1} - t_i < 0.

- ``euler``:     x_{i+1} = x_i + h_i v(x_i, t_i)                                   (1 evaluation per step)
- ``heun``:      x~ = x_i + h_i v(x_i, t_i);  x_{i+1} = x_i + h_i/2 [v(x_i, t_i) + v(x~, t_{i+1})]   (2)
- ``ddim``:      (x0_hat, eps_hat) from v at t_i;  x_{i+1} = alpha_{i+1} x0_hat + sigma_{i+1} eps_hat  (1)
                 (Song, Meng & Ermon, 2021, eta = 0; on the linear path it is exactly Euler)
- ``ancestral``: x_{i+1} ~ q(x_{t_{i+1}} | x_t = x_i, x_0 = x0_hat), the Gaussian posterior of the
                 forward process, as DDPM's Algorithm 2 does with its discrete steps               (1)

and for a score: ``langevin`` (x <- x + delta/2 score(x) + sqrt(delta) z) and ``annealed_langevin``
(Song & Ermon, 2019: a few Langevin steps at each of a decreasing sequence of noise levels).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from course_lib import _validate
from course_lib.fields.paths import as_path, cols, to_x0_eps

SAMPLERS = ("euler", "heun", "ddim", "ancestral")
EVALS_PER_STEP = {"euler": 1, "heun": 2, "ddim": 1, "ancestral": 1}


class SamplerDivergedError(FloatingPointError):
    """A sampler produced NaN or infinity."""


def check_sampler(sampler: str, num_steps) -> int:
    """Validate a sampler name and a number of steps (>= 1); return the steps."""
    if not isinstance(sampler, str):
        raise TypeError(f"sampler must be a str naming one of {SAMPLERS}, got {type(sampler).__name__}")
    _validate.one_of("sampler", sampler, SAMPLERS)
    return _validate.positive_int("num_steps", num_steps, minimum=1)


def nfe(sampler: str, num_steps: int) -> int:
    """Number of network evaluations of a run."""
    return EVALS_PER_STEP[sampler] * check_sampler(sampler, num_steps)


def time_grid(path, num_steps: int) -> jax.Array:
    """(N + 1,) times from 1 down to the path's t_min."""
    num_steps = _validate.positive_int("num_steps", num_steps)
    return jnp.linspace(1.0, as_path(path).t_min, num_steps + 1)


def _step(velocity_fn, path, sampler, x, t, t_next, z):
    b = x.shape[0]
    tb, tnb = jnp.full((b,), t), jnp.full((b,), t_next)
    h = t_next - t
    v = velocity_fn(x, tb)
    if sampler == "euler":
        return x + h * v
    if sampler == "heun":
        x_pred = x + h * v
        return x + 0.5 * h * (v + velocity_fn(x_pred, tnb))
    x0, eps = to_x0_eps(path, x, tb, "velocity", v)
    a_next, s_next, _, _ = cols(path, tnb, x)
    if sampler == "ddim":
        return a_next * x0 + s_next * eps
    a, s, _, _ = cols(path, tb, x)  # ancestral: q(x_{t'} | x_t, x_0) with a_{t|t'} = a_t / a_t'
    a_ts = a / a_next
    var_ts = jnp.maximum(s**2 - a_ts**2 * s_next**2, 0.0)
    mean = a_ts * s_next**2 / s**2 * x + a_next * var_ts / s**2 * x0
    return mean + jnp.sqrt(var_ts * s_next**2 / s**2) * z


def integrate(velocity_fn, path, x1, *, sampler: str = "euler", num_steps: int = 50, key=None,
              trajectory: bool = False):
    """Run ``sampler`` from x_1 (B, D) at t = 1 to t_min; pure and jittable.

    Returns:
      x at t_min (B, D), or (x, xs) with xs (N + 1, B, D), xs[0] = x_1.
    """
    path = as_path(path)
    num_steps = check_sampler(sampler, num_steps)
    _validate.callable_("velocity_fn", velocity_fn, "a function (x (B, D), t (B,)) -> (B, D)")
    _validate.array("x1", x1, ndim=2, dtype_kind="float", min_rows=1)
    if trajectory or sampler == "ancestral":  # (N, B, D) arrays are stored
        _validate.sample_count("num_steps", num_steps, per_sample=int(np.prod(x1.shape)))
    ts = time_grid(path, num_steps)
    if sampler == "ancestral":
        if key is None:
            raise ValueError("sampler 'ancestral' is stochastic: pass key=jax.random.key(...)")
        _validate.prng_key("key", key)
        zs = jax.random.normal(key, (num_steps,) + tuple(x1.shape))
    else:
        zs = jnp.zeros((num_steps, 1, 1))  # unused

    def body(x, inputs):
        t, t_next, z = inputs
        x_next = _step(velocity_fn, path, sampler, x, t, t_next, z)
        return x_next, x_next

    x, xs = jax.lax.scan(body, x1, (ts[:-1], ts[1:], zs))
    if trajectory:
        return x, jnp.concatenate([x1[None], xs], axis=0)
    return x


def check_finite_samples(x, what: str = "sampler") -> np.ndarray:
    """Raise :class:`SamplerDivergedError` if samples hold NaN or infinity; return them as numpy."""
    if not isinstance(what, str):
        raise TypeError(f"what must be a str naming the sampler, got {type(what).__name__}")
    x = np.asarray(_validate.array("x", x, dtype_kind="number", finite=False))
    bad = ~np.isfinite(x)
    if bad.any():
        rows = int(np.any(bad.reshape(len(x), -1), axis=1).sum()) if x.ndim else 1
        raise SamplerDivergedError(f"{what} diverged: {rows} of {len(x)} samples are NaN or infinite; "
                                   "use more steps, a smaller step size or a smaller guidance weight")
    return x


def langevin(score_fn, x, key, *, step_size: float, num_steps: int):
    """Unadjusted Langevin dynamics x <- x + (delta / 2) score(x) + sqrt(delta) z, ``num_steps`` times.

    score_fn: x (B, D) -> grad log p(x) (B, D). Its stationary law tends to p as delta -> 0.
    """
    _validate.callable_("score_fn", score_fn, "a function x (B, D) -> (B, D)")
    _validate.array("x", x, ndim=2, dtype_kind="float", min_rows=1)
    _validate.prng_key("key", key)
    step_size = _validate.positive_float("step_size", step_size)
    num_steps = _validate.positive_int("num_steps", num_steps)

    def body(x, k):
        z = jax.random.normal(k, x.shape)
        return x + 0.5 * step_size * score_fn(x) + jnp.sqrt(step_size) * z, None

    x, _ = jax.lax.scan(body, x, jax.random.split(key, num_steps))
    return x


def annealed_langevin(score_fn, path, x, key, *, num_levels: int = 10, steps_per_level: int = 20,
                      step_scale: float = 0.05, t_min: float = 0.01):
    """Annealed Langevin (Song & Ermon, 2019) along a path: at levels t_1 = 1 > ... > t_L = t_min run
    ``steps_per_level`` Langevin steps on p_{t_l} with delta_l = step_scale * sigma_{t_l}^2.

    score_fn: (x (B, D), t (B,)) -> grad log p_t(x).
    """
    _validate.callable_("score_fn", score_fn, "a function (x (B, D), t (B,)) -> (B, D)")
    path = as_path(path)
    _validate.array("x", x, ndim=2, dtype_kind="float", min_rows=1)
    _validate.prng_key("key", key)
    num_levels = _validate.positive_int("num_levels", num_levels, minimum=2, maximum=10**5)
    steps_per_level = _validate.positive_int("steps_per_level", steps_per_level, maximum=10**5)
    if num_levels * steps_per_level > _validate.SIZE_LIMITS["num_steps"][0]:
        raise ValueError(f"num_levels * steps_per_level must be at most {_validate.SIZE_LIMITS['num_steps'][0]:,} "
                         f"(Langevin steps run one after another), got {num_levels * steps_per_level:,}")
    step_scale = _validate.positive_float("step_scale", step_scale)
    t_min = _validate.real_in_range("t_min", t_min, 1e-6, 1.0)
    ts = jnp.geomspace(1.0, t_min, num_levels)

    def level(x, inputs):
        t, k = inputs
        tb = jnp.full((x.shape[0],), t)
        _, s, _, _ = cols(path, tb, x)
        delta = step_scale * s**2

        def body(x, kk):
            z = jax.random.normal(kk, x.shape)
            return x + 0.5 * delta * score_fn(x, tb) + jnp.sqrt(delta) * z, None

        x, _ = jax.lax.scan(body, x, jax.random.split(k, steps_per_level))
        return x, None

    x, _ = jax.lax.scan(level, x, (ts, jax.random.split(key, num_levels)))
    return x
