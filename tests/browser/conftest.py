"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a JupyterLab server.

The tests skip, saying why, when Chromium or Playwright is not installed. Set
``COURSE_REQUIRE_BROWSER=1`` (tools/ci_extra.sh does) to make that a failure instead:
CI must never pass by skipping.
"""
from __future__ import annotations

import os

import pytest

from lab_harness import CHROMIUM_ARGS, LabServer, find_chromium

REQUIRED = os.environ.get("COURSE_REQUIRE_BROWSER", "") not in ("", "0")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real Chromium (Playwright)")


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"{reason} (COURSE_REQUIRE_BROWSER is set, so this is an error)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        _unavailable("Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Python Playwright is not installed (pip install -c constraints/browser.txt playwright)")
    with sync_playwright() as p:
        # Never let Playwright download a browser: use the system Chromium.
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def lab_server(browser, tmp_path_factory):
    with LabServer(tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server
