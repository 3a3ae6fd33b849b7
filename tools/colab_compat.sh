#!/usr/bin/env bash
# Colab compatibility: install the course against Colab's package versions (constraints/colab.txt:
# jax 0.7, flax 0.11, ipywidgets 7.7.1, Colab's numpy and matplotlib) in a separate virtual
# environment, then run the unit tests and every notebook with nbval-lax (outputs are not
# compared: numbers may differ in the last digits between versions; errors still fail).
#
#   tools/colab_compat.sh            # venv in .venv-colab (reused while the pins are unchanged)
#   COLAB_PYTHON=/path/to/python3.12 tools/colab_compat.sh
#   COLAB_VENV=/tmp/venv-colab tools/colab_compat.sh
#
# Colab runs Python 3.12. The script looks for one (COLAB_PYTHON, python3.12 on PATH, pyenv's
# 3.12.x); if there is none it falls back to python3 and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${COLAB_VENV:-.venv-colab}"
CONSTRAINTS=constraints/colab.txt

works() { "$@" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' >/dev/null 2>&1; }

find_python312() {
  if [ -n "${COLAB_PYTHON:-}" ]; then echo "$COLAB_PYTHON"; return; fi
  local candidate
  if command -v python3.12 >/dev/null 2>&1; then
    candidate="$(command -v python3.12)"
    if works "$candidate"; then echo "$candidate"; return; fi
    # a pyenv shim needs to be told which 3.12 to use
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.|$)' | sort -V -r); do
      if PYENV_VERSION="$version" works "$candidate"; then
        PYENV_VERSION="$version" "$candidate" -c 'import sys; print(sys.executable)'; return
      fi
    done
  fi
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    if [ -x "$candidate" ] && works "$candidate"; then echo "$candidate"; return; fi
  done
  return 1
}

if PY="$(find_python312)"; then
  echo "colab_compat: Python 3.12 found: $PY"
else
  PY="$(command -v python3)"
  echo "colab_compat: WARNING: no Python 3.12 found; Colab runs 3.12, this run uses $("$PY" --version 2>&1) ($PY)"
fi

# Recreate the venv when the interpreter or the pins change.
STAMP="$VENV/.colab-stamp"
WANT="$("$PY" -c 'import sys; print(sys.version)') $(sha256sum "$CONSTRAINTS" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c "$CONSTRAINTS" -e ".[test]"
  echo "$WANT" > "$STAMP"
fi

# The pins must really be what is installed (pip resolves extras; a drift would make this check moot).
"$VENV/bin/python" - "$CONSTRAINTS" <<'EOF'
import sys
from importlib.metadata import version
bad = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        if version(name) != want:
            bad.append(f"{name} {version(name)} (pinned {want})")
if bad:
    sys.exit("colab_compat: installed versions differ from constraints/colab.txt: " + ", ".join(bad))
print("colab_compat: " + ", ".join(f"{n} {version(n)}" for n in ("jax", "jaxlib", "flax", "optax", "numpy", "matplotlib", "ipywidgets")))
print(f"colab_compat: python {sys.version.split()[0]}")
EOF

# Unit tests, then every notebook. addopts is replaced: the main run's strict --nbval becomes
# --nbval-lax here. Left out: tests that only read files and do not depend on the package
# versions (notebook hygiene; built site, slides and student copies), and the browser tests:
# the main run and tools/ci_extra.sh run those.
export COURSE_REQUIRE_BROWSER=0 COURSE_REQUIRE_BUILT=0 COURSE_RUN_STUDENT_COPIES=0
"$VENV/bin/python" -m pytest -o addopts="" -p no:cacheprovider -q \
  --nbval-lax --nbval-current-env --nbval-cell-timeout=300 \
  --ignore=tests/browser --ignore=tests/test_site_and_slides.py --ignore=tests/test_student_copies.py \
  --ignore=tests/test_notebook_hygiene.py \
  tests notebooks
