"""websocket-client: payload masking and UTF-8 validation.

``ABNF.mask`` (a staticmethod, looked up on the class by ``ABNF._get_masked``
on send and by ``frame_buffer.recv_frame`` on receive) turns both arguments
into ``array('B')`` copies and calls the module-level ``_mask``.  The
replacement skips the copies for bytes-like arguments.  ``validate_utf8`` (bound by
``from ._utils import validate_utf8`` into websocket._abnf) calls the module
global ``websocket._utils._validate_utf8``, which is replaced in place, so
both bindings follow.
"""

from __future__ import annotations

import array
from typing import Any, Callable

from ._core import Binding, Mismatch, dist_version, lookup, probe, require_params

DISTRIBUTION = "websocket-client"

_BYTES = (bytes, bytearray)


def version() -> str:
    return dist_version(DISTRIBUTION)


def make_mask_method(
    original: Callable[[Any, Any], bytes], apply_mask: Callable[..., bytes]
) -> staticmethod[Any, bytes]:
    def mask(mask_key: Any, data: Any) -> bytes:
        # str keys and data are latin-1 encoded by the original: leave those to it.
        if type(data) in _BYTES and type(mask_key) in _BYTES and len(mask_key) == 4:
            return apply_mask(data, mask_key)
        return original(mask_key, data)

    mask.__wrapped__ = original  # type: ignore[attr-defined]
    return staticmethod(mask)


def make_mask_function(
    original: Callable[[Any, Any], bytes], apply_mask: Callable[..., bytes]
) -> Callable[[Any, Any], bytes]:
    def _mask(mask_value: Any, data_value: Any) -> bytes:
        if (
            type(mask_value) is array.array
            and type(data_value) is array.array
            and mask_value.typecode == "B"
            and data_value.typecode == "B"
            and len(mask_value) == 4
        ):
            return apply_mask(data_value, mask_value)
        return original(mask_value, data_value)

    _mask.__wrapped__ = original  # type: ignore[attr-defined]
    return _mask


def make_validate(original: Callable[[Any], bool], k: Any) -> Callable[[Any], bool]:
    validate_utf8 = k.validate_utf8
    Utf8Validator = k.Utf8Validator

    def _validate_utf8(utfbytes: Any) -> bool:
        if type(utfbytes) in _BYTES:
            if validate_utf8(utfbytes):
                return True
            # The original's DFA only says False on an impossible byte: a
            # sequence cut short at the end still counts as valid.
            return bool(Utf8Validator().feed(utfbytes))
        return original(utfbytes)

    _validate_utf8.__wrapped__ = original  # type: ignore[attr-defined]
    return _validate_utf8


def plan(k: Any) -> list[Binding]:
    abnf_cls = lookup("websocket._abnf", "ABNF")
    mask_raw = vars(abnf_cls).get("mask")
    if not isinstance(mask_raw, staticmethod):
        raise Mismatch("websocket._abnf.ABNF.mask is not a staticmethod")
    mask_fn = mask_raw.__func__
    require_params("websocket._abnf.ABNF.mask", mask_fn, ("mask_key", "data"))
    probe("ABNF.mask", lambda: mask_fn(b"\x01\x02\x03\x04", b"\x00" * 6) == b"\x01\x02\x03\x04\x01\x02")
    _mask = lookup("websocket._abnf", "_mask")
    require_params("websocket._abnf._mask", _mask, ("mask_value", "data_value"))
    probe(
        "websocket._abnf._mask",
        lambda: _mask(array.array("B", b"\x01\x02\x03\x04"), array.array("B", bytes(5))) == b"\x01\x02\x03\x04\x01",
    )
    validate = lookup("websocket._utils", "_validate_utf8")
    require_params("websocket._utils._validate_utf8", validate, ("utfbytes",))
    probe(
        "websocket._utils._validate_utf8",
        lambda: validate(b"\xe2\x82\xac") is True and validate(b"\xe2\x82") is True and validate(b"\xc0\xaf") is False,
    )
    lookup("websocket._utils", "validate_utf8")
    return [
        Binding("websocket._abnf", "ABNF.mask", make_mask_method(mask_fn, k.apply_mask)),
        Binding("websocket._abnf", "_mask", make_mask_function(_mask, k.apply_mask)),
        Binding("websocket._utils", "_validate_utf8", make_validate(validate, k)),
    ]
