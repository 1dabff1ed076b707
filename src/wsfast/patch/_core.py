"""Check-then-apply machinery shared by the library adapters.

An adapter describes its hook points as ``Binding``s: a module, a dotted
attribute path inside it, and the replacement.  Every binding of a library
is resolved and checked before the first one is written, so a library whose
internals moved is refused whole instead of being left half-patched.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import sys
import tokenize
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

__all__ = [
    "Mismatch",
    "Binding",
    "Applied",
    "lookup",
    "fingerprint",
    "require_fingerprint",
    "require_params",
    "probe",
    "resolve_all",
    "dist_version",
    "apply_all",
    "restore_all",
]

_MISSING = object()


class Mismatch(Exception):
    """The installed library does not have the internals the patch was written for."""


@dataclass(frozen=True)
class Binding:
    """One place where the library looks a hot path up at run time.

    ``lazy`` bindings live in modules the application may not have imported;
    they are patched only if already loaded (a later import copies the name
    from the patched source module), and ``original`` is what such a module
    would have held without the patch, used to undo the copy on uninstall.
    """

    module: str
    path: str
    new: Any
    lazy: bool = False
    original: Any = None


@dataclass
class Applied:
    binding: Binding
    owner: Any = None
    attr: str = ""
    original: Any = _MISSING  # raw value from the owner's __dict__
    pending: bool = False  # lazy module not loaded at install time


def _load(module: str, lazy: bool) -> Optional[types.ModuleType]:
    if lazy:
        return sys.modules.get(module)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Mismatch(f"cannot import {module}: {exc}") from exc


def _owner(module: types.ModuleType, path: str) -> tuple[Any, str]:
    *parents, attr = path.split(".")
    owner: Any = module
    for name in parents:
        owner = getattr(owner, name, _MISSING)
        if owner is _MISSING:
            raise Mismatch(f"{module.__name__}.{path}: {name} is missing")
    return owner, attr


def lookup(module: str, path: str, lazy: bool = False) -> Any:
    """The value a hook point holds now; Mismatch if it is missing.

    Returns None for a lazy module that is not loaded.
    """
    mod = _load(module, lazy)
    if mod is None:
        return None
    owner, attr = _owner(mod, path)
    value = getattr(owner, attr, _MISSING)
    if value is _MISSING:
        raise Mismatch(f"{module}.{path} is missing")
    return value


_fingerprints: dict[Any, str] = {}


def fingerprint(func: Callable[..., Any]) -> str:
    """A hash of a function's source tokens, blind to comments and layout.

    Tokens rather than bytecode, so that one fingerprint holds on every
    Python version; layout-blind, so that a reformat does not refuse a patch.
    Cached per code object: a function whose code changed has another one.
    """
    code = getattr(func, "__code__", None)
    if code is not None and code in _fingerprints:
        return _fingerprints[code]
    digest = _fingerprint(func)
    if code is not None:
        _fingerprints[code] = digest
    return digest


def _fingerprint(func: Callable[..., Any]) -> str:
    source = inspect.getsource(func)
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
    lines = source.splitlines(True)
    indent = len(lines[0]) - len(lines[0].lstrip())
    text = "".join(line[indent:] if line[:indent].isspace() else line.lstrip() for line in lines)
    parts = [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline) if tok.type not in skip]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def require_fingerprint(name: str, func: Any, known: Iterable[str]) -> None:
    """Refuse unless ``func``'s source is one the replacement was written against."""
    try:
        got = fingerprint(func)
    except (OSError, TypeError) as exc:
        raise Mismatch(f"{name}: source not readable ({exc})") from exc
    if got not in set(known):
        raise Mismatch(f"{name} has changed (source fingerprint {got})")


def require_params(name: str, func: Any, expected: tuple[str, ...]) -> None:
    """Refuse unless ``func`` takes exactly these positional parameters, in order."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return  # a builtin without a text signature: the behaviour probe decides
    got = tuple(sig.parameters)
    if got != expected:
        raise Mismatch(f"{name} takes {got}, expected {expected}")


def probe(name: str, check: Callable[[], bool]) -> None:
    """Run ``check`` on the original; refuse if it fails or raises."""
    try:
        ok = check()
    except Exception as exc:  # any failure means the internals are not what we expect
        raise Mismatch(f"{name} does not behave as expected: {type(exc).__name__}: {exc}") from exc
    if not ok:
        raise Mismatch(f"{name} does not behave as expected")


def resolve_all(bindings: Iterable[Binding]) -> list[Applied]:
    """Resolve every binding; raise Mismatch before anything is written."""
    out = []
    for b in bindings:
        mod = _load(b.module, b.lazy)
        if mod is None:
            out.append(Applied(b, pending=True))
            continue
        owner, attr = _owner(mod, b.path)
        namespace = vars(owner)
        if attr not in namespace:
            raise Mismatch(f"{b.module}.{b.path} is missing")
        out.append(Applied(b, owner, attr, namespace[attr]))
    return out


def apply_all(items: list[Applied]) -> None:
    for item in items:
        if not item.pending:
            setattr(item.owner, item.attr, item.binding.new)


def restore_all(items: list[Applied]) -> list[str]:
    """Undo ``apply_all``; returns the hook points someone else had rebound since."""
    foreign = []
    for item in reversed(items):
        b = item.binding
        if item.pending:
            mod = sys.modules.get(b.module)
            if mod is None:
                continue
            owner, attr = _owner(mod, b.path)
            if vars(owner).get(attr, _MISSING) is b.new:
                setattr(owner, attr, b.original)
            continue
        if vars(item.owner).get(item.attr, _MISSING) is b.new:
            setattr(item.owner, item.attr, item.original)
        else:
            foreign.append(f"{b.module}.{b.path}")
    return foreign


def dist_version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(version unknown)"
