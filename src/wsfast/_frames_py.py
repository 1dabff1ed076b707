"""Frame headers, frame encoding and close payloads (RFC 6455 §5.2, §5.5.1, §7.4): pure Python.

The policies (what ``parse_header`` rejects, non-minimal lengths, which close
codes are valid) are explained in docs/frames.md; the rules and their errors
live in wsfast._protocol and the argument rules in wsfast._args, both shared
with the compiled twin (_frames_c.pyx).
"""

from __future__ import annotations

import os
import struct
import threading
from typing import TYPE_CHECKING, Optional, SupportsIndex, Tuple, Union

from . import _args, _protocol
from ._buffers import as_bytes, gather
from ._mask_py import xor_bytes
from ._types import FrameHeader

__all__ = ["parse_header", "encode_frame", "encode_close", "parse_close"]

if TYPE_CHECKING:
    from typing_extensions import Buffer

_OPCODE_MEMBERS = _protocol.OPCODE_MEMBERS
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")
_LENGTH_16 = struct.Struct("!H")
_LENGTH_64 = struct.Struct("!Q")


def _byte_view(data: object) -> Union[bytes, bytearray, memoryview]:
    """``data`` indexable byte by byte, whatever its buffer format or layout."""
    if isinstance(data, (bytes, bytearray)):
        return data
    view = _args.view(data, "data")
    if not view.c_contiguous:
        return gather(view)
    if view.format == "B" and view.ndim == 1:
        return view
    try:
        return view.cast("B")
    except TypeError:  # a format memoryview cannot cast (non-native, such as '<i')
        return view.tobytes()


def parse_header(data: Buffer, offset: SupportsIndex = 0) -> Optional[FrameHeader]:
    """Parse the frame header at ``data[offset:]``; None while it is incomplete.

    Raises ProtocolError (1002) for a 64-bit length with its top bit set and
    for a length not written in its shortest form (§5.2: "the minimal number
    of bytes MUST be used").  Everything that depends on the connection
    (reserved bits, opcodes, masking direction, control-frame rules) is left
    to the Decoder.  ``offset`` is an int from 0 to ``len(data)``.
    """
    view = _byte_view(data)
    size = len(view)
    if type(offset) is not int or not 0 <= offset <= size:
        offset = _args.header_offset(offset, size)
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
            raise _protocol.non_minimal_length(length, 16)
    elif length == 127:
        header_length = 10
        if size - offset < 10:
            return None
        (length,) = _LENGTH_64.unpack_from(view, offset + 2)
        if length >> 63:
            raise _protocol.length_top_bit()
        if length < 0x10000:
            raise _protocol.non_minimal_length(length, 64)
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
        _OPCODE_MEMBERS.get(opcode, opcode),
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
    opcode: SupportsIndex,
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
    not 4 bytes.  The arguments are checked in order, each against those
    before it.
    """
    opcode = _args.opcode(opcode)
    data = _args.frame_payload(payload)
    length = len(data)
    control = opcode >= 8
    if control and length > _protocol.MAX_CONTROL_PAYLOAD:
        raise _protocol.control_payload_too_long(length)
    if not fin:
        if control:
            raise _protocol.control_not_final()
        b0 = opcode
    else:
        b0 = opcode | 0x80
    if rsv1:
        if control:
            raise _protocol.control_rsv1()
        b0 |= 0x40
    if mask is None or mask is False:
        key = None
    elif mask is True:
        key = draw_mask_key()
    else:
        key = _args.mask_key(mask)
    mask_bit = 0 if key is None else 0x80
    if length < 126:
        header = bytes((b0, mask_bit | length))
    elif length < 0x10000:
        header = _HEADER_16.pack(b0, mask_bit | 126, length)
    else:
        header = _HEADER_64.pack(b0, mask_bit | 127, length)
    if key is None:
        return header + data
    return header + key + xor_bytes(data, length, key)


def encode_close(code: Optional[SupportsIndex] = None, reason: str = "") -> bytes:
    """The payload of a Close frame (RFC 6455 §5.5.1).

    ``code`` is None or an int that may be sent (TypeError for a non-int,
    ValueError for a code not valid on the wire, see docs/frames.md);
    ``reason`` a str (TypeError otherwise) of at most 123 bytes of UTF-8 and
    never without a code (ValueError).
    """
    value = _args.close_code(code)
    text = _args.close_reason(reason, value)
    if value is None:
        return b""
    return value.to_bytes(2, "big") + text


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
        raise _protocol.close_one_byte()
    if size > _protocol.MAX_CONTROL_PAYLOAD:
        raise _protocol.close_too_long(size)
    code = (data[0] << 8) | data[1]
    if not _protocol.close_code_valid(code):
        raise _protocol.close_code_invalid(code)
    try:
        reason = data[2:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _protocol.close_reason_not_utf8(exc) from None
    return code, reason
