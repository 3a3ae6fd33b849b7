"""The shape of the code: notebook sources are Python, course_lib keeps STYLE.md's size rule.

Size rule (STYLE.md, "small modules, one job each"): no function in course_lib longer than
80 lines without its docstring, no module longer than about 400 lines. Every place holds it
today; an exception would be listed below with its size, and the lists may only shrink (a
listed place cut below the limit must be removed from its list, and a place may not grow).
"""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "course_lib"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 420  # "about 400"

# Known offenders: {place: lines then}. Empty now; kept so that a future exception is written down here.
LONG_FUNCTIONS: dict[str, int] = {}
LONG_MODULES: dict[str, int] = {}


def _function_lengths(path: pathlib.Path) -> dict[str, int]:
    """{qualified name: lines from decorator/def to the end, less the docstring} for every function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lengths = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                n = child.end_lineno - first + 1
                if ast.get_docstring(child, clean=False) is not None:
                    n -= child.body[0].end_lineno - child.body[0].lineno + 1
                lengths[f"{prefix}{child.name}"] = n
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return lengths


def _library_files():
    return sorted(p for p in LIBRARY.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks" / "src").glob("*.py")), ids=lambda p: p.name)
def test_notebook_source_parses_as_python(path):
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path))  # magics are written "# %magic"


def test_function_length_counter_excludes_the_docstring(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text('@decorator\ndef f():\n    """One.\n\n    Two.\n    """\n    def g():\n        return 1\n    return g\n')
    assert _function_lengths(path) == {"f": 5, "f.g": 2}  # decorator, def, 3 body lines; g: def + return


def _check_offenders(found: dict, listed: dict, what: str) -> None:
    """No new offender, no listed one grown, no listed one that is fixed but still listed."""
    new = {k: v for k, v in found.items() if k not in listed}
    assert not new, f"{what}: {new}"
    grown = {k: (v, listed[k]) for k, v in found.items() if k in listed and v > listed[k]}
    assert not grown, f"listed {what} grew (now, then): {grown}"
    fixed = sorted(set(listed) - set(found))
    assert not fixed, f"no longer {what}: remove them from the list: {fixed}"


def test_no_function_over_80_lines():
    found = {}
    for path in _library_files():
        rel = path.relative_to(LIBRARY).as_posix()
        found.update({f"{rel}:{name}": n for name, n in _function_lengths(path).items() if n > MAX_FUNCTION_LINES})
    _check_offenders(found, LONG_FUNCTIONS, f"functions over {MAX_FUNCTION_LINES} lines (docstring excluded)")


def test_no_module_over_about_400_lines():
    found = {}
    for path in _library_files():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE_LINES:
            found[path.relative_to(LIBRARY).as_posix()] = n
    _check_offenders(found, LONG_MODULES, f"modules over {MAX_MODULE_LINES} lines")


def test_repository_url_has_one_home():
    """The URL is written in pyproject.toml only; tools read it from there."""
    url = "github.com/deep-generative-course/dgm-course"
    places = [p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("tools/*.py"), *LIBRARY.rglob("*.py")]
              if url in p.read_text(encoding="utf-8")]
    assert places == []
    assert url in (ROOT / "pyproject.toml").read_text()


def test_one_notebook_registry_names_every_notebook():
    from course_lib import lessons

    stems = sorted(p.stem for p in (ROOT / "notebooks" / "src").glob("*.py"))
    assert sorted(lessons.NOTEBOOKS) == stems
    assert all(title.startswith(stem[:2] + " ") for stem, title in lessons.NOTEBOOKS.items())


def test_lesson_content_is_apart_from_the_infrastructure():
    """The lesson modules live in course_lib/lessons/, not at the top of the library."""
    lessons = {"glossary", "timeline", "walkthrough", "families", "games", "surfaces", "distributions",
               "gradient_estimators", "quiz"}
    top = {p.stem for p in LIBRARY.glob("*.py")}
    assert not lessons & top
    assert lessons <= {p.stem for p in (LIBRARY / "lessons").glob("*.py")}


def test_no_private_name_is_imported_across_modules():
    found = []
    for path in _library_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib"):
                found += [f"{path.relative_to(LIBRARY)}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and a.name != "__version__" and not _is_package_private(node, a)]
    assert found == []


def _is_package_private(node, alias) -> bool:
    """``from course_lib import _validate``: the shared private helper module is allowed."""
    return node.module == "course_lib" and alias.name == "_validate"
