#!/usr/bin/env bash
# Extra CI steps, run by .ci/run after the main test command (which made .venv-test):
#   1. Chromium from Debian (apt-get) when missing; Playwright + jupyterlab-rise into the test venv
#   2. browser tests: every notebook with a widget, run and used in JupyterLab; RISE slideshows
#   3. slide decks + static site built offline (assets from npm), then their tests
#      (HTML checks, and every page opened in Chromium with the network cut off)
#   4. student copies built, each run to the end (checks print "not implemented yet")
#   5. Colab's stack (tools/colab_compat.sh): unit tests + every notebook with nbval-lax
#   6. portability: every notebook under strict nbval with XLA's CPU instruction set capped at
#      SSE4.2, so a cell whose printed digits depend on the CPU (AVX-512 vs AVX2 rounding)
#      fails here instead of on the next machine
# Every step runs even if an earlier one failed; the times and a summary come at the end, and
# the exit status is non-zero if any step failed. Screenshots: artifacts/screenshots/.
#
#   tools/ci_extra.sh                # all steps
#   CI_VENV=.venv tools/ci_extra.sh  # another venv than .venv-test
#   CI_EXTRA_SKIP="colab" tools/ci_extra.sh   # leave steps out (names as in the summary)
set -uo pipefail
cd "$(dirname "$0")/.."

VENV="${CI_VENV:-.venv-test}"
PY="$VENV/bin/python"
SKIP=" ${CI_EXTRA_SKIP:-} "
NAMES=() TIMES=() RESULTS=()

# The browser step and the student copies run the same notebooks' JAX code: share compiled
# programs through JAX's persistent cache (git-ignored build/), which roughly halves the second
# run. Exported before the main test run (.ci/run), it would speed these steps up further.
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-$PWD/build/jax-cache}"
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="${JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS:-0}"
FAILED=0

run_step() {  # run_step NAME COMMAND...
  local name="$1"; shift
  if [[ "$SKIP" == *" $name "* ]]; then
    NAMES+=("$name"); TIMES+=("-"); RESULTS+=("skipped (CI_EXTRA_SKIP)"); return 0
  fi
  echo "=== ci_extra: $name"
  local start=$SECONDS
  "$@"
  local rc=$?
  local took=$((SECONDS - start))
  NAMES+=("$name"); TIMES+=("${took}s")
  if [ $rc -eq 0 ]; then RESULTS+=("ok"); else RESULTS+=("FAILED (exit $rc)"); FAILED=1; fi
  echo "=== ci_extra: $name: ${RESULTS[-1]} in ${took}s"
}

install_chromium() {
  if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(chromium --version 2>/dev/null | head -1)"
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null \
    && $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    && chromium --version 2>/dev/null | head -1
}

install_python_tools() {
  [ -x "$PY" ] || { echo "no venv at $VENV: run the main test command first"; return 1; }
  "$PY" -m pip install -q -c constraints/ci.txt -c constraints/browser.txt \
    -e ".[lab,test]" playwright jupyterlab-rise
}

browser_tests() {
  COURSE_REQUIRE_BROWSER=1 "$PY" -m pytest -q -rs tests/browser/test_widgets_in_lab.py tests/browser/test_rise.py
}

build_slides_and_site() {
  rm -rf _site
  "$PY" tools/build_slides.py && "$PY" tools/build_site.py
}

site_tests() {
  COURSE_REQUIRE_BUILT=1 COURSE_REQUIRE_BROWSER=1 \
    "$PY" -m pytest -q -rs tests/test_site_and_slides.py tests/browser/test_static_pages.py
}

student_copies() {
  rm -rf build/student
  "$PY" tools/make_student_copies.py \
    && COURSE_RUN_STUDENT_COPIES=1 "$PY" -m pytest -q -rs tests/test_student_copies.py
}

run_step chromium install_chromium
run_step install install_python_tools
run_step browser browser_tests
run_step build build_slides_and_site
run_step site site_tests
run_step student student_copies
run_step colab env -u JAX_COMPILATION_CACHE_DIR -u JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS tools/colab_compat.sh
# No persistent cache here: programs compiled for the full instruction set must not be reused.
run_step portable env -u JAX_COMPILATION_CACHE_DIR -u JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS \
  XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_cpu_max_isa=SSE4_2" "$PY" -m pytest -q notebooks

echo
echo "ci_extra summary (step, time, result):"
for i in "${!NAMES[@]}"; do
  printf '  %-10s %6s  %s\n' "${NAMES[$i]}" "${TIMES[$i]}" "${RESULTS[$i]}"
done
echo "  total      ${SECONDS}s"
exit $FAILED
