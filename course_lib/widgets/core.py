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


def plain_message(err: BaseException) -> str:
    """An exception in plain words for a widget's status line (one line, no traceback)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    name = type(err).__name__
    if isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower():
        return "out of memory: that setting needs more memory than this machine has; try a smaller value"
    if isinstance(err, OverflowError):
        return f"a number is too large to compute with ({text or 'overflow'}); try a smaller value"
    if isinstance(err, (ValueError, TypeError)):
        return text or f"invalid setting ({name})"
    if isinstance(err, FloatingPointError):  # DivergenceError
        return text
    return f"unexpected error ({name}): {text}" if text else f"unexpected error ({name})"


def guarded(fn: Callable, status: Status, *, revert: bool = True) -> Callable:
    """Wrap a callback so that any exception is reported in ``status`` instead of raised.

    The message is in plain words (:func:`plain_message`); the callback's last good output
    stays on screen. When the callback was called by a control's ``observe`` (its argument is
    the change dict with ``owner``, ``old`` and ``new``), the control is set back to its old
    value (``revert=False`` keeps it), so that what the control shows is what is in effect.

    Returns True/False from the wrapper to say whether the call succeeded (tests use it).
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callback function, got {type(fn).__name__}")
    if not isinstance(status, Status):
        raise TypeError(f"status must be a course_lib.widgets.Status, got {type(status).__name__}")
    reverting = []

    def wrapper(*args, **kwargs):
        if reverting:  # the control is being set back to its last good value: nothing to redo
            return True
        try:
            fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - a widget must never crash; the message is shown
            status.error(plain_message(err))
            change = args[0] if len(args) == 1 else None
            if revert and isinstance(change, dict) and {"owner", "old", "name"} <= set(change):
                reverting.append(True)
                try:
                    setattr(change["owner"], change["name"], change["old"])
                except Exception:  # noqa: BLE001 - the old value no longer fits: leave it
                    pass
                finally:
                    reverting.clear()
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


def figure_panel(render: Callable, describe: Callable, controls: dict, layout: list, *, title: str,
                 paused: Callable | None = None) -> Panel:
    """The shell of a figure widget: controls above, the rendered figure, a status line.

    ``render()`` reads the controls and returns ``(figure, summary)``; ``describe(summary, ms)``
    turns the summary and the update's kernel time into the status sentence (or returns
    ``("error", sentence)`` to show it as a warning). Every control in ``controls`` ({name:
    widget}, kept as ``panel.controls``) redraws on change; ``layout`` is the list of rows
    (widgets or boxes) shown above the image. While ``paused()`` is true, changes do not redraw
    (a handler that sets several controls at once then calls ``panel.update`` once). Errors go
    to the status line (:func:`guarded`) and the last good figure stays. The panel also keeps
    ``image``, ``status``, ``timer`` and ``update`` (the guarded redraw).
    """
    from course_lib import plotting  # matplotlib is only needed once a figure panel is built

    image = widgets.Image(format="png")
    status = Status()
    timer = Timer()

    def update(_=None):
        if paused is not None and paused():
            return
        with timer:
            fig, summary = render()
            image.value = plotting.figure_to_png(fig)
        message = describe(summary, timer.last_ms)
        if isinstance(message, tuple) and message[0] == "error":
            status.error(message[1])
        else:
            status.ok(message)

    safe_update = guarded(update, status)
    for control in controls.values():
        control.observe(safe_update, names="value")
    safe_update()
    panel = Panel([*layout, image, status], title=title)
    panel.controls = controls
    panel.image, panel.status, panel.timer, panel.update = image, status, timer, safe_update
    return panel
