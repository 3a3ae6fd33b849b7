"""Hypothesis profiles for the property suite.

- ``ci`` (default): fixed seed (derandomize), few examples, no deadline: the same cases on
  every run, a few minutes on a 2-core machine.
- ``dev``: many more random examples; run by hand with HYPOTHESIS_PROFILE=dev.
"""
from __future__ import annotations

import os

import matplotlib
from hypothesis import HealthCheck, settings

import prop_harness

matplotlib.use("Agg")

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture])
settings.register_profile("ci", derandomize=True, max_examples=8, **_COMMON)
settings.register_profile("dev", max_examples=200, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter):
    counts = prop_harness.COUNTS
    if counts["bad"] or counts["good"]:
        terminalreporter.write_line(
            f"property suite: {counts['bad']} bad-input calls refused with a message naming the "
            f"argument, {counts['good']} valid calls checked "
            f"(profile {settings._current_profile})"
        )
