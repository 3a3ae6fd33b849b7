"""Exercise checks of 07_beyond.ipynb: a coupling layer, the diffusion forward jump, a MADE mask,
and a choice between model families.

Each ``check_*`` prints one line of feedback (see :mod:`course_lib.exercises.core`) and
returns a :class:`~course_lib.exercises.CheckResult`.
"""
from __future__ import annotations

import numpy as np

from course_lib.exercises.core import Case, check_choice, check_function


def reference_affine_coupling(x, mask, s, t):
    """y = m x + (1 - m)(x exp(s) + t), log|det| = sum_d (1 - m_d) s_d.   x, s, t: (B, D); mask: (D,)."""
    x, mask, s, t = (np.asarray(a, np.float64) for a in (x, mask, s, t))
    y = mask * x + (1 - mask) * (x * np.exp(s) + t)
    return y, np.sum((1 - mask) * s, axis=-1)


def reference_q_sample(x0, alpha_bar_t, eps):
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
    x0, eps = np.asarray(x0, np.float64), np.asarray(eps, np.float64)
    return np.sqrt(alpha_bar_t) * x0 + np.sqrt(1.0 - alpha_bar_t) * eps


def reference_made_mask(in_degrees, out_degrees):
    """Mask (in, out) of a MADE hidden layer: 1 where out_degrees[k] >= in_degrees[j]."""
    return (np.asarray(out_degrees)[None, :] >= np.asarray(in_degrees)[:, None]).astype(np.float64)


def _coupling_cases():
    rng = np.random.default_rng(0)
    x, s, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    return [
        Case((x, np.array([1.0, 1.0, 0.0, 0.0]), s, t), description="half mask"),
        Case((x, np.array([0.0, 1.0, 0.0, 1.0]), s, t), description="alternating mask"),
        Case((x, np.ones(4), s, t), description="mask of ones: the identity, log|det| = 0"),
    ]


def check_affine_coupling(fn):
    """Check ``fn(x, mask, s, t) -> (y, log_det)`` against the coupling-layer equations."""
    return check_function(fn, reference_affine_coupling, _coupling_cases(), name="affine_coupling",
                          hint="kept coordinates (mask 1) pass through unchanged and contribute nothing to "
                               "log|det|; the others become x * exp(s) + t and contribute s.")


def check_q_sample(fn):
    """Check ``fn(x0, alpha_bar_t, eps) -> x_t``."""
    rng = np.random.default_rng(1)
    x0, eps = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    cases = [Case((x0, 0.9, eps), description="little noise"), Case((x0, 0.01, eps), description="mostly noise"),
             Case((x0, 1.0, eps), description="alpha_bar = 1: no noise at all")]
    return check_function(fn, reference_q_sample, cases, name="q_sample",
                          hint="both coefficients are square roots: sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t), "
                               "so that the variance stays 1 for unit-variance data.")


def check_made_mask(fn):
    """Check ``fn(in_degrees, out_degrees) -> (in, out) mask`` of a MADE hidden layer."""
    cases = [Case((np.array([1, 2, 3]), np.array([1, 2, 1, 2])), description="inputs to a first hidden layer"),
             Case((np.array([2, 1, 2]), np.array([1, 1, 2])), description="hidden to hidden")]
    return check_function(fn, reference_made_mask, cases, name="made_mask",
                          hint="a hidden unit of degree m may see every unit of degree up to m (>=, not >); "
                               "only the output layer uses a strict inequality.")


def check_family_choice(answer):
    """Quiz: which family for exact likelihoods of discrete images when sampling speed does not matter?"""
    return check_choice(
        answer, "a", name="family_choice", choices="abcd",
        explanation="an autoregressive model gives the exact log-likelihood of discrete data by the chain rule; "
                    "its price, one network pass per pixel when sampling, does not matter here.",
        why_wrong={"b": "a flow on dequantized data gives an upper bound on the discrete NLL, not the exact value.",
                   "c": "a VAE's likelihood is only bounded (ELBO) or estimated (importance sampling).",
                   "d": "a GAN defines no likelihood at all."})


__all__ = ["check_affine_coupling", "check_q_sample", "check_made_mask", "check_family_choice",
           "reference_affine_coupling", "reference_q_sample", "reference_made_mask"]
