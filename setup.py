"""Build the compiled half of wsfast.

Every accelerated unit is a Cython module (`src/wsfast/_<unit>_c.pyx`) linked
with its C kernels from `src/wsfast/_csrc/<unit>_<isa>.c`.  Each kernel file is
compiled on its own with the flags of its instruction set (AVX2 code is only
ever *run* after the CPU says it can); nothing is built with -march=native.

If compiling fails, the install goes on as pure Python and says so loudly,
unless WSFAST_REQUIRE_EXTENSIONS=1, which turns the failure into an error.
WSFAST_NO_EXTENSIONS=1 (or a non-CPython interpreter) skips compiling.
WSFAST_BUILD_ONLY=_mask_c,_utf8_c limits a development build to some modules.
"""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
import traceback
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
PKG = Path("src") / "wsfast"
CSRC = PKG / "_csrc"

# The units, in dependency order: later modules cimport earlier ones.
UNITS = ["mask", "utf8", "frames", "decoder", "deflate", "connection"]
# Units linked with a system library: zlib for permessage-deflate.
LIBRARIES = {"deflate": ["zlib" if sys.platform == "win32" else "z"]}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


NO_EXTENSIONS = _flag("WSFAST_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = _flag("WSFAST_REQUIRE_EXTENSIONS")
IS_CPYTHON = platform.python_implementation() == "CPython"


def _target_arch() -> str:
    """The architecture we compile *for* (honours cross builds)."""
    plat = os.environ.get("_PYTHON_HOST_PLATFORM") or sysconfig.get_platform()
    plat = plat.lower()
    archflags = os.environ.get("ARCHFLAGS", "")
    if sys.platform == "darwin" and archflags:
        archs = archflags.split()[1::2]
        if len(archs) == 1:
            plat = archs[0]
        elif len(archs) > 1:
            # A universal2 build compiles every file for both; ISA flags
            # would break the arm64 half, so only portable kernels.
            return "universal"
    if any(a in plat for a in ("aarch64", "arm64")):
        return "arm64"
    if any(a in plat for a in ("x86_64", "amd64", "win-amd64", "x64")):
        return "x86_64"
    if any(a in plat for a in ("i686", "i386", "win32", "x86")):
        return "x86"
    return "other"


# Per instruction set: compiler flags (unix-style, MSVC).  A kernel file
# `<unit>_<isa>.c` guards its body with the matching architecture macros, so a
# file for another architecture compiles to nothing.
ISA_FLAGS = {
    "portable": ([], []),
    "scalar": ([], []),
    "sse2": (["-msse2"], []),
    "ssse3": (["-mssse3"], []),
    "avx2": (["-mavx2"], ["/arch:AVX2"]),
    "neon": ([], []),
}
ISA_ARCHS = {
    "sse2": ("x86_64", "x86"),
    "ssse3": ("x86_64", "x86"),
    "avx2": ("x86_64", "x86"),
    "neon": ("arm64",),
}


BANNER = """
{line}
WARNING: the compiled extensions of wsfast could not be built.
wsfast is installed as PURE PYTHON: correct, but many times slower.
Reason: {reason}
Set WSFAST_REQUIRE_EXTENSIONS=1 to make this an error instead.
{line}
"""


class KernelBuildExt(build_ext):
    """build_ext that compiles each ISA kernel with its own flags."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any failure means "no extension"
            if REQUIRE_EXTENSIONS:
                raise
            traceback.print_exc()
            sys.stderr.write(BANNER.format(line="*" * 75, reason=exc))
            # The install goes on; wsfast._impl only selects the compiled
            # implementation when every compiled module imports.
            self.extensions = []

    def build_extension(self, ext: Extension) -> None:
        if "z" in ext.libraries or "zlib" in ext.libraries:
            self._check_zlib(ext)
        ext.extra_objects = list(ext.extra_objects or []) + self._compile_kernels(ext)
        super().build_extension(ext)

    def _check_zlib(self, ext: Extension) -> None:
        """Fail with a clear reason (hence the banner) when zlib's header is missing."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            probe = os.path.join(tmp, "wsfast_zlib_probe.c")
            with open(probe, "w", encoding="ascii") as fh:
                fh.write("#include <zlib.h>\nint wsfast_zlib_probe(void) { return ZLIB_VERNUM; }\n")
            try:
                self.compiler.compile([probe], output_dir=tmp, include_dirs=ext.include_dirs)
            except Exception as exc:  # noqa: BLE001 - CompileError, or a missing compiler
                raise RuntimeError(
                    f"{ext.name} needs zlib's header (zlib.h) and library: install zlib's development "
                    "files (zlib1g-dev, zlib-devel or zlib-dev), or point CFLAGS/LDFLAGS at them"
                ) from exc

    def _compile_kernels(self, ext: Extension) -> list[str]:
        kernels = KERNELS.get(ext.name, [])
        if not kernels:
            return []
        msvc = self.compiler.compiler_type == "msvc"
        arch = _target_arch()
        out_dir = os.path.join(self.build_temp, "kernels", ext.name)
        objects: list[str] = []
        for source in kernels:
            isa = Path(source).stem.rsplit("_", 1)[-1]
            if isa in ISA_ARCHS and arch not in ISA_ARCHS[isa]:
                continue  # a kernel for another architecture
            unix_flags, msvc_flags = ISA_FLAGS.get(isa, ([], []))
            flags = list(msvc_flags if msvc else unix_flags)
            if not msvc:
                flags += ["-O3", "-fno-strict-aliasing"]
            else:
                flags += ["/O2"]
            objects += self.compiler.compile(
                [source],
                output_dir=out_dir,
                include_dirs=[str(CSRC)],
                macros=ext.define_macros,
                extra_postargs=flags + list(_extra_cflags()),
                debug=self.debug,
            )
        return objects


def _extra_cflags() -> list[str]:
    # Used by the sanitizer and coverage builds (scripts/); never -march=native.
    return os.environ.get("WSFAST_EXTRA_CFLAGS", "").split()


# Extension name -> its kernel sources (cythonize() rebuilds Extension objects,
# so this cannot ride on the Extension itself).
KERNELS: dict[str, list[str]] = {}


def _extensions() -> list[Extension]:
    only = {m.strip() for m in os.environ.get("WSFAST_BUILD_ONLY", "").split(",") if m.strip()}
    exts = []
    for unit in UNITS:
        modname = f"_{unit}_c"
        if only and modname not in only:
            continue
        pyx = PKG / f"{modname}.pyx"
        # The dispatcher and every kernel of this unit (one file per ISA).
        kernels = sorted(str(p) for p in CSRC.glob(f"{unit}_*.c"))
        if kernels:
            kernels.insert(0, str(CSRC / "wsf_cpu.c"))
        # A universal2 build gets no ISA kernel files (see _target_arch);
        # the macro tells the dispatchers to offer the portable kernels only.
        macros = [("WSF_NO_ISA_KERNELS", "1")] if _target_arch() == "universal" else []
        ext = Extension(
            f"wsfast.{modname}",
            [str(pyx)],
            include_dirs=[str(CSRC)],
            define_macros=macros,
            extra_compile_args=_extra_cflags(),
            extra_link_args=_extra_cflags(),
            libraries=LIBRARIES.get(unit, []),
        )
        KERNELS[ext.name] = kernels
        exts.append(ext)
    return exts


def _cythonize(exts: list[Extension]) -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError as exc:
        if REQUIRE_EXTENSIONS:
            raise
        sys.stderr.write(BANNER.format(line="*" * 75, reason=f"Cython is not available ({exc})"))
        return []
    directives = {
        "language_level": "3",
        "boundscheck": False,
        "wraparound": False,
        "initializedcheck": False,
        "cdivision": True,
        "embedsignature": True,
        "freethreading_compatible": True,
    }
    if os.environ.get("WSFAST_CYTHON_TRACE"):
        directives["linetrace"] = True
    try:
        return cythonize(exts, compiler_directives=directives, include_path=[str(PKG)])
    except Exception as exc:  # noqa: BLE001
        if REQUIRE_EXTENSIONS:
            raise
        sys.stderr.write(BANNER.format(line="*" * 75, reason=f"Cython failed ({exc})"))
        return []


def main() -> None:
    ext_modules: list[Extension] = []
    if NO_EXTENSIONS:
        print("wsfast: WSFAST_NO_EXTENSIONS is set; building pure Python only.")
    elif not IS_CPYTHON:
        print(f"wsfast: {platform.python_implementation()} uses the pure-Python implementation.")
    else:
        ext_modules = _cythonize(_extensions())
    setup(ext_modules=ext_modules, cmdclass={"build_ext": KernelBuildExt})


if __name__ == "__main__":
    main()
