"""The built site and slide decks, opened in headless Chromium with the network cut off.

Every page of _site/ (served from loopback, as a static host would) and every deck (also
opened straight from disk, as an instructor would) must load without a console error and
without a single request to another server; math must be typeset by the vendored MathJax,
saved widgets drawn by the vendored widget renderer, and the decks must respond to the
keyboard (next slide). Skips when _site/ is not built, unless COURSE_REQUIRE_BUILT=1.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import threading
import time

import pytest

from lab_harness import ROOT, SCREENSHOTS
from page_watch import watch

pytestmark = pytest.mark.browser

SITE = ROOT / "_site"
REQUIRED = os.environ.get("COURSE_REQUIRE_BUILT", "") not in ("", "0")
PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.glob("*.html")) if SITE.is_dir() else []
DECKS = sorted(p.relative_to(SITE).as_posix() for p in SITE.glob("slides/*.html")) if SITE.is_dir() else []

JS_MATHJAX_IDLE = """() => !window.MathJax || !MathJax.Hub ||
    (MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0)"""
JS_FACTS = """() => ({
  math: document.querySelectorAll('.MathJax_CHTML, .MathJax_Display, .MJXc-display').length,
  mathErrors: document.querySelectorAll('.MathJax_Error, .merror').length,
  widgetImages: [...document.querySelectorAll('img.widget-image')].map(i => i.naturalWidth),
  slide: (document.querySelector('.slide-number') || {}).innerText || '',
})"""


def _has_math(stem: str) -> bool:
    nb = ROOT / "notebooks" / f"{stem}.ipynb"
    if not nb.is_file():
        return False
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return any(c["cell_type"] == "markdown" and "$" in "".join(c["source"]) for c in cells)


def _has_saved_widget_image(stem: str) -> bool:
    nb = ROOT / "notebooks" / f"{stem}.ipynb"
    if not nb.is_file():
        return False
    state = json.loads(nb.read_text(encoding="utf-8")).get("metadata", {}).get("widgets", {})
    models = state.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return any(m.get("model_name") == "ImageModel" for m in models.values())


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").is_file():
        message = "_site/ is not built (python tools/build_slides.py && python tools/build_site.py)"
        if REQUIRED:
            pytest.fail(message + "; COURSE_REQUIRE_BUILT is set", pytrace=False)
        pytest.skip(message)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _open(browser, url: str, shot: str | None):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    record = watch(page)
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_function(JS_MATHJAX_IDLE, timeout=60_000, polling=200)
    return context, page, record


def _check(page, record, stem: str, what: str):
    facts = page.evaluate(JS_FACTS)
    if _has_math(stem):
        assert facts["math"] > 0, f"{what}: the math was not typeset"
    assert facts["mathErrors"] == 0, f"{what}: MathJax reported {facts['mathErrors']} errors"
    return facts


@pytest.mark.parametrize("name", PAGES or ["index.html"])
def test_site_page_opens_offline(name, site_url, browser):
    stem = name[:-len(".html")]
    context, page, record = _open(browser, f"{site_url}/{name}", None)
    try:
        if _has_saved_widget_image(stem):
            page.wait_for_function(
                "() => [...document.querySelectorAll('img.widget-image')].some(i => i.naturalWidth > 0)",
                timeout=60_000)
        _check(page, record, stem, name)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"site_{stem}.png")
        assert not record.problems(), f"{name}: " + "; ".join(record.problems())
        assert not [url for _, url in record.external], f"{name}: requests left the machine: {record.external}"
    finally:
        context.close()


@pytest.mark.parametrize("name", DECKS or ["slides/none.slides.html"])
@pytest.mark.parametrize("how", ["http", "file"])
def test_deck_opens_offline_and_advances(name, how, site_url, browser):
    stem = name.split("/")[-1][:-len(".slides.html")]
    url = f"{site_url}/{name}" if how == "http" else (SITE / name).as_uri()
    context, page, record = _open(browser, url, None)
    try:
        page.wait_for_selector(".reveal.ready", timeout=60_000)
        first = page.evaluate(JS_FACTS)["slide"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if how == "http":
            page.screenshot(path=SCREENSHOTS / f"slides_{stem}_1.png")
        page.keyboard.press("ArrowRight")
        deadline = time.monotonic() + 10
        while page.evaluate(JS_FACTS)["slide"] == first and time.monotonic() < deadline:
            time.sleep(0.1)
        second = page.evaluate(JS_FACTS)["slide"]
        assert second != first, f"{name}: the deck did not advance (slide number {first!r})"
        page.wait_for_function(JS_MATHJAX_IDLE, timeout=60_000, polling=200)
        time.sleep(1.0)  # let the slide transition finish before the picture
        if how == "http":
            page.screenshot(path=SCREENSHOTS / f"slides_{stem}_2.png")
        facts = page.evaluate(JS_FACTS)
        assert facts["mathErrors"] == 0, f"{name}: MathJax reported errors"
        assert not record.problems(), f"{name} ({how}): " + "; ".join(record.problems())
        assert not [u for _, u in record.external], f"{name}: requests left the machine: {record.external}"
    finally:
        context.close()
