"""tornado: websocket masking (``tornado.util._websocket_mask``).

The name is copied by ``from tornado.util import _websocket_mask`` into
tornado.websocket (frame send and receive) and tornado.web (XSRF token
masking), so each copy is a binding of its own.
"""

from __future__ import annotations

from typing import Any, Callable

from ._core import Binding, dist_version, lookup, probe, require_params

DISTRIBUTION = "tornado"
SOURCE = ("tornado.util", "_websocket_mask")
COPIES = ("tornado.websocket", "tornado.web")


def version() -> str:
    return dist_version(DISTRIBUTION)


def make_mask(
    original: Callable[[bytes, bytes], bytes], apply_mask: Callable[..., bytes]
) -> Callable[[bytes, bytes], bytes]:
    def _websocket_mask(mask: bytes, data: bytes) -> bytes:
        # tornado's C speedup takes read-only bytes only and its Python
        # fallback anything array() takes: other types keep their own errors.
        if type(mask) is bytes and type(data) is bytes and len(mask) == 4:
            return apply_mask(data, mask)
        return original(mask, data)

    _websocket_mask.__wrapped__ = original  # type: ignore[attr-defined]
    return _websocket_mask


def plan(k: Any) -> list[Binding]:
    original = lookup(*SOURCE)
    require_params(
        "tornado.util._websocket_mask_python", lookup("tornado.util", "_websocket_mask_python"), ("mask", "data")
    )
    probe(
        "tornado.util._websocket_mask",
        lambda: original(b"\x01\x02\x03\x04", b"\x00" * 6) == b"\x01\x02\x03\x04\x01\x02",
    )
    new = make_mask(original, k.apply_mask)
    bindings = [Binding(SOURCE[0], SOURCE[1], new)]
    for module in COPIES:
        current = lookup(module, SOURCE[1], lazy=True)
        if current is not None and current is not original:
            # Bound to something else (rebound by someone): wrap what is there.
            bindings.append(Binding(module, SOURCE[1], make_mask(current, k.apply_mask), lazy=True, original=current))
        else:
            bindings.append(Binding(module, SOURCE[1], new, lazy=True, original=original))
    return bindings
