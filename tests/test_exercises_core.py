"""Tests for course_lib.exercises.core: verdicts, printed text and argument checks."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from course_lib.exercises import (
    Case,
    CheckResult,
    check_choice,
    check_function,
    check_value,
    compare_outputs,
)


def reference_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over the last axis: (B, J) -> (B,)."""
    return 0.5 * np.sum(np.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)


CASES = [
    Case((np.zeros((2, 3)), np.zeros((2, 3))), description="standard normal"),
    Case((np.ones((2, 3)), np.full((2, 3), 0.5)), description="mu = 1"),
    Case((), {"mu": np.arange(4.0).reshape(2, 2), "logvar": -np.ones((2, 2))}, "keyword arguments"),
]


def test_correct_implementation_passes(capsys):
    def student(mu, logvar):  # written differently from the reference, with jnp
        return jnp.sum(0.5 * (jnp.exp(logvar) - logvar) + 0.5 * mu**2 - 0.5, axis=1)

    result = check_function(student, reference_kl, CASES, name="gaussian_kl", hint="h")
    assert capsys.readouterr().out == "✅ gaussian_kl: all 3 cases pass.\n"
    assert result.status == "pass" and result.passed == 3 and result.total == 3
    assert bool(result) is True
    assert repr(result) == "CheckResult(name='gaussian_kl', status='pass', 3/3)"
    assert result.message == "✅ gaussian_kl: all 3 cases pass."


def test_single_case_wording(capsys):
    check_function(reference_kl, reference_kl, CASES[:1], name="kl")
    assert capsys.readouterr().out == "✅ kl: the case passes.\n"


def test_wrong_value_reports_case_error_and_hint(capsys):
    def student(mu, logvar):  # forgot the -logvar term
        return 0.5 * np.sum(np.exp(logvar) + mu**2 - 1.0, axis=-1)

    result = check_function(student, reference_kl, CASES, name="gaussian_kl", hint="Check the log term.")
    out = capsys.readouterr().out
    # Case 1 has logvar = 0, so the bug only shows in case 2 (logvar = 0.5 everywhere).
    expected_kl = 0.5 * 3 * (np.exp(0.5) + 1 - 1 - 0.5)
    assert out.startswith("❌ gaussian_kl: case 2 (mu = 1) — wrong value: 2 of 2 entries differ")
    assert "max abs error 0.75." in out  # 0.5 * 3 * 0.5
    assert f"expected {expected_kl:.6g}, got {expected_kl + 0.75:.6g}" in out
    assert out.endswith("\nHint: Check the log term.\n")
    assert out.count("❌") == 1  # one message, for the first failing case only
    assert result.status == "fail" and result.passed == 1 and result.total == 3
    assert not result
    assert repr(result) == "CheckResult(name='gaussian_kl', status='fail', 1/3)"


def test_wrong_shape(capsys):
    def student(mu, logvar):  # forgot to sum over the latent axis
        return 0.5 * (np.exp(logvar) + mu**2 - 1.0 - logvar)

    result = check_function(student, reference_kl, CASES, name="kl", hint="Sum over axis -1.")
    assert capsys.readouterr().out == (
        "❌ kl: case 1 (standard normal) — wrong shape: expected (2,), got (2, 3)\n"
        "Hint: Sum over axis -1.\n"
    )
    assert result.passed == 0


def test_exception_in_student_code(capsys):
    def student(mu, logvar):
        return mu @ logvar  # (2, 3) @ (2, 3) is not defined

    result = check_function(student, reference_kl, CASES, name="kl", hint="Element-wise.")
    out = capsys.readouterr().out
    assert out.startswith("❌ kl: case 1 (standard normal) — your function raised ValueError: ")
    assert out.endswith("Hint: Element-wise.\n")
    assert result.status == "fail"


def test_exception_message_has_no_memory_address(capsys):
    class Thing:
        pass

    def student(mu, logvar):
        raise TypeError(f"cannot use {object.__repr__(Thing())}")

    check_function(student, reference_kl, CASES, name="kl")
    out = capsys.readouterr().out
    assert "0x" not in out
    assert out == "❌ kl: case 1 (standard normal) — your function raised TypeError: cannot use <test_exercises_core.test_exception_message_has_no_memory_address.<locals>.Thing object>\n"


def test_not_implemented(capsys):
    def student(mu, logvar):
        raise NotImplementedError

    result = check_function(student, reference_kl, CASES, name="gaussian_kl", hint="h")
    assert capsys.readouterr().out == (
        "⏳ gaussian_kl: not implemented yet — replace the `raise NotImplementedError` with your code.\n"
    )
    assert result.status == "not_implemented" and not result
    assert repr(result) == "CheckResult(name='gaussian_kl', status='not_implemented', 0/3)"


def test_missing_return(capsys):
    check_function(lambda mu, logvar: None, reference_kl, CASES, name="kl")
    assert "did you forget the `return` statement?" in capsys.readouterr().out


def test_plain_pairs_and_no_description(capsys):
    cases = [((np.zeros((1, 2)), np.zeros((1, 2))), {}), ((np.ones((1, 2)), np.ones((1, 2))), {})]
    result = check_function(lambda mu, logvar: np.zeros(1), reference_kl, cases, name="kl")
    assert capsys.readouterr().out == (
        f"❌ kl: case 2 — wrong value: expected {np.e - 1:.6g}, got 0 (abs error {np.e - 1:.6g})\n"
    )
    assert result.passed == 1


def test_pytree_outputs(capsys):
    def reference(x):
        return {"mu": x, "logvar": 2 * x}

    x = np.arange(3.0)
    check_function(lambda x: {"mu": x, "logvar": x}, reference, [Case((x,))], name="enc")
    assert "output['logvar']: wrong value" in capsys.readouterr().out
    check_function(lambda x: (x, 2 * x), reference, [Case((x,))], name="enc")
    assert capsys.readouterr().out == (
        "❌ enc: case 1 — wrong structure: expected a dict with keys ['logvar', 'mu'], "
        "got a tuple of 2 values\n"
    )
    assert check_function(lambda x: {"logvar": 2 * x, "mu": x}, reference, [Case((x,))], name="enc")


def test_tolerances_are_used(capsys):
    ref = lambda x: x  # noqa: E731
    off = lambda x: x + 1e-3  # noqa: E731
    x = np.ones(3)
    assert not check_function(off, ref, [Case((x,))], name="t")
    assert check_function(off, ref, [Case((x,))], name="t", atol=1e-2)
    assert check_function(off, ref, [Case((x,))], name="t", rtol=1e-2)
    capsys.readouterr()


def test_nan_is_reported():
    message = compare_outputs(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    assert "NaN appears where a number was expected" in message
    assert "At index (1,): expected 2, got nan." in message
    assert compare_outputs(np.array([np.nan]), np.array([np.nan])) is None


def test_list_of_numbers_accepted_for_array():
    assert compare_outputs([1.0, 2.0], np.array([1.0, 2.0])) is None
    assert compare_outputs((np.ones(2),), np.ones(2)).startswith("wrong structure")


def test_custom_compare(capsys):
    def same_sign(got, expected):
        return None if np.all(np.sign(got) == np.sign(expected)) else "signs differ"

    x = np.array([1.0, -2.0])
    assert check_function(lambda x: 5 * x, lambda x: x, [Case((x,))], name="sign", compare=same_sign)
    result = check_function(lambda x: -x, lambda x: x, [Case((x,))], name="sign", compare=same_sign)
    assert not result
    assert capsys.readouterr().out.splitlines()[-1] == "❌ sign: case 1 — signs differ"
    with pytest.raises(TypeError, match="compare must return None or a str"):
        check_function(lambda x: x, lambda x: x, [Case((x,))], name="s", compare=lambda g, e: False)


def test_broken_reference_raises():
    with pytest.raises(RuntimeError, match="bug in the exercise"):
        check_function(lambda: 1, lambda: 1 / 0, [Case()], name="broken")


def test_output_is_deterministic(capsys):
    def student(mu, logvar):
        return reference_kl(mu, logvar) + 0.1

    check_function(student, reference_kl, CASES, name="kl", hint="h")
    first = capsys.readouterr().out
    check_function(student, reference_kl, CASES, name="kl", hint="h")
    assert capsys.readouterr().out == first
    assert capsys.readouterr().err == ""


def test_check_value(capsys):
    result = check_value(np.float32(0.5), 0.5, name="kl_value")
    assert capsys.readouterr().out == "✅ kl_value: correct.\n"
    assert result.status == "pass" and result.total == 1
    result = check_value(0.6, 0.5, name="kl_value", hint="Use the closed form.")
    assert capsys.readouterr().out == (
        "❌ kl_value: wrong value: expected 0.5, got 0.6 (abs error 0.1)\nHint: Use the closed form.\n"
    )
    assert not result
    result = check_value(..., 0.5, name="kl_value")
    assert capsys.readouterr().out == "⏳ kl_value: not implemented yet — replace the `...` with your answer.\n"
    assert result.status == "not_implemented"
    assert check_value(np.ones(3), np.ones(3) + 1e-9, name="a")
    assert not check_value(np.ones(3), np.ones(4), name="a")
    assert "wrong shape: expected (4,), got (3,)" in capsys.readouterr().out


def test_check_choice(capsys):
    result = check_choice(" B ", "b", name="q1", explanation="The KL is never negative.")
    assert capsys.readouterr().out == "✅ q1: correct! The KL is never negative.\n"
    assert result.status == "pass"
    result = check_choice(
        "a", "b", name="q1", explanation="secret", why_wrong={"A": "That is the prior, not the posterior."}
    )
    out = capsys.readouterr().out
    assert out == "❌ q1: 'a' is not right. That is the prior, not the posterior. Try again.\n"
    assert "secret" not in out  # the explanation would give the answer away
    assert not result
    check_choice("c", "b", name="q1", explanation="x")
    assert capsys.readouterr().out == "❌ q1: 'c' is not right. Try again.\n"
    check_choice("e", "b", name="q1", explanation="x", choices="abcd")
    assert capsys.readouterr().out == "❌ q1: 'e' is not one of the options (a, b, c, d).\n"
    assert check_choice("Mode Collapse", ["mode collapse", "collapse"], name="q2", explanation="y")
    assert check_choice(3, 3, name="q3", explanation="z")
    assert check_choice(None, "b", name="q1", explanation="x").status == "not_implemented"
    capsys.readouterr()


def test_check_result_is_plain_data():
    result = CheckResult(name="x", status="fail", passed=0, total=2, message="m")
    assert not result and repr(result) == "CheckResult(name='x', status='fail', 0/2)"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(student_fn=3.0), TypeError, "student_fn must be a function.*not the result of calling it"),
        (dict(reference_fn="kl"), TypeError, "reference_fn must be a function"),
        (dict(cases=[]), ValueError, "cases must contain at least one case"),
        (dict(cases="abc"), TypeError, "cases must be a list"),
        (dict(cases=[np.ones(2)]), TypeError, r"cases\[0\] must be a Case"),
        (dict(cases=[Case(np.ones(2))]), TypeError, r"cases\[0\].args must be a tuple"),
        (dict(cases=[Case((1,), [1])]), TypeError, r"cases\[0\].kwargs must be a dict"),
        (dict(name=""), ValueError, "name must be a non-empty string"),
        (dict(name=None), TypeError, "name must be a string"),
        (dict(hint=3), TypeError, "hint must be a string"),
        (dict(rtol=-1.0), ValueError, "rtol"),
        (dict(atol="big"), TypeError, "atol"),
        (dict(compare=1), TypeError, "compare must be a function"),
    ],
)
def test_check_function_bad_arguments(kwargs, error, match, capsys):
    args = dict(student_fn=reference_kl, reference_fn=reference_kl, cases=CASES, name="kl")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        check_function(
            args.pop("student_fn"), args.pop("reference_fn"), args.pop("cases"), **args
        )
    assert capsys.readouterr().out == ""  # nothing printed before the error


def test_check_value_and_choice_bad_arguments():
    with pytest.raises(TypeError, match="name must be a string"):
        check_value(1.0, 1.0, name=1)
    with pytest.raises(ValueError, match="atol"):
        check_value(1.0, 1.0, name="v", atol=float("nan"))
    with pytest.raises(ValueError, match="explanation must be a non-empty string"):
        check_choice("a", "a", name="q", explanation="")
    with pytest.raises(TypeError, match="correct must be a str"):
        check_choice("a", 1.5, name="q", explanation="e")
    with pytest.raises(ValueError, match="correct must contain at least one answer"):
        check_choice("a", [], name="q", explanation="e")
    with pytest.raises(ValueError, match="not among choices"):
        check_choice("a", "e", name="q", explanation="e", choices="abcd")
    with pytest.raises(TypeError, match="why_wrong must be a dict"):
        check_choice("a", "b", name="q", explanation="e", why_wrong=["a"])
