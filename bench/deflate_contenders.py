"""Who is measured for permessage-deflate, and exactly what each one calls.

Every contender compresses (or inflates) one whole message per call, with
context takeover, at the same zlib level, window 15 and memLevel 8: the
settings every peer can be given (aiohttp and wsproto fix memLevel at 8;
wsproto fixes its level at 6, so for other levels its compressor is made
while its ``zlib.compressobj`` is wrapped to pass the level; nothing else of
it changes).  Each factory takes ``(level, messages)`` for encoding or
``(payloads)`` for decoding and returns ``fn(item) -> bytes``: the peer's own
code path from message to payload (or back), the 00 00 ff ff tail
included, with no framing.  A factory raises ``Unavailable`` when the
library is not installed or has changed.

wsfast's rows: "wsfast" is the compiled unit as installed, on its default
back end ("auto": zlib-ng at these settings when zlib-ng's module is
installed, which bench's requirements do); "wsfast-zlib" is the compiled
unit on the system zlib, the library every peer runs on.
"""

from __future__ import annotations

import contextlib
import importlib
import types
import zlib
from typing import Any, Callable, Dict, Iterator, Tuple

from contenders import Unavailable, _import, wsfast_name

Fn = Callable[[bytes], bytes]
TAIL = b"\x00\x00\xff\xff"
# Every contender's own limit on one message's inflated size.
LIMIT = 16 << 20
WBITS = 15
MEM_LEVEL = 8


def _wsfast_params() -> Any:
    try:
        from wsfast import PerMessageDeflate
    except ImportError as exc:
        raise Unavailable(f"wsfast: {exc}") from None
    return PerMessageDeflate()


@contextlib.contextmanager
def _wsfast_on(kind: str, backend: str = "") -> Iterator[Any]:
    """wsfast's deflate module of ``kind`` ("cython" or "python"), making its
    new Deflaters and Inflaters (a Decoder's too) on ``backend`` meanwhile;
    "" leaves the back end as configured ("auto" when zlib-ng is installed).
    Objects keep the back end they were made with."""
    try:
        module = importlib.import_module("wsfast._deflate_c" if kind == "cython" else "wsfast._deflate_py")
    except ImportError as exc:
        raise Unavailable(f"wsfast: {exc}") from None
    before = module.BACKEND
    try:
        module.use_backend(backend or before)
    except ImportError as exc:
        raise Unavailable(f"{backend}: {exc}") from None
    try:
        yield module
    finally:
        module.use_backend(before)


# ------------------------------------------------------------------ encode

def encode_contenders() -> Dict[str, Tuple[str, Callable[..., Fn]]]:
    def wsfast(kind: str, backend: str = "") -> Callable[..., Fn]:
        def make(level: int) -> Fn:
            with _wsfast_on(kind, backend) as module:
                deflater = module.Deflater(_wsfast_params(), level=level, mem_level=MEM_LEVEL)
                deflater.compress(b"warm up: make the stream now")
            return deflater.compress  # type: ignore[no-any-return]

        return make

    def websockets(level: int) -> Fn:
        pmd = _import("websockets.extensions.permessage_deflate")
        frames = _import("websockets.frames")
        ext = pmd.PerMessageDeflate(False, False, WBITS, WBITS, {"level": level, "memLevel": MEM_LEVEL})
        frame, text = frames.Frame, frames.Opcode.TEXT

        def encode(message: bytes) -> bytes:
            return ext.encode(frame(text, message)).data  # type: ignore[no-any-return]

        return encode

    def aiohttp(level: int) -> Fn:
        # What WebSocketWriter._send_compressed_frame_sync does before framing.
        utils = _import("aiohttp.compression_utils")
        compressor = utils.ZLibCompressor(level=level, wbits=-WBITS, max_sync_chunk_size=None)
        sync = utils.ZLibBackend.Z_SYNC_FLUSH

        def encode(message: bytes) -> bytes:
            data: bytes = compressor.compress_sync(message) + compressor.flush(sync)
            if data.endswith(TAIL):
                data = data[:-4]
            return data

        return encode

    def wsproto(level: int) -> Fn:
        ext_mod = _import("wsproto.extensions")
        frame_protocol = _import("wsproto.frame_protocol")
        ext = ext_mod.PerMessageDeflate(server_max_window_bits=WBITS)
        proto = types.SimpleNamespace(client=False)
        rsv, text = frame_protocol.RsvBits(False, False, False), frame_protocol.Opcode.TEXT
        real = ext_mod.zlib
        shim = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real) if not k.startswith("__")})
        shim.compressobj = lambda _level, method, wbits: real.compressobj(level, method, wbits, MEM_LEVEL)
        ext_mod.zlib = shim
        try:  # wsproto makes its compressor on the first message
            ext.frame_outbound(proto, text, rsv, b"warm up", True)
        finally:
            ext_mod.zlib = real

        def encode(message: bytes) -> bytes:
            return ext.frame_outbound(proto, text, rsv, message, True)[1]  # type: ignore[no-any-return]

        return encode

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-zlib": ("wsfast-variant", wsfast("cython", "zlib")),
        "wsfast-pure": ("wsfast-pure", wsfast("python", "zlib")),
        "wsfast-pure-zlib-ng": ("wsfast-variant", wsfast("python", "zlib-ng")),
        "websockets": ("peer", websockets),
        "aiohttp": ("peer", aiohttp),
        "wsproto": ("peer", wsproto),
    }


def check_encoded(encode: Fn, messages: list) -> bool:
    """A fresh stream from this encoder inflates back to the messages."""
    d = zlib.decompressobj(-WBITS)
    return all(d.decompress(bytes(encode(m)) + TAIL) == m for m in messages)


# ------------------------------------------------------------------ decode

def decode_contenders() -> Dict[str, Tuple[str, Callable[..., Fn]]]:
    def wsfast(kind: str, backend: str = "") -> Callable[..., Fn]:
        def make() -> Fn:
            with _wsfast_on(kind, backend) as module:
                inflater = module.Inflater(_wsfast_params())
            inflate, finish = inflater.inflate, inflater.finish

            def decode(payload: bytes) -> bytes:
                data: bytes = inflate(payload, LIMIT)
                finish()
                return data

            return decode

        return make

    def websockets() -> Fn:
        pmd = _import("websockets.extensions.permessage_deflate")
        frames = _import("websockets.frames")
        ext = pmd.PerMessageDeflate(False, False, WBITS, WBITS)
        frame, text = frames.Frame, frames.Opcode.TEXT

        def decode(payload: bytes) -> bytes:
            return ext.decode(frame(text, payload, rsv1=True), max_size=LIMIT).data  # type: ignore[no-any-return]

        return decode

    def aiohttp() -> Fn:
        # What the reader does with a whole compressed message (its C reader
        # and its Python one call the same decompressor).
        utils = _import("aiohttp.compression_utils")
        decompressor = utils.ZLibDecompressor(suppress_deflate_header=True)

        def decode(payload: bytes) -> bytes:
            return decompressor.decompress_sync(payload + TAIL, LIMIT)  # type: ignore[no-any-return]

        return decode

    def wsproto() -> Fn:
        ext_mod = _import("wsproto.extensions")
        frame_protocol = _import("wsproto.frame_protocol")
        ext = ext_mod.PerMessageDeflate(client_max_window_bits=WBITS)
        proto = types.SimpleNamespace(client=False)
        rsv, text = frame_protocol.RsvBits(True, False, False), frame_protocol.Opcode.TEXT

        def decode(payload: bytes) -> bytes:
            ext.frame_inbound_header(proto, text, rsv, len(payload))
            data = ext.frame_inbound_payload_data(proto, payload)
            return data + ext.frame_inbound_complete(proto, True)  # type: ignore[no-any-return]

        return decode

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-zlib": ("wsfast-variant", wsfast("cython", "zlib")),
        "wsfast-pure": ("wsfast-pure", wsfast("python", "zlib")),
        "wsfast-pure-zlib-ng": ("wsfast-variant", wsfast("python", "zlib-ng")),
        "websockets": ("peer", websockets),
        "aiohttp": ("peer", aiohttp),
        "wsproto": ("peer", wsproto),
    }


# ------------------------------------------------------- decode, from the wire

FRAME_KEY = b"\x37\xfa\x21\x3d"


def frame_decode_contenders() -> Dict[str, Tuple[str, Callable[..., Fn]]]:
    """``fn(frame) -> str``: one masked compressed text frame, as a server
    receives it, to the message's text, through each library's own receive
    path (frame parsing, unmasking, inflating, UTF-8): wsfast's Decoder,
    websockets' Protocol (Frame.parse and PerMessageDeflate.decode), aiohttp's
    C reader with its decompressor, wsproto's Connection."""

    def wsfast(kind: str, backend: str = "") -> Callable[..., Fn]:
        def make() -> Fn:
            make_decoder = wsfast_name(kind, "Decoder")
            with _wsfast_on(kind, backend):
                decoder = make_decoder(deflate=_wsfast_params(), max_message_size=LIMIT)
            feed = decoder.feed

            def decode(frame: bytes) -> Any:
                return feed(frame)[0].data

            return decode

        return make

    def websockets() -> Fn:
        protocol = _import("websockets.protocol")
        pmd = _import("websockets.extensions.permessage_deflate")
        conn = protocol.Protocol(protocol.SERVER, state=protocol.OPEN, max_size=LIMIT)
        conn.extensions = [pmd.PerMessageDeflate(False, False, WBITS, WBITS)]
        receive, events = conn.receive_data, conn.events_received

        def decode(frame: bytes) -> Any:
            receive(frame)
            return events()[0].data.decode()  # the text, as its Assembler makes it

        return decode

    def aiohttp() -> Fn:
        import asyncio

        from contenders import _AiohttpProtocol

        reader_c = _import("aiohttp._websocket.reader_c")
        protocol = _AiohttpProtocol()
        protocol._reading_paused = True  # type: ignore[attr-defined]  # nothing to pause: never asked
        queue = reader_c.WebSocketDataQueue(protocol, 1 << 30, loop=asyncio.new_event_loop())
        reader = reader_c.WebSocketReader(queue, LIMIT, True, True)  # compress, decode_text
        feed, take = reader.feed_data, queue._buffer.popleft

        def decode(frame: bytes) -> Any:
            feed(frame)
            return take()[0].data

        return decode

    def wsproto() -> Fn:
        connection = _import("wsproto.connection")
        ext = _import("wsproto.extensions").PerMessageDeflate()
        ext.accept("permessage-deflate")  # window 15 both ways, context takeover
        conn = connection.Connection(connection.ConnectionType.SERVER, extensions=[ext])
        receive, events = conn.receive_data, conn.events

        def decode(frame: bytes) -> Any:
            receive(frame)
            return next(events()).data

        return decode

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-zlib": ("wsfast-variant", wsfast("cython", "zlib")),
        # The pure twin on the standard library's zlib, as in the other pure rows.
        "wsfast-pure": ("wsfast-pure", wsfast("python", "zlib")),
        "websockets": ("peer", websockets),
        "aiohttp": ("peer", aiohttp),
        "wsproto": ("peer", wsproto),
    }


def compressed_frames(messages: list, level: int) -> list:
    """The messages as masked compressed text frames of one context-takeover stream."""
    from wsfast import _frames_py

    return [_frames_py.encode_frame(1, p, rsv1=True, mask=FRAME_KEY) for p in compressed_stream(messages, level)]


def compressed_stream(messages: list, level: int) -> list:
    """The messages as one context-takeover stream, by the standard library."""
    c = zlib.compressobj(level, zlib.DEFLATED, -WBITS, MEM_LEVEL)
    return [(c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH))[:-4] for m in messages]
