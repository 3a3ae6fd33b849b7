"""Two-dimensional loss surfaces and optimizer trajectories on them.

Taught in 03_gradient_descent.ipynb ("Gradient descent on a loss surface", "Momentum and
Adam"). Each surface is a pure function f(theta) of theta = (x, y) with known minima;
:func:`run_optimizer` runs an optax optimizer from a start point and returns the
whole trajectory, compiled once per (surface, optimizer) with ``jax.lax.scan``.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from course_lib import _validate
from course_lib.training.core import make_optimizer


class Surface(NamedTuple):
    """A loss surface: ``fn`` maps (..., 2) points to (...) losses (minimum value 0)."""

    name: str
    fn: Callable
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    formula: str


def _bowl(p):
    # An elongated quadratic bowl: Hessian diag(1, 10), condition number 10.
    return 0.5 * (p[..., 0] ** 2 + 10.0 * p[..., 1] ** 2)


def _rosenbrock(p):
    # Rosenbrock (1960): a curved, flat-bottomed valley with its minimum at (1, 1).
    return (1.0 - p[..., 0]) ** 2 + 100.0 * (p[..., 1] - p[..., 0] ** 2) ** 2


def _himmelblau(p):
    # Himmelblau (1972): four minima of value 0.
    return (p[..., 0] ** 2 + p[..., 1] - 11.0) ** 2 + (p[..., 0] + p[..., 1] ** 2 - 7.0) ** 2


SURFACES = {
    "bowl": Surface("bowl", _bowl, (-5.0, 5.0), (-2.5, 2.5), (-4.0, 2.0), ((0.0, 0.0),),
                    "f(x, y) = (x^2 + 10 y^2) / 2"),
    "rosenbrock": Surface("rosenbrock", _rosenbrock, (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5), ((1.0, 1.0),),
                          "f(x, y) = (1 - x)^2 + 100 (y - x^2)^2"),
    "himmelblau": Surface("himmelblau", _himmelblau, (-5.0, 5.0), (-5.0, 5.0), (0.0, -0.5),
                          ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
                          "f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2"),
}
"""The surfaces by name."""

SURFACE_NAMES = tuple(SURFACES)
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
"""Optimizer names, as in :func:`course_lib.training.make_optimizer` (momentum 0.9)."""
MAX_STEPS = 2000


def get_surface(name: str) -> Surface:
    """The :class:`Surface` called ``name`` (one of :data:`SURFACE_NAMES`)."""
    _validate.one_of("surface", name, SURFACE_NAMES)
    return SURFACES[name]


@functools.lru_cache(maxsize=64)
def _compiled_run(name: str, optimizer: str, num_steps: int):
    fn = SURFACES[name].fn

    def run(start, lr):
        opt = make_optimizer(optimizer, lr)  # lr is traced: one compilation for every learning rate

        def step(carry, _):
            theta, state = carry
            grad = jax.grad(fn)(theta)
            updates, state = opt.update(grad, state, theta)
            theta = optax.apply_updates(theta, updates)
            return (theta, state), theta

        _, thetas = jax.lax.scan(step, (start, opt.init(start)), None, length=num_steps)
        trajectory = jnp.concatenate([start[None], thetas], axis=0)  # (T + 1, 2)
        return trajectory, fn(trajectory)

    return jax.jit(run)


class Run(NamedTuple):
    """An optimizer run: ``trajectory`` (T + 1, 2) and ``losses`` (T + 1,); NaN after divergence."""

    trajectory: np.ndarray
    losses: np.ndarray
    diverged_at: int | None  # first step whose loss is not finite (or > 1e12), else None

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def run_optimizer(surface: str, optimizer: str, lr: float, start=None, num_steps: int = 200) -> Run:
    """Run ``num_steps`` steps of an optax optimizer on a surface.

    theta_{t+1} = theta_t + update(grad f(theta_t), state_t)   (for SGD: theta - lr * grad f)

    Args:
      surface: one of :data:`SURFACE_NAMES`.
      optimizer: one of :data:`OPTIMIZERS`.
      lr: learning rate > 0.
      start: (x, y) start point; default: the surface's own start.
      num_steps: 1..:data:`MAX_STEPS`.

    Returns:
      A :class:`Run`. A run that diverges is cut at the first non-finite (or huge) loss,
      and ``diverged_at`` says where, instead of raising.
    """
    s = get_surface(surface)
    _validate.one_of("optimizer", optimizer, OPTIMIZERS)
    lr = _validate.positive_float("lr", lr)
    num_steps = _validate.positive_int("num_steps", num_steps)
    if num_steps > MAX_STEPS:
        raise ValueError(f"num_steps must be at most {MAX_STEPS}, got {num_steps}")
    start = s.start if start is None else start
    if not (isinstance(start, (tuple, list)) or hasattr(start, "shape")) or len(start) != 2:
        raise ValueError(f"start must be a pair (x, y), got {start!r}")
    x0 = _validate.real_in_range("start[0]", start[0], -1e6, 1e6)
    y0 = _validate.real_in_range("start[1]", start[1], -1e6, 1e6)
    # Compile once per (surface, optimizer) for the longest run; shorter runs are slices.
    traj, losses = _compiled_run(surface, optimizer, MAX_STEPS)(jnp.array([x0, y0], jnp.float32),
                                                                jnp.float32(lr))
    traj = np.asarray(traj[: num_steps + 1], np.float64)
    losses = np.asarray(losses[: num_steps + 1], np.float64)
    bad = ~np.isfinite(losses) | (np.abs(losses) > 1e12) | ~np.all(np.isfinite(traj), axis=1)
    diverged_at = int(np.argmax(bad)) if bad.any() else None
    if diverged_at is not None:
        traj[diverged_at:] = np.nan
        losses[diverged_at:] = np.nan
    return Run(traj, losses, diverged_at)


def distance_to_nearest_minimum(surface: str, point) -> float:
    """Euclidean distance from ``point`` (x, y) to the closest known minimum of the surface."""
    s = get_surface(surface)
    if isinstance(point, (str, bytes)) or not hasattr(point, "__len__") or len(point) != 2:
        raise TypeError(f"point must be a pair (x, y), got {point!r:.60}")
    p = np.asarray([_validate.finite_float("point[0]", point[0]), _validate.finite_float("point[1]", point[1])])
    return float(min(math.dist(p, m) for m in s.minima))


__all__ = ["Surface", "SURFACES", "SURFACE_NAMES", "OPTIMIZERS", "MAX_STEPS", "Run", "get_surface",
           "run_optimizer", "distance_to_nearest_minimum"]
