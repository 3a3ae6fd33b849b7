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


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    """Check that ``value`` is an integer >= ``minimum`` and return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


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
):
    """Check an array argument and return it unchanged.

    Args:
      name: argument name used in messages.
      ndim: required number of dimensions.
      shape: required shape; ``None`` entries match any size.
      dtype_kind: ``"float"``, ``"int"`` or ``"number"``.
      finite: reject NaN or infinity (only checked for concrete, non-traced arrays).
    """
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        if isinstance(value, (list, tuple)):
            raise TypeError(
                f"{name} must be an array, got a {type(value).__name__}; "
                "wrap it with jnp.asarray(...)"
            )
        raise TypeError(f"{name} must be an array, got {_describe(value)}")
    got = tuple(value.shape)
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
