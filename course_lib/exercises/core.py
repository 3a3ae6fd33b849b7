"""The check API behind the exercises at the end of every notebook.

A notebook exercise gives a stub that raises ``NotImplementedError``; the reader
fills it in and runs a check cell::

    check_function(gaussian_kl, reference.gaussian_kl, cases,
                   name="gaussian_kl", hint="KL = 1/2 sum(exp(logvar) + mu^2 - 1 - logvar)")

which prints one short line (and a hint on failure) and returns a
:class:`CheckResult`. Everything printed is deterministic (no addresses, no
timings) so that notebooks can be re-validated with nbval, and nothing here
raises because of the reader's code: a crash in their function is reported as
a failed case.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from course_lib import _validate

STATUSES = ("pass", "fail", "not_implemented")
_MAX_SHOWN = 4  # how many numbers of an array a failure message shows


class _WrongReturn(Exception):
    """Raised by a check's wrapper around the student's function when the returned value is of
    the wrong kind to be processed further (e.g. differentiated); its text is the verdict."""


def require_numeric(got, expected_text: str):
    """Raise :class:`_WrongReturn` unless ``got`` is a number or numeric array."""
    kind = None
    if isinstance(got, (bool, int, float, np.number)) or hasattr(got, "dtype"):
        kind = np.asarray(got).dtype.kind if not hasattr(got, "dtype") else np.dtype(got.dtype).kind
    if kind is None or kind not in "biuf":
        raise _WrongReturn(f"expected {expected_text}, got {_describe(got)}")
    return got


class Case(NamedTuple):
    """One test case: the student's function is called as ``fn(*args, **kwargs)``."""

    args: tuple = ()
    kwargs: dict | None = None
    description: str = ""


@dataclasses.dataclass(repr=False)
class CheckResult:
    """Outcome of a check. ``bool(result)`` is True only if every case passed."""

    name: str
    status: str  # one of STATUSES
    passed: int  # number of cases that passed
    total: int  # number of cases
    message: str  # the text that was printed

    def __bool__(self) -> bool:
        return self.status == "pass"

    def __repr__(self) -> str:
        return f"CheckResult(name={self.name!r}, status={self.status!r}, {self.passed}/{self.total})"


# --------------------------------------------------------------------------- formatting


def _number(v) -> str:
    """A number as short, deterministic text."""
    if isinstance(v, (str, np.str_)):
        return _short(repr(str(v)))
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    if isinstance(v, (complex, np.complexfloating)):
        return f"{complex(v):.4g}"
    return _short(repr(v))


def _few(a: np.ndarray) -> str:
    """The first few entries of an array: ``[0.1, 0.2, 0.3, 0.4, ...]``."""
    flat = a.reshape(-1)
    shown = ", ".join(_number(v) for v in flat[:_MAX_SHOWN])
    return f"[{shown}{', ...' if flat.size > _MAX_SHOWN else ''}]"


def _short(text: str, limit: int = 200) -> str:
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", str(text))  # memory addresses are not deterministic
    lines = text.strip().splitlines()
    text = lines[0] if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(x) -> str:
    """What kind of value ``x`` is, for structure mismatches."""
    if x is None:
        return "None"
    if isinstance(x, (str, bytes)):
        return f"the {type(x).__name__ if isinstance(x, bytes) else 'string'} {_short(repr(x), 40)}"
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
        return f"expected {_describe(expected)}, got {_describe(got)}"
    e = _as_array(expected)
    if e.dtype.kind in "biuf" and g.dtype.kind not in "biufc":  # a string, None, a generator, an object
        return f"expected {_describe(expected)}, got {_describe(got)}"
    if e.dtype.kind in "biuf" and g.dtype.kind == "c" and np.any(np.imag(g) != 0):
        return (f"expected real numbers ({_describe(expected)}), got complex numbers "
                f"({_describe(got)}); a square root or log of a negative number?")
    if g.shape != e.shape:
        return f"wrong shape: expected {e.shape}, got {g.shape}"
    numeric = "biufc"
    if e.dtype.kind not in numeric or g.dtype.kind not in numeric:
        if e.dtype.kind in numeric or g.dtype.kind in numeric:
            return f"expected {_describe(expected)}, got {_describe(got)}"
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
        return f"expected {_describe(expected)}, got {_describe(got)}"
    exp_leaves, exp_def = jax.tree_util.tree_flatten_with_path(expected)
    got_leaves, got_def = jax.tree_util.tree_flatten_with_path(got)
    if exp_def != got_def:
        single = exp_def.num_leaves == 1 and not exp_leaves[0][0]
        numbers = all(isinstance(g, (int, float, complex, np.generic)) for _, g in got_leaves)
        if single and isinstance(got, (list, tuple)) and got_leaves and numbers:
            return _compare_leaf(got, expected, rtol, atol)  # a list of numbers for an array
        return f"wrong structure: expected {_describe(expected)}, got {_describe(got)}"
    for (path, g), (_, e) in zip(got_leaves, exp_leaves):
        problem = _compare_leaf(g, e, rtol, atol)
        if problem is not None:
            where = jax.tree_util.keystr(path)
            return f"output{where}: {problem}" if where else problem
    return None


# --------------------------------------------------------------------------- checks


def _check_text(name: str, value, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _as_case(index: int, case) -> Case:
    if isinstance(case, Case):
        args, kwargs, description = case
    elif isinstance(case, tuple) and len(case) == 2 and isinstance(case[1], dict):
        (args, kwargs), description = case, ""
    elif hasattr(case, "args"):
        args = case.args
        kwargs = getattr(case, "kwargs", None)
        description = getattr(case, "description", "")
    else:
        raise TypeError(
            f"cases[{index}] must be a Case(args, kwargs, description) or an "
            f"(args_tuple, kwargs_dict) pair, got {type(case).__name__}"
        )
    if not isinstance(args, tuple):
        raise TypeError(f"cases[{index}].args must be a tuple, got {type(args).__name__}")
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(kwargs, dict):
        raise TypeError(f"cases[{index}].kwargs must be a dict or None, got {type(kwargs).__name__}")
    _check_text(f"cases[{index}].description", description, allow_empty=True)
    return Case(args, kwargs, description)


def _tolerances(rtol, atol) -> tuple[float, float]:
    return (
        _validate.positive_float("rtol", rtol, allow_zero=True),
        _validate.positive_float("atol", atol, allow_zero=True),
    )


def _finish(name: str, status: str, passed: int, total: int, message: str) -> CheckResult:
    print(message)
    return CheckResult(name=name, status=status, passed=passed, total=total, message=message)


def _not_implemented(name: str, total: int, what: str) -> CheckResult:
    return _finish(name, "not_implemented", 0, total, f"⏳ {name}: not implemented yet — {what}")


def _fail(name: str, passed: int, total: int, where: str, problem: str, hint: str) -> CheckResult:
    text = f"❌ {name}: {where}{problem}"
    if hint:
        text += f"\nHint: {hint}"
    return _finish(name, "fail", passed, total, text)


def check_function(
    student_fn: Callable,
    reference_fn: Callable,
    cases: Sequence,
    *,
    name: str,
    hint: str = "",
    rtol: float = 1e-5,
    atol: float = 1e-6,
    compare: Callable[[Any, Any], str | None] | None = None,
) -> CheckResult:
    """Run ``student_fn`` on every case, compare with ``reference_fn``, print one verdict.

    Prints ``✅ name: all N cases pass.``, or ``❌ name: case k (description) ...`` with
    what went wrong in the first failing case and ``Hint: ...``, or ``⏳ ...`` if the
    student's function still raises ``NotImplementedError``. Never raises because of
    the student's code.

    Args:
      student_fn: the reader's implementation.
      reference_fn: the course's implementation; its output is the expected value.
      cases: non-empty list of :class:`Case` or ``(args_tuple, kwargs_dict)`` pairs.
      name: the exercise name shown in messages.
      hint: shown after a failure.
      rtol, atol: tolerances of ``np.isclose`` for every output array.
      compare: optional ``compare(got, expected) -> None | message`` replacing the
        default pytree comparison.

    Returns:
      A :class:`CheckResult`; truthy only if all cases pass.
    """
    _check_text("name", name)
    _check_text("hint", hint, allow_empty=True)
    if not callable(student_fn):
        raise TypeError(
            f"student_fn must be a function, got {_describe(student_fn)}; "
            "pass the function itself (my_fn), not the result of calling it (my_fn(x))"
        )
    if not callable(reference_fn):
        raise TypeError(f"reference_fn must be a function, got {type(reference_fn).__name__}")
    if compare is not None and not callable(compare):
        raise TypeError(f"compare must be a function or None, got {type(compare).__name__}")
    if isinstance(cases, (str, bytes)) or not isinstance(cases, Sequence):
        raise TypeError(f"cases must be a list of Case, got {type(cases).__name__}")
    if len(cases) == 0:
        raise ValueError("cases must contain at least one case, got an empty list")
    rtol, atol = _tolerances(rtol, atol)
    cases = [_as_case(i, c) for i, c in enumerate(cases)]

    total = len(cases)
    for k, case in enumerate(cases, start=1):
        where = f"case {k} ({case.description}) " if case.description else f"case {k} "
        try:
            expected = reference_fn(*case.args, **case.kwargs)
        except Exception as err:  # the exercise itself is broken: tell the author loudly
            raise RuntimeError(
                f"reference_fn raised on case {k} of exercise {name!r}; this is a bug in the "
                f"exercise, not in the student's code"
            ) from err
        try:
            got = student_fn(*case.args, **case.kwargs)
        except NotImplementedError:
            return _not_implemented(
                name, total, "replace the `raise NotImplementedError` with your code."
            )
        except _WrongReturn as err:
            return _fail(name, k - 1, total, f"{where}— ", str(err), hint)
        except Exception as err:
            problem = f"your function raised {type(err).__name__}: {_short(err)}"
            return _fail(name, k - 1, total, f"{where}— ", problem, hint)
        if compare is not None:
            problem = compare(got, expected)
            if problem is not None and not isinstance(problem, str):
                raise TypeError(f"compare must return None or a str, got {type(problem).__name__}")
        else:
            problem = compare_outputs(got, expected, rtol=rtol, atol=atol)
        if problem is not None:
            return _fail(name, k - 1, total, f"{where}— ", problem, hint)
    noun = "case passes" if total == 1 else f"{total} cases pass"
    return _finish(name, "pass", total, total, f"✅ {name}: {'the' if total == 1 else 'all'} {noun}.")


def check_value(
    student_value,
    expected,
    *,
    name: str,
    hint: str = "",
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> CheckResult:
    """Check a number/array (or pytree of them) the reader computed; print one verdict.

    ``student_value`` left as ``...`` or ``None`` counts as not answered yet.
    """
    _check_text("name", name)
    _check_text("hint", hint, allow_empty=True)
    rtol, atol = _tolerances(rtol, atol)
    if student_value is Ellipsis or student_value is None:
        return _not_implemented(name, 1, "replace the `...` with your answer.")
    problem = compare_outputs(student_value, expected, rtol=rtol, atol=atol)
    if problem is not None:
        return _fail(name, 0, 1, "", problem, hint)
    return _finish(name, "pass", 1, 1, f"✅ {name}: correct.")


def _normalise_choice(value) -> str:
    return " ".join(str(value).split()).casefold()


def check_choice(
    answer,
    correct,
    *,
    name: str,
    explanation: str,
    why_wrong: dict | None = None,
    choices: Sequence | None = None,
) -> CheckResult:
    """Check a quiz answer (a letter like ``"b"`` or a short string); print why.

    Matching ignores case and extra spaces. ``correct`` may be one answer or a
    list/set of accepted answers.

    Args:
      answer: the reader's answer; ``...`` or ``None`` means not answered yet.
      correct: the right answer(s).
      name: the question name shown in messages.
      explanation: why the right answer is right (shown when correct).
      why_wrong: optional ``{choice: why that choice is wrong}``, shown for that choice.
      choices: optional list of valid options; an answer outside it is flagged.
    """
    _check_text("name", name)
    _check_text("explanation", explanation)
    if isinstance(correct, (set, frozenset, list, tuple)):
        accepted = {_normalise_choice(c) for c in correct}
        if not accepted:
            raise ValueError("correct must contain at least one answer, got an empty collection")
    elif isinstance(correct, (str, int)) and not isinstance(correct, bool):
        accepted = {_normalise_choice(correct)}
    else:
        raise TypeError(f"correct must be a str, int or a list of them, got {type(correct).__name__}")
    if why_wrong is not None and not isinstance(why_wrong, dict):
        raise TypeError(f"why_wrong must be a dict or None, got {type(why_wrong).__name__}")
    options = None
    if choices is not None:
        if isinstance(choices, (str, bytes)) and len(choices) > 1 and " " not in choices:
            choices = list(choices)  # "abcd" -> ["a", "b", "c", "d"]
        options = [_normalise_choice(c) for c in choices]
        if not accepted <= set(options):
            raise ValueError(f"correct answer {correct!r} is not among choices {list(choices)!r}")

    if answer is Ellipsis or answer is None:
        return _not_implemented(name, 1, "replace the `...` with your answer.")
    given = _normalise_choice(answer)
    if given in accepted:
        return _finish(name, "pass", 1, 1, f"✅ {name}: correct! {explanation}")
    if options is not None and given not in options:
        shown = ", ".join(str(c) for c in choices)
        return _finish(
            name, "fail", 0, 1, f"❌ {name}: {_short(repr(answer))} is not one of the options ({shown})."
        )
    reason = ""
    for key, text in (why_wrong or {}).items():
        if _normalise_choice(key) == given:
            reason = f" {text}"
            break
    return _finish(name, "fail", 0, 1, f"❌ {name}: {_short(repr(answer))} is not right.{reason} Try again.")


__all__ = [
    "Case",
    "CheckResult",
    "STATUSES",
    "check_choice",
    "check_function",
    "check_value",
    "compare_outputs",
]
