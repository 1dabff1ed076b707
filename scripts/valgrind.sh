#!/usr/bin/env bash
# valgrind memcheck over every compiled entry point (scripts/valgrind_exercise.py).
#
#   scripts/valgrind.sh [REPO]          (default: this checkout's repository)
#
# Builds the extensions normally (plus -g, for readable stacks) in a fresh
# clone of REPO's committed HEAD in $VALGRIND_WORK (default a new /tmp
# directory), then runs the exercise under memcheck.  Exit 1 on any memcheck
# error (invalid read or write, a branch on uninitialised memory, a bad
# free).  Leaks are measured by tests/test_leaks.py instead: CPython leaves
# much allocated at exit by design.
#
# CPython 3.11's int.from_bytes reads an uninitialised digit (harmless, but
# the taint spreads through every small int and buries real reports), so the
# run uses CPython 3.12 or later: $VALGRIND_PYTHON, else the newest pyenv has.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"
REPO=${1:-$ROOT}
WORK=${VALGRIND_WORK:-$(mktemp -d /tmp/wsfast-valgrind.XXXXXX)}
BASE=${VALGRIND_PYTHON:-$(ls -d "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -V | tail -1)}
if [ -z "$BASE" ]; then
    echo "valgrind: needs CPython >= 3.12 (set VALGRIND_PYTHON)" >&2
    exit 2
fi
VENV=${VALGRIND_VENV:-/tmp/wsfast-build-valgrind}
build_env "$BASE" "$VENV"
# zlib-ng, so that the deflate calls run on both back ends (valgrind_exercise.py).
"$VENV/bin/python" -c 'import zlib_ng' 2>/dev/null ||
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS/zlib-ng.txt" >"$VENV.zlib-ng.log" 2>&1 ||
    { tail -n 20 "$VENV.zlib-ng.log" >&2; exit 1; }
# The interpreter itself, not a launcher script: valgrind must start the real binary.
PY=$("$VENV/bin/python" -c 'import sys; print(sys.executable)')
clone_head "$WORK/repo" "$REPO"
build_in_place "$WORK/repo" "$PY" "-g"
cd "$WORK/repo"

"$PY" fuzz/make_corpus.py "$WORK/seeds" >/dev/null
# PYTHONMALLOC=malloc: every object gets its own malloc block, so memcheck
# sees the bounds of each bytes object the C code reads or fills.
PYTHONMALLOC=malloc PYTHONPATH="$WORK/repo/src" WSFAST_VALGRIND_SEEDS="$WORK/seeds" \
    valgrind --tool=memcheck --error-exitcode=1 --leak-check=no --track-origins=yes \
    --suppressions="$HERE/valgrind-python.supp" --num-callers=30 \
    "$PY" scripts/valgrind_exercise.py
echo "valgrind: clean"
