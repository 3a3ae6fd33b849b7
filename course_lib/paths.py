"""Where the course keeps its data and checkpoints.

``data_dir()`` is, in order: the directory in the ``COURSE_DATA_DIR`` environment
variable; the repository's ``data/`` folder (when course_lib is used from a clone,
installed editable as the README does); else ``~/.cache/course_lib/data``.
"""
from __future__ import annotations

import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def data_dir() -> pathlib.Path:
    """The folder holding datasets, downloads and pretrained checkpoints."""
    env = os.environ.get("COURSE_DATA_DIR")
    if env:
        return pathlib.Path(env).expanduser()
    repo_data = REPO_ROOT / "data"
    if (REPO_ROOT / "pyproject.toml").is_file() and repo_data.is_dir():
        return repo_data
    return pathlib.Path.home() / ".cache" / "course_lib" / "data"


def checkpoint_dir() -> pathlib.Path:
    """The folder of pretrained checkpoints: ``data_dir() / "checkpoints"``."""
    return data_dir() / "checkpoints"
