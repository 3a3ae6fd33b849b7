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
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from course_lib import _validate
from course_lib.exercises.compare import WrongReturn, compare_outputs, describe, require_numeric, short_text

__all__ = ["STATUSES", "Case", "CheckResult", "check_function", "check_value", "check_choice",
           "compare_outputs", "require_numeric"]  # the last two are defined in exercises.compare

STATUSES = ("pass", "fail", "not_implemented")


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
            f"student_fn must be a function, got {describe(student_fn)}; "
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
        except WrongReturn as err:
            return _fail(name, k - 1, total, f"{where}— ", str(err), hint)
        except Exception as err:
            problem = f"your function raised {type(err).__name__}: {short_text(err)}"
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
            name, "fail", 0, 1, f"❌ {name}: {short_text(repr(answer))} is not one of the options ({shown})."
        )
    reason = ""
    for key, text in (why_wrong or {}).items():
        if _normalise_choice(key) == given:
            reason = f" {text}"
            break
    return _finish(name, "fail", 0, 1, f"❌ {name}: {short_text(repr(answer))} is not right.{reason} Try again.")


__all__ = [
    "Case",
    "CheckResult",
    "STATUSES",
    "check_choice",
    "check_function",
    "check_value",
    "compare_outputs",
]
