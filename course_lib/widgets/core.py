"""The pieces every course widget is made of.

A widget is a thin shell: controls (sliders, dropdowns) call a *pure render
function* (tested without a browser) and put its result into an output (an
``ipywidgets.Image`` or HTML). Errors never escape a callback: they are shown in
the widget's status line in words, and the last good picture stays on screen.

Only core ipywidgets are used, in ways that work in JupyterLab, Notebook 7,
VS Code and Colab (ipywidgets 7.7 and 8).
"""
from __future__ import annotations

import html
import time
from collections.abc import Callable

import ipywidgets as widgets


class Panel(widgets.VBox):
    """A VBox whose text form is a sentence, not a dump of its children.

    Frontends that cannot run widgets (GitHub, a static site, nbval's text comparison)
    show this sentence instead of ``VBox(children=(...))``.
    """

    def __init__(self, children, *, title: str, **kwargs):
        super().__init__(children, **kwargs)
        self._title = title

    def __repr__(self) -> str:
        return f"[{self._title}: a live widget; run the notebook to interact with it]"


class Status(widgets.HTML):
    """A one-line status: ``ok(text)`` in grey, ``error(text)`` in red."""

    def ok(self, text: str) -> None:
        self.value = f"<span style='color:#555'>{html.escape(text)}</span>"

    def error(self, text: str) -> None:
        self.value = f"<span style='color:#b00020'>&#9888; {html.escape(text)}</span>"

    @property
    def text(self) -> str:
        """The status without markup (for tests)."""
        import re

        return html.unescape(re.sub(r"<[^>]+>", "", self.value)).replace("\u26a0 ", "")


def guarded(fn: Callable, status: Status) -> Callable:
    """Wrap a callback so that any exception is reported in ``status`` instead of raised.

    Returns True/False from the wrapper to say whether the call succeeded (tests use it).
    """

    def wrapper(*args, **kwargs):
        try:
            fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - a widget must never crash; the message is shown
            status.error(f"{type(err).__name__}: {err}")
            return False
        return True

    return wrapper


class Timer:
    """Kernel-side latency of the last update, in milliseconds (``last_ms``) and all of them."""

    def __init__(self):
        self.samples_ms: list[float] = []

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.samples_ms.append(1000 * (time.perf_counter() - self._start))
        return False

    @property
    def last_ms(self) -> float:
        return self.samples_ms[-1] if self.samples_ms else float("nan")
