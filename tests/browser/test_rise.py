"""Live presenting with jupyterlab-rise (the dev environment's slideshow for JupyterLab).

For every notebook: RISE's slideshow page (``/rise/<notebook>``) shows a reveal.js deck
with at least one slide per section of the notebook's slide metadata, and the keyboard
moves to the next slide. Skips when jupyterlab-rise is not installed.

Console errors are *not* asserted here, unlike the other browser tests: jupyterlab-rise
0.43.1 logs errors of its own when it loads the widget manager of ipywidgets 8.1 ("Shared
module @jupyterlab/console doesn't exist in shared scope") and its default theme asks
Google's servers for fonts. Neither is the course's to fix; docs/instructor_guide.md
says to run widget demos from the notebook view, not from RISE.
"""
from __future__ import annotations

import importlib.util
import json
import time

import pytest

from lab_harness import NOTEBOOKS, SCREENSHOTS
from page_watch import ALLOWED_EXTERNAL_IMAGES, watch

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(importlib.util.find_spec("jupyterlab_rise") is None,
                       reason="jupyterlab-rise is not installed (pip install -c constraints/browser.txt jupyterlab-rise)"),
]

PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_rise_presents_the_notebook(path, lab_server, browser):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    slides = sum(c.get("metadata", {}).get("slideshow", {}).get("slide_type") == "slide" for c in cells)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    record = watch(page)  # keeps every request on this machine
    try:
        page.goto(f"{lab_server.base}/rise/{path.name}?token={lab_server.token}")
        page.wait_for_selector(".reveal.ready", timeout=120_000)
        sections = page.evaluate("() => document.querySelectorAll('.reveal .slides > section').length")
        assert sections >= slides, f"RISE shows {sections} slides, the notebook has {slides} sections"
        current = lambda: page.evaluate(  # noqa: E731
            "() => { const s = document.querySelector('.reveal .slides > section.present');"
            " return s ? [...s.parentNode.children].indexOf(s) : -1; }")
        first = current()
        page.keyboard.press("ArrowRight")
        deadline = time.monotonic() + 10
        while current() == first and time.monotonic() < deadline:
            time.sleep(0.1)
        assert current() != first, "the RISE slideshow did not advance"
        time.sleep(1.0)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"rise_{path.stem}.png")
        leaks = [u for _, u in record.external
                 if "fonts.googleapis.com" not in u and u not in ALLOWED_EXTERNAL_IMAGES]
        assert not leaks, f"RISE requested {leaks}"
    finally:
        context.close()
        lab_server.shutdown_kernels()
