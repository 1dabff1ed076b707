"""Inspect and force the SIMD kernel variant of the compiled modules.

The variant is chosen when the compiled modules are imported: the best one
the CPU supports, or the one named by ``WSFAST_SIMD`` (portable, sse2, ssse3,
avx2, neon) if the CPU supports it.  ``force()`` switches every compiled module
at once; the test-suite uses it to run each variant this CPU can run.
"""

from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType

# The compiled modules that carry kernels of their own.
_KERNEL_MODULES = ("wsfast._mask_c", "wsfast._utf8_c")


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in _KERNEL_MODULES]


def available() -> tuple[str, ...]:
    """The variants this CPU and this build can run, best first."""
    names: tuple[str, ...] = _modules()[0]._simd_available()
    return names


def current() -> str:
    """The variant in use now."""
    name: str = _modules()[0]._simd_current()
    return name


def force(name: str) -> None:
    """Make every compiled module use variant ``name`` (ValueError if unsupported)."""
    for module in _modules():
        module._simd_select(name)


def initial(available: tuple[str, ...]) -> str:
    """The variant a kernel module starts with: WSFAST_SIMD if runnable, else the best.

    Called by each compiled kernel module at import.  An unknown or
    unsupported WSFAST_SIMD is not fatal (the library still works, only
    differently fast), so it warns and falls back to the best variant.
    """
    wanted = os.environ.get("WSFAST_SIMD", "").strip().lower()
    if wanted and wanted not in available:
        warnings.warn(
            f"WSFAST_SIMD={wanted!r} is not supported by this CPU or build "
            f"(available: {', '.join(available)}); using {available[0]!r}",
            RuntimeWarning,
            stacklevel=3,
        )
    return wanted if wanted in available else available[0]
