"""Export the executed notebooks to a static HTML site that works offline: ``_site/``.

    python tools/build_site.py            # -> _site/index.html, _site/NN_name.html, ...
    python -m http.server -d _site 8000   # then open http://127.0.0.1:8000

Each notebook becomes one page (nbconvert, JupyterLab look) with a navigation bar
(previous / index / next / slides / the .ipynb itself); ``index.html`` lists them in
course order. No page loads anything from another server: MathJax, require.js and the
widget renderer (which draws each widget as it was at the end of the saved run) are
vendored from npm into ``_site/assets/`` (tools/web_assets.py), and the Colab badge image
is a local copy. Links between notebooks point to their pages; links to other files of
the repository point to the file on GitHub.

Slides (tools/build_slides.py) go to ``_site/slides/``; build them first and the index
links to them. tests/test_site_and_slides.py checks the result.
"""
from __future__ import annotations

import argparse
import html
import pathlib
import re
import shutil
import sys
import time

import jinja2
import nbformat
from nbconvert import HTMLExporter

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import web_assets  # noqa: E402

ROOT = web_assets.ROOT
DEFAULT_OUT = ROOT / "_site"

PAGE_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{#- nbconvert's Mermaid loader imports from a CDN; the course has no Mermaid diagrams. -#}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js -%}
{{ super() }}
{{ resources.course.widget_loader }}
{%- endblock html_head_js -%}
{% block extra_css %}<link rel="stylesheet" href="{{ resources.course.assets }}/course.css">{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
<nav class="course-nav" aria-label="course">
  {% if resources.course.prev %}<a class="prev" href="{{ resources.course.prev.href }}">&larr; {{ resources.course.prev.title | e }}</a>{% endif %}
  <a class="index" href="index.html">All notebooks</a>
  {% if resources.course.next %}<a class="next" href="{{ resources.course.next.href }}">{{ resources.course.next.title | e }} &rarr;</a>{% endif %}
  <span class="spacer"></span>
  {% if resources.course.slides %}<a class="slides" href="{{ resources.course.slides }}">Slides</a>{% endif %}
  <a class="download" href="{{ resources.course.ipynb }}" download>Download .ipynb</a>
</nav>
{%- endblock body_header -%}
"""

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="stylesheet" href="assets/course.css">
</head>
<body>
<main class="course-index">
<h1>{title}</h1>
<p>An open, interactive course on deep generative models, built and checked in JAX.
Each page below is a notebook as it was executed; to run it and use its widgets, open the
notebook in JupyterLab, VS Code or Colab (see the repository's README).</p>
<table>
<thead><tr><th>#</th><th>Notebook</th><th>Time</th><th></th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p>Built from the repository's notebooks by <code>tools/build_site.py</code>.</p>
</main>
</body>
</html>
"""

TIME_RE = re.compile(r"\*\*Time:\*\*\s*([^.*]+)")


def _time_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = TIME_RE.search(cell.source)
            if m:
                return m.group(1).strip()
    return ""


def make_exporter() -> HTMLExporter:
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"course_page.html.j2": PAGE_TEMPLATE})],
    )
    exporter.template_file = "course_page.html.j2"
    assets = "assets"
    exporter.require_js_url = f"{assets}/{web_assets.URLS['require_js']}"
    exporter.mathjax_url = f"{assets}/{web_assets.URLS['mathjax']}"
    exporter.jquery_url = f"{assets}/{web_assets.URLS['jquery']}"
    exporter.widget_renderer_url = f"{assets}/{web_assets.URLS['widgets']}"
    return exporter


def build(out: pathlib.Path = DEFAULT_OUT, names: list[str] | None = None) -> list[pathlib.Path]:
    """Write the site into ``out``; return the pages written (index first)."""
    out = pathlib.Path(out)
    paths = web_assets.executed_notebooks()
    if names:
        paths = [p for p in paths if p.stem in names]
    if not paths:
        raise SystemExit("no executed notebooks in notebooks/ to export")
    web_assets.vendor_assets(out / "assets", packages=["mathjax", "jquery", "requirejs",
                                                       "@jupyter-widgets/html-manager"])
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    notebooks = [(p, nbformat.read(p, as_version=4)) for p in paths]
    titles = {p.stem: web_assets.notebook_title(nb) for p, nb in notebooks}
    exporter = make_exporter()
    written = []
    for i, (path, nb) in enumerate(notebooks):
        web_assets.check_no_mermaid(nb, path.name)
        neighbour = lambda j: ({"href": f"{notebooks[j][0].stem}.html", "title": titles[notebooks[j][0].stem]}  # noqa: E731
                               if 0 <= j < len(notebooks) else None)
        slides = out / "slides" / f"{path.stem}.slides.html"
        resources = {"metadata": {"name": titles[path.stem]}, "course": {
            "assets": "assets", "widget_loader": web_assets.widget_loader_config("assets"),
            "prev": neighbour(i - 1), "next": neighbour(i + 1),
            "slides": f"slides/{slides.name}" if slides.is_file() else "",
            "ipynb": f"notebooks/{path.name}"}}
        page_nb = web_assets.site_notebook(nb, page_ext=".html", assets="assets")
        body, _ = exporter.from_notebook_node(page_nb, resources=resources)
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        shutil.copy2(path, out / "notebooks" / path.name)
        written.append(page)
    rows = []
    for path, nb in notebooks:
        number = path.stem.split("_", 1)[0]
        slides = out / "slides" / f"{path.stem}.slides.html"
        slide_link = f'<a href="slides/{slides.name}">slides</a>' if slides.is_file() else ""
        rows.append(f'<tr><td>{number}</td><td><a href="{path.stem}.html">{html.escape(titles[path.stem])}</a></td>'
                    f'<td>{html.escape(_time_of(nb))}</td><td>{slide_link}</td></tr>')
    index = out / "index.html"
    index.write_text(INDEX_TEMPLATE.format(title="Deep generative models, built and checked in JAX",
                                           rows="\n".join(rows)), encoding="utf-8")
    return [index] + written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names without extension (default: all)")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="output folder (default: _site)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        pages = build(args.out, args.names or None)
    except web_assets.VendorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for page in pages:
        print(f"wrote {page.relative_to(args.out.resolve()) if page.is_absolute() else page}")
    print(f"site: {len(pages)} pages in {time.perf_counter() - start:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
