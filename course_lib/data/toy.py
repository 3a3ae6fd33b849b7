"""2-D toy distributions, sampled deterministically from a JAX key.

Taught in notebooks/00_start_here.ipynb and 01_concepts.ipynb; used as GAN
targets in 05_gan.ipynb. Each sampler is a pure function of ``(key, num_samples)``:
the same key always gives the same points.

Distributions with a closed-form density (the Gaussian mixtures ``ring`` and
``grid``, the uniform ``checkerboard``) also expose ``toy_log_density``.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from course_lib import _validate

TOY_NAMES = ("ring", "grid", "moons", "swiss_roll", "checkerboard", "circles")
"""Names accepted by :func:`sample_toy`."""

DEFAULTS = {
    "ring": {"radius": 2.0, "std": 0.05, "num_modes": 8},
    "grid": {"spacing": 2.0, "std": 0.05, "size": 5},
    "moons": {"noise": 0.05},
    "swiss_roll": {"noise": 0.05},
    "checkerboard": {"size": 4},
    "circles": {"noise": 0.05},
}
"""Default parameters of each toy distribution (override with keyword arguments)."""


class GaussianMixture(NamedTuple):
    """An isotropic Gaussian mixture: weights (K,), means (K, D), one std for all."""

    weights: np.ndarray
    means: np.ndarray
    std: float


def _params(name: str, params: dict) -> dict:
    _validate.one_of("name", name, TOY_NAMES)
    unknown = set(params) - set(DEFAULTS[name])
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {sorted(unknown)} for toy distribution {name!r}: "
            f"expected some of {sorted(DEFAULTS[name])}"
        )
    merged = {**DEFAULTS[name], **params}
    for key, value in merged.items():
        if key in ("num_modes", "size"):
            # grid has size**2 modes and every log-density evaluation touches them all
            _validate.positive_int(key, value, maximum=1000 if key == "size" else 10**5,
                                   why="more modes only exhaust memory and time in the density")
        elif key in ("noise",):
            _validate.positive_float(key, value, allow_zero=True)
        else:
            _validate.positive_float(key, value)
    return merged


def toy_mixture(name: str, **params) -> GaussianMixture:
    """The mixture behind ``ring`` or ``grid``.

    ring: ``num_modes`` Gaussians at angles 2*pi*k/num_modes on a circle of ``radius``.
    grid: ``size`` x ``size`` Gaussians at ``spacing`` * {-(size-1)/2, ..., (size-1)/2}.

    Returns:
      GaussianMixture with weights (K,), means (K, 2) and the shared std.
    """
    p = _params(name, params)
    if name == "ring":
        angles = 2 * np.pi * np.arange(p["num_modes"]) / p["num_modes"]
        means = p["radius"] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    elif name == "grid":
        ticks = p["spacing"] * (np.arange(p["size"]) - (p["size"] - 1) / 2)
        gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
        means = np.stack([gx.ravel(), gy.ravel()], axis=1)
    else:
        raise ValueError(f"toy distribution {name!r} is not a Gaussian mixture; use 'ring' or 'grid'")
    k = len(means)
    return GaussianMixture(np.full(k, 1.0 / k), means.astype(np.float32), float(p["std"]))


def sample_toy(name: str, key, num_samples: int, **params) -> jax.Array:
    """Draw ``num_samples`` points from a named 2-D toy distribution.

    Args:
      name: one of :data:`TOY_NAMES`.
      key: a JAX random key; the same key gives the same samples.
      num_samples: number of points N.
      **params: overrides of :data:`DEFAULTS` for this distribution.

    Returns:
      x: (N, 2) float32 array.
    """
    p = _params(name, params)
    _validate.prng_key("key", key)
    n = _validate.positive_int("num_samples", num_samples)
    return _compiled_sampler(name, tuple(sorted(p.items())), n)(key)


@functools.lru_cache(maxsize=64)
def _compiled_sampler(name: str, frozen_params: tuple, n: int):
    """One jitted sampler per (distribution, parameters, sample size), compiled on first use."""
    p = dict(frozen_params)
    return jax.jit(lambda key: _SAMPLERS[name](key, n, p))


def _sample_mixture(key, n, mixture: GaussianMixture):
    k_comp, k_noise = jax.random.split(key)
    idx = jax.random.choice(k_comp, len(mixture.weights), (n,), p=jnp.asarray(mixture.weights))
    eps = jax.random.normal(k_noise, (n, 2))
    return (jnp.asarray(mixture.means)[idx] + mixture.std * eps).astype(jnp.float32)


def _ring(key, n, p):
    return _sample_mixture(key, n, toy_mixture("ring", **p))


def _grid(key, n, p):
    return _sample_mixture(key, n, toy_mixture("grid", **p))


def _moons(key, n, p):
    # Two interleaved half circles (as in sklearn.datasets.make_moons), centred and scaled.
    k_side, k_t, k_noise = jax.random.split(key, 3)
    side = jax.random.bernoulli(k_side, 0.5, (n,))
    t = jnp.pi * jax.random.uniform(k_t, (n,))
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    x = jnp.where(side[:, None], upper, lower) - jnp.array([0.5, 0.25])
    return (2.0 * x + p["noise"] * jax.random.normal(k_noise, (n, 2))).astype(jnp.float32)


def _swiss_roll(key, n, p):
    k_t, k_noise = jax.random.split(key)
    t = 1.5 * jnp.pi * (1 + 2 * jax.random.uniform(k_t, (n,)))
    x = jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], axis=1) / 5.0
    return (x + p["noise"] * jax.random.normal(k_noise, (n, 2))).astype(jnp.float32)


def _checkerboard(key, n, p):
    # Uniform on the "black" unit squares of a size x size board centred at 0.
    # The black cells (i + j even) in row-major order are numbered 0..num_black-1; cell number
    # idx is found arithmetically (no Python loop over the size**2 cells).
    size = p["size"]
    k_cell, k_pos = jax.random.split(key)
    num_black = (size * size + 1) // 2
    idx = jax.random.randint(k_cell, (n,), 0, num_black)
    if size % 2:  # odd size: black cells are the even flat indices i * size + j
        i, j = (2 * idx) // size, (2 * idx) % size
    else:  # even size: size / 2 black cells per row, starting at column i % 2
        i = idx // (size // 2)
        j = 2 * (idx % (size // 2)) + i % 2
    corner = jnp.stack([i, j], axis=1).astype(jnp.float32) - size / 2
    return (corner + jax.random.uniform(k_pos, (n, 2))).astype(jnp.float32)


def _circles(key, n, p):
    k_side, k_t, k_noise = jax.random.split(key, 3)
    radius = jnp.where(jax.random.bernoulli(k_side, 0.5, (n,)), 2.0, 1.0)
    t = 2 * jnp.pi * jax.random.uniform(k_t, (n,))
    x = radius[:, None] * jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    return (x + p["noise"] * jax.random.normal(k_noise, (n, 2))).astype(jnp.float32)


_SAMPLERS = {
    "ring": _ring,
    "grid": _grid,
    "moons": _moons,
    "swiss_roll": _swiss_roll,
    "checkerboard": _checkerboard,
    "circles": _circles,
}


def has_density(name: str) -> bool:
    """True when :func:`toy_log_density` has a closed form for ``name``."""
    _validate.one_of("name", name, TOY_NAMES)
    return name in ("ring", "grid", "checkerboard")


def toy_log_density(name: str, x, **params) -> jax.Array:
    """Exact log-density log p(x) of a toy distribution, where it has a closed form.

    For the mixtures, log p(x) = logsumexp_k [log w_k + log N(x; m_k, std^2 I)].
    For the checkerboard, p(x) = 1 / (number of black squares) on a black square, else 0
    (log p = -inf).

    Args:
      x: (N, 2) points.

    Returns:
      (N,) log-densities.
    """
    p = _params(name, params)
    _validate.array("x", x, ndim=2, shape=(None, 2), dtype_kind="number")
    if not has_density(name):
        raise ValueError(
            f"toy distribution {name!r} has no closed-form density here; "
            "those with one are 'ring', 'grid' and 'checkerboard'"
        )
    return _compiled_log_density(name, tuple(sorted(p.items())))(jnp.asarray(x, jnp.float32))


@functools.lru_cache(maxsize=64)
def _compiled_log_density(name: str, frozen_params: tuple):
    p = dict(frozen_params)
    return jax.jit(lambda x: _log_density(name, x, p))


def _log_density(name, x, p):
    if name in ("ring", "grid"):
        mix = toy_mixture(name, **p)
        d2 = jnp.sum((x[:, None, :] - jnp.asarray(mix.means)[None]) ** 2, axis=-1)  # (N, K)
        log_n = -0.5 * d2 / mix.std**2 - jnp.log(2 * jnp.pi * mix.std**2)
        return jax.scipy.special.logsumexp(log_n + jnp.log(jnp.asarray(mix.weights)), axis=1)
    if name == "checkerboard":
        size = p["size"]
        shifted = x + size / 2
        cell = jnp.floor(shifted)
        inside = jnp.all((shifted >= 0) & (shifted < size), axis=1)
        black = (cell.sum(axis=1) % 2) == 0
        num_black = (size * size + 1) // 2
        return jnp.where(inside & black, -jnp.log(float(num_black)), -jnp.inf)
    raise AssertionError(name)  # unreachable: has_density() was checked
