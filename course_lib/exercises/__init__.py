"""Exercises with immediate feedback: the check API used at the end of each notebook.

``from course_lib.exercises import Case, check_function, check_value, check_choice``
"""
from course_lib.exercises.core import (
    STATUSES,
    Case,
    CheckResult,
    check_choice,
    check_function,
    check_value,
    compare_outputs,
)

__all__ = [
    "Case",
    "CheckResult",
    "STATUSES",
    "check_choice",
    "check_function",
    "check_value",
    "compare_outputs",
]
