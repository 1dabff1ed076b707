"""Make other WebSocket libraries use wsfast's kernels, with one call.

    import wsfast.patch
    wsfast.patch.install()            # every supported library that is installed
    wsfast.patch.install("wsproto")   # or only those named
    wsfast.patch.uninstall()          # back to the originals

Names are distribution names: ``wsproto``, ``websocket-client``, ``tornado``,
``autobahn``, ``websockets``.  Each library is checked whole before anything
of it is changed; a version whose internals differ from what its adapter was
written for is refused with a ``PatchWarning`` and left untouched.  See
docs/patch.md for the hook points and what stays unpatched.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import warnings
from typing import Any

from ._core import Applied, Mismatch, apply_all, resolve_all, restore_all

__all__ = [
    "LIBRARIES",
    "install",
    "uninstall",
    "installed",
    "PatchWarning",
    "LibraryNotInstalled",
    "UnknownLibrary",
]

# distribution name -> (adapter module, top-level import name)
_ADAPTERS = {
    "wsproto": ("_wsproto", "wsproto"),
    "websocket-client": ("_websocket_client", "websocket"),
    "tornado": ("_tornado", "tornado"),
    "autobahn": ("_autobahn", "autobahn"),
    "websockets": ("_websockets", "websockets"),
}
LIBRARIES: tuple[str, ...] = tuple(_ADAPTERS)


class PatchWarning(RuntimeWarning):
    """A library was left unpatched because its internals are not the expected ones."""


class UnknownLibrary(LookupError):
    """A name that is not one of ``LIBRARIES``."""


class LibraryNotInstalled(ModuleNotFoundError):
    """A library asked for by name is not installed."""


_lock = threading.RLock()
_patched: dict[str, list[Applied]] = {}


def _is_installed(name: str) -> bool:
    return importlib.util.find_spec(_ADAPTERS[name][1]) is not None


def _check_names(names: tuple[str, ...]) -> None:
    for name in names:
        if name not in _ADAPTERS:
            raise UnknownLibrary(f"wsfast.patch: unknown library {name!r}; supported: {', '.join(LIBRARIES)}")
    for name in names:
        if not _is_installed(name):
            module = _ADAPTERS[name][1]
            raise LibraryNotInstalled(
                f"wsfast.patch: {name!r} is not installed (no module {module!r})", name=module
            )


def _install_one(name: str, kernels: Any) -> bool:
    adapter = importlib.import_module(f"{__name__}.{_ADAPTERS[name][0]}")
    try:
        items = resolve_all(adapter.plan(kernels))
    except Mismatch as exc:
        warnings.warn(
            PatchWarning(f"wsfast.patch: {name} {adapter.version()} left unpatched: {exc}"),
            stacklevel=3,
        )
        return False
    apply_all(items)
    _patched[name] = items
    return True


def _install(kernels: Any, names: tuple[str, ...]) -> list[str]:
    with _lock:
        if names:
            _check_names(names)
            wanted = list(dict.fromkeys(names))
        else:
            wanted = [n for n in LIBRARIES if _is_installed(n)]
        done = []
        for name in wanted:
            if name in _patched or _install_one(name, kernels):
                done.append(name)
        return done


def install(*names: str) -> list[str]:
    """Patch the named libraries (all installed ones if none is named).

    Returns the names that are patched when it returns, in the order asked;
    a library already patched counts and is left as it is.  Raises
    ``UnknownLibrary`` for a name that is not supported and
    ``LibraryNotInstalled`` for one that is not installed, before patching
    anything.  A library whose internals do not match is skipped with a
    ``PatchWarning`` and is not in the result.
    """
    import wsfast

    return _install(wsfast, names)


def uninstall() -> list[str]:
    """Restore every original; returns the names that were unpatched.

    A hook point that something else rebound after install is left alone,
    with a ``PatchWarning``.
    """
    with _lock:
        names = list(_patched)
        for name in reversed(names):
            foreign = restore_all(_patched.pop(name))
            if foreign:
                warnings.warn(
                    PatchWarning(f"wsfast.patch: {name}: left alone, rebound since install: {', '.join(foreign)}"),
                    stacklevel=2,
                )
        return names


def installed() -> list[str]:
    """The names patched now."""
    with _lock:
        return list(_patched)
