"""websockets: ``apply_mask``, from ``websockets.speedups`` or ``websockets.utils``.

websockets.frames (the Sans-I/O protocol every websockets API runs on) and
websockets.legacy.framing each bind the C speedup if it imports, else the
pure-Python one, with ``from ... import apply_mask``.  Where the C speedup
is bound, wsfast's ``apply_mask`` goes in as it is: same argument order, same
inputs accepted, bytes out, ValueError/TypeError as before (their messages are
wsfast's).  The pure-Python one is wrapped so that what it refuses is still
refused by it.
"""

from __future__ import annotations

import types
from typing import Any, Callable

from ._core import Binding, dist_version, lookup, probe

DISTRIBUTION = "websockets"
SOURCES = (("websockets.speedups", True), ("websockets.utils", False))
COPIES = ("websockets.frames", "websockets.legacy.framing")
NAME = "apply_mask"


def version() -> str:
    return dist_version(DISTRIBUTION)


def _fast_data(data: Any) -> bool:
    t = type(data)
    if t is bytes or t is bytearray:
        return True
    # Other memoryviews keep the original's handling (copy when not contiguous).
    return t is memoryview and data.c_contiguous and data.itemsize == 1


def make_mask(original: Callable[..., bytes], apply_mask: Callable[..., bytes]) -> Callable[..., bytes]:
    if isinstance(original, types.BuiltinFunctionType):
        # The C speedup takes what wsfast's kernel takes (any buffer, strided
        # too; a 4-byte mask) and raises the same types; a Python wrapper
        # around the kernel would cost more than the C speedup does at 125 B.
        return apply_mask

    def apply_mask_(data: Any, mask: Any) -> bytes:
        if _fast_data(data) and (type(mask) is bytes or type(mask) is bytearray) and len(mask) == 4:
            return apply_mask(data, mask)
        return original(data, mask)

    apply_mask_.__name__ = apply_mask_.__qualname__ = NAME
    apply_mask_.__wrapped__ = original  # type: ignore[attr-defined]
    return apply_mask_


def plan(k: Any) -> list[Binding]:
    replacements: dict[int, Any] = {}
    bindings = []

    def replacement(original: Any) -> Any:
        if id(original) not in replacements:
            probe(
                f"{getattr(original, '__module__', '?')}.{NAME}",
                lambda: original(b"\x00" * 6, b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04\x01\x02",
            )
            replacements[id(original)] = make_mask(original, k.apply_mask)
        return replacements[id(original)]

    for module, optional in SOURCES:
        if optional:
            try:
                __import__(module)
            except ImportError:
                continue  # built without the C speedup: nothing to patch there
        original = lookup(module, NAME)
        bindings.append(Binding(module, NAME, replacement(original)))
    default = lookup(COPIES[0], NAME)  # the binding the protocol uses
    for module in COPIES:
        current = lookup(module, NAME, lazy=module != COPIES[0])
        bindings.append(Binding(module, NAME, replacement(current if current is not None else default),
                                lazy=module != COPIES[0], original=default))
    return bindings
