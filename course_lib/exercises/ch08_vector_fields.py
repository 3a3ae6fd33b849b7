"""Exercise checks of 08_vector_fields: the DSM loss, the conditional flow-matching target, one Euler
step and the classifier-free guidance combination.

Conventions of the notebook: t = 0 is the data, t = 1 the noise; x_t = alpha_t x_0 + sigma_t eps;
the linear path has alpha_t = 1 - t, sigma_t = t; sampling runs from t = 1 to t = 0.
Each ``check_*`` prints one line of feedback and returns a CheckResult; the cases are chosen so the
plausible wrong answers (a flipped sign, the reversed time convention, guidance on the wrong term)
fail.
"""
from __future__ import annotations

import numpy as np

from course_lib.exercises.core import Case, check_function


def reference_dsm_loss(score_hat, x_t, x0, alpha_t, sigma_t):
    """sigma_t^2 || score_hat + (x_t - alpha_t x_0) / sigma_t^2 ||^2 per example (B,): DSM with lambda = sigma^2."""
    score_hat, x_t, x0 = (np.asarray(a, np.float64) for a in (score_hat, x_t, x0))
    target = -(x_t - alpha_t * x0) / sigma_t**2  # grad_x log N(x_t; alpha_t x_0, sigma_t^2 I)
    return sigma_t**2 * np.sum((score_hat - target) ** 2, axis=-1)


def reference_cfm_target(x0, eps, t):
    """u_t(x_t | x_0) on the linear path x_t = (1 - t) x_0 + t eps: d x_t / dt = eps - x_0 (B, D)."""
    return np.asarray(eps, np.float64) - np.asarray(x0, np.float64)


def reference_euler_step(velocity_fn, x, t, t_next):
    """x_{t_next} = x + (t_next - t) v(x, t): one explicit Euler step of dx/dt = v (t_next < t when sampling)."""
    x = np.asarray(x, np.float64)
    return x + (t_next - t) * np.asarray(velocity_fn(x, t), np.float64)


def reference_cfg(v_cond, v_uncond, w):
    """(1 + w) v_cond - w v_uncond (Ho & Salimans, 2021)."""
    return (1.0 + w) * np.asarray(v_cond, np.float64) - w * np.asarray(v_uncond, np.float64)


def _dsm_cases():
    rng = np.random.default_rng(0)
    x0, eps, s = rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    cases = []
    for a, sig, what in ((0.8, 0.6, "moderate noise"), (0.3, 0.95, "mostly noise"), (0.99, 0.1, "little noise")):
        x_t = a * x0 + sig * eps
        cases.append(Case((s, x_t, x0, a, sig), description=what))
    return cases


def check_dsm_loss(fn):
    """Check ``fn(score_hat, x_t, x0, alpha_t, sigma_t) -> (B,)``."""
    return check_function(fn, reference_dsm_loss, _dsm_cases(), name="dsm_loss", rtol=1e-4,
                          hint="the target is the score of q(x_t | x_0) = N(alpha_t x_0, sigma_t^2 I), which points "
                               "back towards alpha_t x_0: -(x_t - alpha_t x_0) / sigma_t^2; weight it by sigma_t^2.")


def check_cfm_target(fn):
    """Check ``fn(x0, eps, t) -> (B, D)``, the conditional velocity of the linear path."""
    rng = np.random.default_rng(1)
    x0, eps = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    cases = [Case((x0, eps, 0.3), description="t = 0.3"), Case((x0, eps, 0.9), description="t = 0.9")]
    return check_function(fn, reference_cfm_target, cases, name="cfm_target",
                          hint="differentiate x_t = (1 - t) x_0 + t eps in t; with t = 0 at the data the velocity "
                               "points from the data towards the noise.")


def _field(x, t):
    """A velocity field that depends on t, so evaluating it at the wrong time is caught."""
    return np.stack([np.sin(3 * t) + x[:, 1], -x[:, 0] * (1 + t)], axis=1)


def check_euler_step(fn):
    """Check ``fn(velocity_fn, x, t, t_next) -> x_next``."""
    x = np.random.default_rng(2).normal(size=(3, 2))
    cases = [Case((_field, x, 1.0, 0.75), description="from t = 1 to 0.75 (towards the data)"),
             Case((_field, x, 0.5, 0.4), description="from t = 0.5 to 0.4")]
    return check_function(fn, reference_euler_step, cases, name="euler_step",
                          hint="the step is (t_next - t) times the velocity at the current point and the current "
                               "time; when sampling t decreases, so the step is negative.")


def check_cfg(fn):
    """Check ``fn(v_cond, v_uncond, w) -> guided velocity``."""
    rng = np.random.default_rng(3)
    vc, vu = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    cases = [Case((vc, vu, 0.0), description="w = 0: the plain conditional model"),
             Case((vc, vu, 2.0), description="w = 2"), Case((vc, vu, 7.5), description="w = 7.5")]
    return check_function(fn, reference_cfg, cases, name="cfg",
                          hint="start from the conditional prediction and move further away from the unconditional "
                               "one: (1 + w) v_cond - w v_uncond; w = 0 must give v_cond.")


__all__ = ["check_dsm_loss", "check_cfm_target", "check_euler_step", "check_cfg", "reference_dsm_loss",
           "reference_cfm_target", "reference_euler_step", "reference_cfg"]
