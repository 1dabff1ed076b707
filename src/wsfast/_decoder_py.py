"""The sans-I/O stream decoder (RFC 6455 §5): bytes in, events out.  Pure Python.

The rules it enforces and its policies (limits, after-close, errors) are in
docs/decoder.md; the compiled twin (_decoder_c.pyx) behaves the same.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, List, Optional, Union

from ._buffers import as_bytes
from ._errors import InvalidUTF8, MessageTooBig, ProtocolError
from ._frames_py import parse_close
from ._mask_py import _JIT, _ONES, Masker, _from_bytes, _ones, apply_mask
from ._types import Close, Message, Opcode, Ping, Pong
from ._utf8_py import Utf8Validator

__all__ = ["Decoder"]

if TYPE_CHECKING:
    from typing_extensions import Buffer

Event = Union[Message, Ping, Pong, Close]

DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
DEFAULT_MAX_FRAME_SIZE = 1 << 20

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
# Greater than any frame or message (lengths are below 2**63): "no limit".
_NO_LIMIT = 1 << 64
# Events are built as their NamedTuple's own __new__ would, minus its frame.
_new_tuple = tuple.__new__
# Masked payloads up to this size are unmasked inline by one big-integer XOR
# (apply_mask's own small-bytes path, minus a call and its argument checks);
# under a JIT, apply_mask's loop is faster.
_INLINE_UNMASK = 0 if _JIT else 1024


def _b0_ok(b0: int) -> bool:
    opcode = b0 & 0x0F
    if b0 & 0x70 or opcode not in (0, 1, 2, 8, 9, 10):
        return False
    return opcode < 8 or bool(b0 & 0x80)


# First header byte -> whether it breaks no rule by itself (reserved bits,
# reserved opcodes, a fragmented control frame): one lookup a frame.
_B0_OK = bytes(_b0_ok(b0) for b0 in range(256))


def check_limit(name: str, value: Optional[int]) -> Optional[int]:
    """A size limit as given to Decoder(): an int >= 0, or None for none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def again(error: ProtocolError) -> ProtocolError:
    """The error a failed Decoder raises on every later call: same class and message, no events."""
    fresh = copy.copy(error)
    fresh.events = []
    return fresh.with_traceback(None)


def header_error(b0: int, b1: int, expect_mask: bool) -> Optional[ProtocolError]:
    """The rule broken by a frame's first two bytes, if any.

    Kept off the fast path, which only tests whether some rule is broken; the
    compiled Decoder uses it too, so both name the broken rule alike.
    """
    opcode = b0 & 0x0F
    if b0 & 0x70:
        bits = ", ".join(name for bit, name in ((0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")) if b0 & bit)
        return ProtocolError(f"RFC 6455 §5.2: reserved bit(s) {bits} set without a negotiated extension")
    if opcode not in (0, 1, 2, 8, 9, 10):
        return ProtocolError(f"RFC 6455 §5.2: opcode {opcode:#x} is reserved")
    if bool(b1 & 0x80) != expect_mask:
        if expect_mask:
            return ProtocolError("RFC 6455 §5.1: a client must mask every frame it sends; got an unmasked frame")
        return ProtocolError("RFC 6455 §5.1: a server must not mask the frames it sends; got a masked frame")
    if opcode >= 8:
        if not b0 & 0x80:
            return ProtocolError("RFC 6455 §5.5: control frames must not be fragmented")
        if b1 & 0x7F > 125:
            return ProtocolError("RFC 6455 §5.5: a control frame payload is at most 125 bytes")
    return None


class Decoder:
    """Decode a stream of frames into events: Message, Ping, Pong and Close.

    ``client`` says which side this is (a server requires masked frames, a
    client unmasked ones).  ``max_message_size`` bounds a reassembled message
    and ``max_frame_size`` one frame's payload (None: no bound); both are
    checked on each header, before a byte of payload is stored.
    ``decode_text=False`` hands text messages over as validated UTF-8 bytes
    instead of str.
    """

    __slots__ = (
        "_expect_mask",
        "_max_message",
        "_max_frame",
        "_decode_text",
        "_pending",
        "_left",
        "_opcode",
        "_fin",
        "_masker",
        "_control",
        "_msg_opcode",
        "_msg_parts",
        "_msg_size",
        "_utf8",
        "_error",
        "_closed",
    )

    def __init__(
        self,
        *,
        client: bool = False,
        max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: Optional[int] = DEFAULT_MAX_FRAME_SIZE,
        decode_text: bool = True,
    ) -> None:
        self._expect_mask = not client
        self._max_message = check_limit("max_message_size", max_message_size)
        self._max_frame = check_limit("max_frame_size", max_frame_size)
        self._decode_text = bool(decode_text)
        self._pending = b""  # an incomplete header carried to the next feed
        self._left = 0  # payload bytes of the current frame still to come
        self._opcode = 0  # of the frame whose payload is arriving
        self._fin = True
        self._masker: Optional[Masker] = None
        # Payload received so far, of a control frame and of the message in
        # progress: one growing buffer each, not a list of the pieces, which
        # would cost a bytes object per feed (a peer trickling one byte per
        # packet would multiply memory by ~35).
        self._control = bytearray()
        self._msg_opcode = 0  # 0: no message in progress
        self._msg_parts = bytearray()
        self._msg_size = 0
        self._utf8 = Utf8Validator()
        self._error: Optional[ProtocolError] = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once a Close frame was decoded; later bytes are ignored."""
        return self._closed

    def feed(self, data: Buffer) -> List[Event]:
        """The events completed by ``data`` (any buffer), in order."""
        if self._error is not None:
            raise again(self._error)
        if type(data) is not bytes:
            data = as_bytes(data)  # TypeError for a non-buffer
        if self._closed:
            return []
        events: List[Event] = []
        try:
            return self._feed(data, events)
        except ProtocolError as exc:
            exc.events = events
            self._error = exc
            self._pending = b""
            self._msg_parts = bytearray()
            self._control = bytearray()
            raise

    def _feed(self, buf: bytes, events: List[Event]) -> List[Event]:
        if self._pending:
            buf = self._pending + buf
            self._pending = b""
        append = events.append
        pos = 0
        end = len(buf)
        expect_mask = self._expect_mask
        mask_bit = 0x80 if expect_mask else 0
        max_frame = _NO_LIMIT if self._max_frame is None else self._max_frame
        max_message = _NO_LIMIT if self._max_message is None else self._max_message
        while pos < end:
            if self._left:
                take = min(self._left, end - pos)
                self._payload_piece(buf[pos : pos + take])
                pos += take
                self._left -= take
                if not self._left and self._frame_done(events):
                    return events
                continue
            if end - pos < 2:
                break
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if not _B0_OK[b0] or (b1 & 0x80) != mask_bit or (b0 & 0x08 and b1 & 0x7F > 125):
                raise header_error(b0, b1, expect_mask)  # type: ignore[misc]
            length = b1 & 0x7F
            start = pos + 2
            if length == 126:
                if end - start < 2:
                    break
                length = (buf[start] << 8) | buf[start + 1]
                start += 2
                if length < 126:
                    raise ProtocolError(
                        f"RFC 6455 §5.2: payload length {length} sent in 16 bits; the minimal encoding is required"
                    )
            elif length == 127:
                if end - start < 8:
                    break
                length = int.from_bytes(buf[start : start + 8], "big")
                start += 8
                if length >> 63:
                    raise ProtocolError("RFC 6455 §5.2: the most significant bit of a 64-bit payload length must be 0")
                if length < 0x10000:
                    raise ProtocolError(
                        f"RFC 6455 §5.2: payload length {length} sent in 64 bits; the minimal encoding is required"
                    )
            if expect_mask:
                if end - start < 4:
                    break
                key: Optional[bytes] = buf[start : start + 4]
                start += 4
            else:
                key = None
            opcode = b0 & 0x0F
            if (
                b0 & 0x80
                and 0 < opcode < 3
                and not self._msg_opcode
                and end - start >= length
                and length <= max_frame
                and length <= max_message
            ):
                # Fast path: a whole unfragmented message, all here: no state.
                pos = start + length
                payload = buf[start:pos]
                if key is not None and length:
                    if length <= _INLINE_UNMASK:
                        words = (length + 3) >> 2
                        stream = _from_bytes(key, "little") * (_ONES[words] or _ones(words, words))
                        payload = (_from_bytes(payload, "little") ^ stream).to_bytes(words << 2, "little")
                        if length & 3:
                            payload = payload[:length]
                    else:
                        payload = apply_mask(payload, key)
                if opcode == 2:
                    append(_new_tuple(Message, (_BINARY, payload)))
                    continue
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidUTF8(
                        f"RFC 6455 §8.1: text message is not valid UTF-8 ({exc.reason} at byte {exc.start})"
                    ) from None
                append(_new_tuple(Message, (_TEXT, text if self._decode_text else payload)))
                continue
            if opcode < 8:
                self._start_data_frame(opcode, length)
            elif length > max_frame:
                raise MessageTooBig(f"a {length}-byte control frame exceeds max_frame_size ({self._max_frame})")
            pos = start
            if opcode >= 8 and end - pos >= length:
                payload = buf[pos : pos + length]
                pos += length
                if key is not None and length:
                    payload = apply_mask(payload, key)
                if self._control_event(opcode, payload, events):
                    return events
                continue
            self._opcode = opcode
            self._fin = bool(b0 & 0x80)
            self._masker = Masker(key) if key is not None else None
            self._left = length
            if not length and self._frame_done(events):
                return events
        if pos < end:
            self._pending = buf[pos:]
        return events

    def _start_data_frame(self, opcode: int, length: int) -> None:
        """Check fragmentation order and limits for a data frame's header, and begin its message."""
        if self._max_frame is not None and length > self._max_frame:
            raise MessageTooBig(f"a {length}-byte frame exceeds max_frame_size ({self._max_frame})")
        if opcode:
            if self._msg_opcode:
                raise ProtocolError("RFC 6455 §5.4: a new data frame arrived before the fragmented message ended")
            self._msg_opcode = opcode
            self._msg_size = 0
            if opcode == 1:
                self._utf8.reset()
        elif not self._msg_opcode:
            raise ProtocolError("RFC 6455 §5.4: a continuation frame arrived with no message to continue")
        size = self._msg_size + length
        if self._max_message is not None and size > self._max_message:
            raise MessageTooBig(f"a message of at least {size} bytes exceeds max_message_size ({self._max_message})")
        self._msg_size = size

    def _payload_piece(self, piece: bytes) -> None:
        if self._masker is not None:
            piece = self._masker.process(piece)
        if self._opcode >= 8:
            self._control += piece
            return
        if self._msg_opcode == 1 and not self._utf8.feed(piece):
            raise InvalidUTF8(
                "RFC 6455 §8.1: text message is not valid UTF-8"
                f" (first invalid byte at offset {self._utf8.error_offset})"
            )
        self._msg_parts += piece

    def _frame_done(self, events: List[Event]) -> bool:
        """The current frame's payload is all here: emit what it completes.  True after a Close."""
        opcode = self._opcode
        self._masker = None
        if opcode >= 8:
            payload = bytes(self._control)
            self._control = bytearray()
            return self._control_event(opcode, payload, events)
        if not self._fin:
            return False
        data = bytes(self._msg_parts)
        self._msg_parts = bytearray()
        self._msg_size = 0
        msg_opcode = self._msg_opcode
        self._msg_opcode = 0
        if msg_opcode == 1:
            if not self._utf8.finish():
                raise InvalidUTF8("RFC 6455 §8.1: text message ends inside a UTF-8 sequence")
            events.append(_new_tuple(Message, (_TEXT, data.decode("utf-8") if self._decode_text else data)))
        else:
            events.append(_new_tuple(Message, (_BINARY, data)))
        return False

    def _control_event(self, opcode: int, payload: bytes, events: List[Event]) -> bool:
        if opcode == 9:
            events.append(_new_tuple(Ping, (payload,)))
        elif opcode == 10:
            events.append(_new_tuple(Pong, (payload,)))
        else:
            code, reason = parse_close(payload)
            events.append(Close(code, reason))
            self._closed = True
            self._pending = b""
            self._msg_parts = bytearray()
            return True
        return False
