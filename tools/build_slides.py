"""Build reveal.js slide decks of the notebooks that open offline: ``_site/slides/``.

    python tools/build_slides.py          # -> _site/slides/NN_name.slides.html
    python -m http.server -d _site 8000   # then open http://127.0.0.1:8000/slides/00_start_here.slides.html

The decks follow the slide metadata of the notebooks (``slideshow.slide_type``): a title
slide, one slide per section, fragments for step-by-step derivations, and speaker notes
(press ``s`` in a deck to open the speaker view). The Colab bootstrap cell is left out.
reveal.js, MathJax, require.js and jQuery come from npm at pinned versions, copied into
``_site/assets/`` at build time (tools/web_assets.py): opening a deck fetches nothing
from a CDN. For presenting live from a running notebook instead, install jupyterlab-rise
(``pip install -c constraints/browser.txt jupyterlab-rise``) and use its slideshow button.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jinja2
import nbformat
from nbconvert import SlidesExporter

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import web_assets  # noqa: E402

ROOT = web_assets.ROOT
DEFAULT_OUT = ROOT / "_site" / "slides"

DECK_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{#- nbconvert imports Mermaid from a CDN here; the course has no Mermaid diagrams. -#}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_requirejs -%}
{{ super() }}
{{ resources.course.widget_loader }}
{%- endblock html_head_js_requirejs -%}
"""


def make_exporter(assets: str) -> SlidesExporter:
    exporter = SlidesExporter(
        template_name="reveal",
        extra_loaders=[jinja2.DictLoader({"course_deck.html.j2": DECK_TEMPLATE})],
    )
    exporter.template_file = "course_deck.html.j2"
    exporter.reveal_url_prefix = f"{assets}/{web_assets.URLS['reveal']}"
    exporter.reveal_theme = "white"
    exporter.reveal_scroll = True  # long slides scroll instead of being cut off
    exporter.reveal_number = "c/t"
    exporter.require_js_url = f"{assets}/{web_assets.URLS['require_js']}"
    exporter.mathjax_url = f"{assets}/{web_assets.URLS['mathjax']}"
    exporter.jquery_url = f"{assets}/{web_assets.URLS['jquery']}"
    exporter.widget_renderer_url = f"{assets}/{web_assets.URLS['widgets']}"
    return exporter


def deck_notebook(nb, *, assets: str):
    """The notebook as presented: links fixed for the deck, Colab bootstrap cell skipped."""
    nb = web_assets.site_notebook(nb, page_ext=".slides.html", assets=assets)
    for cell in nb.cells:
        if "colab-bootstrap" in cell.metadata.get("tags", []):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = "skip"
    return nb


def build(out: pathlib.Path = DEFAULT_OUT, names: list[str] | None = None) -> list[pathlib.Path]:
    """Write one deck per notebook into ``out`` (assets go to ``out/../assets``)."""
    out = pathlib.Path(out)
    paths = web_assets.executed_notebooks()
    if names:
        paths = [p for p in paths if p.stem in names]
    if not paths:
        raise SystemExit("no executed notebooks in notebooks/ to present")
    web_assets.vendor_assets(out.parent / "assets")
    out.mkdir(parents=True, exist_ok=True)
    exporter = make_exporter("../assets")
    written = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        web_assets.check_no_mermaid(nb, path.name)
        resources = {"metadata": {"name": web_assets.notebook_title(nb)},
                     "course": {"widget_loader": web_assets.widget_loader_config("../assets")}}
        body, _ = exporter.from_notebook_node(deck_notebook(nb, assets="../assets"), resources=resources)
        deck = out / f"{path.stem}.slides.html"
        deck.write_text(body, encoding="utf-8")
        written.append(deck)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names without extension (default: all)")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="output folder (default: _site/slides)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        decks = build(args.out, args.names or None)
    except web_assets.VendorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for deck in decks:
        print(f"wrote {deck}")
    print(f"slides: {len(decks)} decks in {time.perf_counter() - start:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
