"""Properties of course_lib.exercises: whatever a student returns, the check says what it got.

For every chapter's ``check_*``: a student function returning a string, None, a complex number,
a generator, an arbitrary object, a function or NaN never makes the check raise; it fails with a
message that describes the returned value. Each ``reference_*`` passes its own check.
"""
from __future__ import annotations

import importlib
import io
import contextlib
import math

import numpy as np
from hypothesis import given, settings, strategies as st

import course_lib.exercises as E
from course_lib.exercises import ch10_quiz
from prop_harness import COUNTS, covers, good, refused

CHAPTERS = ["ch01_concepts", "ch02_probability", "ch03_gradient_descent", "ch04_vae", "ch05_gan",
            "ch06_walkthrough", "ch07_beyond", "ch08_vector_fields", "ch09_language_models"]
ANSWER_CHECKS = {"check_generative_quiz", "check_gan_year", "check_collapse_quiz", "check_family_choice"}


class _Thing:
    pass


WEIRD = [("abc", "string"), (None, "None"), (1 + 2j, "complex"), ("gen", "generator"),
         (_Thing(), "_Thing object"), (len, "function"), (b"x", "bytes")]


def _returning(value):
    def student(*args, **kwargs):
        return (i for i in range(3)) if value == "gen" else value
    return student


def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def _checks():
    out = []
    for ch in CHAPTERS:
        mod = importlib.import_module(f"course_lib.exercises.{ch}")
        names = getattr(mod, "__all__", [n for n, o in vars(mod).items() if n.startswith("check_")
                                         and getattr(o, "__module__", "") == mod.__name__])
        out += [(ch, n) for n in names if n.startswith("check_")]
    return out


FUNCTION_CHECKS = [(c, n) for c, n in _checks() if n not in ANSWER_CHECKS]


@covers(*[f"course_lib.exercises.{c}.{n}" for c, n in _checks()],
        "course_lib.exercises.ch04_vae.check_gaussian_kl", "course_lib.exercises.ch04_vae.check_reparameterize",
        "course_lib.exercises.ch04_vae.check_iwae_bound", "course_lib.exercises.ch04_vae.check_collapse_quiz")
@given(check=st.sampled_from(FUNCTION_CHECKS), weird=st.sampled_from(WEIRD))
@settings(max_examples=20)
def test_checks_describe_what_the_student_returned(check, weird):
    ch, name = check
    fn = getattr(importlib.import_module(f"course_lib.exercises.{ch}"), name)
    value, words = weird
    result = _quiet(fn, _returning(value))
    assert isinstance(result, E.CheckResult) and result.status == "fail", result
    assert words in result.message or (value is None and "return" in result.message), result.message
    assert "wrong shape" not in result.message, result.message
    COUNTS["bad"] += 1


@given(check=st.sampled_from(FUNCTION_CHECKS), bad=st.sampled_from([None, 3, "fn", [1]]))
@settings(max_examples=10)
def test_checks_refuse_a_non_function(check, bad):
    ch, name = check
    fn = getattr(importlib.import_module(f"course_lib.exercises.{ch}"), name)
    refused(fn, ("student_fn", "fn", "function"), bad)


def _references():
    for ch in CHAPTERS:
        mod = importlib.import_module(f"course_lib.exercises.{ch}")
        for n in getattr(mod, "__all__", []):
            if n.startswith("reference_"):
                yield ch, n


@covers(*[f"course_lib.exercises.{c}.{n}" for c, n in _references()])
@given(ref=st.sampled_from(sorted(_references())))
def test_each_reference_passes_its_check(ref):
    ch, name = ref
    mod = importlib.import_module(f"course_lib.exercises.{ch}")
    result = _quiet(getattr(mod, "check_" + name[len("reference_"):]), getattr(mod, name))
    assert result.status == "pass", result.message
    good()


@given(check=st.sampled_from(sorted(ANSWER_CHECKS)), answer=st.sampled_from(
    ["zz", "", 1 + 2j, 3.5, _Thing(), [1, 2], {"a": 1}, -10**30, "a" * 500]))
def test_answer_checks_never_raise(check, answer):
    for ch in CHAPTERS:
        mod = importlib.import_module(f"course_lib.exercises.{ch}")
        if hasattr(mod, check):
            result = _quiet(getattr(mod, check), answer)
            assert result.status in ("fail", "pass") and len(result.message) < 600
            COUNTS["bad"] += 1


@covers("course_lib.exercises.check_function", "course_lib.exercises.Case")
@given(weird=st.sampled_from(WEIRD), x=st.floats(-5, 5))
def test_check_function_core(weird, x):
    ref = lambda v: np.asarray([v, 2 * v])
    ok = _quiet(lambda: E.check_function(ref, ref, [E.Case((x,))], name="t"))
    assert ok.status == "pass"
    bad = _quiet(lambda: E.check_function(_returning(weird[0]), ref, [E.Case((x,))], name="t"))
    assert bad.status == "fail" and (weird[1] in bad.message or "return" in bad.message), bad.message
    good()
    refused(E.check_function, "cases", ref, ref, [], name="t")
    refused(E.check_function, "cases", ref, ref, "abc", name="t")
    refused(E.check_function, "name", ref, ref, [E.Case((x,))], name=3)
    refused(E.check_function, "rtol", ref, ref, [E.Case((x,))], name="t", rtol=-1.0)
    refused(E.check_function, "cases[0]", ref, ref, [3], name="t")


@covers("course_lib.exercises.check_value", "course_lib.exercises.compare_outputs",
        "course_lib.exercises.CheckResult")
@given(weird=st.sampled_from(WEIRD), x=st.floats(-5, 5))
def test_check_value_core(weird, x):
    assert _quiet(lambda: E.check_value(x, x, name="v")).status == "pass"
    value = (i for i in range(3)) if weird[0] == "gen" else weird[0]
    res = _quiet(lambda: E.check_value(value, np.float64(x), name="v"))
    assert isinstance(res, E.CheckResult) and res.status in ("fail", "not_implemented")
    assert E.compare_outputs(np.array([x]), np.array([x])) is None
    refused(E.check_value, "atol", 1.0, 1.0, name="v", atol=math.nan)
    refused(E.check_value, "name", 1.0, 1.0, name="")
    good()


@covers("course_lib.exercises.check_choice")
@given(answer=st.sampled_from(["a", "B ", "c", "zz", 3, None, _Thing(), 1 + 1j]))
def test_check_choice(answer):
    res = _quiet(lambda: E.check_choice(answer, "b", name="q", explanation="because", choices="abc"))
    assert res.status in ("pass", "fail", "not_implemented")
    refused(E.check_choice, "correct", answer, None, name="q", explanation="e")
    refused(E.check_choice, "explanation", answer, "b", name="q", explanation="")
    refused(E.check_choice, "why_wrong", answer, "b", name="q", explanation="e", why_wrong=[1])
    good()


@covers("course_lib.exercises.ch10_quiz.Question", "course_lib.exercises.ch10_quiz.check_answer",
        "course_lib.exercises.ch10_quiz.check_quiz", "course_lib.exercises.ch10_quiz.question_text",
        "course_lib.exercises.ch10_quiz.show_quiz")
@given(answer=st.sampled_from(["a", "zz", None, 3, _Thing(), 1j]), bad_name=st.sampled_from(["nope", 3, None]))
def test_quiz(answer, bad_name):
    name = sorted(ch10_quiz.QUESTIONS)[0]
    assert isinstance(ch10_quiz.QUESTIONS[name], ch10_quiz.Question)
    assert isinstance(ch10_quiz.question_text(name), str)
    _quiet(ch10_quiz.show_quiz)
    res = _quiet(ch10_quiz.check_answer, name, answer)
    assert res.status in ("pass", "fail", "not_implemented")
    refused(ch10_quiz.question_text, "name", bad_name)
    refused(ch10_quiz.check_answer, "name", bad_name, "a")
    refused(ch10_quiz.check_quiz, "answers_fn", bad_name)
    n = _quiet(ch10_quiz.check_quiz, lambda: {name: answer})
    assert isinstance(n, int)
    good()
