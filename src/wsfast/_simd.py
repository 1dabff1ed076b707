"""Inspect and switch the SIMD level of the compiled kernel modules.

The levels are the rows of ``_csrc/wsf_levels.h`` (portable, sse2, ssse3,
avx2, neon today).  Each compiled kernel module starts with the level named by
``WSFAST_SIMD`` if the CPU runs it, else with the best level the CPU runs.
``force()`` switches every kernel module at once (``python -m wsfast --simd``
and the test-suite use it); ``wsfast.SIMD`` always names the level in use.
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


def levels() -> tuple[str, ...]:
    """Every level this build knows, least preferred first, runnable here or not."""
    names: tuple[str, ...] = _modules()[0]._simd_levels()
    return names


def available() -> tuple[str, ...]:
    """The levels this CPU and this build can run, best first."""
    names: tuple[str, ...] = _modules()[0]._simd_available()
    return names


def current() -> str:
    """The level in use now."""
    name: str = _modules()[0]._simd_current()
    return name


def force(name: str) -> None:
    """Make every compiled module use level ``name`` (ValueError if not runnable here).

    Every kernel module can run the same levels (a unit without a kernel of
    its own at a level borrows another's), so the first module's check stands
    for all and a refused name leaves every module as it was.
    """
    for module in _modules():
        module._simd_select(name)


def initial(available: tuple[str, ...]) -> str:
    """The level a kernel module starts with: WSFAST_SIMD if runnable, else the best.

    Called by each compiled kernel module at import.  An unknown or
    unsupported WSFAST_SIMD is not fatal (the library still works, only
    differently fast), so it warns and falls back to the best level.
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
