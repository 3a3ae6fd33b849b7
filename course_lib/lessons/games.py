"""Gradient play on the bilinear game min_x max_y f(x, y) = x * y.

Taught in 03_gradient_descent.ipynb ("Bridge to GANs"). The unique equilibrium is
(0, 0). Both players follow their own gradient, df/dx = y and df/dy = x:

- simultaneous:  x' = x - lr * y,   y' = y + lr * x
  r' = sqrt(1 + lr^2) * r: every step moves *away* from the equilibrium (a spiral out).
- alternating:   x' = x - lr * y,   y' = y + lr * x'
  the map has determinant 1 and keeps Q(x, y) = x^2 + y^2 - lr * x * y exactly
  constant, so for lr < 2 the iterates circle the equilibrium on an ellipse.

GAN training is this game with neural networks in place of x and y. :func:`dirac_gan`
plays the smallest real GAN with the same two update orders (taught in 05_gan.ipynb,
section 5, "Game dynamics").
"""
from __future__ import annotations

import math

import numpy as np

from course_lib import _validate

UPDATES = ("simultaneous", "alternating")


def bilinear_play(x0: float, y0: float, lr: float, num_steps: int, update: str = "simultaneous") -> np.ndarray:
    """Iterate gradient descent (x) / ascent (y) on f = x * y.

    Args:
      x0, y0: the start.
      lr: step size > 0.
      num_steps: number of steps T.
      update: ``"simultaneous"`` or ``"alternating"``.

    Returns:
      (T + 1, 2) float64 array of (x, y), starting with (x0, y0).
    """
    x = _validate.real_in_range("x0", x0, -1e6, 1e6)
    y = _validate.real_in_range("y0", y0, -1e6, 1e6)
    lr = _validate.positive_float("lr", lr)
    num_steps = _validate.positive_int("num_steps", num_steps, maximum=100_000,
                                       why="a Python loop; 100,000 steps already take a second")
    _validate.one_of("update", update, UPDATES)
    out = np.empty((num_steps + 1, 2))
    out[0] = x, y
    for t in range(num_steps):
        if update == "simultaneous":
            x, y = x - lr * y, y + lr * x
        else:
            x = x - lr * y
            y = y + lr * x  # uses the new x
        out[t + 1] = x, y
    if not np.all(np.isfinite(out)):
        from course_lib.training.core import DivergenceError

        first = int(np.argmax(~np.all(np.isfinite(out), axis=1)))
        raise DivergenceError(
            f"bilinear play overflowed to infinity at step {first} (lr={lr}, num_steps={num_steps}): "
            "simultaneous steps grow the radius by sqrt(1 + lr^2) each time. Try a smaller lr or fewer steps.")
    return out


def radius(points) -> np.ndarray:
    """Distance of each (x, y) row from the equilibrium (0, 0): (T,) array."""
    _validate.array("points", points, ndim=2, shape=(None, 2), dtype_kind="number", finite=False)
    return np.hypot(points[:, 0], points[:, 1])


def alternating_invariant(points, lr: float) -> np.ndarray:
    """Q(x, y) = x^2 + y^2 - lr * x * y for each row; constant along alternating play."""
    _validate.array("points", points, ndim=2, shape=(None, 2), dtype_kind="number", finite=False)
    lr = _validate.positive_float("lr", lr)
    x, y = points[:, 0], points[:, 1]
    return x**2 + y**2 - lr * x * y


def dirac_gan(theta: float, psi: float, *, lr: float, num_steps: int, mode: str = "simultaneous",
              r1_gamma: float = 0.0) -> np.ndarray:
    """Gradient steps on the Dirac GAN (Mescheder et al., 2018); returns the (num_steps + 1, 2) path.

    The data is a point mass at 0, the generator a point mass at theta, the discriminator
    D(x) = sigmoid(psi * x), the probability that x is *real* (the convention of 05_gan.ipynb,
    section 1: logit l(x) = psi * x). The value function of section 1 is then

        V(theta, psi) = log D(0) + log(1 - D(theta)) = f(0) + f(-psi * theta),   f(t) = log sigmoid(t),

    which D maximises over psi and G minimises over theta; the equilibrium is (0, 0).
    (Mescheder et al. write f(psi * theta) + f(0): their logit is large on *fakes*; the two
    conventions are mirror images under psi -> -psi.) R1 penalises the gradient of the logit on
    real data, (gamma / 2) |d l / dx|^2 = (gamma / 2) psi^2. With f'(t) = sigmoid(-t), so that
    f'(-psi * theta) = sigmoid(psi * theta) = D(theta), the gradient steps are

        psi   <- psi   + lr * (-D(theta) * theta - r1_gamma * psi)     (ascent on V - R1)
        theta <- theta + lr *   D(theta) * psi                         (descent on V)

    ``simultaneous``: both from the same old point; ``alternating``: D first, then G with the new psi.
    Taught in 05_gan.ipynb, section 5.
    """
    theta = float(_validate.real_in_range("theta", theta, -1e6, 1e6))
    psi = float(_validate.real_in_range("psi", psi, -1e6, 1e6))
    lr = _validate.positive_float("lr", lr)
    num_steps = _validate.positive_int("num_steps", num_steps)
    _validate.one_of("mode", mode, UPDATES)
    r1_gamma = _validate.positive_float("r1_gamma", r1_gamma, allow_zero=True)

    def d_fake(p, t):  # D(theta) = sigmoid(p * t), written so that exp never overflows
        u = p * t
        if u >= 0:
            return 1.0 / (1.0 + math.exp(-u))
        e = math.exp(u)
        return e / (1.0 + e)

    path = [(theta, psi)]
    for _ in range(num_steps):
        new_psi = psi + lr * (-d_fake(psi, theta) * theta - r1_gamma * psi)
        psi_for_g = new_psi if mode == "alternating" else psi
        theta = theta + lr * d_fake(psi_for_g, theta) * psi_for_g
        psi = new_psi
        path.append((theta, psi))
    return np.asarray(path)


__all__ = ["UPDATES", "bilinear_play", "radius", "alternating_invariant", "dirac_gan"]
