"""Which implementation runs: the compiled one or the pure-Python twin.

The compiled implementation is chosen only when *every* compiled module
imports, so a half-built install never mixes the two.  ``load()`` gives the
test-suite and the benchmarks either implementation by name, side by side.
"""

from __future__ import annotations

import importlib
import os
import platform
import types

# The accelerated units, each a triplet: _<unit>_py.py, _<unit>_c.pyx, _<unit>.py.
UNITS = ("mask", "utf8", "frames", "decoder", "deflate", "connection")
KINDS = ("python", "cython")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


# Public name -> the unit that defines it.
PUBLIC = {
    "apply_mask": "mask",
    "apply_mask_inplace": "mask",
    "Masker": "mask",
    "validate_utf8": "utf8",
    "Utf8Validator": "utf8",
    "parse_header": "frames",
    "encode_frame": "frames",
    "encode_close": "frames",
    "parse_close": "frames",
    "Decoder": "decoder",
    "Deflater": "deflate",
    "Inflater": "deflate",
    "ServerConnection": "connection",
    "ClientConnection": "connection",
}


class Implementation:
    """One implementation's public names, resolved from its unit modules on use."""

    def __init__(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown implementation {kind!r}; expected one of {KINDS}")
        self.IMPLEMENTATION = kind
        self._suffix = "py" if kind == "python" else "c"

    def module(self, unit: str) -> types.ModuleType:
        """The module of ``unit`` (ImportError when it is not built)."""
        return importlib.import_module(f"wsfast._{unit}_{self._suffix}")

    def __getattr__(self, name: str) -> object:
        unit = PUBLIC.get(name)
        if unit is None:
            raise AttributeError(name)
        return getattr(self.module(unit), name)

    @property
    def SIMD(self) -> str:
        if self.IMPLEMENTATION == "python":
            return "none"
        name: str = self.module("mask")._simd_current()
        return name

    def __repr__(self) -> str:
        return f"<wsfast implementation {self.IMPLEMENTATION}>"


def load(kind: str, *, lazy: bool = False) -> Implementation:
    """One implementation by name; unless ``lazy``, import all of it now.

    Raises ImportError when a module of it is not built.
    """
    impl = Implementation(kind)
    if not lazy:
        for unit in UNITS:
            impl.module(unit)
    return impl


def _choose() -> tuple[str, str, str | None]:
    """(implementation, SIMD variant, why the compiled one was not used)."""
    if _flag("WSFAST_NO_EXTENSIONS"):
        return "python", "none", "WSFAST_NO_EXTENSIONS is set"
    if platform.python_implementation() != "CPython":
        return "python", "none", f"{platform.python_implementation()} runs the pure-Python implementation"
    try:
        impl = load("cython")
    except ImportError as exc:
        return "python", "none", f"compiled modules not available ({exc})"
    return "cython", impl.SIMD, None


IMPLEMENTATION, SIMD, FALLBACK_REASON = _choose()
