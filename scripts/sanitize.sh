#!/usr/bin/env bash
# The test suite's cases that reach compiled code, and every compiled entry
# point of the leak and valgrind catalogue, against an AddressSanitizer +
# UndefinedBehaviorSanitizer build of the compiled modules.
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
# printing and carrying on, so it cannot scroll by unnoticed.  -O1 (after
# Python's -O3, so it wins) is the level ASan's documentation advises: exact
# stack traces, and the instrumented build takes about half the time.
FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
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
# RSS means little under ASan (quarantine, redzones): the limit tests keep
# their tracemalloc checks, skip RSS bounds.
export WSFAST_SANITIZED=1
# The pure twin's cases reach no compiled code: tests/conftest.py deselects them.
export WSFAST_COMPILED_ONLY=1

status=0
# Left out of the suite, each for a reason:
# - test_browser.py drives Chromium, which does not run with the ASan runtime
#   preloaded (its page never reports: two minutes lost per test, then a
#   failure); the example server it talks to runs under ASan in
#   test_examples.py;
# - test_uvicorn.py (uvicorn's glue, and Chromium again) and test_main.py
#   (the benchmark command) are Python over the compiled calls the other
#   files make directly, at a cost of half a minute here;
# - test_build.py builds wheels and sdists with pip and the compiler, whose
#   own tests are the normal run's; two tests of test_simd_levels.py compile
#   and run a C program of their own, not built with the sanitizers;
# - test_leaks.py counts objects and RSS over thousands of calls per entry
#   point: on a normal build that is the leak step of CI (.ci/run), and
#   ASan's quarantine defeats RSS anyway.  Its catalogue of calls, every
#   entry point with valid and invalid input, runs here below instead, each
#   call three times on each SIMD variant.
# The fuzz targets' seeds and saved findings are replayed through their
# differential checks by test_regressions.py, under ASan like the rest.
# shellcheck disable=SC2086
"$PY" -m pytest tests -q -p no:cacheprovider --durations=15 \
    --ignore=tests/test_browser.py --ignore=tests/test_uvicorn.py --ignore=tests/test_main.py \
    --ignore=tests/test_build.py --ignore=tests/test_leaks.py \
    --deselect=tests/test_simd_levels.py::test_dispatch_borrows_as_the_table_says \
    --deselect=tests/test_simd_levels.py::test_a_new_level_is_a_row_and_a_kernel_file \
    ${SANITIZE_PYTEST_ARGS:-} || status=$?

"$PY" scripts/valgrind_exercise.py || status=1
[ $status -eq 0 ] && echo "sanitize: clean"
exit $status
