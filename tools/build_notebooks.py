"""Build the course notebooks from their text twins and run them top to bottom.

Each notebook has a text source ``notebooks/src/NN_name.py`` in the jupytext
"percent" format (so it can be reviewed as a diff, and opened with jupytext):

    # %% [markdown]
    # # A title
    # Some *markdown*.

    # %% tags=["nbval-ignore-output"]
    print("code")

Cell options after ``# %%`` are ``key=<JSON>`` pairs: ``tags=[...]`` and
``slideshow={"slide_type": "slide"}`` become cell metadata. IPython magics are written
commented, as jupytext writes them (``# %matplotlib inline``), so every source parses as
Python; the built cell holds the magic (``%matplotlib inline``).

``python tools/build_notebooks.py [NAMES...]`` converts each source, executes it in a
fresh kernel from the notebooks/ folder (so execution counts are 1..N), fails on any
error or any output written to stderr, records the wall time in the notebook's
metadata (``course.execution_seconds``) and saves ``notebooks/NN_name.ipynb``.
With ``--check`` it only verifies that every .ipynb matches its source.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
import time

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = NOTEBOOKS / "src"


def repository_url() -> str:
    """The public repository: ``[project.urls] Repository`` in pyproject.toml, its one home."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


REPO_URL = repository_url()
"""The public repository (Colab badges and the Colab bootstrap cell clone it)."""

COLAB_BOOTSTRAP = f"""# Colab only: fetch the course and install course_lib; elsewhere this cell does nothing.
import sys
if "google.colab" in sys.modules:
    import os, subprocess
    if not os.path.isdir("/content/dgm-course"):
        subprocess.run(["git", "clone", "--depth", "1", "{REPO_URL}", "/content/dgm-course"], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/dgm-course"], check=True)
    sys.path.insert(0, "/content/dgm-course")
    os.chdir("/content/dgm-course/notebooks")"""
"""The first code cell of every notebook (the source says ``{{COLAB_BOOTSTRAP}}``)."""

CELL_RE = re.compile(r"^# %%(?P<md> \[markdown\])?(?P<opts>.*)$")
MAGIC_RE = re.compile(r"^# (?P<magic>%[A-Za-z]\w*\b.*)$")
"""A line magic commented out the way jupytext writes it (``# %matplotlib inline``), so that
the source parses as Python; the notebook cell gets the magic itself."""
OPT_RE = re.compile(r"(\w+)=")


def colab_badge(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO_URL.split('github.com/')[1]}/blob/main/notebooks/{name}.ipynb"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def _parse_opts(text: str) -> dict:
    text = text.strip()
    meta = {}
    while text:
        m = OPT_RE.match(text)
        if not m:
            raise ValueError(f"cannot parse cell options {text!r}")
        key = m.group(1)
        value, end = json.JSONDecoder().raw_decode(text[m.end():])
        meta[key] = value
        text = text[m.end() + end:].strip()
    return meta


def parse_source(path: pathlib.Path) -> nbformat.NotebookNode:
    """Read a percent-format source into an (unexecuted) notebook."""
    lines = path.read_text(encoding="utf-8").splitlines()
    cells, kind, meta, buf = [], None, {}, []

    def flush():
        if kind is None:
            return
        text = "\n".join(buf).strip("\n")
        if kind == "markdown":
            md = []
            for line in text.splitlines():
                if line.startswith("# "):
                    md.append(line[2:])
                elif line.strip() == "#":
                    md.append("")
                else:
                    raise ValueError(f"{path.name}: markdown line not starting with '# ': {line!r}")
            text = "\n".join(md)
            text = text.replace("{{COLAB_BADGE}}", colab_badge(path.stem))
            cells.append(nbformat.v4.new_markdown_cell(text, metadata=meta))
        else:
            text = "\n".join(MAGIC_RE.sub(r"\g<magic>", line) for line in text.splitlines())
            cell_meta = dict(meta)
            if text.strip() == "{{COLAB_BOOTSTRAP}}":
                text = COLAB_BOOTSTRAP
                cell_meta["tags"] = sorted({*cell_meta.get("tags", []), "colab-bootstrap"})
            cells.append(nbformat.v4.new_code_cell(text, metadata=cell_meta))

    for line in lines:
        m = CELL_RE.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            meta = _parse_opts(m.group("opts"))
            buf = []
        elif kind is not None:
            buf.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, name: str, timeout: int = 300) -> float:
    """Run ``nb`` in a fresh kernel from notebooks/; return wall seconds. Raise on errors/stderr."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    problems = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"code cell {i + 1} wrote to stderr: {out.get('text', '')[:300]!r}")
    if problems:
        raise RuntimeError(f"{name}: " + "; ".join(problems))
    return seconds


def build(name: str) -> float:
    source = SOURCES / f"{name}.py"
    nb = parse_source(source)
    seconds = execute(nb, name)
    nb.metadata["course"] = {"execution_seconds": round(seconds, 1), "source": f"src/{name}.py"}
    for cell in nb.cells:  # cell ids are random otherwise; keep diffs small
        cell.pop("id", None)
    nb.nbformat_minor = 4
    nbformat.write(nb, NOTEBOOKS / f"{name}.ipynb")
    return seconds


def sources_match(name: str) -> bool:
    """True when notebooks/NAME.ipynb has the same cells (source, type) as its text source."""
    built = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    fresh = parse_source(SOURCES / f"{name}.py")
    pairs = [(c.cell_type, c.source) for c in built.cells]
    return pairs == [(c.cell_type, c.source) for c in fresh.cells]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names without extension (default: all)")
    parser.add_argument("--check", action="store_true", help="only check that notebooks match sources")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.stem for p in SOURCES.glob("*.py"))
    if args.check:
        stale = [n for n in names if not sources_match(n)]
        for n in stale:
            print(f"{n}: notebook does not match notebooks/src/{n}.py; rebuild it")
        return 1 if stale else 0
    total = 0.0
    for name in names:
        seconds = build(name)
        total += seconds
        print(f"{name}: executed in {seconds:.1f} s")
    print(f"total: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
