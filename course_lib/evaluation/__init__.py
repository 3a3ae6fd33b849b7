"""Evaluation: likelihood estimates and sample-quality metrics.

Import from the submodules, e.g. ``from course_lib.evaluation.likelihood import ...``:
each concept has its own module (likelihood bounds, mode coverage, Frechet distance,
precision/recall).
"""
