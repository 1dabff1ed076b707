"""Who is measured: wsfast (compiled and pure), the peers, and reference rows.

Each ``<op>_contenders()`` returns ``{name: (kind, factory)}``.  A factory
takes the benchmark's input and returns ``(callable, args, kwargs)`` so the
callable is timed directly, without a wrapper frame where the library's own
API allows it (small inputs are dominated by call overhead; a lambda would add
~30 ns to every row).  A factory raises ``Unavailable`` when the library is
not installed or wsfast's part has not been built yet; the benchmark then
skips with that reason.  Every factory's callable is run once and its result
checked before timing: a fast wrong answer is not a result.

Kinds: ``wsfast`` (compiled), ``wsfast-pure``, ``peer`` (a peer's fastest
path), ``peer-pure`` (a peer's pure-Python path), ``ref`` (a plain copy,
``bytes.decode``, a translate-table mask: what the targets are measured
against).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import importlib
import logging
import os
import socket
from typing import Any, Callable, Dict, Tuple

Call = Tuple[Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]
Factory = Callable[..., Call]


class Unavailable(Exception):
    """This contender cannot run here (not installed, not built yet)."""


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise Unavailable(f"{name} not importable: {exc}") from None


def wsfast_name(kind: str, name: str) -> Any:
    """A public name of one wsfast implementation, or Unavailable."""
    try:
        from wsfast import _impl  # the package imports every unit: may fail while half-built

        return getattr(_impl.load(kind, lazy=True), name)
    except (ImportError, AttributeError) as exc:
        raise Unavailable(f"wsfast {kind} {name}: {exc}") from None


def prepare(kind: str, name: str, factory: Callable[..., Any], *args: Any) -> Any:
    """``factory(*args)``; a peer whose internals moved is skipped, not an error.

    bench/ drives some peers below their public API (picows' protocol,
    aiohttp's reader); another version of them may differ.
    """
    try:
        return factory(*args)
    except (TypeError, AttributeError) as exc:
        if kind.startswith("peer"):
            raise Unavailable(f"{name}: this version differs from what bench/ drives ({exc})") from None
        raise


def checked(call: Call, check: Callable[[Any], bool], what: str) -> Call:
    """Run ``call`` once; Unavailable if it is a placeholder, error if wrong."""
    fn, args, kwargs = call
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise Unavailable(f"{what}: not implemented yet ({exc})") from None
    if not check(result):
        raise AssertionError(f"{what} gave a wrong result; refusing to time it")
    return call


# --------------------------------------------------------------- reference
def xor_reference(data: bytes, mask: bytes, phase: int = 0) -> bytes:
    """Masking by big-integer XOR: slow-ish, obviously right."""
    n = len(data)
    if n == 0:
        return b""
    key = (mask[phase % 4:] + mask[: phase % 4]) * (n // 4 + 1)
    value = int.from_bytes(data, "little") ^ int.from_bytes(key[:n], "little")
    return value.to_bytes(n, "little")


_XOR_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]


def translate_mask_inplace(buf: bytearray, mask: bytes) -> None:
    """The classic pure-Python mask: one 256-byte table per key byte, applied
    to every fourth byte with bytes.translate (a C loop per stride)."""
    for lane in range(4):
        buf[lane::4] = buf[lane::4].translate(_XOR_TABLES[mask[lane]])


def translate_mask(data: bytes, mask: bytes) -> bytes:
    buf = bytearray(data)
    translate_mask_inplace(buf, mask)
    return bytes(buf)


# ------------------------------------------------------------------ masking
def apply_mask_contenders() -> Dict[str, Tuple[str, Factory]]:
    """``f(data, mask) -> new masked bytes``."""

    def wsfast(kind: str) -> Factory:
        return lambda data, mask: (wsfast_name(kind, "apply_mask"), (data, mask), {})

    def websockets_c(data: bytes, mask: bytes) -> Call:
        return (_import("websockets.speedups").apply_mask, (data, mask), {})

    def websockets_py(data: bytes, mask: bytes) -> Call:
        return (_import("websockets.utils").apply_mask, (data, mask), {})

    def aiohttp_c(data: bytes, mask: bytes) -> Call:
        inplace = _import("aiohttp._websocket.mask")._websocket_mask_cython

        def copy_then_mask(data: bytes, mask: bytes) -> bytearray:
            buf = bytearray(data)  # what aiohttp's reader does per frame
            inplace(mask, buf)
            return buf

        return (copy_then_mask, (data, mask), {})

    def wsaccel(data: bytes, mask: bytes) -> Call:
        masker = _import("wsaccel.xormask").XorMaskerSimple
        return (lambda d, m: masker(m).process(d), (data, mask), {})

    def autobahn(data: bytes, mask: bytes) -> Call:
        create = _import("autobahn.websocket.xormasker").create_xor_masker
        return (lambda d, m: create(m, len(d)).process(d), (data, mask), {})

    def wsproto(data: bytes, mask: bytes) -> Call:
        masker = _import("wsproto.frame_protocol").XorMaskerSimple
        return (lambda d, m: masker(m).process(d), (data, mask), {})

    def translate(data: bytes, mask: bytes) -> Call:
        return (translate_mask, (data, mask), {})

    def copy(data: bytes, mask: bytes) -> Call:
        return (memoryview(data).tobytes, (), {})

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-pure": ("wsfast-pure", wsfast("python")),
        "websockets": ("peer", websockets_c),
        "websockets-pure": ("peer-pure", websockets_py),
        "aiohttp": ("peer", aiohttp_c),
        "wsaccel": ("peer", wsaccel),
        "autobahn": ("peer", autobahn),
        "wsproto": ("peer-pure", wsproto),
        "translate": ("ref", translate),
        "copy": ("ref", copy),
    }


def mask_inplace_contenders() -> Dict[str, Tuple[str, Factory]]:
    """``f(buffer, mask) -> None``, XOR in place (the reader's hot path)."""

    def wsfast(kind: str) -> Factory:
        return lambda buf, mask: (wsfast_name(kind, "apply_mask_inplace"), (buf, mask), {})

    def aiohttp_c(buf: bytearray, mask: bytes) -> Call:
        fn = _import("aiohttp._websocket.mask")._websocket_mask_cython
        return (fn, (mask, buf), {})

    def aiohttp_py(buf: bytearray, mask: bytes) -> Call:
        fn = _import("aiohttp._websocket.helpers")._websocket_mask_python
        return (fn, (mask, buf), {})

    def translate(buf: bytearray, mask: bytes) -> Call:
        return (translate_mask_inplace, (buf, mask), {})

    def copy(buf: bytearray, mask: bytes) -> Call:
        return (memoryview(buf).tobytes, (), {})

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-pure": ("wsfast-pure", wsfast("python")),
        "aiohttp": ("peer", aiohttp_c),
        "aiohttp-pure": ("peer-pure", aiohttp_py),
        "translate": ("ref", translate),
        "copy": ("ref", copy),
    }


# -------------------------------------------------------------------- UTF-8
def utf8_contenders() -> Dict[str, Tuple[str, Factory]]:
    """``f(data) -> truthy when valid`` on one whole message."""

    def wsfast(kind: str) -> Factory:
        return lambda data: (wsfast_name(kind, "validate_utf8"), (data,), {})

    def decode(data: bytes) -> Call:
        return (bytes.decode, (data,), {})  # utf-8, strict: builds the str too

    def wsaccel(data: bytes) -> Call:
        cls = _import("wsaccel.utf8validator").Utf8Validator
        return (lambda d: cls().validate(d)[0], (data,), {})

    def autobahn(data: bytes) -> Call:
        cls = _import("autobahn.websocket.utf8validator").Utf8Validator
        return (lambda d: cls().validate(d)[0], (data,), {})

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-pure": ("wsfast-pure", wsfast("python")),
        "wsaccel": ("peer", wsaccel),
        "autobahn": ("peer", autobahn),
        "bytes.decode": ("ref", decode),
    }


# ------------------------------------------------------------------- frames
def build_frame(payload: bytes, mask: bytes | None, opcode: int = 2) -> bytes:
    """One final frame, written here so streams never depend on the encoder
    being measured."""
    n = len(payload)
    head = bytearray([0x80 | opcode])
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head.append(bit | n)
    elif n < 1 << 16:
        head.append(bit | 126)
        head += n.to_bytes(2, "big")
    else:
        head.append(bit | 127)
        head += n.to_bytes(8, "big")
    if mask is None:
        return bytes(head) + payload
    return bytes(head) + mask + xor_reference(payload, mask)


def frame_stream(size: int, masked: bool, budget: int = 64 * 1024) -> Tuple[bytes, int]:
    """As many whole frames of ``size`` payload bytes as fit in ``budget``."""
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    frame = build_frame(payload, b"\x9a\x0b\x3c\x4d" if masked else None)
    count = budget // len(frame)
    return frame * count, count


class _PicowsTransport:
    """Just enough of an asyncio transport for picows, no socket I/O.

    ssl_object is set so picows takes its transport.write path instead of
    calling send(2) on the socket itself; write keeps only the last chunk.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.last: collections.deque[bytes] = collections.deque(maxlen=1)
        self.write = self.last.append
        self.handshake = bytearray()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {
            "socket": self.sock,
            "peername": ("127.0.0.1", 1),
            "sockname": ("127.0.0.1", 2),
            "ssl_object": object(),
        }.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        self.sock.close()

    abort = close


class PicowsReader:
    """picows' frame parser driven through its BufferedProtocol methods.

    The listener takes each frame's payload as bytes and keeps it in a list,
    the same work as a decoder that returns events carrying bytes.
    """

    def __init__(self, client: bool) -> None:
        picows = _import("picows")
        core = _import("picows.picows")
        out: list[bytes] = []
        self.out = out

        class Listener(picows.WSListener):  # type: ignore[misc,name-defined]
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                out.append(frame.get_payload_as_bytes())

        self.loop = asyncio.new_event_loop()
        logger = logging.getLogger("bench.picows")
        logger.setLevel(logging.WARNING)

        async def make() -> Any:
            return core.WSProtocol(
                "127.0.0.1:1" if client else None, "/", client,
                lambda *a: Listener(), logger, False, None,
                False, 10.0, 10.0, picows.WSAutoPingStrategy.PING_WHEN_IDLE,
                False, 1 << 30, None, 256 * 1024,
            )

        self.proto = self.loop.run_until_complete(make())
        self.transport = _PicowsTransport()
        self.proto.connection_made(self.transport)
        if client:
            request = bytes(self.transport.last[-1])
            key = request.split(b"Sec-WebSocket-Key: ", 1)[1].split(b"\r\n", 1)[0]
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            self.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        else:
            key = base64.b64encode(os.urandom(16))
            self.feed(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
        out.clear()

    def feed(self, data: bytes) -> list[bytes]:
        view = memoryview(data)
        proto = self.proto
        while view:
            buf = proto.get_buffer(-1)
            n = min(len(buf), len(view))
            buf[:n] = view[:n]
            proto.buffer_updated(n)
            view = view[n:]
        events = self.out[:]
        self.out.clear()
        return events


class _AiohttpProtocol:
    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


def decoder_contenders() -> Dict[str, Tuple[str, Factory]]:
    """``f(stream) -> events`` for a 64 KiB read of whole frames.

    A factory gets (stream, count, masked) and returns a Call, or for
    libraries whose reader cannot be reused without a drain the benchmark
    cannot do (aiohttp's queue only empties through an awaited read), a
    ``("setup", setup, target)`` triple: fresh state per round, untimed.
    """

    def wsfast(kind: str) -> Factory:
        def make(stream: bytes, count: int, masked: bool) -> Any:
            decoder = wsfast_name(kind, "Decoder")(client=not masked)
            return (decoder.feed, (stream,), {})

        return make

    def picows(stream: bytes, count: int, masked: bool) -> Any:
        reader = PicowsReader(client=not masked)
        return (reader.feed, (stream,), {})

    def aiohttp(module: str) -> Factory:
        def make(stream: bytes, count: int, masked: bool) -> Any:
            mod = _import(f"aiohttp._websocket.{module}")
            if module == "reader_py":
                # reader_py binds aiohttp's *compiled* mask when that is built;
                # the pure row must unmask in Python too, as
                # AIOHTTP_NO_EXTENSIONS=1 would make it.
                mod.websocket_mask = _import("aiohttp._websocket.helpers")._websocket_mask_python
            loop = asyncio.new_event_loop()

            def setup() -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
                queue = mod.WebSocketDataQueue(_AiohttpProtocol(), 1 << 30, loop=loop)
                reader = mod.WebSocketReader(queue, 4 << 20, False, True)
                return (reader, queue, stream), {}

            def target(reader: Any, queue: Any, stream: bytes) -> Any:
                reader.feed_data(stream)
                return queue._buffer

            return ("setup", setup, target)

        return make

    def websockets(stream: bytes, count: int, masked: bool) -> Any:
        protocol = _import("websockets.protocol")
        conn = protocol.Protocol(protocol.SERVER if masked else protocol.CLIENT, max_size=None)

        def feed(data: bytes) -> list[Any]:
            conn.receive_data(data)
            return conn.events_received()

        return (feed, (stream,), {})

    def wsproto(stream: bytes, count: int, masked: bool) -> Any:
        fp = _import("wsproto.frame_protocol").FrameProtocol(client=not masked, extensions=[])

        def feed(data: bytes) -> list[Any]:
            fp.receive_bytes(data)
            return list(fp.received_frames())

        return (feed, (stream,), {})

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-pure": ("wsfast-pure", wsfast("python")),
        "picows": ("peer", picows),
        "aiohttp": ("peer", aiohttp("reader_c")),
        "aiohttp-pure": ("peer-pure", aiohttp("reader_py")),
        "websockets": ("peer-pure", websockets),
        "wsproto": ("peer-pure", wsproto),
    }


def is_frame(out: Any, payload: bytes, masked: bool) -> bool:
    """``out`` is one final binary frame carrying ``payload`` (either role)."""
    out = bytes(out)
    head = 2 + (4 if masked else 0)
    if len(out) != head + len(payload) or out[0] != 0x82 or out[1] != ((0x80 if masked else 0) | len(payload)):
        return False
    return out[head:] == (xor_reference(payload, out[2:6]) if masked else payload)


def _written_once(call: Call, sink: "_PicowsTransport", payload: bytes, masked: bool, what: str) -> Call:
    """For writers that hand the frame to a transport instead of returning it."""
    fn, args, kwargs = call
    fn(*args, **kwargs)
    if not sink.last or not is_frame(sink.last[-1], payload, masked):
        raise AssertionError(f"{what} wrote a wrong frame; refusing to time it")
    return call


def encoder_contenders() -> Dict[str, Tuple[str, Factory]]:
    """``f() -> one encoded binary frame`` (masked: a fresh key per frame)."""

    def wsfast(kind: str) -> Factory:
        def make(payload: bytes, masked: bool) -> Call:
            encode = wsfast_name(kind, "encode_frame")
            binary = _import("wsfast._types").Opcode.BINARY
            return (encode, (binary, payload), {"mask": True} if masked else {})

        return make

    def picows(payload: bytes, masked: bool) -> Call:
        picows = _import("picows")
        core = _import("picows.picows")
        underlying = _PicowsTransport()
        transport = core.WSTransport(masked, underlying, logging.getLogger("bench.picows"),
                                     asyncio.new_event_loop())
        call = (transport.send, (picows.WSMsgType.BINARY, payload), {})
        return _written_once(call, underlying, payload, masked, "picows")

    def aiohttp(payload: bytes, masked: bool) -> Call:
        writer_mod = _import("aiohttp._websocket.writer")
        underlying = _PicowsTransport()
        writer = writer_mod.WebSocketWriter(_AiohttpProtocol(), underlying, use_mask=masked)
        call = (writer._write_websocket_frame, (payload, 2, 0), {})
        return _written_once(call, underlying, payload, masked, "aiohttp")

    def websockets(payload: bytes, masked: bool) -> Call:
        frames = _import("websockets.frames")
        frame_cls, binary = frames.Frame, frames.Opcode.BINARY
        return (lambda p: frame_cls(binary, p).serialize(mask=masked), (payload,), {})

    def wsproto(payload: bytes, masked: bool) -> Call:
        fp = _import("wsproto.frame_protocol").FrameProtocol(client=masked, extensions=[])
        return (fp.send_data, (payload,), {"fin": True})

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-pure": ("wsfast-pure", wsfast("python")),
        "picows": ("peer", picows),
        "aiohttp": ("peer", aiohttp),
        "websockets": ("peer", websockets),
        "wsproto": ("peer-pure", wsproto),
    }


# --------------------------------------------------------------- connection
_UPGRADE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def echo_contenders() -> Dict[str, Tuple[str, Factory]]:
    """``f(frame) -> bytes``: one masked binary frame from a client in, its echo out.

    The work of a server per message: read the frame, take the message,
    queue the same payload back, collect the bytes to write.  Every
    contender is a server past its opening handshake, compression off.
    """

    def wsfast(kind: str) -> Factory:
        def make(frame: bytes) -> Call:
            conn = wsfast_name(kind, "ServerConnection")()
            conn.receive_data(_UPGRADE)
            conn.accept()
            conn.data_to_send()
            message = _import("wsfast._types").Message
            receive, send, out = conn.receive_data, conn.send, conn.data_to_send

            def echo(data: bytes) -> bytes:
                for event in receive(data):
                    if type(event) is message:
                        send(event.data)
                return out()

            return (echo, (frame,), {})

        return make

    def codec(kind: str) -> Factory:
        # The floor: the same work done with the bare Decoder and encoder.
        def make(frame: bytes) -> Call:
            decoder = wsfast_name(kind, "Decoder")(max_message_size=None)
            encode = wsfast_name(kind, "encode_frame")
            message = _import("wsfast._types").Message
            feed = decoder.feed

            def echo(data: bytes) -> bytes:
                out = b""
                for event in feed(data):
                    if type(event) is message:
                        out += encode(event.opcode, event.data)  # b"" + x is x, no copy
                return out

            return (echo, (frame,), {})

        return make

    def websockets(frame: bytes) -> Call:
        server = _import("websockets.server")
        frames = _import("websockets.frames")
        conn = server.ServerProtocol(max_size=None)
        conn.receive_data(_UPGRADE)
        (request,) = conn.events_received()
        conn.send_response(conn.accept(request))
        conn.data_to_send()
        binary = frames.Opcode.BINARY

        def echo(data: bytes) -> bytes:
            conn.receive_data(data)
            for event in conn.events_received():
                if event.opcode is binary:
                    conn.send_binary(event.data)
            return b"".join(conn.data_to_send())

        return (echo, (frame,), {})

    def wsproto(frame: bytes) -> Call:
        connection = _import("wsproto.connection")
        events = _import("wsproto.events")
        conn = connection.Connection(connection.ConnectionType.SERVER)
        message, reply = events.BytesMessage, events.BytesMessage

        def echo(data: bytes) -> bytes:
            conn.receive_data(data)
            out = b""
            for event in conn.events():
                if type(event) is message:
                    out += conn.send(reply(data=event.data))
            return out

        return (echo, (frame,), {})

    return {
        "wsfast": ("wsfast", wsfast("cython")),
        "wsfast-pure": ("wsfast-pure", wsfast("python")),
        "codec": ("ref", codec("cython")),
        "codec-pure": ("ref-pure", codec("python")),
        "websockets": ("peer-pure", websockets),
        "wsproto": ("peer-pure", wsproto),
    }
