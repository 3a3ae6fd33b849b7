"""Argument checks shared by every public function of course_lib.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right
kind, wrong value) with a message that names the argument, what was expected
and what was received, so that a student sees the problem, not a traceback
deep inside XLA.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

import numpy as np


def _describe(value) -> str:
    """A short description of a value for error messages."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


MAX_INT = 2**31 - 1
"""Largest integer any size or count may take: JAX works in 32-bit integers."""

SIZE_LIMITS = {
    "num_samples": (10**7, "10 million draws already fill hundreds of MB; larger ones can only exhaust memory"),
    "num_points": (10**7, "10 million points already fill hundreds of MB; more can only exhaust memory"),
    "batch_size": (10**6, "a larger batch cannot fit in memory next to the model"),
    "num_steps": (10**7, "10 million steps take hours even at 1 ms per step"),
    "num_epochs": (10**5, "more epochs take days on the course datasets"),
    "num_iters": (10**7, "10 million iterations take hours"),
    "resolution": (4096, "a 4096 x 4096 grid has 16 million points; larger grids can only exhaust memory"),
    "num_nodes": (10**5, "quadrature converges long before 100,000 nodes"),
    "k": (10**4, "neighbour counts beyond 10,000 exceed any dataset here"),
}
"""Upper bounds for sizes whose huge values can only exhaust memory or time: name -> (limit, why).

Checked by :func:`positive_int` / :func:`int_at_least` for arguments of these names, so every
public function that validates e.g. ``num_samples`` refuses 10**12 instead of letting XLA abort."""


def positive_int(name: str, value, *, minimum: int = 1, maximum: int | None = None,
                 why: str | None = None) -> int:
    """Check that ``value`` is an integer in ``minimum..maximum`` and return it as ``int``.

    Without ``maximum`` the bound is :data:`SIZE_LIMITS` for known size names (the last part
    of ``name``, e.g. ``config.num_steps`` -> ``num_steps``), else :data:`MAX_INT`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    if maximum is None:
        maximum, default_why = SIZE_LIMITS.get(
            name.rsplit(".", 1)[-1],
            (MAX_INT, "larger integers overflow the 32-bit integers JAX computes with"))
        why = why or default_why
    if value > maximum:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name} must be at most {maximum:,}{reason}, got {value:,}")
    return int(value)


def int_at_least(name: str, value, minimum: int, *, maximum: int | None = None,
                 why: str | None = None) -> int:
    """An integer >= ``minimum`` (and <= ``maximum``): a clearer name for :func:`positive_int`."""
    return positive_int(name, value, minimum=minimum, maximum=maximum, why=why)


def int_in_range(name: str, value, low: int, high: int, *, why: str | None = None) -> int:
    """An integer in ``low..high`` (both included)."""
    return positive_int(name, value, minimum=low, maximum=high, why=why)


def finite_float(name: str, value) -> float:
    """A finite real number (any sign)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


def probability(name: str, value) -> float:
    """A real number in [0, 1]."""
    return real_in_range(name, value, 0.0, 1.0)


def callable_(name: str, value, what: str = "a function"):
    """Check that ``value`` can be called."""
    if not callable(value):
        raise TypeError(f"{name} must be {what}, got {_describe(value)}")
    return value


def boolean(name: str, value) -> bool:
    """True or False (numpy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    """Check that ``value`` is a finite real number > 0 (or >= 0) and return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    bound_ok = value >= 0 if allow_zero else value > 0
    if not math.isfinite(value) or not bound_ok:
        sign = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {sign}, got {value}")
    return value


def real_in_range(name: str, value, low: float, high: float) -> float:
    """Check that ``low <= value <= high`` and return ``value`` as ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    if not (low <= value <= high):  # also rejects NaN
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def one_of(name: str, value, choices: Iterable[str]) -> str:
    """Check that ``value`` is one of the allowed strings."""
    choices = list(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}, got {_describe(value)}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: expected one of {choices}")
    return value


def prng_key(name: str, key):
    """Check that ``key`` is a JAX PRNG key (new-style typed or legacy uint32[2])."""
    import jax
    import jax.numpy as jnp

    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        raise TypeError(
            f"{name} must be a JAX random key such as jax.random.key({key}), got the integer {key}"
        )
    if not hasattr(key, "dtype") or not hasattr(key, "shape"):
        raise TypeError(
            f"{name} must be a JAX random key such as jax.random.key(0), got {_describe(key)}"
        )
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"{name} must be a single key (shape ()), got shape {key.shape}")
        return key
    if key.dtype == jnp.uint32 and tuple(key.shape) == (2,):
        return key
    raise TypeError(
        f"{name} must be a JAX random key such as jax.random.key(0), got {_describe(key)}"
    )


def array(
    name: str,
    value,
    *,
    ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    dtype_kind: str | None = None,
    finite: bool = True,
    min_rows: int = 0,
):
    """Check an array argument and return it unchanged.

    Args:
      name: argument name used in messages.
      ndim: required number of dimensions.
      shape: required shape; ``None`` entries match any size.
      dtype_kind: ``"float"``, ``"int"`` or ``"number"``.
      finite: reject NaN or infinity (only checked for concrete, non-traced arrays).
      min_rows: required size of the first axis (1 rejects empty arrays; > 0 also rejects 0-d).
    """
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        if isinstance(value, (list, tuple)):
            raise TypeError(
                f"{name} must be an array, got a {type(value).__name__}; "
                "wrap it with jnp.asarray(...)"
            )
        raise TypeError(f"{name} must be an array, got {_describe(value)}")
    got = tuple(value.shape)
    if min_rows > 0:
        if len(got) == 0:
            raise ValueError(f"{name} must be an array with at least one axis, got a 0-d array (a scalar)")
        if got[0] < min_rows:
            what = "an empty array" if got[0] == 0 else f"{got[0]} rows"
            raise ValueError(f"{name} must have at least {min_rows} row(s) along its first axis, got {what} (shape {got})")
    if ndim is not None and len(got) != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {got}")
    if shape is not None:
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {want}, got shape {got}")
    kind = np.dtype(value.dtype).kind if not _is_key(value) else "key"
    if dtype_kind == "float" and kind != "f":
        raise TypeError(f"{name} must have a floating dtype, got dtype {value.dtype}")
    if dtype_kind == "int" and kind not in "iu":
        raise TypeError(f"{name} must have an integer dtype, got dtype {value.dtype}")
    if dtype_kind == "number" and kind not in "iuf":
        raise TypeError(f"{name} must have a numeric dtype, got dtype {value.dtype}")
    if finite and kind == "f" and _is_concrete(value):
        if not bool(np.all(np.isfinite(np.asarray(value)))):
            raise ValueError(f"{name} contains NaN or infinite values")
    return value


def _is_key(value) -> bool:
    import jax
    import jax.numpy as jnp

    try:
        return jnp.issubdtype(value.dtype, jax.dtypes.prng_key)
    except TypeError:
        return False


def _is_concrete(value) -> bool:
    """True for numpy arrays and JAX arrays that are not tracers inside jit/grad."""
    import jax

    return not isinstance(value, jax.core.Tracer)


def non_empty(name: str, value):
    """An array with at least one axis and at least one row."""
    return array(name, value, min_rows=1)


def width(name: str, value, expected: int, *, of: str = "the model"):
    """Check that the last axis of an array has ``expected`` entries (the input width of ``of``)."""
    got = tuple(getattr(value, "shape", ()))
    if len(got) == 0 or got[-1] != expected:
        raise ValueError(
            f"{name} must have {expected} entries on its last axis (the input width of {of}), "
            f"got shape {got}"
        )
    return value


def levels(name: str, x, num_levels: int):
    """Integer-valued levels in 0..num_levels-1 (integer dtype, or floats holding whole numbers).

    Refuses values that would index past the last level (which JAX clamps or wraps silently).
    """
    if not _is_concrete(x):
        return x
    a = np.asarray(x)
    if a.dtype.kind not in "iuf" or a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise TypeError(f"{name} must hold integer levels 0..{num_levels - 1}, got dtype {a.dtype}")
    if a.size == 0:
        return x
    if a.dtype.kind == "f" and not np.all(a == np.round(a)):
        raise ValueError(f"{name} must hold whole-number levels 0..{num_levels - 1}, got fractional values")
    lo, hi = a.min(), a.max()
    if lo < 0 or hi > num_levels - 1:
        raise ValueError(
            f"{name} must hold levels in 0..{num_levels - 1} ({num_levels} levels), "
            f"got values from {lo} to {hi}"
        )
    return x


def unit_interval(name: str, x, *, hint: str = ""):
    """A concrete array whose values all lie in [0, 1] (targets of a Bernoulli likelihood...)."""
    if not _is_concrete(x):
        return x
    a = np.asarray(x)
    if a.size and (np.nanmin(a) < 0 or np.nanmax(a) > 1):
        extra = f"; {hint}" if hint else ""
        raise ValueError(
            f"{name} must hold values in [0, 1], got values from {np.nanmin(a):g} to {np.nanmax(a):g}{extra}"
        )
    return x


def positive_definite(name: str, cov, *, semi: bool = True):
    """A symmetric (positive semi-)definite matrix: the covariance of a Gaussian."""
    a = np.asarray(array(name, cov, ndim=2, dtype_kind="number"), np.float64)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {a.shape}")
    if not np.allclose(a, a.T, rtol=1e-5, atol=1e-8 * max(1.0, float(np.abs(a).max(initial=0.0)))):
        raise ValueError(f"{name} must be symmetric (a covariance matrix), got an asymmetric matrix")
    eig_min = float(np.linalg.eigvalsh(a).min()) if a.size else 0.0
    tol = -1e-6 * max(1.0, float(np.abs(a).max(initial=0.0)))
    if eig_min < (tol if semi else 1e-12):
        kind = "positive semi-definite" if semi else "positive definite"
        raise ValueError(f"{name} must be {kind} (a covariance matrix), got smallest eigenvalue {eig_min:.3g}")
    return cov


def instance(name: str, value, cls, what: str | None = None):
    """Check ``isinstance(value, cls)``."""
    if not isinstance(value, cls):
        names = cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls)
        raise TypeError(f"{name} must be {what or 'a ' + names}, got {_describe(value)}")
    return value


MAX_ELEMENTS = 10**8
"""Most numbers one output may hold (400 MB of float32): larger requests only exhaust memory."""


def sample_count(name: str, value, *, per_sample: int = 1) -> int:
    """A number of draws whose output (``value * per_sample`` numbers) fits :data:`MAX_ELEMENTS`."""
    n = positive_int(name, value)
    per_sample = max(int(per_sample), 1)
    limit = max(MAX_ELEMENTS // per_sample, 1)
    if n > limit:
        raise ValueError(
            f"{name} must be at most {limit:,} here ({per_sample} numbers per draw; more than "
            f"{MAX_ELEMENTS:,} numbers, 400 MB of float32, can only exhaust memory), got {n:,}"
        )
    return n


def finite_scalar_or_array(name: str, value):
    """A finite real number, or a concrete array of finite numbers."""
    if hasattr(value, "shape"):
        return array(name, value, dtype_kind="number")
    return finite_float(name, value)


def callback(name: str, fn, args: tuple, expected_shape: tuple, *, signature: str):
    """Check a user function by tracing it once (no computation): it must accept ``args``
    and return one float array of ``expected_shape``. Errors raised inside ``fn`` become a
    TypeError naming ``name`` and the expected signature."""
    import jax

    callable_(name, fn, f"a function {signature}")
    returned = []

    def probe():
        out = fn(*args)  # args stay concrete values; only shapes are computed
        if not hasattr(out, "shape") and not isinstance(out, (int, float)) or isinstance(out, bool):
            returned.append(out)
            return 0.0
        return out

    try:
        out = jax.eval_shape(probe)
    except Exception as err:  # the user's code failed: say whose code and what it should be
        raise TypeError(
            f"{name} must be a function {signature}; calling it failed with "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from err
    if returned:
        raise TypeError(f"{name} must be a function {signature} returning an array of shape "
                        f"{tuple(expected_shape)}, got {_describe(returned[0])}")
    if not hasattr(out, "shape") or tuple(out.shape) != tuple(expected_shape):
        got = f"shape {tuple(out.shape)}" if hasattr(out, "shape") else _describe(out)
        raise TypeError(f"{name} must be a function {signature} returning shape {tuple(expected_shape)}, got {got}")
    return fn


def time_steps(name: str, t, low: int, high: int):
    """Concrete integer time steps must lie in ``low..high`` (JAX would clamp or wrap an index)."""
    if not _is_concrete(t):
        return t
    a = np.asarray(t)
    if a.size and (a.min() < low or a.max() > high):
        raise ValueError(f"{name} must hold time steps in {low}..{high}, got values from {a.min()} to {a.max()}")
    return t
