"""The JavaScript/CSS the static site and the slides need, vendored from npm at build time.

nbconvert's templates load reveal.js, MathJax, require.js, jQuery and the widget renderer
from CDNs by default. The course's site and slides must open offline, so
``vendor_assets(dest)`` copies pinned versions of those packages into ``dest`` (once
fetched with ``npm pack``, the tarballs are cached in build/npm/ and reused), and the
builders point nbconvert at the local copies with relative URLs.

Used by tools/build_site.py and tools/build_slides.py; nothing here runs at import time.
"""
from __future__ import annotations

import copy
import json
import pathlib
import re
import shutil
import subprocess
import tarfile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NPM_CACHE = ROOT / "build" / "npm"
REPO_URL = tomllib.loads((ROOT / "pyproject.toml").read_text())[
    "project"]["urls"]["Repository"]
"""The public repository, read from pyproject.toml's [project.urls] (its one home)."""

# Exact versions (npm). MathJax stays on 2.7: nbconvert's templates call the MathJax 2 API.
PINS = {
    "reveal.js": "5.2.1",
    "mathjax": "2.7.9",
    "jquery": "3.7.1",
    "requirejs": "2.3.7",
    "@jupyter-widgets/html-manager": "1.0.15",  # renders saved widget state (ipywidgets 8)
}

# What each package contributes: (path inside the npm package, path under the assets folder).
_FILES = {
    "reveal.js": [("dist/reveal.js", "reveal.js/dist/reveal.js"),
                  ("dist/reveal.css", "reveal.js/dist/reveal.css"),
                  ("dist/reset.css", "reveal.js/dist/reset.css"),
                  # the one theme the decks use (others import fonts from Google's servers)
                  ("dist/theme/white.css", "reveal.js/dist/theme/white.css"),
                  ("dist/theme/fonts/source-sans-pro", "reveal.js/dist/theme/fonts/source-sans-pro"),
                  ("plugin/notes/notes.js", "reveal.js/plugin/notes/notes.js"),
                  ("LICENSE", "reveal.js/LICENSE")],
    "mathjax": [(p, f"mathjax/{p}") for p in (
        "MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "config/local",
        "extensions", "jax/input/TeX", "jax/element", "jax/output/CommonHTML",
        "jax/output/PreviewHTML", "localization/en", "fonts/HTML-CSS/TeX/woff", "LICENSE")],
    "jquery": [("dist/jquery.min.js", "jquery.min.js"), ("LICENSE.txt", "jquery.LICENSE.txt")],
    "requirejs": [("require.js", "require.js")],
    "@jupyter-widgets/html-manager": [("dist", "html-manager")],
}
_SKIP = re.compile(r"\.(map|esm\.js)$|^embed\.js|^libembed-amd\.js")  # not used by the pages

# URLs of the vendored files, relative to the assets folder (the builders prefix them).
URLS = {
    "require_js": "require.js",
    "jquery": "jquery.min.js",
    "mathjax": "mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "widgets": "html-manager/embed-amd.js",
    "reveal": "reveal.js",
    "colab_badge": "colab-badge.svg",
    "css": "course.css",
}

# Our own drawing of the "Open in Colab" badge, so the pages show it without a network.
COLAB_BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img" aria-label="Open in Colab">
<rect rx="3" width="117" height="20" fill="#555"/><rect rx="3" x="40" width="77" height="20" fill="#f9ab00"/>
<rect x="40" width="4" height="20" fill="#f9ab00"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="6" y="14">Open</text><text x="47" y="14" fill="#222">in Colab</text></g></svg>
"""

COURSE_CSS = """/* Navigation bar of the course site (tools/build_site.py) */
.course-nav { display: flex; gap: 1.2em; align-items: center; padding: 0.6em 1em;
  border-bottom: 1px solid #ddd; font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px;
  background: #fafafa; position: sticky; top: 0; z-index: 10; }
.course-nav a { text-decoration: none; color: #1a5fb4; }
.course-nav .spacer { flex: 1; }
.course-index { max-width: 60em; margin: 2em auto; font-family: sans-serif; line-height: 1.5; padding: 0 1em; }
.course-index table { border-collapse: collapse; width: 100%; }
.course-index td, .course-index th { border-bottom: 1px solid #ddd; padding: 0.4em 0.6em; text-align: left; }
.course-index td:nth-child(3) { white-space: nowrap; }
"""


def widget_loader_config(assets: str) -> str:
    """A script for the page head, after require.js: where the widget renderer's files are.

    The renderer (an AMD bundle) computes the URL of its icon fonts from its module names
    (``@jupyter-widgets/...``), which require.js would resolve against the page's folder.
    """
    folder = f"{assets}/html-manager"
    return ("<script>\n"
            f'window.__jupyter_widgets_assets_path__ = "{folder}/";\n'
            f'require.config({{paths: {{"@jupyter-widgets/html-manager/dist": "{folder}", '
            f'"@jupyter-widgets": "{folder}"}}}});\n'
            "</script>")


class VendorError(RuntimeError):
    """An asset could not be fetched (no npm, or no registry) and is not cached."""


def _package_dir(name: str) -> pathlib.Path:
    """Extracted npm package ``name`` at its pinned version (fetched once, then cached)."""
    version = PINS[name]
    slug = name.replace("@", "").replace("/", "-")
    target = NPM_CACHE / f"{slug}-{version}"
    if (target / ".complete").is_file():
        return target / "package"
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(f"npm is needed once to fetch {name}@{version} (then cached in {NPM_CACHE})")
    proc = subprocess.run(
        [npm, "pack", "--silent", "--json", "--pack-destination", str(NPM_CACHE), f"{name}@{version}"],
        capture_output=True, text=True, cwd=NPM_CACHE)
    if proc.returncode != 0:
        raise VendorError(f"`npm pack {name}@{version}` failed:\n{proc.stderr.strip()[-2000:]}")
    info = json.loads(proc.stdout)[0]
    tarball = NPM_CACHE / info["filename"]
    if info.get("version") != version:
        raise VendorError(f"npm returned {name}@{info.get('version')}, expected {version}")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")  # refuses absolute paths and links outside
    (target / ".complete").write_text(json.dumps({"name": name, "version": version,
                                                  "integrity": info.get("integrity")}))
    return target / "package"


def _copy(src: pathlib.Path, dest: pathlib.Path) -> None:
    if src.is_dir():
        for path in src.rglob("*"):
            if path.is_file() and not _SKIP.search(path.name):
                out = dest / path.relative_to(src)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def vendor_assets(dest: pathlib.Path, *, packages=None) -> pathlib.Path:
    """Copy the pinned assets (all packages, or ``packages``) into ``dest``; return ``dest``."""
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in packages or PINS:
        pkg = _package_dir(name)
        for inside, outside in _FILES[name]:
            src = pkg / inside
            if not src.exists():
                raise VendorError(f"{name}@{PINS[name]} has no {inside}")
            _copy(src, dest / outside)
    (dest / URLS["colab_badge"]).write_text(COLAB_BADGE_SVG, encoding="utf-8")
    (dest / URLS["css"]).write_text(COURSE_CSS, encoding="utf-8")
    (dest / "VERSIONS.json").write_text(json.dumps(PINS, indent=2) + "\n", encoding="utf-8")
    return dest


# ---------------------------------------------------------------------- notebooks


def executed_notebooks() -> list[pathlib.Path]:
    """The committed notebooks, in course order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def notebook_title(nb) -> str:
    """The first markdown heading of a notebook, without a leading number ("04 · ")."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return re.sub(r"^\d\d\s*[·:.\-–—]\s*", "", line.lstrip("#").strip())
    return "Untitled"


MERMAID = re.compile(r"```\s*mermaid")


def check_no_mermaid(nb, name: str) -> None:
    """The builders drop nbconvert's Mermaid loader (a CDN import); refuse a notebook that needs it."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and MERMAID.search(cell.source):
            raise ValueError(f"{name} has a Mermaid diagram; vendor mermaid in tools/web_assets.py first")


COLAB_BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
COURSE_NOTEBOOK = re.compile(r"\d\d_[A-Za-z0-9_]+")
_MD_LINK = re.compile(r"(\]\(\s*<?)([^)\s>]+)(>?(?:\s+\"[^\"]*\")?\s*\))")  # [text](target "title")
_HTML_LINK = re.compile(r'((?:href|src)=")([^"]+)(")')


def _site_target(target: str, *, page_ext: str, assets: str) -> str:
    """Where a link of a notebook's markdown should point on the site."""
    if target == COLAB_BADGE_URL:
        return f"{assets}/{URLS['colab_badge']}"
    if ":" in target.split("/")[0] or target.startswith(("#", "//")):
        return target  # external (http:, https:, mailto:, data:) or within the page
    path, _, frag = target.partition("#")
    frag = f"#{frag}" if frag else ""
    stem = path[:-len(".ipynb")] if path.endswith(".ipynb") else None
    if stem is not None and "/" not in stem and COURSE_NOTEBOOK.fullmatch(stem):
        # a course notebook: its page (a page that does not exist is a broken link the tests report)
        return f"{stem}{page_ext}{frag}"
    parts = []
    for part in ("notebooks/" + path).split("/"):  # the file in the repository, normalised
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return f"{REPO_URL}/blob/main/{'/'.join(parts)}{frag}"


def site_notebook(nb, *, page_ext: str, assets: str):
    """A copy of ``nb`` whose markdown links work on the site.

    - links to course notebooks (``01_concepts.ipynb``) become links to their pages;
    - other relative links (``../course_lib/losses.py``) point to the file on GitHub;
    - the Colab badge image comes from ``assets`` instead of Google's server.

    Markdown cells and the HTML/markdown outputs of code cells are rewritten.
    """
    nb = copy.deepcopy(nb)
    fix = lambda m: m.group(1) + _site_target(m.group(2), page_ext=page_ext, assets=assets) + m.group(3)  # noqa: E731
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _HTML_LINK.sub(fix, _MD_LINK.sub(fix, cell.source))
        for out in cell.get("outputs", []):  # tables of links printed by code (the glossary)
            data = out.get("data", {})
            for mime in ("text/html", "text/markdown"):
                if mime in data:
                    text = "".join(data[mime]) if isinstance(data[mime], list) else data[mime]
                    data[mime] = _HTML_LINK.sub(fix, _MD_LINK.sub(fix, text) if mime == "text/markdown" else text)
    return nb

