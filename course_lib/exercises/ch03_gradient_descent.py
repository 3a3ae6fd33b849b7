"""Exercise checks of 03_gradient_descent.ipynb (immediate feedback through the check API)."""
from __future__ import annotations

import numpy as np

from course_lib.exercises.core import Case, CheckResult, check_function


def reference_momentum_step(theta, velocity, grad, lr, beta=0.9):
    """Heavy-ball momentum, in optax's convention (``optax.sgd(lr, momentum=beta)``):

    v' = beta * v + g;   theta' = theta - lr * v'

    Returns:
      (theta', v').
    """
    v = beta * np.asarray(velocity, np.float64) + np.asarray(grad, np.float64)
    return np.asarray(theta, np.float64) - lr * v, v


def check_momentum_step(fn) -> CheckResult:
    """Check ``fn(theta, velocity, grad, lr, beta) -> (theta_new, velocity_new)``."""
    cases = [
        Case((np.array([1.0, -2.0]), np.zeros(2), np.array([0.5, 0.5]), 0.1, 0.9), description="first step"),
        Case((np.array([1.0, -2.0]), np.array([1.0, -1.0]), np.array([0.5, 0.5]), 0.1, 0.9),
             description="with velocity"),
        Case((np.array([0.3]), np.array([2.0]), np.array([-1.0]), 0.5, 0.5), description="beta 0.5"),
    ]
    return check_function(
        fn, reference_momentum_step, cases, name="momentum_step",
        hint="Update the velocity first, v = beta * v + grad, then step with the new velocity: "
             "theta = theta - lr * v. Return both (theta, v).",
    )


def reference_score_function_estimate(mu, sigma, eps):
    """Score-function estimate of d/dmu E_{z ~ N(mu, sigma^2)}[z^2] from noise eps (N,):

    mean_n f(z_n) * (z_n - mu) / sigma^2,  with z_n = mu + sigma * eps_n and f(z) = z^2.
    """
    z = mu + sigma * np.asarray(eps, np.float64)
    return np.mean(z**2 * (z - mu) / sigma**2)


def check_score_function_estimate(fn) -> CheckResult:
    """Check ``fn(mu, sigma, eps (N,)) -> scalar`` score-function gradient estimate."""
    rng = np.random.default_rng(3)
    cases = [
        Case((1.0, 1.0, np.array([0.5, -1.0, 2.0])), description="sigma 1"),
        Case((0.5, 2.0, rng.normal(size=8)), description="sigma 2"),
        Case((-1.0, 0.3, rng.normal(size=5)), description="small sigma"),
    ]
    return check_function(
        fn, reference_score_function_estimate, cases, name="score_function_estimate",
        hint="d/dmu log N(z; mu, sigma^2) = (z - mu) / sigma^2 (note: sigma squared). Multiply by f(z) = z^2 "
             "at z = mu + sigma * eps and average over the samples.",
    )


def reference_alternating_step(x, y, lr):
    """One alternating step on min_x max_y x*y: x' = x - lr * y, then y' = y + lr * x'."""
    x_new = x - lr * y
    return x_new, y + lr * x_new


def check_alternating_step(fn) -> CheckResult:
    """Check ``fn(x, y, lr) -> (x_new, y_new)``."""
    cases = [
        Case((1.0, 0.0, 0.1), description="start on the x axis"),
        Case((0.5, -2.0, 0.3), description="a general point"),
        Case((np.array([1.0, 2.0]), np.array([0.0, 1.0]), 0.2), description="arrays of starts"),
    ]
    return check_function(
        fn, reference_alternating_step, cases, name="alternating_step",
        hint="x descends on x*y (gradient y): x_new = x - lr * y. Then y ascends using the *new* x: "
             "y_new = y + lr * x_new. Using the old x gives the simultaneous update, which spirals out.",
    )


__all__ = ["check_momentum_step", "check_score_function_estimate", "check_alternating_step",
           "reference_momentum_step", "reference_score_function_estimate", "reference_alternating_step"]
