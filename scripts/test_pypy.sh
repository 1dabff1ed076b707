#!/usr/bin/env bash
# PyPy (Debian's pypy3): the sdist installs as pure Python (setup.py compiles
# nothing off CPython) and the suite passes against the installed package.
#
# Builds a clean clone of the committed HEAD.  Needs root for apt when pypy3
# is not installed yet.
#   WSFAST_HYPOTHESIS_PROFILE  defaults to "quick"
#   PYPY_TIMEOUT               seconds the suite may take (default 480: inside .ci/run's 600 s stage)
# Arguments are passed on to pytest (e.g. --deselect while a test is broken).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
HOST_PY=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/wsfast-pypy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export WSFAST_HYPOTHESIS_PROFILE=${WSFAST_HYPOTHESIS_PROFILE:-quick}
export WSFAST_LEAK_ITERATIONS=${WSFAST_LEAK_ITERATIONS:-3000}
unset WSFAST_NO_EXTENSIONS WSFAST_REQUIRE_EXTENSIONS WSFAST_BUILD_ONLY WSFAST_SIMD PYTHONPATH || true
START=$SECONDS
say() { printf '\n=== %s (%ss)\n' "$*" $((SECONDS - START)); }

if ! command -v pypy3 >/dev/null; then
    say "apt-get install pypy3"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pypy3 >"$WORK/apt.log" 2>&1 || {
        tail -20 "$WORK/apt.log"; exit 1; }
fi
pypy3 --version

say "sdist of $(git -C "$ROOT" rev-parse --short HEAD)"
clone_head "$WORK/tree"
use_build_pins "$WORK/tree"
# The pypy3 venv and its test requirements (half a minute: pip is slow before
# PyPy's JIT warms up) need nothing of the sdist: made meanwhile.
make_venv pypy3 "$WORK/venv" -r "$WORK/tree/requirements/test.txt" &
VENV_JOB=$!
trap '[[ -z $VENV_JOB ]] || { kill "$VENV_JOB"; wait "$VENV_JOB"; } 2>/dev/null; rm -rf "$WORK"' EXIT
make_venv "$HOST_PY" "$WORK/tools" build
(cd "$WORK/tree" && "$WORK/tools/bin/python" -m build --sdist --outdir "$WORK/dist" >"$WORK/sdist.log" 2>&1) || {
    tail -40 "$WORK/sdist.log"; exit 1; }
SDIST=$(ls "$WORK"/dist/wsfast-*.tar.gz)

say "install $(basename "$SDIST") into the pypy3 venv"
wait "$VENV_JOB" || { VENV_JOB=; echo "FAIL: the pypy3 venv with the test requirements"; exit 1; }
VENV_JOB=
PY=$WORK/venv/bin/python
"$PY" -m pip install -v "$SDIST" >"$WORK/install.log" 2>&1 || { tail -40 "$WORK/install.log"; exit 1; }
grep -E "uses the pure-Python implementation" "$WORK/install.log" || {
    echo "FAIL: setup.py did not report the pure-Python build"; exit 1; }

# Run from a copy of the tests so that only the installed package is importable.
copy_tests "$WORK/tree" "$WORK/run"
cd "$WORK/run"
state=$("$PY" -c 'import platform, wsfast
print(platform.python_implementation(), wsfast.IMPLEMENTATION, wsfast.SIMD, wsfast.__file__)')
echo "installed: $state"
[[ $state == "PyPy python none "* ]] || { echo "FAIL: expected PyPy running the pure twin (SIMD none)"; exit 1; }

say "suite"
# Never hang: a test stuck for minutes dumps every thread's stack
# (faulthandler_timeout), and the whole run is killed after PYPY_TIMEOUT.
rc=0
WSFAST_EXPECT_IMPL=python timeout -k 30 "${PYPY_TIMEOUT:-480}" \
    "$PY" -m pytest -q -p no:cacheprovider -rfE --durations=10 -o faulthandler_timeout=240 tests "$@" || rc=$?
if [[ $rc == 124 || $rc == 137 ]]; then
    echo "FAIL: the suite did not finish within ${PYPY_TIMEOUT:-480}s"
fi
say "done"
exit $rc
