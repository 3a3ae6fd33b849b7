"""Make the student copies of the notebooks: exercise solutions become stubs. -> build/student/

    python tools/make_student_copies.py            # all notebooks
    python tools/make_student_copies.py 04_vae     # some of them
    python tools/make_student_copies.py --out DIR  # elsewhere

The committed notebooks are the instructor's version: each exercise's code cell, tagged
``solution``, holds the reference solution, and the check cell after it prints ✅. In a
student copy every such cell keeps its imports, the signature and docstring of each
function (their bodies become ``raise NotImplementedError("Exercise k ...")``), and the
names it assigns (set to ``...``, which the checks read as "not answered yet"); the rest of
its code is removed. Outputs and execution counts are cleared, so nothing of a solution
survives. The check cells then print ⏳ "not implemented yet" until the student writes
the code. tests/test_student_copies.py runs every copy to the end.
"""
from __future__ import annotations

import argparse
import ast
import copy
import pathlib
import re
import shutil
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "student"
SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"  # the tag a stubbed cell carries in the copy

NOTE = """> **Student copy.** The code of each exercise at the end of this notebook is a stub: replace
> every `raise NotImplementedError(...)` (and every `...` answer) with your own code, then run
> the check cell below it for immediate feedback. The complete notebook, with the solutions,
> is `notebooks/{name}` in the course repository."""


EXERCISE_RE = re.compile(r"Exercise\s+(\d+)\s*(?:\(([^)]*)\))?", re.I)


def exercise_label(markdown: str, fallback: int) -> tuple[int, str]:
    """(number, short name) of the exercise a markdown cell states, e.g. "**Exercise 2 (KL).**".

    Falls back to (``fallback``, "") when the cell names no exercise.
    """
    m = EXERCISE_RE.search(markdown)
    if m is None:
        return fallback, ""
    return int(m.group(1)), " ".join((m.group(2) or "").split())[:60]


def _pointer(number: int, title: str) -> str:
    about = f" ({title})" if title else ""
    return f"Exercise {number}{about}: write your code here; the task is in the markdown cell above."


def _stub_function(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str], pointer: str) -> list[str]:
    """The function's decorators, signature and docstring, then ``raise NotImplementedError``."""
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    body0 = node.body[0]
    docstring = (isinstance(body0, ast.Expr) and isinstance(body0.value, ast.Constant)
                 and isinstance(body0.value.value, str))
    if body0.lineno == node.lineno:  # a one-line def: rebuild it
        stub = copy.deepcopy(node)
        stub.body = ([body0] if docstring else []) + [_raise(pointer)]
        text = ast.unparse(ast.fix_missing_locations(stub))
        return (" " * node.col_offset + text.replace("\n", "\n" + " " * node.col_offset)).splitlines()
    keep_to = body0.end_lineno if docstring else body0.lineno - 1
    header = lines[start - 1:keep_to]
    indent = " " * body0.col_offset
    return header + [f"{indent}raise NotImplementedError(", f"{indent}    {_quote(pointer)})"]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _raise(pointer: str) -> ast.Raise:
    return ast.Raise(exc=ast.Call(func=ast.Name("NotImplementedError", ast.Load()),
                                  args=[ast.Constant(pointer)], keywords=[]), cause=None)


def stub_source(source: str, number: int, title: str = "") -> str:
    """The student version of the solution cell of exercise ``number`` (see the module docstring).

    ``title`` is the exercise's short name, shown in the NotImplementedError message.
    """
    pointer = _pointer(number, title)
    tree = ast.parse(source)
    lines = source.splitlines()
    out: list[str] = []
    covered = set()
    last = 0
    for node in tree.body:
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        # comments and blank lines between statements (instructions) are kept
        for i in range(last, start - 1):
            if not lines[i].strip() or lines[i].lstrip().startswith("#"):
                out.append(lines[i])
        last = node.end_lineno
        covered.update(range(start, node.end_lineno + 1))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.extend(lines[start - 1:node.end_lineno])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.extend(_stub_function(node, lines, pointer))
        elif isinstance(node, ast.ClassDef):
            body0 = node.body[0]
            has_doc = (isinstance(body0, ast.Expr) and isinstance(body0.value, ast.Constant)
                       and isinstance(body0.value.value, str))
            out.extend(lines[start - 1:body0.end_lineno if has_doc else body0.lineno - 1])
            methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            for method in methods:
                out.extend(_stub_function(method, lines, pointer))
            if not methods:
                out.append(" " * node.body[0].col_offset + "pass")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = " = ".join(ast.get_source_segment(source, t) for t in targets)
            out.append(f"{names} = ...  # your answer (Exercise {number})")
        else:
            out.append(f"# (a `{type(node).__name__.lower()}` statement of the solution was removed: your turn)")
    for i in range(last, len(lines)):
        if not lines[i].strip() or lines[i].lstrip().startswith("#"):
            out.append(lines[i])
    result = "\n".join(out).strip("\n")
    ast.parse(result)  # the stub must be valid Python
    return result


def student_notebook(nb: nbformat.NotebookNode, name: str) -> tuple[nbformat.NotebookNode, int]:
    """The student copy of ``nb`` and the number of exercises stubbed."""
    nb = copy.deepcopy(nb)
    count, last_markdown = 0, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            last_markdown = cell.source
            continue
        cell.outputs, cell.execution_count = [], None
        tags = cell.metadata.get("tags", [])
        if SOLUTION_TAG in tags:
            count += 1
            number, title = exercise_label(last_markdown, count)
            cell.source = stub_source(cell.source, number, title)
            cell.metadata["tags"] = [EXERCISE_TAG if t == SOLUTION_TAG else t for t in tags]
    nb.metadata.pop("widgets", None)
    course = dict(nb.metadata.get("course", {}))
    course.pop("execution_seconds", None)
    course["student_copy_of"] = f"notebooks/{name}"
    nb.metadata["course"] = course
    if count:
        nb.cells.insert(1, nbformat.v4.new_markdown_cell(NOTE.format(name=name)))
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 4
    return nb, count


def make_copies(out: pathlib.Path = DEFAULT_OUT, names: list[str] | None = None) -> dict[str, int]:
    """Write the student copies into ``out``; return {notebook name: exercises stubbed}."""
    out = pathlib.Path(out)
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names]
    out.mkdir(parents=True, exist_ok=True)
    # files the notebooks may open next to themselves (not the text sources)
    for extra in NOTEBOOKS.iterdir():
        if extra.is_file() and extra.suffix != ".ipynb":
            shutil.copy2(extra, out / extra.name)
    done = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        student, count = student_notebook(nb, path.name)
        nbformat.write(student, out / path.name)
        done[path.name] = count
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names without extension (default: all)")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="output folder (default: build/student)")
    args = parser.parse_args(argv)
    done = make_copies(args.out, args.names or None)
    for name, count in done.items():
        print(f"{name}: {count} exercise{'' if count == 1 else 's'} stubbed")
    print(f"student copies: {len(done)} notebooks -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
