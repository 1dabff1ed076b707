# Sourced by the scripts that test committed work away from the working tree
# (build_wheels.sh, test_arm64.sh, test_pypy.sh, sanitize.sh, valgrind.sh):
# the clone, the virtualenvs and the copy of the tests they all need.
#
# ROOT is this checkout; REQUIREMENTS its requirements/ folder.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUIREMENTS=$ROOT/requirements

# clone_head DEST [REPO]: a fresh clone of REPO's (default ROOT's) committed
# HEAD in DEST, so that a shared working tree is never built in or read from.
clone_head() {
    local dest=$1 repo=${2:-$ROOT}
    rm -rf "$dest"
    git clone --quiet "$repo" "$dest"
    echo "$(basename "$0"): $(git -C "$dest" log -1 --format='%h %s')"
}

# use_build_pins TREE: the build pins of TREE bind every pip build from here
# on, isolated build environments included (pip < 25.3 reads PIP_CONSTRAINT,
# newer pip PIP_BUILD_CONSTRAINT); an absolute path, as builds run elsewhere.
use_build_pins() {
    export PIP_CONSTRAINT=$1/requirements/build-constraints.txt
    export PIP_BUILD_CONSTRAINT=$PIP_CONSTRAINT
    export PIP_DISABLE_PIP_VERSION_CHECK=1
}

# make_venv PYTHON VENV [PIP_ARGS...]: a new virtualenv made by PYTHON, with
# PIP_ARGS installed into it (nothing when there are none); on failure, pip's
# output and status 1.
make_venv() {
    local py=$1 venv=$2
    shift 2
    "$py" -m venv --clear "$venv" || return 1
    if (($#)); then
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >"$venv.pip.log" 2>&1 ||
            { tail -n 40 "$venv.pip.log" >&2; echo "FAIL: pip install $* into $venv" >&2; return 1; }
    fi
}

# build_env BASE_PYTHON VENV: a virtualenv with the pinned build requirements
# (Cython, setuptools), made once and reused.  Builds use it rather than
# BASE_PYTHON's own setuptools, which may predate pyproject.toml.
build_env() {
    local base=$1 venv=$2
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import Cython, setuptools' 2>/dev/null; then
        make_venv "$base" "$venv" -c "$REQUIREMENTS/build-constraints.txt" Cython setuptools
    fi
}

# build_in_place TREE BUILD_PYTHON EXTRA_CFLAGS: every compiled module of TREE
# built in place, any compile error fatal (the log's tail goes to stderr).
build_in_place() {
    local tree=$1 py=$2 cflags=$3
    (cd "$tree" && WSFAST_REQUIRE_EXTENSIONS=1 WSFAST_EXTRA_CFLAGS="$cflags" \
        "$py" setup.py -q build_ext --inplace --parallel "${BUILD_JOBS:-2}" >"$tree.build.log" 2>&1) \
        || { tail -n 60 "$tree.build.log" >&2; return 1; }
}

# copy_tests TREE DEST: what the suite needs to run against an installed
# wsfast from outside any source tree (where `import wsfast` can only find the
# installed package): tests/, pyproject.toml (pytest's settings), and what
# tests run as a user would, against whatever wsfast is installed: the
# examples, the fuzz seeds, the code of docs/ pages (test_connection_docs).
# What only the checkout has (setup.py, src/, the build's C files) stays out:
# tests of it skip there (conftest.build_script, test_build.IN_CHECKOUT).
copy_tests() {
    local tree=$1 dest=$2 d
    mkdir -p "$dest"
    cp -r "$tree/tests" "$tree/pyproject.toml" "$dest/"
    for d in docs examples fuzz; do
        if [[ -d "$tree/$d" ]]; then cp -r "$tree/$d" "$dest/"; fi
    done
}
