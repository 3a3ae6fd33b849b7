"""Shared pieces of the property suite: the coverage registry, the two properties, bad values.

Every test that checks a public function declares it with ``@covers("module.name", ...)``;
tests/property/test_public_api.py fails when a public name has no such test.

Properties:
- :func:`refused`: bad input raises ValueError or TypeError whose message names the argument;
  any other exception (IndexError from NumPy, a dot_general error from XLA...) fails the test.
- :func:`finite`: valid input gives a finite array of the documented shape.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

COVERED: set[str] = set()
COUNTS = {"bad": 0, "good": 0}


def covers(*names: str):
    """Register the public names (``course_lib.module.name``) a property test checks."""
    def mark(fn):
        COVERED.update(names)
        fn.covers = names
        return fn
    return mark


def refused(call, arg: str | tuple, *args, **kwargs):
    """Call ``call(*args, **kwargs)``; it must raise ValueError/TypeError naming ``arg``."""
    names = (arg,) if isinstance(arg, str) else arg
    try:
        out = call(*args, **kwargs)
    except (ValueError, TypeError) as err:
        message = str(err)
        assert any(n in message for n in names), (
            f"{type(err).__name__} does not name {names}: {message!r}")
        assert "Traceback" not in message
        COUNTS["bad"] += 1
        return err
    raise AssertionError(f"bad {names} accepted; returned {type(out).__name__}")


def finite(out, shape=None):
    """A valid call returned a finite array (of ``shape`` when given); returns it as numpy."""
    a = np.asarray(out)
    if shape is not None:
        assert a.shape == tuple(shape), f"shape {a.shape}, expected {tuple(shape)}"
    assert np.all(np.isfinite(a)), "non-finite output for valid input"
    COUNTS["good"] += 1
    return a


def good():
    COUNTS["good"] += 1


# ---- bad values by kind of argument ------------------------------------------------------
BAD_KEYS = st.sampled_from([
    0, 3.5, "key", None, [0, 0], np.zeros(3, np.uint32), np.zeros(2, np.float32),
    np.zeros((2, 2), np.uint32), jnp.zeros(2, jnp.int32),
])
BAD_COUNTS = st.sampled_from([0, -1, 2.5, "10", None, True, 10**12, np.float64(3.0)])
BAD_POSITIVE_FLOATS = st.sampled_from([0.0, -1.0, math.nan, math.inf, -math.inf, "0.1", None])
BAD_FINITE_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, "0.1", None, [1.0]])
BAD_PROBABILITIES = st.sampled_from([-0.1, 1.5, math.nan, math.inf, "0.5", None])
BAD_STRINGS = st.sampled_from(["", "nope", 3, None, b"ring"])
BAD_CALLABLES = st.sampled_from([None, 3, "f", [1, 2], np.zeros(3)])
BAD_BOOLS = st.sampled_from([None, "yes", 2, [True]])
NOT_ARRAYS = st.sampled_from([None, "x", 3, {"a": 1}])


def key(seed=0):
    return jax.random.key(seed)


def floats(shape, low=-3.0, high=3.0):
    """A strategy of finite float32 numpy arrays of a fixed shape."""
    size = int(np.prod(shape)) if shape else 1
    return st.lists(st.floats(low, high, width=32), min_size=size, max_size=size).map(
        lambda v: np.asarray(v, np.float32).reshape(shape))


def bad_arrays(shape, *, nan=True):
    """Arrays that are wrong for an argument of ``shape``: wrong rank, width, empty, NaN, not arrays."""
    shape = tuple(shape)
    cases = [None, "array", np.zeros(()), np.zeros(shape + (2,), np.float32)]
    if len(shape) >= 1:
        cases.append(np.zeros((0,) + shape[1:], np.float32))
        cases.append(np.zeros(shape[:-1] + (shape[-1] + 3,), np.float32))
    if len(shape) >= 2:
        cases.append(np.zeros(shape[1:], np.float32))
    if nan:
        cases.append(np.full(shape, np.nan, np.float32))
    return st.sampled_from(cases)
