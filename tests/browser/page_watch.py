"""Watch a Playwright page: console errors, uncaught page errors, requests leaving the machine.

Requests to loopback, ``file:``, ``blob:`` and ``data:`` go through. Any other request is
recorded and never reaches the network: the course must work offline. The one external
resource the notebooks carry on purpose, the Open-in-Colab badge image, is answered with
a local placeholder so that its absence does not show up as a console error.
"""
from __future__ import annotations

import dataclasses
import urllib.parse

ALLOWED_EXTERNAL_IMAGES = ("https://colab.research.google.com/assets/colab-badge.svg",)
_PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20">'
    '<rect width="117" height="20" fill="#ddd"/></svg>'
)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclasses.dataclass
class PageWatch:
    console_errors: list = dataclasses.field(default_factory=list)
    page_errors: list = dataclasses.field(default_factory=list)
    external: list = dataclasses.field(default_factory=list)  # (resource_type, url)
    console_all: list = dataclasses.field(default_factory=list)

    def problems(self) -> list[str]:
        out = [f"console error: {t}" for t in self.console_errors]
        out += [f"uncaught page error: {t}" for t in self.page_errors]
        out += [f"external request ({kind}): {url}" for kind, url in self.external
                if url not in ALLOWED_EXTERNAL_IMAGES]
        return out


def _is_local(url: str) -> bool:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("file", "blob", "data", "about", "chrome-error"):
        return True
    return parsed.hostname in LOCAL_HOSTS


def watch(page) -> PageWatch:
    """Attach listeners and a network guard to ``page``; return the record they fill."""
    record = PageWatch()

    def on_console(msg):
        record.console_all.append(f"{msg.type}: {msg.text}")
        if msg.type == "error":
            record.console_errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda err: record.page_errors.append(str(err)))

    def guard(route):
        request = route.request
        if _is_local(request.url):
            route.continue_()
            return
        record.external.append((request.resource_type, request.url))
        if request.url in ALLOWED_EXTERNAL_IMAGES:
            route.fulfill(status=200, content_type="image/svg+xml", body=_PLACEHOLDER_SVG)
        else:
            route.abort("blockedbyclient")

    page.route("**/*", guard)
    return record
