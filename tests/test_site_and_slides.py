"""The static site (tools/build_site.py) and the slide decks (tools/build_slides.py) as built.

Checks the HTML in _site/: every executed notebook has a page and a deck, the index links
every page, no page loads a script, style, font or image from another server (the site
must open offline), every local link and asset resolves (fragments included), decks have
one slide per section plus the speaker notes, and figures appear as pictures.

The builders vendor assets from npm, so these tests read what was built instead of
building: they skip when _site/ has not been built, unless COURSE_REQUIRE_BUILT=1
(tools/ci_extra.sh builds first and sets it). A browser test (tests/browser/
test_static_pages.py) also opens every page in Chromium and watches the network.
"""
from __future__ import annotations

import html.parser
import json
import os
import pathlib
import re
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SITE = ROOT / "_site"
SLIDES = SITE / "slides"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REQUIRED = os.environ.get("COURSE_REQUIRE_BUILT", "") not in ("", "0")

EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, //cdn...
INLINE_URL = re.compile(r"""["'`]\s*(?:https?:)?//[^"'`\s]+""", re.I)  # a URL as a string in a script
CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])\s*((?:https?:)?//[^"')\s]+)""", re.I)
# (tag, attribute) pairs that make the browser fetch something when the page opens
FETCHING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
            ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"), ("track", "src"),
            ("input", "src"), ("image", "href")}


def _require_built(path: pathlib.Path) -> None:
    if not path.exists():
        message = f"{path.relative_to(ROOT)} is not built (python tools/build_slides.py && python tools/build_site.py)"
        if REQUIRED:
            pytest.fail(message + "; COURSE_REQUIRE_BUILT is set")
        pytest.skip(message)


class _Page(html.parser.HTMLParser):
    """Collects what a page fetches, where it links to, its ids, its scripts and styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fetches, self.links, self.ids = [], [], set()
        self.inline_scripts, self.styles, self.sections, self.notes = [], [], 0, 0
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for attr in ("src", "href", "data"):
            value = a.get(attr)
            if value is None:
                continue
            if (tag, attr) in FETCHING and not (tag == "link" and a.get("rel") in ("canonical",)):
                self.fetches.append((tag, value))
            elif tag == "a" and attr == "href":
                self.links.append(value)
        if a.get("style"):
            self.styles.append(a["style"])
        if tag == "section":
            self.sections += 1
        if tag == "aside" and "notes" in (a.get("class") or "").split():
            self.notes += 1
        if tag == "script" and "src" not in a and not (a.get("type") or "").endswith("json"):
            self._in = "script"
        elif tag == "style":
            self._in = "style"

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.inline_scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)


def _parse(path: pathlib.Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _pages() -> list[pathlib.Path]:
    found = sorted(SITE.glob("*.html")) + sorted(SLIDES.glob("*.html"))
    return found


def _resolve(page: pathlib.Path, target: str) -> tuple[pathlib.Path, str]:
    url = urllib.parse.urlsplit(target)
    path = urllib.parse.unquote(url.path)
    file = page if not path else (page.parent / path).resolve()
    return file, url.fragment


def _local(target: str) -> bool:
    return not (EXTERNAL.match(target) or target.startswith(("data:", "blob:", "javascript:", "mailto:"))
                or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I))


# ---------------------------------------------------------------------- the tests


def test_every_notebook_has_a_page_and_a_deck():
    _require_built(SITE / "index.html")
    _require_built(SLIDES)
    assert NOTEBOOKS, "no executed notebooks"
    for nb in NOTEBOOKS:
        assert (SITE / f"{nb.stem}.html").is_file(), f"no page for {nb.name}"
        assert (SLIDES / f"{nb.stem}.slides.html").is_file(), f"no slide deck for {nb.name}"
        assert (SITE / "notebooks" / nb.name).is_file(), f"{nb.name} is not offered for download"
    stale = {p.stem for p in SITE.glob("[0-9][0-9]_*.html")} - {nb.stem for nb in NOTEBOOKS}
    assert not stale, f"pages without a notebook (rebuild into a clean _site/): {sorted(stale)}"


def test_index_links_every_page_and_deck_in_course_order():
    _require_built(SITE / "index.html")
    links = _parse(SITE / "index.html").links
    pages = [link for link in links if re.fullmatch(r"\d\d_\w+\.html", link)]
    assert pages == [f"{nb.stem}.html" for nb in NOTEBOOKS]
    if SLIDES.is_dir():
        assert [link for link in links if link.startswith("slides/")] == [
            f"slides/{nb.stem}.slides.html" for nb in NOTEBOOKS]


def test_pages_fetch_nothing_from_other_servers():
    _require_built(SITE / "index.html")
    problems = []
    for path in _pages():
        page = _parse(path)
        name = path.relative_to(SITE)
        problems += [f"{name}: <{tag}> loads {url[:120]}" for tag, url in page.fetches if EXTERNAL.match(url)]
        for script in page.inline_scripts:
            problems += [f"{name}: a script refers to {m.group(0)[1:]}" for m in INLINE_URL.finditer(script)]
        for style in page.styles:
            problems += [f"{name}: a style loads {m.group(1)}" for m in CSS_URL.finditer(style)]
    for css in sorted((SITE / "assets").rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # URLs in comments are not fetched
        problems += [f"{css.relative_to(SITE)} loads {m.group(1)}" for m in CSS_URL.finditer(text)]
    assert not problems, "\n".join(problems[:30])


def test_local_links_and_assets_resolve():
    _require_built(SITE / "index.html")
    problems, ids = [], {}
    for path in _pages():
        page = _parse(path)
        ids[path.resolve()] = page.ids
        for kind, targets in (("asset", [u for _, u in page.fetches]), ("link", page.links)):
            for target in targets:
                if not _local(target):
                    continue
                file, fragment = _resolve(path, target)
                if not file.is_file():
                    problems.append(f"{path.relative_to(SITE)}: {kind} {target} -> missing {file.name}")
                elif fragment and file.suffix == ".html":
                    known = ids.get(file) or _parse(file).ids
                    ids[file] = known
                    # a browser tries the fragment as written, then percent-decoded
                    if fragment not in known and urllib.parse.unquote(fragment) not in known:
                        problems.append(f"{path.relative_to(SITE)}: link {target}: no #{fragment} there")
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_decks_have_a_slide_per_section_and_the_notes(nb_path):
    deck = SLIDES / f"{nb_path.stem}.slides.html"
    _require_built(deck)
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    kinds = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in cells]
    assert kinds and kinds[0] == "slide", "the title cell must start a slide"
    page = _parse(deck)
    # nbconvert wraps each slide (and each subslide) in a <section>
    assert page.sections >= kinds.count("slide"), (page.sections, kinds.count("slide"))
    # speaker notes: consecutive notes cells share one <aside class="notes">
    notes = kinds.count("notes")
    assert (page.notes > 0) == (notes > 0) and page.notes <= notes, (page.notes, notes)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_appear_as_pictures(nb_path):
    """A figure saved only as text ("<Figure size 800x80 with 10 Axes>") shows no picture on the site.

    It happens when a notebook displays a matplotlib Figure without the inline backend
    being active (no pyplot import, no ``%matplotlib inline``).
    """
    page = SITE / f"{nb_path.stem}.html"
    _require_built(page)
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    texts_only, pictures = [], 0
    for i, cell in enumerate((c for c in nb["cells"] if c["cell_type"] == "code"), 1):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data or "image/svg+xml" in data:
                pictures += 1
            elif "".join(data.get("text/plain", "")).startswith("<Figure size"):
                texts_only.append(i)
    assert not texts_only, f"code cells {texts_only} saved a figure as text only; add `%matplotlib inline`"
    shown = page.read_text(encoding="utf-8").count('src="data:image/png') + page.read_text(
        encoding="utf-8").count("<svg")
    assert shown >= pictures
