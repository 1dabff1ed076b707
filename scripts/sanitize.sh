#!/usr/bin/env bash
# The whole test suite against an AddressSanitizer + UndefinedBehaviorSanitizer
# build of the compiled modules, plus a replay of the fuzz seed corpus.
#
#   scripts/sanitize.sh [REPO]          (default: this checkout's repository)
#
# Works in a fresh clone of REPO's committed HEAD (in $SANITIZE_WORK, default a
# new /tmp directory), so instrumented .so files never land in a working tree.
# Env: SANITIZE_PROFILE (hypothesis profile, default "quick"), PYTHON.
# Exit status: that of the suite; any sanitizer report aborts the process
# with a stack trace, which fails the run.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=${1:-$(git -C "$HERE/.." rev-parse --show-toplevel)}
WORK=${SANITIZE_WORK:-$(mktemp -d /tmp/wsfast-sanitize.XXXXXX)}
PY=${PYTHON:-python}
CC=${CC:-gcc}

rm -rf "$WORK/repo"
git clone -q "$REPO" "$WORK/repo"
cd "$WORK/repo"
echo "sanitize: $(git log -1 --format='%h %s') in $WORK/repo"

# -fno-sanitize-recover: the first undefined behaviour aborts instead of
# printing and carrying on, so it cannot scroll by unnoticed.
FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
CC=$CC WSFAST_REQUIRE_EXTENSIONS=1 WSFAST_EXTRA_CFLAGS="$FLAGS" \
    "$PY" setup.py -q build_ext --inplace >"$WORK/build.log" 2>&1 || { tail -n 50 "$WORK/build.log"; exit 1; }

# Make sure the instrumentation really is in every module we test.
for so in src/wsfast/_*_c*.so; do
    if ! readelf -d "$so" | grep -q 'libasan'; then
        echo "sanitize: $so is not linked with libasan" >&2
        exit 1
    fi
done
echo "sanitize: built $(ls src/wsfast/_*_c*.so | xargs -n1 basename | tr '\n' ' ')"

# The interpreter is not instrumented, so the ASan runtime must be loaded
# first.  CPython frees little at exit: leak detection would only report
# that (tests/test_leaks.py measures leaks instead).  PYTHONMALLOC=malloc
# sends every Python object to malloc, where ASan sees its bounds; under
# pymalloc an overrun of a bytes object the C code filled would land inside
# an arena and go unseen.
export LD_PRELOAD=$($CC -print-file-name=libasan.so)
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYTHONMALLOC=malloc
export PYTHONPATH=$WORK/repo/src
export WSFAST_EXPECT_IMPL=cython
export WSFAST_HYPOTHESIS_PROFILE=${SANITIZE_PROFILE:-quick}
# Memory is measured differently under ASan (quarantine, redzones): the
# leak and limit tests keep their reference-count checks and skip RSS bounds.
export WSFAST_SANITIZED=1
export WSFAST_LEAK_ITERATIONS=${WSFAST_LEAK_ITERATIONS:-2000}

status=0
"$PY" -m pytest tests -q -x -p no:cacheprovider || status=$?

# The fuzz targets' seeds, replayed without libFuzzer: differential checks
# on inputs built to reach every branch, now with ASan watching.
if [ -d fuzz ]; then
    "$PY" fuzz/make_corpus.py "$WORK/seeds" >/dev/null
    for target in fuzz/fuzz_*.py; do
        name=$(basename "$target" .py)
        dirs=("$WORK/seeds/$name")
        [ -d "fuzz/regressions/$name" ] && dirs+=("fuzz/regressions/$name")
        "$PY" "$target" --replay "${dirs[@]}" || status=1
    done
fi
[ $status -eq 0 ] && echo "sanitize: clean"
exit $status
