# Sourced by scripts/sanitize.sh and scripts/valgrind.sh: build committed work
# in a fresh clone, never in a working tree.

# build_env BASE_PYTHON VENV: a virtualenv with the pinned build requirements
# (requirements/build-constraints.txt), made once and reused.  The builds use
# it rather than BASE_PYTHON's own setuptools, which may predate pyproject.toml.
build_env() {
    local base=$1 venv=$2 constraints
    constraints="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/requirements/build-constraints.txt"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import Cython, setuptools' 2>/dev/null; then
        "$base" -m venv --clear "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" Cython setuptools
    fi
}

# clone_and_build REPO DEST BUILD_PYTHON EXTRA_CFLAGS: clone REPO's HEAD into
# DEST and build every compiled module there in place, failing on any
# compile error.
clone_and_build() {
    local repo=$1 dest=$2 py=$3 cflags=$4
    rm -rf "$dest"
    git clone -q "$repo" "$dest"
    echo "$(basename "$0"): $(git -C "$dest" log -1 --format='%h %s')"
    (cd "$dest" && WSFAST_REQUIRE_EXTENSIONS=1 WSFAST_EXTRA_CFLAGS="$cflags" \
        "$py" setup.py -q build_ext --inplace --parallel "${BUILD_JOBS:-2}" >"$dest.build.log" 2>&1) \
        || { tail -n 60 "$dest.build.log" >&2; return 1; }
}
