"""wsproto: frame decoding and masking in ``wsproto.frame_protocol``.

Receive: ``FrameDecoder.parse_header`` and ``FrameDecoder.process_buffer``
are replaced on the class (so decoders of open connections switch too).
The header is read by wsfast's ``parse_header`` and the payload unmasked by
wsfast's ``Masker`` in one copy.  Whatever the fast path does not handle
exactly like wsproto (any header wsproto would reject, a header split across
reads, extensions' payload hooks) is handed to wsproto's own code, so errors
are wsproto's ``ParseFailed`` with its messages and close codes.

Send: ``XorMaskerSimple`` is looked up as a module global by
``FrameProtocol._serialize_frame``; it is replaced by a subclass that masks
with wsfast.

These replacements copy the logic of the wsproto functions they stand in
for, so they are applied only to sources whose fingerprint is known.
"""

from __future__ import annotations

import importlib
from typing import Any

from wsfast._errors import ProtocolError

from ._core import Binding, Mismatch, dist_version, lookup, require_fingerprint

DISTRIBUTION = "wsproto"
MODULE = "wsproto.frame_protocol"

# Token fingerprints (see _core.fingerprint) of the functions whose logic the
# replacements reproduce, per verified release.
KNOWN = {
    "FrameDecoder.parse_header": {"362414a76c79e738"},  # 1.3.2
    "FrameDecoder.parse_extended_payload_length": {"8dc5c3fcc3408dcd"},  # 1.3.2
    "FrameDecoder.process_buffer": {"f0801003f52f40f4"},  # 1.3.2
    "Buffer.consume_at_most": {"fdfc5fa64eca9de6"},  # 1.3.2
    "Buffer.commit": {"ad4921994cffe25e"},  # 1.3.2
    "Buffer.__len__": {"3db502719704697d"},  # 1.3.2
    "XorMaskerSimple.__init__": {"a352d396708fa255"},  # 1.3.2
    "XorMaskerSimple.process": {"73ca028dec7f6f5c"},  # 1.3.2
}

_OPCODES = (0x0, 0x1, 0x2, 0x8, 0x9, 0xA)
MAX_PAYLOAD_NORMAL = 125
MAX_PAYLOAD_TWO_BYTE = 0xFFFF


def version() -> str:
    return dist_version(DISTRIBUTION)


def make(fp: Any, k: Any) -> tuple[type, Any, Any]:
    """(XorMaskerSimple, parse_header, process_buffer) for wsproto module ``fp``."""
    Masker = k.Masker
    parse = k.parse_header
    Frame = fp.Frame
    Header = fp.Header
    XorMaskerNull = fp.XorMaskerNull
    OrigMasker = fp.XorMaskerSimple
    orig_parse_header = fp.FrameDecoder.parse_header
    orig_process_buffer = fp.FrameDecoder.process_buffer
    opcodes = {value: fp.Opcode(value) for value in _OPCODES}
    rsv_bits = [fp.RsvBits(bool(i & 4), bool(i & 2), bool(i & 1)) for i in range(8)]

    class XorMaskerSimple(OrigMasker):  # type: ignore[misc, valid-type]
        """wsproto's masker: ``process`` returns a masked bytearray copy, the key phase runs on."""

        def __init__(self, masking_key: Any) -> None:
            super().__init__(masking_key)
            self._wsfast = None
            if type(masking_key) in (bytes, bytearray) and len(masking_key) == 4:
                self._wsfast = Masker(masking_key)

        @property
        def _masking_key(self) -> Any:
            # wsproto rotates its key after each call: the same view, from the phase.
            key = self.__dict__["_masking_key"]
            if self._wsfast is None:
                return key
            shift = self._wsfast.position % 4
            return key[shift:] + key[:shift]

        @_masking_key.setter
        def _masking_key(self, value: Any) -> None:
            self.__dict__["_masking_key"] = value

        def process(self, data: Any) -> bytearray:
            masker = self._wsfast
            if masker is None:
                result: bytearray = super().process(data)
                return result
            out = bytearray(data)
            masker.process_inplace(out)
            return out

    def parse_header(self: Any) -> bool:
        buf = self.buffer
        start = buf.bytes_used
        if len(buf.buffer) - start < 2:
            buf.rollback()  # as wsproto does when not even two bytes are in
            return False
        try:
            h = parse(buf.buffer, start)
        except ProtocolError:
            h = None
        # Anything but a complete header that wsproto accepts as it stands
        # goes to wsproto, which finds the same error with its own words.
        if h is None:
            return orig_parse_header(self)  # type: ignore[no-any-return]
        opcode = h.opcode
        fin = h.fin
        length = h.payload_length
        masked = h.mask is not None
        extended = h.header_length - (6 if masked else 2)
        if (
            opcode not in opcodes
            or (opcode & 8 and (not fin or length > MAX_PAYLOAD_NORMAL))
            or (extended == 2 and length <= MAX_PAYLOAD_NORMAL)
            or (extended == 8 and (length <= MAX_PAYLOAD_TWO_BYTE or length >> 63))
            or masked == self.client
        ):
            return orig_parse_header(self)  # type: ignore[no-any-return]
        opcode = opcodes[opcode]
        rsv = rsv_bits[h.rsv1 << 2 | h.rsv2 << 1 | h.rsv3]
        if self.extensions or h.rsv1 or h.rsv2 or h.rsv3:
            # wsproto has consumed the length, not the key, when it asks the extensions.
            buf.bytes_used = start + 2 + extended
            self.extension_processing(opcode, rsv, length)
        self.masker = XorMaskerSimple(h.mask) if masked else XorMaskerNull()
        buf.bytes_used = start + h.header_length
        buf.commit()
        self.header = Header(fin, rsv, opcode, length, None)
        self.effective_opcode = opcode
        self.payload_required = length if opcode & 8 else 0
        self.payload_consumed = 0
        return True

    def process_buffer(self: Any) -> Any:
        if self.extensions:
            return orig_process_buffer(self)
        if not self.header and not self.parse_header():
            return None
        masker = self.masker
        kind = type(masker)
        if kind is not XorMaskerSimple and kind is not XorMaskerNull:
            return orig_process_buffer(self)  # a decoder mid-frame at install time
        buf = self.buffer
        data = buf.buffer
        if len(data) < self.payload_required:
            return None
        header = self.header
        start = buf.bytes_used
        end = min(len(data), start + header.payload_len - self.payload_consumed)
        size = end - start
        if size == 0:
            if header.payload_len > 0:
                return None
            payload = b""
        else:
            with memoryview(data) as whole, whole[start:end] as view:
                if kind is XorMaskerNull:
                    payload = view.tobytes()
                elif masker._wsfast is not None:
                    payload = masker._wsfast.process(view)
                else:
                    payload = bytes(masker.process(view))
        buf.bytes_used = end
        buf.commit()
        self.payload_consumed += size
        finished = self.payload_consumed == header.payload_len
        frame = Frame(self.effective_opcode, payload, finished, header.fin)
        if finished:
            self.header = None
            self.effective_opcode = None
            self.masker = None
        else:
            self.effective_opcode = opcodes[0]
        return frame

    parse_header.__wrapped__ = orig_parse_header  # type: ignore[attr-defined]
    process_buffer.__wrapped__ = orig_process_buffer  # type: ignore[attr-defined]
    return XorMaskerSimple, parse_header, process_buffer


def plan(k: Any) -> list[Binding]:
    try:
        fp = importlib.import_module(MODULE)
    except ImportError as exc:
        raise Mismatch(f"cannot import {MODULE}: {exc}") from exc
    for path, known in KNOWN.items():
        owner, name = path.split(".")
        cls = lookup(MODULE, owner)
        func = vars(cls).get(name)
        if func is None:
            raise Mismatch(f"{MODULE}.{path} is missing")
        require_fingerprint(f"{MODULE}.{path}", func, known)
    for name in ("Frame", "Header", "RsvBits", "Opcode", "XorMaskerNull", "ParseFailed"):
        lookup(MODULE, name)
    if fp.Header._fields != ("fin", "rsv", "opcode", "payload_len", "masking_key"):
        raise Mismatch(f"{MODULE}.Header has fields {fp.Header._fields}")
    if fp.Frame._fields != ("opcode", "payload", "frame_finished", "message_finished"):
        raise Mismatch(f"{MODULE}.Frame has fields {fp.Frame._fields}")
    masker, parse_header, process_buffer = make(fp, k)
    return [
        Binding(MODULE, "XorMaskerSimple", masker),
        Binding(MODULE, "FrameDecoder.parse_header", parse_header),
        Binding(MODULE, "FrameDecoder.process_buffer", process_buffer),
    ]
