"""Packaging: environment.yml lists what pyproject.toml lists; the README's test command is
what CI runs; the CI constraints pin every dependency; the CLI works offline."""
import pathlib
import re
import subprocess
import sys
import time

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONDA_NAMES = {"msgpack-python": "msgpack"}


def _split(req: str):
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def _pyproject_deps():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in ("lab", "test"):
        reqs += project["optional-dependencies"][extra]
    return dict(_split(r) for r in reqs)


def _conda_deps():
    deps, in_pip, in_deps = {}, False, False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        line = line.split("#")[0].rstrip()
        if re.match(r"^[a-z]", line):
            in_deps = line.startswith("dependencies:")
            continue
        if not in_deps:
            continue
        if re.match(r"^\s+- pip:", line):
            in_pip = True
            continue
        m = re.match(r"^\s+- (\S.*)$", line)
        if m and not in_pip:
            name, spec = _split(m.group(1))
            if name in ("python", "pip"):
                continue
            deps[CONDA_NAMES.get(name, name)] = spec
    return deps


def test_environment_yml_matches_pyproject():
    assert _conda_deps() == _pyproject_deps()


def test_colab_stack_satisfies_lower_bounds():
    deps = _pyproject_deps()
    assert deps["jax"] == ">=0.7" and deps["flax"] == ">=0.11" and deps["ipywidgets"] == ">=7.7"


def test_ci_constraints_pin_every_dependency():
    pins = {}
    for line in (ROOT / "constraints" / "ci.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, spec = _split(line)
            pins[name] = spec
    for name in _pyproject_deps():
        assert name in pins and pins[name].startswith("=="), f"{name} is not pinned in constraints/ci.txt"


def test_readme_test_command_is_what_ci_runs():
    lines = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    readme = (ROOT / "README.md").read_text()
    (ci,) = [ln for ln in lines if "pytest" in ln]  # the README's test command, verbatim
    assert ci in readme and "constraints/ci.txt" in ci
    assert lines[-1] == "tools/ci_extra.sh"  # then the browser, site, student-copy and Colab steps
    assert (ROOT / "tools" / "ci_extra.sh").stat().st_mode & 0o111  # executable


def test_cli_info_works_offline():
    out = subprocess.run([sys.executable, "-m", "course_lib", "info"], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=120).stdout
    assert "JAX devices" in out
    assert re.search(r"yes\s+digits", out) and re.search(r"yes\s+mnist5k", out)


def test_import_is_lazy():
    code = "import sys, course_lib; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
