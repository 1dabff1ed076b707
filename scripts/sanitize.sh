#!/usr/bin/env bash
# The whole test suite against an AddressSanitizer + UndefinedBehaviorSanitizer
# build of the compiled modules, then the fuzz seed corpus replayed under it.
#
#   scripts/sanitize.sh [REPO]          (default: this checkout's repository)
#
# Works in a fresh clone of REPO's committed HEAD (in $SANITIZE_WORK, default a
# new /tmp directory), so instrumented .so files never land in a working tree.
# Env: PYTHON (the interpreter to test; default python), SANITIZE_PROFILE
# (hypothesis profile, default "quick"), SANITIZE_PYTEST_ARGS (extra pytest
# arguments).  Any sanitizer report aborts the process with a stack trace,
# which fails the run.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"
REPO=${1:-$ROOT}
WORK=${SANITIZE_WORK:-$(mktemp -d /tmp/wsfast-sanitize.XXXXXX)}
PY=$("${PYTHON:-python}" -c 'import sys; print(sys.executable)')
CC=${CC:-gcc}
TAG=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

BUILD_VENV=${SANITIZE_BUILD_VENV:-/tmp/wsfast-build-$TAG}
build_env "$PY" "$BUILD_VENV"
# -fno-sanitize-recover: the first undefined behaviour aborts instead of
# printing and carrying on, so it cannot scroll by unnoticed.
FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
clone_head "$WORK/repo" "$REPO"
CC=$CC build_in_place "$WORK/repo" "$BUILD_VENV/bin/python" "$FLAGS"
cd "$WORK/repo"

# The instrumentation must really be in every module under test.
for so in src/wsfast/_*_c*.so; do
    readelf -d "$so" | grep -q 'libasan' || { echo "sanitize: $so is not linked with libasan" >&2; exit 1; }
done
echo "sanitize: built $(cd src/wsfast && ls _*_c*.so | tr '\n' ' ')"

# The interpreter is not instrumented, so the ASan runtime is preloaded (it
# must come first).  CPython frees little at exit: leak detection would only
# report that (tests/test_leaks.py measures leaks instead).
# PYTHONMALLOC=malloc gives every Python object its own malloc block, where
# ASan sees its bounds; under pymalloc an overrun of a bytes object the C
# code filled would land inside an arena and go unseen.
export LD_PRELOAD=$($CC -print-file-name=libasan.so)
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYTHONMALLOC=malloc
export PYTHONPATH=$WORK/repo/src
export WSFAST_EXPECT_IMPL=cython
export WSFAST_HYPOTHESIS_PROFILE=${SANITIZE_PROFILE:-quick}
# RSS means little under ASan (quarantine, redzones): the leak and limit
# tests keep their reference-count and tracemalloc checks, skip RSS bounds.
export WSFAST_SANITIZED=1
export WSFAST_LEAK_ITERATIONS=${WSFAST_LEAK_ITERATIONS:-2000}

status=0
# Two files are left out: they run foreign programs, not wsfast's C code.
# test_browser.py drives Chromium, which hangs with the ASan runtime
# preloaded (the example server it talks to runs under ASan in
# test_examples.py); test_build.py builds wheels and sdists with pip and
# the compiler, whose own tests are the normal run's.
# shellcheck disable=SC2086
"$PY" -m pytest tests -q -p no:cacheprovider --durations=10 \
    --ignore=tests/test_browser.py --ignore=tests/test_build.py ${SANITIZE_PYTEST_ARGS:-} || status=$?

# The fuzz targets' seeds and saved findings, replayed without libFuzzer:
# differential checks on inputs made to reach every branch, ASan watching.
"$PY" fuzz/make_corpus.py "$WORK/seeds" >/dev/null
for target in fuzz/fuzz_*.py; do
    name=$(basename "$target" .py)
    dirs=("$WORK/seeds/$name")
    [ -d "fuzz/regressions/$name" ] && dirs+=("fuzz/regressions/$name")
    "$PY" "$target" --replay "${dirs[@]}" || status=1
done
[ $status -eq 0 ] && echo "sanitize: clean"
exit $status
