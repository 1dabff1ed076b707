"""Every public entry point as a zero-argument call, on valid and invalid input.

Shared by the leak test (tests/test_leaks.py), the thread test and the
valgrind run (scripts/valgrind.sh): each names the same calls, so "every entry
point, errors included" means the same thing everywhere.
"""

from __future__ import annotations

import array
import os
import struct
from typing import Any, Callable, NamedTuple, Optional, Tuple, Type, Union

KEY = b"\x37\xfa\x21\x3d"
SMALL = bytes(range(125))
LARGE = bytes(range(256)) * 256  # 64 KiB: past any GIL-release threshold's small side
TEXT = "ascii, κόσμε, 𝄞 ".encode() * 8
BAD_UTF8 = TEXT[:40] + b"\xed\xa0\x80" + TEXT[:20]  # a surrogate

ExcSpec = Union[Type[BaseException], Tuple[Type[BaseException], ...]]


class Call(NamedTuple):
    name: str
    fn: Callable[..., Any]
    args: Tuple[Any, ...]
    raises: Optional[ExcSpec]  # the call must raise this (an error path), else must not raise


def frame(opcode: int, payload: bytes, *, fin: bool = True, key: Optional[bytes] = None, rsv1: bool = False,
          rsv: int = 0) -> bytes:
    """A frame built here, independently of the encoder under test (``rsv``: any reserved bits, which it may break)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | rsv | opcode
    mbit = 0x80 if key is not None else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if key is None:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def client_stream() -> bytes:
    """What a client sends a server: masked data and control frames, fragments included."""
    return (
        frame(1, TEXT, key=KEY)
        + frame(2, SMALL, key=KEY)
        + frame(1, TEXT[:30], fin=False, key=KEY)
        + frame(9, b"ping", key=KEY)
        + frame(0, TEXT[30:], key=KEY)
        + frame(10, b"", key=KEY)
    )


def server_stream() -> bytes:
    return frame(1, TEXT) + frame(2, SMALL * 10) + frame(9, b"p") + frame(2, b"x", fin=False) + frame(0, b"y")


BAD_STREAMS = {
    "unmasked-to-server": frame(1, b"hello"),
    "reserved-opcode": frame(3, b"", key=KEY),
    "invalid-utf8": frame(1, BAD_UTF8, key=KEY),
    "2^63-length": bytes([0x82, 0xFF, 0x80]) + b"\0" * 7 + KEY,
    "too-big": bytes([0x82, 0xFF, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0]) + KEY,
    "bad-close-code": frame(8, struct.pack("!H", 1005), key=KEY),
}


UNITS = ("mask", "utf8", "frames", "decoder", "deflate", "connection")


def calls(impl: Any, units: Tuple[str, ...] = UNITS) -> list[Call]:
    """The catalogue of ``units`` for one implementation (attributes resolved now)."""
    from wsfast import InvalidUTF8, MessageTooBig, ProtocolError

    out: list[Call] = []

    def add(name: str, fn: Callable[..., Any], *args: Any, raises: Optional[ExcSpec] = None) -> None:
        out.append(Call(name, fn, args, raises))

    if "mask" in units:
        _mask_calls(impl, add)
    if "utf8" in units:
        _utf8_calls(impl, add)
    if "frames" in units:
        _frames_calls(impl, add, ProtocolError, InvalidUTF8)
    if "decoder" in units:
        _decoder_calls(impl, add, ProtocolError, InvalidUTF8, MessageTooBig)
    if "deflate" in units:
        _deflate_calls(impl, add, ProtocolError)
    if "connection" in units:
        _connection_calls(impl, add)
    return out


def _mask_calls(impl: Any, add: Callable[..., None]) -> None:
    noncontig = memoryview(bytearray(SMALL * 4))[::2]
    add("apply_mask small", impl.apply_mask, SMALL, KEY)
    add("apply_mask 64KiB", impl.apply_mask, LARGE, KEY)
    add("apply_mask strided", impl.apply_mask, noncontig, KEY)
    add("apply_mask array", impl.apply_mask, array.array("B", SMALL), KEY)
    add("apply_mask bad key", impl.apply_mask, SMALL, b"abc", raises=ValueError)
    add("apply_mask non-buffer", impl.apply_mask, "text", KEY, raises=TypeError)
    add("apply_mask_inplace", impl.apply_mask_inplace, bytearray(SMALL), KEY, 3)
    add("apply_mask_inplace 64KiB", impl.apply_mask_inplace, bytearray(LARGE), KEY)
    add("apply_mask_inplace read-only", impl.apply_mask_inplace, SMALL, KEY, raises=TypeError)
    add("apply_mask_inplace bad key", impl.apply_mask_inplace, bytearray(SMALL), b"", raises=ValueError)
    masker = impl.Masker(KEY)
    add("Masker()", impl.Masker, KEY)
    add("Masker() bad key", impl.Masker, b"12345", raises=ValueError)
    add("Masker.process", masker.process, SMALL[:13])
    add("Masker.process_inplace", masker.process_inplace, bytearray(SMALL[:13]))
    add("Masker.process_inplace read-only", masker.process_inplace, SMALL, raises=TypeError)
    add("Masker.position", lambda: masker.position)
    add("Masker.reset", masker.reset)



def _utf8_calls(impl: Any, add: Callable[..., None]) -> None:
    add("validate_utf8 text", impl.validate_utf8, TEXT)
    add("validate_utf8 64KiB", impl.validate_utf8, LARGE[:128] * 512)
    add("validate_utf8 invalid", impl.validate_utf8, BAD_UTF8)
    add("validate_utf8 non-buffer", impl.validate_utf8, 12, raises=TypeError)
    validator = impl.Utf8Validator()
    add("Utf8Validator()", impl.Utf8Validator)
    add("Utf8Validator.feed", validator.feed, TEXT[:7])
    add("Utf8Validator.feed non-buffer", validator.feed, None, raises=TypeError)

    def validator_cycle() -> None:
        validator.reset()
        validator.feed(TEXT[:5])
        validator.feed(BAD_UTF8)
        _ = validator.at_boundary, validator.error_offset
        validator.finish()

    add("Utf8Validator feed/fail/finish/reset", validator_cycle)



def _frames_calls(impl: Any, add: Callable[..., None], ProtocolError: Any, InvalidUTF8: Any) -> None:
    add("parse_header", impl.parse_header, frame(2, SMALL * 3, key=KEY))
    add("parse_header offset", impl.parse_header, b"xx" + frame(1, b"hi"), 2)
    add("parse_header incomplete", impl.parse_header, b"\x82\xfe\x01")
    add("parse_header 2^63", impl.parse_header, bytes([0x82, 0x7F, 0x80]) + b"\0" * 7, raises=ProtocolError)
    add("parse_header non-buffer", impl.parse_header, 1.5, raises=TypeError)
    add("encode_frame", impl.encode_frame, 2, SMALL)
    add("encode_frame masked", lambda: impl.encode_frame(1, TEXT, mask=KEY))
    add("encode_frame mask=True", lambda: impl.encode_frame(2, SMALL, mask=True))
    add("encode_frame 64KiB", impl.encode_frame, 2, LARGE)
    add("encode_frame bad opcode", impl.encode_frame, 3, b"", raises=(ValueError, ProtocolError))
    add("encode_frame bad mask", lambda: impl.encode_frame(2, b"", mask=b"xy"), raises=(ValueError, TypeError))
    add("encode_close", impl.encode_close, 1000, "bye κόσμε")
    add("encode_close bad code", impl.encode_close, 1005, "", raises=(ValueError, ProtocolError))
    add("parse_close", impl.parse_close, struct.pack("!H", 1001) + "κόσμε".encode())
    add("parse_close bad utf8", impl.parse_close, struct.pack("!H", 1000) + b"\xff", raises=InvalidUTF8)
    add("parse_close one byte", impl.parse_close, b"\x03", raises=ProtocolError)



def _decoder_calls(impl: Any, add: Callable[..., None], ProtocolError: Any, InvalidUTF8: Any,
                   MessageTooBig: Any) -> None:
    good_client, good_server = client_stream(), server_stream()

    def decode(data: bytes, **opts: Any) -> Callable[[], Any]:
        def run() -> Any:
            return impl.Decoder(**opts).feed(data)

        return run

    add("Decoder.feed server", decode(good_client))
    add("Decoder.feed client", decode(good_server, client=True))
    add("Decoder.feed text as bytes", decode(good_client, decode_text=False))
    for name, bad in BAD_STREAMS.items():
        exc = MessageTooBig if name == "too-big" else InvalidUTF8 if "utf8" in name else ProtocolError
        add(f"Decoder.feed {name}", decode(bad, max_message_size=1 << 16), raises=exc)
    failed = impl.Decoder()
    try:
        failed.feed(BAD_STREAMS["reserved-opcode"])
    except ProtocolError:
        pass
    add("Decoder.feed after an error", failed.feed, b"\x81\x80" + KEY, raises=ProtocolError)
    trickle = impl.Decoder()
    piece = frame(2, SMALL, key=KEY)
    add("Decoder.feed byte by byte", lambda: [trickle.feed(piece[i : i + 1]) for i in range(len(piece))])
    add("Decoder() bad limit", lambda: impl.Decoder(max_message_size=-1), raises=ValueError)
    _compressed_decoder_calls(impl, add, ProtocolError, InvalidUTF8, MessageTooBig)


def compressed_stream(impl: Any, params: Any, *, client: bool) -> bytes:
    """What a peer that agreed ``params`` sends with compression: messages
    compressed or not, fragmented, a control frame between fragments, a
    final-block message, an empty one and 64 KiB (masked when the peer is a client)."""
    deflater = impl.Deflater(params, client=client)
    key = KEY if client else None
    first = deflater.compress(TEXT)
    fragmented = deflater.compress(SMALL * 3)  # 3 fragments, only the first with RSV1
    return (
        frame(1, first, rsv1=True, key=key)
        + frame(2, SMALL, key=key)
        + frame(2, fragmented[:9], fin=False, rsv1=True, key=key)
        + frame(9, b"ping", key=key)
        + frame(0, b"", fin=False, key=key)
        + frame(0, fragmented[9:], key=key)
        + frame(1, bytes.fromhex("f348cdc9c9070000"), rsv1=True, key=key)  # RFC 7692 §7.2.3.4: BFINAL
        + frame(2, deflater.compress(b""), rsv1=True, key=key)
        + frame(2, deflater.compress(LARGE), rsv1=True, key=key)
    )


def _compressed_decoder_calls(impl: Any, add: Callable[..., None], ProtocolError: Any, InvalidUTF8: Any,
                              MessageTooBig: Any) -> None:
    import zlib

    from wsfast import PerMessageDeflate

    agreed = PerMessageDeflate(server_max_window_bits=10, client_max_window_bits=9)
    fresh = PerMessageDeflate(server_no_context_takeover=True, client_no_context_takeover=True)

    def decode(data: bytes, params: Any = agreed, step: int = 0, **opts: Any) -> Callable[[], Any]:
        def run() -> Any:
            decoder = impl.Decoder(deflate=params, **opts)
            if not step:
                return decoder.feed(data)
            return [decoder.feed(data[i : i + step]) for i in range(0, len(data), step)]

        return run

    # Each stream is made once: a stream with context takeover decodes only
    # from the start, and each run uses a fresh Decoder.
    from_client = compressed_stream(impl, agreed, client=True)
    from_server = compressed_stream(impl, agreed, client=False)
    no_takeover = compressed_stream(impl, fresh, client=True)
    add("Decoder.feed compressed server", decode(from_client))
    add("Decoder.feed compressed client", decode(from_server, client=True))
    add("Decoder.feed compressed no takeover", decode(no_takeover, fresh))
    add("Decoder.feed compressed in pieces", decode(from_client, step=1000))
    add("Decoder.feed compressed byte by byte", decode(from_client[:300], step=1))
    add("Decoder.feed compressed text as bytes", decode(from_client, decode_text=False))
    zeros = zlib.compressobj(9, zlib.DEFLATED, -9)
    bomb = zeros.compress(bytes(1 << 20)) + zeros.flush(zlib.Z_SYNC_FLUSH)[:-4]
    add("Decoder.feed deflate bomb", decode(frame(2, bomb, rsv1=True, key=KEY), max_message_size=1 << 16),
        raises=MessageTooBig)
    add("Decoder.feed deflate bomb in pieces",
        decode(frame(2, bomb, rsv1=True, key=KEY), step=100, max_message_size=1 << 16), raises=MessageTooBig)
    add("Decoder.feed compressed too big on the wire",
        decode(bytes([0xC2, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 0]) + KEY, max_message_size=1 << 16), raises=MessageTooBig)
    add("Decoder.feed compressed corrupt", decode(frame(2, b"\xff\xff\xff", rsv1=True, key=KEY)),
        raises=ProtocolError)
    add("Decoder.feed compressed bad end", decode(frame(2, bytes.fromhex("000a00f5ff") + b"ABC", rsv1=True, key=KEY)),
        raises=ProtocolError)
    bad_text = impl.Deflater(agreed, client=True).compress(BAD_UTF8)
    add("Decoder.feed compressed invalid utf8", decode(frame(1, bad_text, rsv1=True, key=KEY)), raises=InvalidUTF8)
    add("Decoder.feed RSV1 on a continuation",
        decode(frame(2, b"\x00", fin=False, key=KEY) + frame(0, b"\x00", rsv1=True, key=KEY)), raises=ProtocolError)
    add("Decoder() bad deflate", lambda: impl.Decoder(deflate="permessage-deflate"), raises=TypeError)


def _deflate_calls(impl: Any, add: Callable[..., None], ProtocolError: Any) -> None:
    from wsfast import PerMessageDeflate

    agreed = PerMessageDeflate(server_max_window_bits=10, client_max_window_bits=9)
    fresh = PerMessageDeflate(server_no_context_takeover=True, client_no_context_takeover=True)
    takeover = impl.Deflater(agreed)
    pooled = impl.Deflater(fresh, client=True, level=6)
    noncontig = memoryview(bytearray(TEXT * 2))[::2]
    add("Deflater()", impl.Deflater, agreed)
    add("Deflater() bad level", lambda: impl.Deflater(agreed, level=0), raises=ValueError)
    add("Deflater() bad params", impl.Deflater, None, raises=TypeError)
    add("Deflater.compress small", takeover.compress, TEXT)
    add("Deflater.compress 64KiB", takeover.compress, LARGE)
    add("Deflater.compress str", takeover.compress, "κόσμε " * 20)
    add("Deflater.compress strided", takeover.compress, noncontig)
    add("Deflater.compress empty", takeover.compress, b"")
    add("Deflater.compress no takeover", pooled.compress, TEXT)
    add("Deflater.compress no takeover 64KiB", pooled.compress, LARGE)
    add("Deflater.compress non-buffer", takeover.compress, 12, raises=TypeError)
    messages = [impl.Deflater(agreed).compress(m) for m in (TEXT, LARGE)]
    frag = impl.Deflater(fresh).compress(TEXT)

    def inflate_cycle(params: Any, payloads: list, client: bool, step: int = 0) -> Callable[[], Any]:
        def run() -> Any:
            inflater = impl.Inflater(params, client=client)
            for payload in payloads:
                if step:
                    for i in range(0, len(payload), step):
                        inflater.inflate(payload[i : i + step])
                else:
                    inflater.inflate(payload, 1 << 20)
                inflater.finish()

        return run

    add("Inflater.inflate/finish", inflate_cycle(agreed, messages, True))
    add("Inflater.inflate/finish pooled", inflate_cycle(fresh, [frag, frag], False))
    add("Inflater.inflate in pieces", inflate_cycle(fresh, [frag], False, step=7))
    add("Inflater.inflate bfinal", inflate_cycle(agreed, [bytes.fromhex("f348cdc9c9070000")] * 3, True))
    add("Inflater.inflate corrupt", inflate_cycle(agreed, [b"\xff\xff\xff"], True), raises=ProtocolError)
    add("Inflater.finish bad end", inflate_cycle(agreed, [messages[0][:-3]], True), raises=ProtocolError)
    add("Inflater.finish empty payload", inflate_cycle(agreed, [b""], True), raises=ProtocolError)

    def capped() -> Any:
        inflater = impl.Inflater(agreed, client=True)
        return inflater.inflate(messages[1], 1000), inflater.inflate(b"", 100)

    add("Inflater.inflate capped", capped)
    add("Inflater.inflate non-buffer", impl.Inflater(agreed).inflate, "text", raises=TypeError)


UPGRADE = (b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
# What browsers offer: the server accepts it by default.
DEFLATE_OFFER = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
ACCEPTED = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")


def open_server(impl: Any, *, offer: bool = False, **options: Any) -> Any:
    conn = impl.ServerConnection(**options)
    conn.receive_data(UPGRADE[:-2] + DEFLATE_OFFER + b"\r\n" if offer else UPGRADE)
    conn.accept()
    conn.data_to_send()
    return conn


def echo(conn: Any, data: Any) -> bytes:
    """What a plain loop does with one read: echo every message, write everything."""
    from wsfast import Message

    for event in conn.receive_data(data):
        if type(event) is Message:
            conn.send(event.data)
    out: bytes = conn.data_to_send()
    return out


def _connection_calls(impl: Any, add: Callable[..., None]) -> None:
    from wsfast import ConnectionClosed

    def handshake() -> bytes:
        conn = impl.ServerConnection(subprotocols=["chat"])
        conn.receive_data(UPGRADE + client_stream())
        conn.accept(headers=[("Server", "wsfast")])
        out: bytes = conn.data_to_send()
        return out

    def client() -> list[Any]:
        conn = impl.ClientConnection("ws://127.0.0.1/chat", subprotocols=["chat"])
        conn.data_to_send()
        return conn.receive_data(ACCEPTED)  # refused: the key differs, a Close(1006) event

    def answered(data: bytes, **options: Any) -> Callable[[], bytes]:
        def run() -> bytes:
            return echo(open_server(impl, **options), data)

        return run

    def bad_request() -> bytes:
        conn = impl.ServerConnection()
        conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        out: bytes = conn.data_to_send()
        return out

    def reject() -> bytes:
        conn = impl.ServerConnection()
        conn.receive_data(UPGRADE)
        conn.reject(403, [("Content-Type", "text/plain")], b"no")
        out: bytes = conn.data_to_send()
        return out

    server = open_server(impl)
    closed = open_server(impl)
    closed.receive_data(b"")
    add("ServerConnection handshake", handshake)
    add("ClientConnection refused", client)
    add("ServerConnection echo", echo, server, client_stream())
    add("ServerConnection echo bytearray", echo, server, bytearray(client_stream()))
    add("ServerConnection echo 64KiB", echo, server, frame(2, LARGE, key=KEY))
    compressing = open_server(impl, offer=True)
    from_client = compressed_stream(impl, compressing.deflate, client=True)
    add("ServerConnection echo compressed", echo, compressing, from_client)
    add("ServerConnection compressed corrupt", lambda: echo(open_server(impl, offer=True),
                                                            frame(2, b"\xff\xff\xff", rsv1=True, key=KEY)))
    # Sends are paired with data_to_send(): the output grows until handed out.
    add("ServerConnection send text bytes", lambda: (server.send(TEXT, text=True), server.data_to_send()))
    add("ServerConnection send invalid text", lambda: server.send(BAD_UTF8, text=True), raises=ValueError)
    add("ServerConnection send non-buffer", server.send, 1.5, raises=TypeError)
    add("ServerConnection ping", lambda: (server.ping(b"ping"), server.data_to_send()))
    add("ServerConnection data_to_send", server.data_to_send)
    for name, bad in BAD_STREAMS.items():
        add(f"ServerConnection {name}", answered(bad, max_message_size=1 << 16))
    add("ServerConnection bad request", bad_request)
    add("ServerConnection reject", reject)
    add("ServerConnection send after EOF", closed.send, b"x", raises=ConnectionClosed)
    add("ServerConnection close after EOF", closed.close, 1000, raises=ConnectionClosed)
    add("ServerConnection() bad limit", lambda: impl.ServerConnection(max_message_size=-1), raises=ValueError)


def run_once(call: Call) -> None:
    """Make one call, checking that it raises exactly when it should."""
    if call.raises is None:
        call.fn(*call.args)
        return
    try:
        call.fn(*call.args)
    except call.raises:
        return
    raise AssertionError(f"{call.name}: expected {call.raises}, nothing was raised")


# Set by scripts/sanitize.sh: the compiled code runs under ASan/UBSan.
SANITIZED = bool(os.environ.get("WSFAST_SANITIZED"))


def skip_pure_when_sanitized(impl: Any) -> None:
    """The sanitizer run (scripts/sanitize.sh) is about the compiled code; the pure twin has the normal run."""
    if SANITIZED and impl.IMPLEMENTATION == "python":
        import pytest

        pytest.skip("pure twin: checked by the normal run, not under the sanitizers")


def gc_live_bytes() -> int:
    """PyPy, which has no tracemalloc: the memory its GC holds after a full collection.

    The JIT's traces are GC objects too, so a caller measures a second pass of
    the same code and drops the first.
    """
    import gc

    gc.collect()
    stats = gc._get_stats()  # type: ignore[attr-defined]  # PyPy only: its raw figures
    return int(stats.total_arena_memory + stats.total_rawmalloced_memory)


def held_by(build: Callable[[], Any]) -> int:
    """Bytes still allocated for what ``build()`` returns, after a full collection.

    tracemalloc where the interpreter has it; on PyPy its GC's figures, from
    the second of two identical passes (see gc_live_bytes).
    """
    import gc

    try:
        import tracemalloc
    except ImportError:  # PyPy has no _tracemalloc
        held = 0
        for _ in range(2):
            base = gc_live_bytes()
            kept = build()
            held = gc_live_bytes() - base
            del kept
        return held
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        return int(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()
