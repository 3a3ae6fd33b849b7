"""Reproducible experiments: ``python -m course_lib reproduce NAME [--seeds N] [--json]``.

Each module in this package defines ``EXPERIMENTS = {"name": function}``; a function takes
``(seeds: int, quick: bool)`` and returns a list of JSON-serialisable dicts (one JSON line
each). Modules are discovered automatically, so a section adds an experiment by adding a
module here.
"""
from __future__ import annotations

import importlib
import pkgutil


def registry() -> dict:
    """All experiments by name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.update(getattr(module, "EXPERIMENTS", {}))
    return found
