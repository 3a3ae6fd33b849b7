"""Student copies (tools/make_student_copies.py) run to the end; solutions pass every check.

- The stubbing itself, on hand-made code: signatures, docstrings and imports stay, bodies
  raise NotImplementedError naming the exercise, answers become ``...``, and a check
  called on a stub prints ⏳ "not implemented yet" instead of crashing.
- The committed (solution) notebooks: the check cell after every solution printed ✅, and
  no check anywhere printed ❌ or ⏳ (strict nbval re-runs them, so the saved outputs are
  what a fresh run prints).
- Every student copy executed top to bottom in a fresh kernel: no cell errors and the
  check cell after every stub prints ⏳. This runs each notebook once more, so it only
  runs when COURSE_RUN_STUDENT_COPIES=1 (tools/ci_extra.sh sets it); the main test run
  already executes every notebook once.
"""
from __future__ import annotations

import contextlib
import io
import os
import pathlib
import sys

import nbformat
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_student_copies as msc  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUN_COPIES = os.environ.get("COURSE_RUN_STUDENT_COPIES", "") not in ("", "0")
VERDICTS = ("✅", "❌", "⏳")


def _solutions_and_checks(nb) -> list[tuple[int, int | None]]:
    """(index of each solution cell, index of the next code cell: its check)."""
    pairs = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and msc.SOLUTION_TAG in cell.metadata.get("tags", []):
            nxt = next((j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code"), None)
            pairs.append((i, nxt))
    return pairs


def _lines(cell) -> list[str]:
    text = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text.append(out.get("text", ""))
        elif "text/plain" in out.get("data", {}):
            text.append(out["data"]["text/plain"])
    return [line.strip() for line in "".join(text).splitlines()]


def _verdicts(cell) -> list[str]:
    return [line for line in _lines(cell) if line.startswith(VERDICTS)]


# ---------------------------------------------------------------------- the stubbing

SOLUTION = '''import numpy as np
# Fill in the function below.

def gaussian_mle(x):
    """Maximum-likelihood (mu, sigma) of 1-D data x (N,)."""
    mu = np.mean(x)  # the sample mean
    return mu, np.sqrt(np.mean((x - mu) ** 2))

best_choice = "b"
'''


def test_stub_keeps_the_interface_and_points_to_the_exercise():
    stub = msc.stub_source(SOLUTION, 3, "maximum likelihood")
    assert "np.mean" not in stub and '"b"' not in stub  # nothing of the solution survives
    assert "# Fill in the function below." in stub  # instructions do
    namespace = {}
    exec(compile(stub, "<stub>", "exec"), namespace)
    fn = namespace["gaussian_mle"]
    assert fn.__doc__ == "Maximum-likelihood (mu, sigma) of 1-D data x (N,)."
    assert "np" in namespace and namespace["best_choice"] is Ellipsis
    with pytest.raises(NotImplementedError, match=r"Exercise 3 \(maximum likelihood\)"):
        fn(np.arange(3.0))


def test_stub_of_one_line_defs_decorators_and_other_statements():
    source = "import functools\n@functools.lru_cache\ndef f(x): return x + 1\nfor i in range(3):\n    print(i)\n"
    stub = msc.stub_source(source, 1)
    assert "print" not in stub and "return x + 1" not in stub
    namespace = {}
    exec(compile(stub, "<stub>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="Exercise 1"):
        namespace["f"](1)


def _exercise_notebook():
    cells = [
        nbformat.v4.new_markdown_cell("# A notebook\n{{badge}}"),
        nbformat.v4.new_markdown_cell("**Exercise 1 (the Gaussian MLE).** Write `gaussian_mle`."),
        nbformat.v4.new_code_cell(SOLUTION, metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("from course_lib.exercises.ch02_probability import check_gaussian_mle\n"
                                  "check_gaussian_mle(gaussian_mle)"),
        nbformat.v4.new_markdown_cell("**Exercise 2.** Which letter?"),
        nbformat.v4.new_code_cell('answer = "b"', metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("from course_lib.exercises import check_choice\n"
                                  "check_choice(answer, 'b', name='pick', explanation='b it is.')"),
    ]
    cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="✅ gaussian_mle: all 3 cases pass.\n")]
    return nbformat.v4.new_notebook(cells=cells)


def _run_in_process(nb) -> list[str]:
    """Execute the code cells of ``nb`` in one namespace; return what each printed."""
    namespace, printed = {}, []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(cell.source, "<cell>", "exec"), namespace)
        printed.append(buf.getvalue())
    return printed


def test_student_copy_reports_not_implemented_and_solution_passes():
    pytest.importorskip("course_lib.exercises.ch02_probability")
    solution = _exercise_notebook()
    student, count = msc.student_notebook(solution, "99_example.ipynb")
    assert count == 2
    assert student.cells[1].source.startswith("> **Student copy.**")
    assert all(c.get("outputs", []) == [] for c in student.cells if c.cell_type == "code")
    assert [c.metadata.get("tags") for c in student.cells if c.cell_type == "code"] == [
        ["exercise"], None, ["exercise"], None]
    solved = _run_in_process(solution)
    assert solved[1].startswith("✅") and solved[3].startswith("✅")
    stubbed = _run_in_process(student)
    assert stubbed[1].startswith("⏳ gaussian_mle: not implemented yet")
    assert stubbed[3].startswith("⏳ pick: not implemented yet")


def test_make_copies_writes_every_notebook(tmp_path):
    done = msc.make_copies(tmp_path)
    assert sorted(done) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        copy = nbformat.read(tmp_path / path.name, as_version=4)
        solutions = _solutions_and_checks(nbformat.read(path, as_version=4))
        assert done[path.name] == len(solutions)
        assert "widgets" not in copy.metadata
        for cell in copy.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
                assert msc.SOLUTION_TAG not in cell.metadata.get("tags", [])


# ---------------------------------------------------------------------- the real notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solution_notebook_passes_every_check(path):
    nb = nbformat.read(path, as_version=4)
    for i, check in _solutions_and_checks(nb):
        assert check is not None, f"{path.name}: the solution in cell {i} has no check cell after it"
        verdicts = _verdicts(nb.cells[check])
        assert any(v.startswith("✅") for v in verdicts), (
            f"{path.name}: the check after the solution in cell {i} printed {verdicts or 'no verdict'}")
    for j, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            bad = [v for v in _verdicts(cell) if not v.startswith("✅")]
            assert not bad, f"{path.name}: cell {j} printed {bad}"


def _execute(path: pathlib.Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


STUDENT_CASES = [p for p in NOTEBOOKS
                 if _solutions_and_checks(nbformat.read(p, as_version=4))]


@pytest.mark.skipif(not RUN_COPIES, reason="executes every student copy; set COURSE_RUN_STUDENT_COPIES=1 "
                                           "(tools/ci_extra.sh does)")
@pytest.mark.parametrize("path", STUDENT_CASES or [None], ids=lambda p: p.stem if p else "none")
def test_student_copy_runs_to_the_end(path, tmp_path):
    if path is None:
        pytest.skip("no notebook has exercises yet")
    msc.make_copies(tmp_path, [path.stem])
    nb = _execute(tmp_path / path.name)
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} (student copy): cells raised {errors}"
    for i, check in _exercises_and_checks(nb):
        verdicts = _verdicts(nb.cells[check])
        assert verdicts and all(v.startswith("⏳") for v in verdicts), (
            f"{path.name} (student copy): the check after exercise cell {i} printed {verdicts or 'nothing'}")
    crosses = [(j, v) for j, c in enumerate(nb.cells) if c.cell_type == "code" for v in _verdicts(c)
               if v.startswith("❌")]
    assert not crosses, f"{path.name} (student copy): {crosses}"


def _exercises_and_checks(nb):
    """(exercise cell, its check cell) pairs of a student copy (the tag is ``exercise`` there)."""
    pairs = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and msc.EXERCISE_TAG in cell.metadata.get("tags", []):
            nxt = next((j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code"), None)
            pairs.append((i, nxt))
    assert pairs, "a student copy without exercises"
    return pairs
