"""Frame headers, frame encoding and close payloads (RFC 6455 §5.2, §5.5.1, §7.4): pure Python.

The policies (what ``parse_header`` rejects, non-minimal lengths, which close
codes are valid) are explained in docs/frames.md; the compiled twin
(_frames_c.pyx) follows them byte for byte.
"""

from __future__ import annotations

import os
import struct
import threading
from typing import TYPE_CHECKING, Optional, Tuple, Union

from ._buffers import as_bytes, gather
from ._errors import InvalidUTF8, ProtocolError
from ._mask_py import apply_mask
from ._types import FrameHeader, Opcode

__all__ = ["parse_header", "encode_frame", "encode_close", "parse_close"]

if TYPE_CHECKING:
    from typing_extensions import Buffer

# Opcode value -> member, so that a parsed header carries the enum member
# without going through the (slow) enum constructor.
OPCODES = {int(op): op for op in Opcode}
MAX_CONTROL_PAYLOAD = 125
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2

_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")
_LENGTH_16 = struct.Struct("!H")
_LENGTH_64 = struct.Struct("!Q")


def close_code_valid(code: int) -> bool:
    """True when ``code`` may appear in a Close frame on the wire (RFC 6455 §7.4).

    1000-1003 and 1007-1011 are RFC 6455's own, 1012-1014 were registered with
    IANA since; 3000-4999 belong to libraries and applications.  1004 is
    reserved, 1005, 1006 and 1015 exist only for APIs, and the rest of
    0-2999 is unassigned, so a peer sending them breaks the protocol.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _byte_view(data: object) -> Union[bytes, bytearray, memoryview]:
    """``data`` indexable byte by byte, whatever its buffer format or layout."""
    if isinstance(data, (bytes, bytearray)):
        return data
    view = memoryview(data)  # type: ignore[arg-type]  # TypeError for non-buffers
    if view.c_contiguous:
        return view.cast("B") if view.format != "B" or view.ndim != 1 else view
    return gather(view)


def parse_header(data: Buffer, offset: int = 0) -> Optional[FrameHeader]:
    """Parse the frame header at ``data[offset:]``; None while it is incomplete.

    Raises ProtocolError (1002) for a 64-bit length with its top bit set and
    for a length not written in its shortest form (§5.2: "the minimal number
    of bytes MUST be used").  Everything that depends on the connection
    (reserved bits, opcodes, masking direction, control-frame rules) is left
    to the Decoder.
    """
    view = _byte_view(data)
    size = len(view)
    if offset < 0 or offset > size:
        raise ValueError(f"offset {offset} is outside the buffer (length {size})")
    if size - offset < 2:
        return None
    b0 = view[offset]
    b1 = view[offset + 1]
    length = b1 & 0x7F
    header_length = 2
    if length == 126:
        header_length = 4
        if size - offset < 4:
            return None
        (length,) = _LENGTH_16.unpack_from(view, offset + 2)
        if length < 126:
            raise ProtocolError(
                f"RFC 6455 §5.2: payload length {length} sent in 16 bits; the minimal encoding is required"
            )
    elif length == 127:
        header_length = 10
        if size - offset < 10:
            return None
        (length,) = _LENGTH_64.unpack_from(view, offset + 2)
        if length >> 63:
            raise ProtocolError("RFC 6455 §5.2: the most significant bit of a 64-bit payload length must be 0")
        if length < 0x10000:
            raise ProtocolError(
                f"RFC 6455 §5.2: payload length {length} sent in 64 bits; the minimal encoding is required"
            )
    mask = None
    if b1 & 0x80:
        if size - offset < header_length + 4:
            return None
        mask = bytes(view[offset + header_length : offset + header_length + 4])
        header_length += 4
    opcode = b0 & 0x0F
    return FrameHeader(
        bool(b0 & 0x80),
        bool(b0 & 0x40),
        bool(b0 & 0x20),
        bool(b0 & 0x10),
        OPCODES.get(opcode, opcode),
        mask,
        length,
        header_length,
    )


class _KeyPool:
    """Masking keys from os.urandom, drawn in blocks so a key costs a slice, not a syscall.

    RFC 6455 §5.3/§10.3 want keys an attacker cannot predict, hence a CSPRNG.
    A lock keeps two threads from being handed the same key; a forked child
    drops the pool so that parent and child never share keys.
    """

    BLOCK = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._pos = 0

    def draw(self) -> bytes:
        with self._lock:
            pos = self._pos
            if pos + 4 > len(self._pool):
                self._pool = os.urandom(self.BLOCK)
                pos = 0
            self._pos = pos + 4
            return self._pool[pos : pos + 4]

    def after_fork(self) -> None:
        # The lock may have been held by a thread that does not exist in the child.
        self._lock = threading.Lock()
        self._pool = b""
        self._pos = 0


_keys = _KeyPool()
draw_mask_key = _keys.draw
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_keys.after_fork)


def encode_frame(
    opcode: int,
    payload: Union[Buffer, str],
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: Union[None, bool, Buffer] = None,
) -> bytes:
    """One whole frame: header, masking key if any, and payload (masked if asked).

    ``payload`` is any buffer, or a str (sent as UTF-8).  ``mask`` is None or
    False (unmasked, as servers send), True (a fresh key from os.urandom, as
    clients must send) or a 4-byte key.  ValueError for an unknown opcode, a
    control frame over 125 bytes, fragmented or with RSV1 set, or a key that is
    not 4 bytes.
    """
    if opcode not in OPCODES:
        raise ValueError(f"opcode {opcode!r} is not one of RFC 6455's opcodes (0, 1, 2, 8, 9, 10)")
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    elif not isinstance(payload, (bytes, bytearray)):
        payload = as_bytes(payload)
    length = len(payload)
    if opcode >= 8:
        if length > MAX_CONTROL_PAYLOAD:
            raise ValueError(f"a control frame payload is at most 125 bytes (RFC 6455 §5.5), got {length}")
        if not fin:
            raise ValueError("control frames cannot be fragmented (RFC 6455 §5.5): fin must be True")
        if rsv1:
            raise ValueError("RSV1 cannot be set on a control frame")
    b0 = opcode | 0x80 if fin else opcode
    if rsv1:
        b0 |= 0x40
    if mask is None or mask is False:
        mask_bit = 0
    else:
        mask_bit = 0x80
        if mask is True:
            key = draw_mask_key()
        else:
            key = bytes(mask)
            if len(key) != 4:
                raise ValueError(f"a masking key is exactly 4 bytes, got {len(key)}")
    if length < 126:
        header = bytes((b0, mask_bit | length))
    elif length < 0x10000:
        header = _HEADER_16.pack(b0, mask_bit | 126, length)
    else:
        header = _HEADER_64.pack(b0, mask_bit | 127, length)
    if not mask_bit:
        return header + payload
    return header + key + apply_mask(payload, key)


def encode_close(code: Optional[int] = None, reason: str = "") -> bytes:
    """The payload of a Close frame (RFC 6455 §5.5.1).

    ValueError for a code that may not be sent (see close_code_valid), a
    reason without a code, or a reason over 123 bytes of UTF-8.
    """
    if not isinstance(reason, str):
        raise TypeError(f"a close reason is a str, not {type(reason).__name__}")
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code (RFC 6455 §5.5.1)")
        return b""
    if not isinstance(code, int) or not close_code_valid(code):
        raise ValueError(f"close code {code!r} may not be sent (RFC 6455 §7.4): use 1000-1003, 1007-1014 or 3000-4999")
    encoded = reason.encode("utf-8")
    if len(encoded) > MAX_CLOSE_REASON:
        raise ValueError(f"a close reason is at most 123 bytes of UTF-8, got {len(encoded)}")
    return code.to_bytes(2, "big") + encoded


def parse_close(payload: Buffer) -> Tuple[Optional[int], str]:
    """(code, reason) from a Close frame's payload; (None, "") for an empty one.

    ProtocolError (1002) for a one-byte payload, a code not valid on the wire
    or a payload over 125 bytes; InvalidUTF8 (1007) for a reason that is not UTF-8.
    """
    data = as_bytes(payload)
    size = len(data)
    if size == 0:
        return None, ""
    if size == 1:
        raise ProtocolError("RFC 6455 §5.5.1: a close payload of one byte cannot hold a status code")
    if size > MAX_CONTROL_PAYLOAD:
        raise ProtocolError(f"RFC 6455 §5.5: a close payload is at most 125 bytes, got {size}")
    code = (data[0] << 8) | data[1]
    if not close_code_valid(code):
        raise ProtocolError(f"RFC 6455 §7.4: close code {code} is not valid on the wire")
    try:
        reason = data[2:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidUTF8(
            f"RFC 6455 §5.5.1: the close reason is not valid UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    return code, reason
