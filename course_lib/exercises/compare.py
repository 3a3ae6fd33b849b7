"""How the exercises describe and compare what a student's function returned.

:func:`compare_outputs` compares two pytrees of arrays and says, in one or a few lines, where
they first differ; :func:`describe` names what kind of value came back (a generator, a
function, a dict...) so that a wrong *kind* of answer gets a useful message. All text is
deterministic (no memory addresses), so notebooks can be re-validated with nbval. Used by the
checks in :mod:`course_lib.exercises.core`.
"""
from __future__ import annotations

import inspect
import re

import jax
import numpy as np

MAX_SHOWN = 4  # how many numbers of an array a failure message shows


class WrongReturn(Exception):
    """Raised by a check's wrapper around the student's function when the returned value is of
    the wrong kind to be processed further (e.g. differentiated); its text is the verdict."""


def require_numeric(got, expected_text: str):
    """Raise :class:`WrongReturn` unless ``got`` is a number or numeric array."""
    kind = None
    if isinstance(got, (bool, int, float, np.number)) or hasattr(got, "dtype"):
        kind = np.asarray(got).dtype.kind if not hasattr(got, "dtype") else np.dtype(got.dtype).kind
    if kind is None or kind not in "biuf":
        raise WrongReturn(f"expected {expected_text}, got {describe(got)}")
    return got


# --------------------------------------------------------------------------- formatting


def _number(v) -> str:
    """A number as short, deterministic text."""
    if isinstance(v, (str, np.str_)):
        return short_text(repr(str(v)))
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    if isinstance(v, (complex, np.complexfloating)):
        return f"{complex(v):.4g}"
    return short_text(repr(v))


def _few(a: np.ndarray) -> str:
    """The first few entries of an array: ``[0.1, 0.2, 0.3, 0.4, ...]``."""
    flat = a.reshape(-1)
    shown = ", ".join(_number(v) for v in flat[:MAX_SHOWN])
    return f"[{shown}{', ...' if flat.size > MAX_SHOWN else ''}]"


def short_text(text: str, limit: int = 200) -> str:
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", str(text))  # memory addresses are not deterministic
    lines = text.strip().splitlines()
    text = lines[0] if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(x) -> str:
    """What kind of value ``x`` is, for structure mismatches."""
    if x is None:
        return "None"
    if isinstance(x, (str, bytes)):
        return f"the {type(x).__name__ if isinstance(x, bytes) else 'string'} {short_text(repr(x), 40)}"
    if inspect.isgenerator(x) or isinstance(x, (map, filter, zip, range, type({}.keys()))):
        return (f"a {type(x).__name__} (a lazy sequence: wrap it in list(...) or np.array(...), "
                "or return the value itself)")
    if isinstance(x, (complex, np.complexfloating)):
        return f"the complex number {_number(x)}"
    if callable(x):
        return (f"a function {getattr(x, '__name__', type(x).__name__)!r} "
                "(return the value, not the function)")
    if isinstance(x, dict):
        return f"a dict with keys {sorted(map(str, x))}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)} value{'' if len(x) == 1 else 's'}"
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"an array of shape {tuple(x.shape)}"
    if isinstance(x, (bool, int, float, np.generic)):
        return f"the number {_number(x)}"
    return f"a {type(x).__name__} object"


def _as_array(x) -> np.ndarray:
    if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return np.asarray(x)


# --------------------------------------------------------------------------- comparison


def _compare_leaf(got, expected, rtol: float, atol: float) -> str | None:
    """None if ``got`` matches ``expected``, else a short description of the difference."""
    try:
        g = _as_array(got)
    except Exception:  # e.g. a string or an object numpy cannot convert
        return f"expected {describe(expected)}, got {describe(got)}"
    e = _as_array(expected)
    if e.dtype.kind in "biuf" and g.dtype.kind not in "biufc":  # a string, None, a generator, an object
        return f"expected {describe(expected)}, got {describe(got)}"
    if e.dtype.kind in "biuf" and g.dtype.kind == "c" and np.any(np.imag(g) != 0):
        return (f"expected real numbers ({describe(expected)}), got complex numbers "
                f"({describe(got)}); a square root or log of a negative number?")
    if g.shape != e.shape:
        return f"wrong shape: expected {e.shape}, got {g.shape}"
    numeric = "biufc"
    if e.dtype.kind not in numeric or g.dtype.kind not in numeric:
        if e.dtype.kind in numeric or g.dtype.kind in numeric:
            return f"expected {describe(expected)}, got {describe(got)}"
        if np.array_equal(g, e):
            return None
        return f"wrong value: expected {_few(e) if e.ndim else _number(e[()])}, got {_few(g) if g.ndim else _number(g[()])}"
    close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(np.all(close)):
        return None
    bad = np.argwhere(~close)
    diff = np.abs(g.astype(np.complex128 if "c" in (g.dtype.kind + e.dtype.kind) else np.float64) - e)
    finite = diff[np.isfinite(diff)]
    max_err = _number(float(finite.max())) if finite.size else "nan"
    if e.size == 1:
        e1, g1 = e.reshape(-1)[0], g.reshape(-1)[0]
        return f"wrong value: expected {_number(e1)}, got {_number(g1)} (abs error {max_err})"
    idx = tuple(int(i) for i in bad[0])
    nan_note = " (NaN appears where a number was expected)" if np.isnan(g[~close].real).any() else ""
    return (
        f"wrong value: {len(bad)} of {e.size} entries differ, max abs error {max_err}{nan_note}.\n"
        f"   At index {idx}: expected {_number(e[idx])}, got {_number(g[idx])}.\n"
        f"   expected {_few(e)}\n"
        f"   got      {_few(g)}"
    )


def compare_outputs(got, expected, *, rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """Compare two pytrees of arrays: same structure, same shapes, close values.

    Returns None when they match, else a one-line (or few-line) description of the
    first difference. A list of numbers is accepted where one array is expected.
    """
    if got is None and expected is not None:
        return "returned None: did you forget the `return` statement?"
    if inspect.isgenerator(got) or isinstance(got, (map, filter, zip, range)):
        return f"expected {describe(expected)}, got {describe(got)}"
    exp_leaves, exp_def = jax.tree_util.tree_flatten_with_path(expected)
    got_leaves, got_def = jax.tree_util.tree_flatten_with_path(got)
    if exp_def != got_def:
        single = exp_def.num_leaves == 1 and not exp_leaves[0][0]
        numbers = all(isinstance(g, (int, float, complex, np.generic)) for _, g in got_leaves)
        if single and isinstance(got, (list, tuple)) and got_leaves and numbers:
            return _compare_leaf(got, expected, rtol, atol)  # a list of numbers for an array
        return f"wrong structure: expected {describe(expected)}, got {describe(got)}"
    for (path, g), (_, e) in zip(got_leaves, exp_leaves):
        problem = _compare_leaf(g, e, rtol, atol)
        if problem is not None:
            where = jax.tree_util.keystr(path)
            return f"output{where}: {problem}" if where else problem
    return None

__all__ = ["MAX_SHOWN", "WrongReturn", "compare_outputs", "describe", "require_numeric", "short_text"]
