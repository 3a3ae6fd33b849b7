"""Properties of the shared helpers behind the exercise checks and the family table.

course_lib.exercises.compare describes whatever a student's function returned; the family table's
runs (course_lib.reproduce.family_runs) share small formatting and timing helpers.
"""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from course_lib.exercises import compare as C
from course_lib.reproduce import family_runs as R
from course_lib.reproduce.family_table import FAMILIES
from prop_harness import covers, good

ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.complex_numbers(),
                      st.text(max_size=300), st.binary(max_size=50), st.lists(st.integers(), max_size=5),
                      st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
                      st.just(lambda x: x), st.just(range(3)), st.just(object()),
                      st.builds(lambda n: np.zeros((n, 2)), st.integers(0, 4)))


@covers("course_lib.exercises.compare.describe", "course_lib.exercises.compare.short_text")
@given(x=ANY_VALUE, limit=st.integers(10, 300))
@settings(max_examples=60)
def test_describe_says_what_any_value_is(x, limit):
    text = C.describe(x)
    assert isinstance(text, str) and text and "\n" not in text and " at 0x" not in text
    short = C.short_text(repr(x) + "\nsecond line", limit)
    assert len(short) <= limit and "\n" not in short
    good()


@covers("course_lib.exercises.compare.require_numeric", "course_lib.exercises.compare.WrongReturn")
@given(x=ANY_VALUE)
@settings(max_examples=60)
def test_require_numeric_passes_numbers_and_names_anything_else(x):
    numeric = (isinstance(x, (bool, int, float)) or isinstance(x, np.ndarray)) and not isinstance(x, complex)
    if numeric:
        assert C.require_numeric(x, "a number") is x
        good()
    else:
        with pytest.raises(C.WrongReturn, match="expected a number, got"):
            C.require_numeric(x, "a number")


@dataclasses.dataclass(frozen=True)
class _Settings:
    hidden: tuple = (4, 4)
    lr: float = 1e-3


@covers("course_lib.reproduce.family_runs.jsonable", "course_lib.reproduce.family_runs.nll_fields",
        "course_lib.reproduce.family_runs.FamilyRun", "course_lib.reproduce.family_runs.timed_samples")
@given(test=st.floats(1.0, 500.0), val=st.one_of(st.none(), st.floats(1.0, 500.0)), n=st.integers(1, 20))
@settings(max_examples=10)
def test_family_run_helpers(test, val, n):
    assert R.jsonable(_Settings()) == {"hidden": [4, 4], "lr": 1e-3}
    assert R.jsonable({"a": (1, 2)}) == {"a": [1, 2]}
    row = R.nll_fields(test, val, "exact", "autoregressive")
    assert row["test_nll_nats"] == round(test, 2)
    assert math.isclose(row["test_bits_per_dim"], test / (64 * math.log(2)), abs_tol=1e-4)
    assert R.nll_fields(None, None, "none", "GAN")["test_bits_per_dim"] is None
    samples, ms, cpu_ms = R.timed_samples(lambda k: np.ones((k, 3)), n)
    assert samples.shape == (n, 3) and ms >= 0 and cpu_ms >= 0
    assert set(R.RUNS) == set(FAMILIES) and "settings" in R.FamilyRun._fields
    good()
