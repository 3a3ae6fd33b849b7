"""The self-check quiz of 10_faq_glossary.ipynb ("Self-check quiz").

Each :class:`~course_lib.lessons.quiz.Question` (the bank lives in :mod:`course_lib.lessons.quiz`) has lettered choices, the right letter, an explanation shown
when the answer is right, and for each wrong choice a sentence saying why it is
wrong. In the notebook the reader writes their letters in a function::

    def my_answers():
        return {"gan_year": "c", "svm": ..., ...}     # ... = not answered yet

    score = check_quiz(my_answers)

which prints one verdict per question (through :func:`course_lib.exercises.check_choice`)
and a score line. Nothing here raises because of the reader's answers.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from course_lib.exercises.core import check_choice
from course_lib.lessons.quiz import QUESTIONS, Question


def question_text(name: str) -> str:
    """The question ``name`` with its lettered choices, as printable text."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a question name (a string), got {type(name).__name__}")
    if name not in QUESTIONS:
        raise ValueError(f"name: no quiz question {name!r}; the questions are {list(QUESTIONS)}")
    q = QUESTIONS[name]
    lines = [f"[{name}] {q.prompt}"] + [f"   {letter}) {text}" for letter, text in q.choices.items()]
    return "\n".join(lines)


def show_quiz() -> None:
    """Print every question with its choices."""
    for i, name in enumerate(QUESTIONS, start=1):
        print(f"{i}. {question_text(name)}")


def check_answer(name: str, answer):
    """Check one answer (a letter); prints the verdict and returns a CheckResult."""
    question_text(name)  # validates the name
    q = QUESTIONS[name]
    return check_choice(answer, q.correct, name=name, explanation=q.explanation,
                        why_wrong=q.why_wrong, choices=list(q.choices))


def check_quiz(answers_fn: Callable[[], Mapping]) -> int:
    """Call the reader's ``answers_fn()`` and check every answer; returns the number right.

    ``answers_fn`` returns ``{question name: letter}``; a missing name or ``...`` counts as
    not answered yet. If it still raises ``NotImplementedError``, one line says so.
    """
    if not callable(answers_fn):
        raise TypeError(
            f"answers_fn must be a function returning a dict of answers, got {type(answers_fn).__name__}; "
            "pass the function itself (my_answers), not my_answers()")
    try:
        answers = answers_fn()
    except NotImplementedError:
        print("⏳ quiz: not answered yet — replace the `raise NotImplementedError` with a dict of letters.")
        return 0
    except Exception as err:  # the reader's function crashed: report, never raise
        print(f"❌ quiz: your function raised {type(err).__name__}: {err}")
        return 0
    if not isinstance(answers, Mapping):
        print(f"❌ quiz: expected a dict like {{'gan_year': 'c'}}, got {type(answers).__name__}")
        return 0
    unknown = sorted(str(k) for k in answers if k not in QUESTIONS)
    if unknown:
        print(f"❌ quiz: unknown question names {unknown}; the names are {list(QUESTIONS)}")
    right = 0
    for name in QUESTIONS:
        right += bool(check_answer(name, answers.get(name, ...)))
    print(f"Score: {right} / {len(QUESTIONS)}")
    return right


__all__ = ["QUESTIONS", "Question", "check_answer", "check_quiz", "question_text", "show_quiz"]
