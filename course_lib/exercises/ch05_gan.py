"""Checks for the exercises of 05_gan.ipynb.

Each ``check_*`` takes the reader's function, runs it on fixed cases against a reference
implementation written here, and prints one line of feedback (see
:mod:`course_lib.exercises.core`).
"""
from __future__ import annotations

import numpy as np

from course_lib.exercises.core import Case, CheckResult, check_function

# --------------------------------------------------------------------------- references


def _optimal_discriminator(p_data, p_g):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x))."""
    p_data, p_g = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    return p_data / (p_data + p_g)


def _js_divergence(p, q):
    """JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2, in nats (0 log 0 = 0)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def _non_saturating_loss(fake_logits):
    """-log D(G(z)) = log(1 + exp(-logit)) per example, computed stably."""
    f = np.asarray(fake_logits, np.float64)
    return np.logaddexp(0.0, -f)


def _captured_modes(x, means, std):
    """Modes with at least one sample within 3 std of them (samples go to their nearest mode)."""
    x, means = np.asarray(x, np.float64), np.asarray(means, np.float64)
    d = np.linalg.norm(x[:, None, :] - means[None, :, :], axis=-1)  # (N, K)
    nearest = np.argmin(d, axis=1)
    good = d[np.arange(len(x)), nearest] <= 3 * std
    return int(len(np.unique(nearest[good])))


# --------------------------------------------------------------------------- cases

_RNG = np.random.default_rng(5)


def _probabilities(k):
    p = _RNG.random(k) + 0.05
    return p / p.sum()


_MEANS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
_MODE_X1 = np.concatenate([_MEANS[[0, 0, 1]] + 0.01, [[0.5, 0.5], [3.0, 3.0]]])  # 2 modes hit, 2 far points
_MODE_X2 = _MEANS[[0, 1, 2, 3, 3]] + 0.05  # all 4 modes, but only within 3 std if std >= 0.0236
_MODE_X3 = np.array([[0.65, 0.0], [0.0, 0.98], [0.02, -1.0]])  # the first is 0.35 from mode 0

_CASES = {
    "optimal_discriminator": [
        Case((np.array([0.5, 0.2, 0.0]), np.array([0.5, 0.6, 0.3])), description="three points"),
        Case((np.array([1.0, 2.0]), np.array([3.0, 0.5])), description="densities above 1"),
    ],
    "js_divergence": [
        Case((np.array([0.5, 0.5]), np.array([0.5, 0.5])), description="identical distributions"),
        Case((np.array([1.0, 0.0]), np.array([0.0, 1.0])), description="disjoint supports: log 2"),
        Case((_probabilities(6), _probabilities(6)), description="random distributions"),
        Case((np.array([0.2, 0.8, 0.0]), np.array([0.1, 0.3, 0.6])), description="a zero probability"),
    ],
    "non_saturating_loss": [
        Case((np.array([0.0, 2.0, -3.0]),), description="small logits"),
        # Float64 exp overflows beyond about 709 and float32 beyond about 88, so these two cases reject
        # log(1 + exp(-l)) and -log(sigmoid(l)) written naively (at +-40 both still pass).
        Case((np.array([-1000.0, 1000.0, -40.0]),), description="logits of +-1000 in float64 (stability)"),
        Case((np.array([-100.0, 100.0], np.float32),), description="logits of +-100 in float32 (stability)"),
    ],
    "captured_modes": [
        Case((_MODE_X1, _MEANS, 0.02), description="two modes captured, two points far away"),
        Case((_MODE_X2, _MEANS, 0.05), description="every mode, std 0.05"),
        Case((_MODE_X2, _MEANS, 0.01), description="every mode nearby, but no sample within 3 std"),
        Case((_MODE_X3, _MEANS, 0.1), description="one sample too far from its mode"),
    ],
}

# --------------------------------------------------------------------------- checks


def check_optimal_discriminator(fn) -> CheckResult:
    """Exercise 1: D*(x) from the two densities at x."""
    return check_function(fn, _optimal_discriminator, _CASES["optimal_discriminator"],
                          name="optimal_discriminator",
                          hint="D* is the probability that x came from the data: p_data / (p_data + p_g).")


def check_js_divergence(fn) -> CheckResult:
    """Exercise 2: the Jensen-Shannon divergence of two discrete distributions."""
    return check_function(fn, _js_divergence, _CASES["js_divergence"], name="js_divergence",
                          hint="use the mixture m = (p + q) / 2, average KL(p||m) and KL(q||m), and skip "
                               "terms where the first argument is 0 (0 log 0 = 0).",
                          atol=1e-8)


def check_non_saturating_loss(fn) -> CheckResult:
    """Exercise 3: the non-saturating generator loss from the discriminator's logits."""
    return check_function(fn, _non_saturating_loss, _CASES["non_saturating_loss"], name="non_saturating_loss",
                          hint="-log sigmoid(l) = log(1 + exp(-l)); np.logaddexp(0, -l) never overflows.")


def check_captured_modes(fn) -> CheckResult:
    """Exercise 4: count the captured modes of a mixture."""
    return check_function(fn, _captured_modes, _CASES["captured_modes"], name="captured_modes",
                          hint="assign each sample to its nearest mode; keep samples within 3 * std of it; "
                               "count the distinct modes that keep at least one sample.")


__all__ = ["check_optimal_discriminator", "check_js_divergence", "check_non_saturating_loss",
           "check_captured_modes"]
