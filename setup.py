"""Build the compiled half of wsfast.

Every accelerated unit is a Cython module (`src/wsfast/_<unit>_c.pyx`) linked
with its C kernels from `src/wsfast/_csrc/<unit>_<level>.c`, one file per SIMD
level of `_csrc/wsf_levels.h` (the table of levels: their architecture, compiler
flags and CPU features).  Each kernel file is compiled on its own with the
flags of its level (AVX2 code is only ever *run* after the CPU says it can);
nothing is built with -march=native.

If compiling fails, the install goes on as pure Python and says so loudly,
unless WSFAST_REQUIRE_EXTENSIONS=1, which turns the failure into an error.
WSFAST_NO_EXTENSIONS=1 (or a non-CPython interpreter) skips compiling.
WSFAST_BUILD_ONLY=_mask_c,_utf8_c limits a development build to some modules.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import NamedTuple

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
PKG = Path("src") / "wsfast"
CSRC = PKG / "_csrc"

# The units, in dependency order: later modules cimport earlier ones.
UNITS = ["mask", "utf8", "frames", "decoder", "deflate", "connection"]
# Units linked with a system library: zlib for permessage-deflate, and
# libdl where dlopen lives apart from libc (glibc before 2.34), to borrow
# zlib-ng's functions from its Python module at run time (_csrc/zstream.h).
if sys.platform == "win32":
    LIBRARIES = {"deflate": ["zlib"]}
else:
    LIBRARIES = {"deflate": ["z", "dl"] if sys.platform.startswith("linux") else ["z"]}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


NO_EXTENSIONS = _flag("WSFAST_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = _flag("WSFAST_REQUIRE_EXTENSIONS")
IS_CPYTHON = platform.python_implementation() == "CPython"


def _target_arch() -> str:
    """The `arch` column of wsf_levels.h we compile for (honours cross builds).

    "ANY" means portable kernels only: a universal2 build (which compiles
    every file for two architectures at once, so ISA flags would break one
    half) or a CPU without kernels of its own.
    """
    plat = os.environ.get("_PYTHON_HOST_PLATFORM") or sysconfig.get_platform()
    plat = plat.lower()
    archflags = os.environ.get("ARCHFLAGS", "")
    if sys.platform == "darwin" and archflags:
        archs = archflags.split()[1::2]
        if len(archs) == 1:
            plat = archs[0]
        elif len(archs) > 1:
            return "ANY"
    if any(a in plat for a in ("aarch64", "arm64")):
        return "ARM64"
    if any(a in plat for a in ("x86_64", "amd64", "i686", "i386", "win32", "x64", "x86")):
        return "X86"
    return "ANY"


class Level(NamedTuple):
    """One row of src/wsfast/_csrc/wsf_levels.h (that file documents the columns)."""

    name: str
    arch: str
    cc_flags: list[str]
    msvc_flags: list[str]
    features: str
    borrows: str


_LEVEL_ROW = re.compile(
    r'^WSF_LEVEL\(\s*(\w+)\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*,\s*"([^"]*)"\s*,\s*([^,]+?)\s*,\s*(\w+)\s*\)\s*$',
    re.MULTILINE,
)


def read_levels(csrc: Path = CSRC) -> list[Level]:
    """The SIMD levels, least preferred first, as wsf_levels.h lists them."""
    text = (csrc / "wsf_levels.h").read_text()
    rows = _LEVEL_ROW.findall(text)
    if len(rows) != len(re.findall(r"^WSF_LEVEL\(", text, re.MULTILINE)):
        raise ValueError("wsf_levels.h: a row does not have the form its header comment describes")
    levels = [Level(name, arch, cc.split(), msvc.split(), features, borrows)
              for name, arch, cc, msvc, features, borrows in rows]
    names = [lv.name for lv in levels]
    if not levels or names[0] != "portable" or levels[0].arch != "ANY" or len(set(names)) != len(names):
        raise ValueError("wsf_levels.h: the first row must be portable (ANY), and names must be unique")
    for lv in levels:
        if lv.arch not in ("ANY", "X86", "ARM64"):
            raise ValueError(f"wsf_levels.h: {lv.name}: unknown arch {lv.arch}")
        if lv.borrows not in names[: names.index(lv.name)] and lv.name != "portable":
            raise ValueError(f"wsf_levels.h: {lv.name} must borrow from a row above it, not {lv.borrows}")
    return levels


def unit_kernels(unit: str, arch: str, csrc: Path = CSRC) -> tuple[list[tuple[str, Level]], list[tuple[str, str]]]:
    """The kernel files of `unit` to compile for `arch`, each with its level,
    and the macros that tell the C dispatch which kernels the module has.

    A unit has kernels when it has `<unit>_portable.c`; every `<unit>_<x>.c`
    must then name a row of wsf_levels.h.
    """
    if not (csrc / f"{unit}_portable.c").is_file():
        return [], []
    levels = {lv.name: lv for lv in read_levels(csrc)}
    files: list[tuple[str, Level]] = []
    for path in sorted(csrc.glob(f"{unit}_*.c")):
        level = levels.get(path.stem[len(unit) + 1 :])
        if level is None:
            raise ValueError(f"{path}: no row of wsf_levels.h is named after it")
        if level.arch in ("ANY", arch):
            files.append((str(path), level))
    have = {level.name for _, level in files}
    macros = [(f"WSF_HAVE_{unit}_{name}", "1" if name in have else "0") for name in levels]
    if arch == "ANY":
        macros.append(("WSF_NO_ISA_KERNELS", "1"))
    return files, macros


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
        except Exception as exc:
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
            except Exception as exc:
                raise RuntimeError(
                    f"{ext.name} needs zlib's header (zlib.h) and library: install zlib's development "
                    "files (zlib1g-dev, zlib-devel or zlib-dev), or point CFLAGS/LDFLAGS at them"
                ) from exc

    def _compile_kernels(self, ext: Extension) -> list[str]:
        msvc = self.compiler.compiler_type == "msvc"
        out_dir = os.path.join(self.build_temp, "kernels", ext.name)
        objects: list[str] = []
        for source, level in KERNELS.get(ext.name, []):
            flags = level.msvc_flags + ["/O2"] if msvc else level.cc_flags + ["-O3", "-fno-strict-aliasing"]
            objects += self.compiler.compile(
                [source],
                output_dir=out_dir,
                include_dirs=[str(CSRC)],
                macros=ext.define_macros,
                extra_postargs=flags + _extra_cflags(),
                debug=self.debug,
            )
        return objects


def _extra_cflags() -> list[str]:
    # Used by the sanitizer and coverage builds (scripts/); never -march=native.
    return os.environ.get("WSFAST_EXTRA_CFLAGS", "").split()


# Extension name -> its kernel sources, each with its level (cythonize()
# rebuilds Extension objects, so this cannot ride on the Extension itself).
KERNELS: dict[str, list[tuple[str, Level]]] = {}


def _extensions() -> list[Extension]:
    only = {m.strip() for m in os.environ.get("WSFAST_BUILD_ONLY", "").split(",") if m.strip()}
    arch = _target_arch()
    exts = []
    for unit in UNITS:
        modname = f"_{unit}_c"
        if only and modname not in only:
            continue
        kernels, macros = unit_kernels(unit, arch)
        ext = Extension(
            f"wsfast.{modname}",
            [str(PKG / f"{modname}.pyx")],
            include_dirs=[str(CSRC)],
            define_macros=macros,
            extra_compile_args=_extra_cflags(),
            extra_link_args=_extra_cflags(),
            libraries=LIBRARIES.get(unit, []),
        )
        if kernels:
            # The CPU detector goes with the kernels it chooses between, and
            # like the portable kernels it is compiled with no ISA flags.
            kernels.insert(0, (str(CSRC / "wsf_cpu.c"), read_levels()[0]))
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
    except Exception as exc:
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
