"""Exercise checks of 09_language_models.ipynb: the causal mask, softmax with temperature,
nucleus (top-p) filtering, and nats per character as bits and perplexity.

Each ``check_*`` prints one line of feedback (see :mod:`course_lib.exercises.core`) and returns
a :class:`~course_lib.exercises.CheckResult`. The cases are chosen so that the plausible wrong
answers fail: a mask shifted by one position, the temperature applied after the softmax, a
nucleus that drops the token crossing the threshold, bits and perplexity in the wrong base.
"""
from __future__ import annotations

import math

import numpy as np

from course_lib.exercises.core import Case, check_function


def reference_causal_mask(length):
    """(T, T) bool: True where position i may attend to position j, i.e. j <= i."""
    return np.tril(np.ones((length, length), dtype=bool))


def reference_softmax_temperature(logits, temperature):
    """softmax(z / T) over the last axis."""
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def reference_top_p(probs, p):
    """Nucleus filter of a 1-D distribution: keep the most probable tokens until their mass reaches p
    (the token that crosses p is kept), zero the rest, renormalise."""
    probs = np.asarray(probs, np.float64)
    order = np.argsort(-probs, kind="stable")
    mass_before = np.cumsum(probs[order]) - probs[order]
    kept = np.zeros(probs.shape, bool)
    kept[order[mass_before < p]] = True
    out = np.where(kept, probs, 0.0)
    return out / out.sum()


def reference_bits_perplexity(nats):
    """(bits per character, perplexity) of an NLL in nats per character: (nats / ln 2, exp(nats))."""
    return nats / math.log(2.0), math.exp(nats)


def _compare_mask(got, expected):
    got = np.asarray(got)
    if got.shape != expected.shape:
        return f"expected shape {expected.shape}, got {got.shape}"
    if not np.array_equal(got.astype(bool), expected):
        i, j = np.argwhere(got.astype(bool) != expected)[0]
        return (f"entry (i={i}, j={j}) should be {bool(expected[i, j])}: position {i} "
                f"{'may' if expected[i, j] else 'may not'} attend to position {j}")
    return None


def check_causal_mask(fn):
    """Check ``fn(T) -> (T, T) mask`` with True where position i may attend to position j."""
    cases = [Case((1,), description="one position"), Case((4,), description="four positions"),
             Case((7,), description="seven positions")]
    return check_function(fn, reference_causal_mask, cases, name="causal_mask", compare=_compare_mask,
                          hint="row i is the query position: it may read itself and every earlier position "
                               "(j <= i), never a later one. np.tril keeps exactly that lower triangle.")


def check_softmax_temperature(fn):
    """Check ``fn(logits, temperature) -> probabilities`` (last axis)."""
    z = np.array([[2.0, 1.0, 0.1, -1.0], [0.5, 0.5, 3.0, 0.0]])
    cases = [Case((z, 1.0), description="T = 1, the model itself"),
             Case((z, 0.5), description="T = 0.5, sharper"), Case((z, 3.0), description="T = 3, flatter")]
    return check_function(fn, reference_softmax_temperature, cases, name="softmax_temperature", rtol=1e-5,
                          hint="divide the logits by T, then take the softmax; dividing the probabilities by T "
                               "afterwards either breaks the normalisation or, renormalised, changes nothing.")


def check_top_p(fn):
    """Check ``fn(probs, p) -> filtered, renormalised probs`` of a 1-D distribution."""
    cases = [Case((np.array([0.5, 0.3, 0.2]), 0.6), description="p = 0.6: the 0.3 crosses it and stays"),
             Case((np.array([0.1, 0.6, 0.05, 0.25]), 0.8), description="unsorted input, p = 0.8"),
             Case((np.array([0.1, 0.6, 0.05, 0.25]), 0.5), description="p below the top token: keep it alone"),
             Case((np.array([0.4, 0.35, 0.25]), 1.0), description="p = 1 keeps everything")]
    return check_function(fn, reference_top_p, cases, name="top_p", rtol=1e-6,
                          hint="sort decreasingly and keep a token while the mass *before* it is < p, so the token "
                               "that crosses p is kept; then set the others to 0 and renormalise.")


def check_bits_perplexity(fn):
    """Check ``fn(nats) -> (bits per character, perplexity)``."""
    cases = [Case((math.log(28.0),), description="a uniform model over 28 tokens"),
             Case((2.0,), description="2 nats per character"), Case((0.5,), description="0.5 nats")]
    return check_function(fn, reference_bits_perplexity, cases, name="bits_perplexity", rtol=1e-6,
                          hint="1 bit = ln 2 nats, so bits = nats / ln 2; perplexity = exp(nats) = 2 ** bits, "
                               "the number of equally likely characters with the same NLL.")


__all__ = ["check_causal_mask", "check_softmax_temperature", "check_top_p", "check_bits_perplexity",
           "reference_causal_mask", "reference_softmax_temperature", "reference_top_p",
           "reference_bits_perplexity"]
