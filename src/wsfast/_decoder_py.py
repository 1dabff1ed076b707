"""The sans-I/O stream decoder (RFC 6455 §5): bytes in, events out.  Pure Python.

Written to be read as the specification of both Decoders: ``_feed`` is the
loop, and each step of it is one method (a header, its checks, a payload
piece, the end of a frame).  The rules and their errors come from
wsfast._protocol, shared with the compiled twin (_decoder_c.pyx), which
behaves the same.  docs/decoder.md has the policies (limits, after-close,
errors) and how permessage-deflate plugs into those steps; docs/deflate.md
the rules of compressed messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, NoReturn, Optional, SupportsIndex, Union, final

from . import _args, _protocol
from ._buffers import as_bytes
from ._deflate_py import Inflater
from ._errors import ProtocolError
from ._frames_py import parse_close
from ._mask_py import key_at, xor_bytes
from ._permessage_deflate import INFLATE_CHUNK
from ._types import Close, Message, Opcode, Ping, Pong
from ._utf8_py import Utf8Validator, first_invalid

__all__ = ["Decoder"]

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from ._permessage_deflate import PerMessageDeflate

Event = Union[Message, Ping, Pong, Close]

DEFAULT_MAX_MESSAGE_SIZE = _args.DEFAULT_MAX_MESSAGE_SIZE

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_RSV1 = _protocol.RSV1
# Events are built as their NamedTuple's own __new__ would, minus its frame.
_new_tuple = tuple.__new__

# First header byte -> whether it breaks no rule by itself (reserved bits,
# reserved opcodes, a fragmented control frame): one lookup a frame.  A
# masked empty frame stands for the second byte, which the fast test checks
# on its own.  With permessage-deflate, RSV1 is legal on a text or binary frame.
_B0_OK = bytes(_protocol.header_error(b0, 0x80, True) is None for b0 in range(256))
_B0_OK_DEFLATE = bytes(_protocol.header_error(b0, 0x80, True, _RSV1) is None for b0 in range(256))


def _text_error(payload: bytes, start: int) -> ProtocolError:
    """The error for a text payload that failed to decode; ``start``: its offset in the message."""
    bad = first_invalid(payload)
    return _protocol.text_truncated() if bad < 0 else _protocol.text_not_utf8(start + bad)


@final
class Decoder:
    """Decode a stream of frames into events: Message, Ping, Pong and Close.

    ``client`` says which side this is (a server requires masked frames, a
    client unmasked ones).  ``max_message_size`` bounds a reassembled message
    (None: no bound).  ``max_frame_size`` bounds one frame's payload; None
    (the default) gives frames no bound of their own, so a data frame is
    bounded by the message it belongs to and a control frame by the
    protocol's 125 bytes.  Both are checked on each header, before a byte of
    payload is stored.  ``decode_text=False`` hands text messages over as
    validated UTF-8 bytes instead of str.  ``deflate``: the agreed
    permessage-deflate parameters (RFC 7692), or None; compressed messages
    are then inflated with the peer's half of them, and ``max_message_size``
    bounds their inflated size.

    Final (no subclasses); a Decoder cannot be copied or pickled (TypeError):
    it holds a stream's half-received state.  ``__init__`` called again
    starts afresh with the new options.
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
        "_key",
        "_phase",
        "_control",
        "_msg_opcode",
        "_msg_parts",
        "_msg_size",
        "_utf8",
        "_error",
        "_closed",
        "_b0_ok",
        "_rsv_allowed",
        "_inflater",
        "_compressed",
        "_max_compressed",
    )

    def __new__(cls, *args: object, **kwargs: object) -> Decoder:
        # An object made by __new__ alone is a Decoder with the default
        # options, as the compiled type's __cinit__ makes it.
        self = object.__new__(cls)
        self._configure(True, DEFAULT_MAX_MESSAGE_SIZE, None, True, None)
        return self

    def __init__(
        self,
        *,
        client: bool = False,
        max_message_size: Optional[SupportsIndex] = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: Optional[SupportsIndex] = None,
        decode_text: bool = True,
        deflate: Optional[PerMessageDeflate] = None,
    ) -> None:
        # Every option is read before anything changes: an invalid one leaves
        # a re-initialised Decoder as it was.
        expect_mask = not client
        max_message = _args.limit("max_message_size", max_message_size)
        max_frame = _args.limit("max_frame_size", max_frame_size)
        text = bool(decode_text)
        params = _args.deflate_params(deflate)
        # The peer's half of the agreement: a server inflates the client's messages.
        inflater = None if params is None else Inflater(params, client=not expect_mask)
        self._configure(expect_mask, max_message, max_frame, text, inflater)

    def _configure(
        self,
        expect_mask: bool,
        max_message: Optional[int],
        max_frame: Optional[int],
        decode_text: bool,
        inflater: Optional[Inflater],
    ) -> None:
        self._expect_mask = expect_mask
        self._max_message = max_message
        self._max_frame = max_frame
        self._decode_text = decode_text
        self._inflater = inflater  # None: permessage-deflate was not agreed
        self._rsv_allowed = 0 if inflater is None else _RSV1
        self._b0_ok = _B0_OK if inflater is None else _B0_OK_DEFLATE
        self._compressed = 0  # the message in progress is compressed (its RSV1)
        self._max_compressed = _protocol.compressed_limit(max_message)
        self._pending = b""  # an incomplete header carried to the next feed
        self._left = 0  # payload bytes of the current frame still to come
        self._opcode = 0  # of the frame whose payload is arriving
        self._fin = True
        self._key: Optional[bytes] = None  # its masking key
        self._phase = 0  # payload bytes of it unmasked so far
        # Payload received so far, of a control frame and of the message in
        # progress: one growing buffer each, not a list of the pieces, which
        # would cost a bytes object per feed (a peer trickling one byte per
        # packet would multiply memory by ~35).
        self._control = bytearray()
        self._msg_opcode = 0  # 0: no message in progress
        self._msg_parts = bytearray()
        self._msg_size = 0  # the lengths its headers announced so far
        self._utf8 = Utf8Validator()
        self._error: Optional[ProtocolError] = None
        self._closed = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        _args.final(cls)

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise _args.not_copyable(self)

    def __copy__(self) -> NoReturn:
        raise _args.not_copyable(self)

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise _args.not_copyable(self)

    @property
    def closed(self) -> bool:
        """True once a Close frame was decoded; later bytes are ignored."""
        return self._closed

    def feed(self, data: Buffer) -> List[Event]:
        """The events completed by ``data`` (any buffer), in order."""
        if type(data) is not bytes:
            data = as_bytes(data)  # TypeError for a non-buffer, even after an error
        if self._error is not None:
            raise _protocol.again(self._error)
        if self._closed:
            return []
        events: List[Event] = []
        try:
            self._feed(data, events)
        except ProtocolError as exc:
            exc.events = events
            self._error = exc
            self._pending = b""
            self._msg_parts = bytearray()
            self._control = bytearray()
            raise
        return events

    # ------------------------------------------------------------ the loop

    def _feed(self, buf: bytes, events: List[Event]) -> None:
        """Frame after frame: a header, then its payload, whole or in pieces."""
        if self._pending:
            buf = self._pending + buf
            self._pending = b""
        pos = 0
        end = len(buf)
        while pos < end:
            if self._left:
                pos = self._payload_piece(buf, pos, end, events)
                continue
            start = self._header(buf, pos, end)
            if start < 0:
                self._pending = buf[pos:]
                return
            if end - start >= self._left:
                pos = self._whole_frame(buf, start, events)
            else:
                self._phase = 0
                pos = start
        # A Close frame ends the loop by returning the end of buf.

    # ------------------------------------------------------------- headers

    def _header(self, buf: bytes, pos: int, end: int) -> int:
        """Read and check the header at ``buf[pos:]``: where its payload
        starts, or -1 while it is incomplete.  The frame becomes current."""
        if end - pos < 2:
            return -1
        b0 = buf[pos]
        b1 = buf[pos + 1]
        if not self._b0_ok[b0] or (b1 >> 7) != self._expect_mask or (b0 & 0x08 and b1 & 0x7F > 125):
            self._first_bytes_rule(b0, b1)
        length = b1 & 0x7F
        start = pos + 2
        if length == 126:
            if end - start < 2:
                return -1
            length = (buf[start] << 8) | buf[start + 1]
            start += 2
            if length < 126:
                raise _protocol.non_minimal_length(length, 16)
        elif length == 127:
            if end - start < 8:
                return -1
            length = int.from_bytes(buf[start : start + 8], "big")
            start += 8
            if length >> 63:
                raise _protocol.length_top_bit()
            if length < 0x10000:
                raise _protocol.non_minimal_length(length, 64)
        if self._expect_mask:
            if end - start < 4:
                return -1
            self._key = buf[start : start + 4]
            start += 4
        else:
            self._key = None
        opcode = b0 & 0x0F
        if opcode < 8:
            self._data_header(opcode, b0, length)
        elif self._max_frame is not None and length > self._max_frame:
            raise _protocol.control_frame_too_big(length, self._max_frame)
        self._opcode = opcode
        self._fin = b0 >= 0x80
        self._left = length
        return start

    def _first_bytes_rule(self, b0: int, b1: int) -> None:
        """Raise the rule the first two header bytes break.

        With permessage-deflate, RSV1 is allowed, on a text or binary frame
        (the first frame of a message) only.
        """
        error = _protocol.header_error(b0, b1, self._expect_mask, self._rsv_allowed)
        if error is not None:
            raise error

    def _data_header(self, opcode: int, b0: int, length: int) -> None:
        """Accept a text, binary or continuation frame's header: the frame
        limit, the order of fragments (§5.4), then the message limit, all
        before a byte of payload is stored.  A message's first frame says
        whether it is compressed (RSV1); the lengths of a compressed one are
        bounded by ``_protocol.compressed_limit``, its inflated size while
        inflating."""
        if self._max_frame is not None and length > self._max_frame:
            raise _protocol.frame_too_big(length, self._max_frame)
        if opcode:
            if self._msg_opcode:
                raise _protocol.unfinished_message()
            self._msg_opcode = opcode
            self._msg_size = 0
            self._compressed = b0 & _RSV1
        elif not self._msg_opcode:
            raise _protocol.unexpected_continuation()
        size = self._msg_size + length
        if self._compressed:
            if self._max_compressed is not None and size > self._max_compressed:
                raise _protocol.compressed_too_big(size, self._max_compressed)
        elif self._max_message is not None and size > self._max_message:
            raise _protocol.message_too_big(size, self._max_message)
        self._msg_size = size

    # ------------------------------------------------------------ payloads

    def _unmask(self, piece: bytes) -> bytes:
        """The next piece of the current frame's payload, unmasked (§5.3)."""
        key = self._key
        if key is None or not piece:
            return piece
        phase = self._phase
        self._phase = phase + len(piece)
        return xor_bytes(piece, len(piece), key_at(key, phase))

    def _whole_frame(self, buf: bytes, start: int, events: List[Event]) -> int:
        """The current frame's payload is all in ``buf[start:]``: take it and
        finish the frame; where the next frame starts (the end of ``buf``
        after a Close)."""
        end = start + self._left
        self._left = 0
        payload = buf[start:end]
        if self._key is not None and payload:
            payload = xor_bytes(payload, end - start, self._key)
        if self._opcode >= 8:
            return len(buf) if self._control_frame(payload, events) else end
        if self._fin and self._opcode and not self._compressed:
            # A whole message in one frame: no message buffer.
            self._emit(payload, False, events)
        else:
            self._append(payload)
            if self._fin:
                self._message_done(events)
        return end

    def _payload_piece(self, buf: bytes, pos: int, end: int, events: List[Event]) -> int:
        """Take what ``buf[pos:end]`` holds of the current frame's payload;
        finish the frame if that was the last of it.  Where it stopped (the
        end of ``buf`` after a Close)."""
        take = min(self._left, end - pos)
        piece = self._unmask(buf[pos : pos + take])
        self._left -= take
        if self._opcode >= 8:
            self._control += piece
            if not self._left:
                payload = bytes(self._control)
                self._control = bytearray()
                if self._control_frame(payload, events):
                    return end
        else:
            self._append(piece)
            if not self._left and self._fin:
                self._message_done(events)
        return pos + take

    # ------------------------------------------------------------- messages
    # The UTF-8 validator is fresh whenever no message is in progress: only a
    # message in several pieces uses it, and _message_done resets it.

    def _append(self, piece: bytes) -> None:
        """An unmasked piece of the message's payload: validated at once if
        text (§8.1: fail fast), then kept; inflated first if the message is
        compressed."""
        if self._compressed:
            self._inflate(piece)
            return
        if self._msg_opcode == 1 and not self._utf8.feed(piece):
            raise _protocol.text_not_utf8(self._utf8.error_offset)  # type: ignore[arg-type]
        self._msg_parts += piece

    def _inflate(self, piece: bytes) -> None:
        """Inflate a piece of a compressed message's payload as it arrives
        (RFC 7692 §7.2.2), ``INFLATE_CHUNK`` input bytes at a time, each
        chunk's output capped one byte past ``max_message_size``: memory
        never passes the limit, whatever the ratio.  Each chunk's output is
        validated if text (fail fast), then the limit is checked: the
        compiled twin works in the same chunks, so both meet the same error
        first."""
        inflater: Inflater = self._inflater  # type: ignore[assignment]  # set when RSV1 is legal
        limit = self._max_message
        parts = self._msg_parts
        for start in range(0, len(piece), INFLATE_CHUNK):
            room = None if limit is None else limit - len(parts) + 1
            out = inflater.inflate(piece[start : start + INFLATE_CHUNK], room)
            if self._msg_opcode == 1 and not self._utf8.feed(out):
                raise _protocol.text_not_utf8(self._utf8.error_offset)  # type: ignore[arg-type]
            parts += out
            if limit is not None and len(parts) > limit:
                raise _protocol.inflated_too_big(limit)

    def _message_done(self, events: List[Event]) -> None:
        """The message's last frame is complete: hand the message over (a
        compressed one once its end is checked, §7.2.2)."""
        if self._compressed:
            self._inflater.finish()  # type: ignore[union-attr]  # set when RSV1 is legal
        if self._msg_opcode == 1:
            if not self._utf8.finish():
                raise _protocol.text_truncated()
            self._utf8.reset()
        data = bytes(self._msg_parts)
        self._msg_parts = bytearray()
        self._emit(data, True, events)

    def _emit(self, data: bytes, checked: bool, events: List[Event]) -> None:
        """Hand the message over; a text not ``checked`` piece by piece (a
        message in one frame) is validated whole here.  None is in progress
        after it."""
        opcode = self._msg_opcode
        self._msg_opcode = 0
        self._msg_size = 0
        if opcode == 2:
            events.append(_new_tuple(Message, (_BINARY, data)))
            return
        if checked and not self._decode_text:
            events.append(_new_tuple(Message, (_TEXT, data)))
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _text_error(data, 0) from None
        events.append(_new_tuple(Message, (_TEXT, text if self._decode_text else data)))

    # ------------------------------------------------------- control frames

    def _control_frame(self, payload: bytes, events: List[Event]) -> bool:
        """Hand over a Ping, a Pong or a Close; True after a Close."""
        opcode = self._opcode
        if opcode == 9:
            events.append(_new_tuple(Ping, (payload,)))
        elif opcode == 10:
            events.append(_new_tuple(Pong, (payload,)))
        else:
            code, reason = parse_close(payload)
            events.append(Close(code, reason))
            # A Close ends the stream: whatever follows is ignored, and a
            # message cut short by it is dropped (docs/decoder.md).
            self._closed = True
            self._pending = b""
            self._msg_parts = bytearray()
            return True
        return False
