#!/usr/bin/env bash
# Cross-compile the extensions for aarch64 and run the suite on the NEON path
# under qemu-user emulation, with Debian's aarch64 python3.11.
#
# How: Debian ships the arm64 headers (libpython3.11-dev:arm64) and an arm64
# _sysconfigdata whose CC, LDSHARED, EXT_SUFFIX and include dirs already name
# the cross toolchain.  setup.py runs on the host Python 3.11 with that
# sysconfig data (_PYTHON_SYSCONFIGDATA_NAME) and _PYTHON_HOST_PLATFORM, so
# the real build path (kernel selection by target architecture, per-ISA
# flags) is what is exercised; Cython runs on the host, gcc targets aarch64.
# The aarch64 interpreter is taken out of its .deb (installing python3.11:arm64
# would replace the host's python3.11).  Subprocesses of the tests exec that
# binary directly, so qemu is registered with binfmt_misc.
#
# Builds a clean clone of the committed HEAD.  Needs root (apt, binfmt_misc).
#   WSFAST_HYPOTHESIS_PROFILE  defaults to "quick" (emulation is ~10x slower)
#   WSFAST_ARM64_KEEP=1        keep the work directory
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
WORK=$(mktemp -d /tmp/wsfast-arm64.XXXXXX)
if [[ "${WSFAST_ARM64_KEEP:-}" != "1" ]]; then
    trap 'rm -rf "$WORK"' EXIT
fi
export WSFAST_HYPOTHESIS_PROFILE=${WSFAST_HYPOTHESIS_PROFILE:-quick}
# Leaks are hunted natively in .ci/run; under emulation a few thousand calls.
export WSFAST_LEAK_ITERATIONS=${WSFAST_LEAK_ITERATIONS:-2000}
export DEBIAN_FRONTEND=noninteractive
START=$SECONDS
say() { printf '\n=== %s (%ss)\n' "$*" $((SECONDS - START)); }

# The host Python that runs setup.py must be the target's minor version.
HOST_PY=""
for cand in "${PYTHON:-}" python3.11 "$(pyenv root 2>/dev/null)/versions/3.11"*/bin/python python3; do
    if [[ -n "$cand" ]] && command -v "$cand" >/dev/null 2>&1 &&
        [[ $("$cand" -c 'import sys; print(sys.version_info[:2] == (3, 11))' 2>/dev/null) == True ]]; then
        HOST_PY=$(command -v "$cand"); break
    fi
done
[[ -n "$HOST_PY" ]] || { echo "FAIL: no host Python 3.11 to run setup.py"; exit 1; }

# --- toolchain, arm64 headers, qemu -----------------------------------------------
say "packages"
pkgs=(gcc-aarch64-linux-gnu qemu-user-static libpython3.11-dev:arm64)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -qq
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >"$WORK/apt.log" 2>&1 || {
        tail -30 "$WORK/apt.log"; echo "FAIL: apt-get install ${missing[*]}"; exit 1; }
fi

# The aarch64 interpreter, from the same version as the installed arm64 stdlib.
stdlib_version=$(dpkg-query -W -f='${Version}' libpython3.11-stdlib:arm64)
(cd "$WORK" && apt-get download -qq "python3.11-minimal:arm64=$stdlib_version" 2>/dev/null) || {
    echo "FAIL: apt-get download python3.11-minimal:arm64=$stdlib_version"; exit 1; }
dpkg -x "$WORK"/python3.11-minimal_*_arm64.deb "$WORK/arm64root"
PYARM=$WORK/arm64root/usr/bin/python3.11

# Register qemu for aarch64 ELF files, so that sys.executable works as is.
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    [[ -e /proc/sys/fs/binfmt_misc/register ]] ||
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
fi
"$PYARM" -c 'import platform, sys; assert platform.machine() == "aarch64"; print("target:", sys.version.split()[0], platform.machine())'

# --- cross-compile -----------------------------------------------------------------
say "cross-compile $(git -C "$ROOT" rev-parse --short HEAD)"
clone_head "$WORK/tree"
TREE=$WORK/tree
build_env "$HOST_PY" "$WORK/hostbuild"
# Only Debian's arm64 sysconfig module goes on the path, not its whole stdlib.
mkdir -p "$WORK/xsys"
cp /usr/lib/python3.11/_sysconfigdata__linux_aarch64-linux-gnu.py "$WORK/xsys/"
(
    cd "$TREE"
    unset WSFAST_NO_EXTENSIONS WSFAST_BUILD_ONLY WSFAST_EXTRA_CFLAGS
    WSFAST_REQUIRE_EXTENSIONS=1 \
        _PYTHON_HOST_PLATFORM=linux-aarch64 \
        _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__linux_aarch64-linux-gnu \
        PYTHONPATH="$WORK/xsys" \
        "$WORK/hostbuild/bin/python" setup.py build_ext --inplace >"$WORK/build.log" 2>&1
) || { tail -40 "$WORK/build.log"; echo "FAIL: cross-compile"; exit 1; }
grep -c 'aarch64-linux-gnu-gcc' "$WORK/build.log" | sed 's/^/compiler calls: /'
file "$TREE"/src/wsfast/*.so
if file "$TREE"/src/wsfast/*.so | grep -v 'ARM aarch64' | grep -q .; then
    echo "FAIL: a module was not built for aarch64"; exit 1
fi

# --- the suite under emulation --------------------------------------------------------
say "test dependencies"
# The host's pip fetches the target's wheels (hypothesis has a compiled part).
"$WORK/hostbuild/bin/python" -m pip install -q --target "$WORK/pydeps" --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 \
    --platform manylinux_2_36_aarch64 --platform manylinux_2_28_aarch64 \
    --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 \
    -r "$TREE/requirements/test.txt" -r "$TREE/requirements/zlib-ng.txt" \
    >"$WORK/pydeps.log" 2>&1 || { cat "$WORK/pydeps.log"; exit 1; }
export PYTHONPATH="$WORK/pydeps:$TREE/src" PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1
unset WSFAST_NO_EXTENSIONS WSFAST_SIMD
cd "$TREE"

say "what loaded"
state=$("$PYARM" -c 'import wsfast; from wsfast import _impl, _simd
from wsfast import _deflate_c
print(wsfast.IMPLEMENTATION, wsfast.SIMD, ",".join(_simd.available()), _deflate_c.ZLIB_NG_VERSION, _impl.FALLBACK_REASON)')
echo "$state"
read -r impl simd variants zlib_ng _ <<<"$state"
# Every level of the table for arm64 (or any target), best first: qemu
# emulates every feature an arm64 level can ask for.
expected=$(cd "$TREE" && "$WORK/hostbuild/bin/python" -c 'import importlib.util as u
spec = u.spec_from_file_location("wsfast_setup", "setup.py")
setup = u.module_from_spec(spec)
spec.loader.exec_module(setup)
print(",".join(lv.name for lv in reversed(setup.read_levels()) if lv.arch in ("ANY", "ARM64")))')
[[ $impl == cython ]] || { echo "FAIL: IMPLEMENTATION is $impl, expected cython"; exit 1; }
[[ $simd == "${expected%%,*}" ]] || { echo "FAIL: SIMD is $simd, expected ${expected%%,*}"; exit 1; }
[[ $variants == "$expected" ]] || { echo "FAIL: variants $variants, expected $expected"; exit 1; }
# zlib-ng's aarch64 wheel lends its C functions to the compiled deflate unit.
[[ $zlib_ng == 2.* ]] || { echo "FAIL: zlib-ng not bound (ZLIB_NG_VERSION $zlib_ng)"; exit 1; }

# Under emulation the suite runs what depends on the target: the compiled
# implementation.  The pure twin's parametrizations (id "python") are
# deselected, as are files with no compiled code of their own, since both run
# natively in .ci/run; test_build.py is about the host's packaging.  A
# "native" C-harness test assumes the host compiler targets this machine,
# which under qemu it does not (its aarch64 variant runs instead).
PYTEST=("$PYARM" -m pytest -q -p no:cacheprovider)
DESELECT="not python and not (c_kernels_directly and native)"
suite=()
for f in test_impl test_mask test_utf8 test_frames test_close test_decoder test_deflate test_threads test_leaks test_limits; do
    if [[ -e tests/$f.py ]]; then suite+=("tests/$f.py"); fi
done

say "compiled implementation on NEON (simd_impl tests also run portable)"
failed=0
WSFAST_EXPECT_IMPL=cython "${PYTEST[@]}" -k "$DESELECT" "${suite[@]}" || failed=1

say "mask and UTF-8 tests with the portable kernels as the default"
kernel_tests=$(ls tests/test_mask*.py tests/test_utf8*.py 2>/dev/null || true)
[[ -n "$kernel_tests" ]] || { echo "FAIL: no mask/utf8 test files found"; exit 1; }
# Only what runs the default variant: the per-variant tests ran above.
per_variant=""
for level in ${expected//,/ }; do per_variant+=" and not cython-$level"; done
# shellcheck disable=SC2086
WSFAST_SIMD=portable WSFAST_EXPECT_IMPL=cython "${PYTEST[@]}" \
    -k "$DESELECT$per_variant" $kernel_tests || failed=1

say "done"
if ((failed)); then
    echo "FAIL: arm64 tests failed under qemu ($impl/$simd, $((SECONDS - START))s)"
    exit 1
fi
echo "arm64: cross-compiled, $impl/$simd, suite passed under qemu in $((SECONDS - START))s"
