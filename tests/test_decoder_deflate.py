"""The Decoders with permessage-deflate (RFC 7692), both implementations.

RSV1 and where it may appear, compressed and plain messages mixed, context
takeover and both no-takeover modes, final blocks, every window size, the
RFC's own examples, the limits (exact on the inflated size, enforced while
inflating, a bound on the compressed bytes), text validated as it is
inflated, corrupt data, and random streams split anywhere.
"""

from __future__ import annotations

import copy
import pickle
import random
import struct
import zlib
from typing import Any, Iterator, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_deflate import repeats_at, stops_inside_a_block

import _hardening
from _hardening import SANITIZED
from conftest import examples
from wsfast import (
    Close,
    InvalidUTF8,
    Message,
    MessageTooBig,
    Opcode,
    PerMessageDeflate,
    Ping,
    Pong,
    ProtocolError,
    _protocol,
)

try:
    import tracemalloc
except ImportError:  # PyPy
    tracemalloc = None  # type: ignore[assignment]

PMD = PerMessageDeflate
KEY = b"\x5a\x21\xfe\x07"
TAIL = b"\x00\x00\xff\xff"
HELLO = bytes.fromhex("f248cdc9c90700")  # RFC 7692 §7.2.3.1
HELLO_AGAIN = bytes.fromhex("f200110000")  # §7.2.3.2: refers back into the first
RND = random.Random(7692)
JSONISH = '{"id":%d,"user":"user%d","score":%d.%02d,"active":%s,"tags":["alpha","bravo","κόσμε"]}'


def jsonish(i: int) -> str:
    return JSONISH % (i * 7919 % 10**6, i % 977, i % 100, i % 97, "true" if i % 3 else "false")


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, rsv: int = 0,
          key: Optional[bytes] = KEY) -> bytes:
    """A frame built by hand (it may break rules the encoder enforces), masked as a client's by default."""
    return _hardening.frame(opcode, payload, fin=fin, key=key, rsv1=rsv1, rsv=rsv)


def masked_head(opcode: int, length: int, *, rsv1: bool = True, fin: bool = True) -> bytes:
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if length < 126:
        return bytes((b0, 0x80 | length)) + KEY
    if length < 65536:
        return bytes((b0, 0x80 | 126)) + struct.pack("!H", length) + KEY
    return bytes((b0, 0x80 | 127)) + struct.pack("!Q", length) + KEY


def masked(payload: bytes) -> bytes:
    """``payload`` masked with KEY, fast for large payloads."""
    n = len(payload)
    keys = (KEY * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(keys, "little")).to_bytes(n, "little")


def pieces(data: bytes, step: int) -> Iterator[bytes]:
    if not step:
        yield data
        return
    for i in range(0, len(data), step):
        yield data[i : i + step]


def feed(decoder: Any, data: bytes, step: int = 0) -> list:
    events: list = []
    for piece in pieces(data, step):
        events += decoder.feed(piece)
    return events


DEFAULT = PMD()


def server(impl: Any, params: PerMessageDeflate = DEFAULT, **kwargs: Any) -> Any:
    """A server's Decoder: it inflates the client's messages."""
    return impl.Decoder(deflate=params, **kwargs)


def client_deflater(impl: Any, params: PerMessageDeflate = DEFAULT, **kwargs: Any) -> Any:
    return impl.Deflater(params, client=True, **kwargs)


def expect_error(impl: Any, data: bytes, error: type, code: int, words: str, **kwargs: Any) -> None:
    """``data`` fails with exactly ``error`` whole and byte by byte, and the failure sticks."""
    for step in (0, 1):
        decoder = impl.Decoder(**kwargs)
        with pytest.raises(error) as info:
            feed(decoder, data, step)
        assert type(info.value) is error, info.value
        assert info.value.close_code == code
        assert words.lower() in str(info.value).lower(), str(info.value)
        with pytest.raises(error) as again:
            decoder.feed(b"")
        assert str(again.value) == str(info.value) and again.value.close_code == code


def final_block(data: bytes, zdict: bytes = b"", pad: bool = True) -> bytes:
    """``data`` as one final (BFINAL) block, as a sender that ends its stream
    each message does, referring back into ``zdict`` (the shared window)."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, zdict) if zdict else zlib.compressobj(
        6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH) + (b"\x00" if pad else b"")


class Bits:
    """A DEFLATE bit stream: header fields least significant bit first,
    Huffman codes most significant bit first (RFC 1951 §3.1.1)."""

    def __init__(self) -> None:
        self.bits: List[int] = []

    def put(self, value: int, n: int) -> None:
        self.bits.extend((value >> i) & 1 for i in range(n))

    def code(self, value: int, n: int) -> None:
        self.bits.extend((value >> i) & 1 for i in reversed(range(n)))

    def bytes(self) -> bytes:
        bits = self.bits
        return bytes(sum(b << i for i, b in enumerate(bits[k : k + 8])) for k in range(0, len(bits), 8))


def fixed_literals(data: bytes) -> bytes:
    """``data`` as one fixed-Huffman block of literals only, sync-flushed, tail
    removed: 9 bits a byte from 144 up, the costliest a literal gets."""
    w = Bits()
    w.put(0, 1)
    w.put(1, 2)  # fixed Huffman
    for b in data:
        if b < 144:
            w.code(0x30 + b, 8)
        else:
            w.code(0x190 + b - 144, 9)
    w.code(0, 7)  # end of block
    w.put(0, 3)  # an empty stored block's header; padding, then its 00 00 ff ff, removed
    return w.bytes()


def zero_bomb(zero_bytes: int) -> bytes:
    """A compressed payload that is ``zero_bytes`` zero bytes after a 14-byte
    head: one dynamic-Huffman block whose match of 258 bytes (distance 1)
    costs 2 zero bits, so each zero byte inflates to 1032 bytes (DEFLATE's
    largest ratio).  1 MiB of it would be 1 GiB of message."""
    w = Bits()
    put, code = w.put, w.code
    put(0, 1)  # not final
    put(2, 2)  # dynamic Huffman
    put(29, 5)  # HLIT: 286 literal/length codes
    put(0, 5)  # HDIST: 1 distance code
    put(15, 4)  # HCLEN: 19 code length codes
    cl_lengths = {18: 1, 1: 2, 2: 2}
    for sym in (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15):
        put(cl_lengths.get(sym, 0), 3)
    cl_codes = {18: (0, 1), 1: (2, 2), 2: (3, 2)}  # canonical codes for those lengths

    def length(sym: int, zeros: int = 0) -> None:
        code(*cl_codes[sym])
        if sym == 18:
            put(zeros - 11, 7)

    # Literal 0: 2 bits, 1-255: none, end of block: 2 bits, 257-284: none,
    # 285 (length 258): 1 bit; the one distance code: 1 bit.
    for sym, zeros in ((2, 0), (18, 138), (18, 117), (2, 0), (18, 28), (1, 0), (1, 0)):
        length(sym, zeros)
    code(2, 2)  # literal 0
    while len(w.bits) % 8:
        put(0, 2)  # length 258, distance 1
    head = w.bytes()
    assert len(head) == 14
    # Then the zeros; then end of block (11) and an empty stored block's header (000).
    return head + bytes(zero_bytes) + b"\x03"


# ------------------------------------------------------------- RFC 7692 §7.2.3


RFC_EXAMPLES = [
    # (frames as the server of §7.2.3 sends them, messages)
    ("7.2.3.1 one frame", "c107f248cdc9c90700", ["Hello"]),
    ("7.2.3.1 fragmented", "4103f248cd8004c9c90700", ["Hello"]),
    ("7.2.3.2 sharing the window", "c107f248cdc9c90700c105f200110000", ["Hello", "Hello"]),
    ("7.2.3.3 no compression", "c10b000500faff48656c6c6f00", ["Hello"]),
    ("7.2.3.4 BFINAL", "c108f348cdc9c9070000", ["Hello"]),
    ("7.2.3.5 two blocks", "c10df248050000 00ffff cac9c90700", ["Hello"]),
]


@pytest.mark.parametrize("name, wire, messages", RFC_EXAMPLES, ids=[e[0] for e in RFC_EXAMPLES])
@pytest.mark.parametrize("step", [0, 1, 3])
def test_rfc_7692_examples(impl: Any, name: str, wire: str, messages: List[str], step: int) -> None:
    data = bytes.fromhex(wire)
    expected = [Message(Opcode.TEXT, m) for m in messages]
    # As the RFC sends them: from a server, unmasked, to a client.
    assert feed(impl.Decoder(client=True, deflate=PMD()), data, step) == expected
    # The same frames masked, from a client to a server.
    remasked, pos = b"", 0
    while pos < len(data):
        b0, n = data[pos], data[pos + 1]
        remasked += frame(b0 & 0x0F, data[pos + 2 : pos + 2 + n], fin=bool(b0 & 0x80), rsv1=bool(b0 & 0x40))
        pos += 2 + n
    assert feed(server(impl), remasked, step) == expected


def test_an_empty_compressed_message(impl: Any) -> None:
    # §7.2.3.6: the empty message compresses to 0x00.
    assert server(impl).feed(frame(2, b"\x00", rsv1=True)) == [Message(Opcode.BINARY, b"")]
    assert server(impl).feed(frame(1, b"\x00", rsv1=True)) == [Message(Opcode.TEXT, "")]


# ------------------------------------------------------------------ RSV1 rules


def test_rsv1_on_a_continuation_frame_is_refused(impl: Any) -> None:
    start = frame(1, HELLO[:3], fin=False, rsv1=True)
    expect_error(impl, start + frame(0, HELLO[3:], rsv1=True), ProtocolError, 1002,
                 "RFC 7692 §6.1: RSV1 (compressed) set on a continuation frame", deflate=PMD())
    # Also on a plain message's continuation: only a first frame says "compressed".
    expect_error(impl, frame(2, b"ab", fin=False) + frame(0, HELLO, rsv1=True), ProtocolError, 1002,
                 "continuation frame", deflate=PMD())


@pytest.mark.parametrize("opcode", [8, 9, 10])
def test_rsv1_on_a_control_frame_is_refused(impl: Any, opcode: int) -> None:
    payload = b"\x03\xe8" if opcode == 8 else b"p"
    expect_error(impl, frame(opcode, payload, rsv1=True), ProtocolError, 1002,
                 f"RSV1 (compressed) set on a control frame (opcode {opcode:#x})", deflate=PMD())
    # Between the fragments of a compressed message, too.
    data = frame(1, HELLO[:3], fin=False, rsv1=True) + frame(opcode, payload, rsv1=True)
    expect_error(impl, data, ProtocolError, 1002, "control frame", deflate=PMD())


def test_rsv1_without_an_agreement_is_refused(impl: Any) -> None:
    expect_error(impl, frame(1, HELLO, rsv1=True), ProtocolError, 1002,
                 "reserved bit(s) RSV1 set without a negotiated extension")
    expect_error(impl, frame(1, HELLO, rsv1=True, key=None), ProtocolError, 1002, "RSV1", client=True)


@pytest.mark.parametrize("rsv, name", [(0x20, "RSV2"), (0x10, "RSV3"), (0x30, "RSV2, RSV3")])
def test_rsv2_and_rsv3_stay_reserved_with_an_agreement(impl: Any, rsv: int, name: str) -> None:
    for rsv1 in (False, True):
        expect_error(impl, frame(2, HELLO, rsv1=rsv1, rsv=rsv), ProtocolError, 1002,
                     f"reserved bit(s) {name} set", deflate=PMD())


def test_header_rules_keep_their_order_with_an_agreement(impl: Any) -> None:
    # A reserved opcode before RSV1's place; RSV1's place before the masking direction.
    expect_error(impl, frame(3, b"", rsv1=True), ProtocolError, 1002, "opcode 0x3 is reserved", deflate=PMD())
    expect_error(impl, frame(0, b"", rsv1=True, key=None), ProtocolError, 1002, "continuation", deflate=PMD())
    expect_error(impl, frame(1, HELLO, rsv1=True, key=None), ProtocolError, 1002, "must mask", deflate=PMD())
    # A new compressed message while another is in progress: the order of fragments.
    data = frame(1, HELLO[:3], fin=False, rsv1=True) + frame(1, HELLO, rsv1=True)
    expect_error(impl, data, ProtocolError, 1002, "before the fragmented message ended", deflate=PMD())


# ----------------------------------------------------------- valid conversations


def test_compressed_and_plain_messages_mix_freely(impl: Any) -> None:
    deflater = client_deflater(impl)
    text = "a message worth compressing, " * 20
    first, second = deflater.compress(text), deflater.compress(text)  # the second refers back into the first
    wire = (
        frame(1, first, rsv1=True)
        + frame(2, b"plain binary")  # a plain message between: the context carries on
        + frame(1, second[:5], fin=False, rsv1=True)
        + frame(9, b"ping between")
        + frame(0, b"", fin=False)
        + frame(10, b"pong between")
        + frame(0, second[5:])
        + frame(1, b"plain " * 3, fin=False)
        + frame(0, b"text")
        + frame(2, b"")
        + frame(2, deflater.compress(b""), rsv1=True)
        + frame(2, deflater.compress(bytes(range(256)) * 4), rsv1=True)
    )
    expected = [
        Message(Opcode.TEXT, text),
        Message(Opcode.BINARY, b"plain binary"),
        Ping(b"ping between"),
        Pong(b"pong between"),
        Message(Opcode.TEXT, text),
        Message(Opcode.TEXT, "plain plain plain text"),
        Message(Opcode.BINARY, b""),
        Message(Opcode.BINARY, b""),
        Message(Opcode.BINARY, bytes(range(256)) * 4),
    ]
    for step in (0, 1, 7, 100):
        assert feed(server(impl, max_message_size=None), wire, step) == expected


def test_text_as_validated_bytes(impl: Any) -> None:
    payload = client_deflater(impl).compress("κόσμε " * 50)
    decoder = server(impl, decode_text=False)
    assert decoder.feed(frame(1, payload, rsv1=True)) == [Message(Opcode.TEXT, ("κόσμε " * 50).encode())]


def test_the_client_side_inflates_with_the_servers_parameters(impl: Any) -> None:
    params = PMD(server_max_window_bits=9, client_max_window_bits=15)
    deflater = impl.Deflater(params)  # a server's
    data = repeats_at([300, 500], 20_000)
    decoder = impl.Decoder(client=True, deflate=params)
    assert decoder.feed(frame(2, deflater.compress(data), rsv1=True, key=None)) == [Message(Opcode.BINARY, data)]


@pytest.mark.parametrize("params, peer_resets", [
    (PMD(), False),
    (PMD(client_no_context_takeover=True), True),  # the peer (a client) resets
    (PMD(server_no_context_takeover=True), False),  # our own side's choice does not matter here
])
def test_context_takeover_and_no_takeover(impl: Any, params: PerMessageDeflate, peer_resets: bool) -> None:
    deflater = client_deflater(impl, params)
    messages = [jsonish(i) * 3 for i in range(20)]
    wire = b"".join(frame(1, deflater.compress(m), rsv1=True) for m in messages)
    assert [e.data for e in server(impl, params).feed(wire)] == messages
    # §7.2.3.2's second message refers back into the first: fine with the
    # peer's context, corrupt once the peer said it resets.
    wire = frame(1, HELLO, rsv1=True) + frame(1, HELLO_AGAIN, rsv1=True)
    if peer_resets:
        expect_error(impl, wire, ProtocolError, 1007, "too far back", deflate=params)
    else:
        assert [e.data for e in server(impl, params).feed(wire)] == ["Hello", "Hello"]


def test_the_server_side_no_takeover_mode(impl: Any) -> None:
    params = PMD(server_no_context_takeover=True)
    deflater = impl.Deflater(params)
    messages = [jsonish(i) for i in range(10)]
    wire = b"".join(frame(1, deflater.compress(m), rsv1=True, key=None) for m in messages)
    assert [e.data for e in impl.Decoder(client=True, deflate=params).feed(wire)] == messages
    wire = frame(1, HELLO, rsv1=True, key=None) + frame(1, HELLO_AGAIN, rsv1=True, key=None)
    expect_error(impl, wire, ProtocolError, 1007, "too far back", client=True, deflate=params)


@pytest.mark.parametrize("no_takeover", [False, True])
def test_messages_ending_with_a_final_block_any_number_of_times(impl: Any, no_takeover: bool) -> None:
    params = PMD(client_no_context_takeover=no_takeover)
    text = "context takeover " * 30
    wire, expected, previous = b"", [], b""
    for i in range(60):
        data = f"{i}: {text}".encode()
        # With context takeover, each message's new stream refers back across
        # the previous final block.
        payload = final_block(data, zdict=b"" if no_takeover else previous, pad=i % 2 == 0)
        wire += frame(1, payload, rsv1=True)
        expected.append(Message(Opcode.TEXT, data.decode()))
        if i % 5 == 0:  # a message of the usual kind, between
            wire += frame(2, HELLO, rsv1=True)
            expected.append(Message(Opcode.BINARY, b"Hello"))
            previous = b"Hello" if no_takeover else data + b"Hello"
        else:
            previous = data if no_takeover else previous + data
    for step in (0, 1, 50):
        assert feed(server(impl, params), wire, step) == expected


def test_a_final_block_inside_a_message(impl: Any) -> None:
    text = b"before the final block " * 10
    c = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, text)
    after = c.compress(b" and after it, " + text) + c.flush(zlib.Z_SYNC_FLUSH)
    payload = final_block(text, pad=False) + after[:-4]
    wire = frame(2, payload[:10], fin=False, rsv1=True) + frame(0, payload[10:])
    for step in (0, 1, 13):
        assert feed(server(impl), wire, step) == [Message(Opcode.BINARY, text + b" and after it, " + text)]


@pytest.mark.parametrize("bits", range(8, 16))
def test_every_window_size(impl: Any, bits: int) -> None:
    params = PMD(client_max_window_bits=bits)
    window = 1 << bits
    data = repeats_at([window // 2, window - 10, min(window, 250 if bits == 8 else window)], 20_000)
    for no_takeover in (False, True):
        deflater = client_deflater(impl, params, no_context_takeover=no_takeover)
        wire = b"".join(frame(2, deflater.compress(data[:n]), rsv1=True) for n in (len(data), 5000, len(data)))
        assert [e.data for e in feed(server(impl, params, max_message_size=None), wire, 4096)] == [
            data, data[:5000], data]


def test_a_peer_using_a_larger_window_than_agreed_is_refused(impl: Any) -> None:
    # The second message refers 2000 bytes back, into the first: beyond an
    # agreed 8-bit window (256 bytes), which is all this side keeps.
    first = bytes(RND.getrandbits(8) for _ in range(2000))
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    wire = frame(2, (c.compress(first) + c.flush(zlib.Z_SYNC_FLUSH))[:-4], rsv1=True)
    wire += frame(2, (c.compress(first) + c.flush(zlib.Z_SYNC_FLUSH))[:-4], rsv1=True)
    assert len(server(impl).feed(wire)) == 2  # fine with the 15 bits both sides would agree by default
    with pytest.raises(ProtocolError, match="too far back") as info:
        server(impl, PMD(client_max_window_bits=8)).feed(wire)
    assert info.value.close_code == 1007 and len(info.value.events) == 1


def test_a_close_frame_drops_a_compressed_message_in_progress(impl: Any) -> None:
    decoder = server(impl)
    wire = frame(1, HELLO[:3], fin=False, rsv1=True) + frame(8, b"\x03\xe8") + frame(0, HELLO[3:])
    assert decoder.feed(wire) == [Close(1000, "")]
    assert decoder.closed and decoder.feed(frame(1, HELLO, rsv1=True)) == []


# ------------------------------------------------------------------ the limits


@pytest.mark.parametrize("limit", [0, 1, 100, 4095, 16384, 100_000])
@pytest.mark.parametrize("kind", ["binary", "text"])
def test_max_message_size_is_exact_on_the_inflated_size(impl: Any, limit: int, kind: str) -> None:
    opcode = 1 if kind == "text" else 2
    data = ("é" * limit).encode()[:limit] if kind == "text" and limit % 2 == 0 else b"x" * limit
    for size, fits in ((limit, True), (limit + 1, False)):
        message = data[:size] if size <= len(data) else data + b"y"
        payload = client_deflater(impl).compress(message)
        # In one frame, and in three fragments fed in pieces.
        third = len(payload) // 3
        wires = [
            frame(opcode, payload, rsv1=True),
            frame(opcode, payload[:third], fin=False, rsv1=True) + frame(0, payload[third : 2 * third], fin=False)
            + frame(0, payload[2 * third :]),
        ]
        for wire in wires:
            for step in (0, 7, 4096):
                decoder = server(impl, max_message_size=limit)
                if fits:
                    (event,) = feed(decoder, wire, step)
                    got = event.data if kind == "binary" else event.data.encode()
                    assert event.opcode == opcode and got == message
                else:
                    with pytest.raises(MessageTooBig, match=rf"inflates to more than max_message_size \({limit}\)"):
                        feed(decoder, wire, step)


def test_the_compressed_size_is_bounded_before_anything_is_stored(impl: Any) -> None:
    limit = 10_000
    bound = _protocol.compressed_limit(limit)
    assert bound == limit + limit // 8 + 1024 and _protocol.compressed_limit(None) is None
    # The header alone is refused, whatever the frame would inflate to.
    decoder = server(impl, max_message_size=limit)
    with pytest.raises(MessageTooBig, match=rf"compressed message of at least {bound + 1} bytes.*\({bound}"):
        decoder.feed(masked_head(2, bound + 1))
    # Fragments count together.
    decoder = server(impl, max_message_size=limit)
    first = b"\x00\x00\x00\xff\xff" * ((bound - 100) // 5)
    assert decoder.feed(masked_head(2, len(first), fin=False) + masked(first)) == []
    with pytest.raises(MessageTooBig, match=f"compressed message of at least {bound + 1} bytes"):
        decoder.feed(masked_head(0, bound - len(first) + 1, rsv1=False))
    # Input that inflates to nothing (empty stored blocks), up to the bound: an empty message.
    blocks = b"\x00\x00\x00\xff\xff" * ((bound - 1) // 5) + b"\x00"  # the last: a sync flush's, tail removed
    assert server(impl, max_message_size=limit).feed(frame(2, blocks, rsv1=True)) == [Message(Opcode.BINARY, b"")]
    # An explicit max_frame_size still bounds each frame as it is on the wire.
    with pytest.raises(MessageTooBig, match="max_frame_size"):
        server(impl, max_message_size=limit, max_frame_size=100).feed(masked_head(2, 101))
    # No message limit, no compressed bound: any run of empty blocks.
    many = b"\x00\x00\x00\xff\xff" * 100_000 + b"\x00"
    assert server(impl, max_message_size=None).feed(frame(2, many, rsv1=True)) == [Message(Opcode.BINARY, b"")]


def test_a_message_at_the_limit_fits_however_badly_it_was_compressed(impl: Any) -> None:
    limit = 50_000
    noise = bytes(RND.getrandbits(8) for _ in range(limit))
    # Stored blocks (zlib's choice for noise), and literals in a fixed-Huffman
    # block, 9 bits for each byte from 144 up: the worst a sane encoder does.
    stored = client_deflater(impl).compress(noise)
    high = bytes(b | 0x90 for b in noise)
    fixed = fixed_literals(high)
    assert len(stored) > limit and len(fixed) > limit * 9 // 8
    for payload, data in ((stored, noise), (fixed, high)):
        assert server(impl, max_message_size=limit).feed(frame(2, payload, rsv1=True)) == [
            Message(Opcode.BINARY, data)]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A masked 1 MiB frame of (compressed) zeros that would inflate to 1 GiB."""
    payload = zero_bomb((1 << 20) - 15)
    assert len(payload) == 1 << 20
    return masked_head(2, len(payload)) + masked(payload)


def peak_while(fn: Any) -> int:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.skipif(tracemalloc is None, reason="needs tracemalloc")
@pytest.mark.parametrize("step", [0, 16 << 10])
def test_a_zero_bomb_is_refused_with_bounded_memory(impl: Any, bomb: bytes, step: int) -> None:
    if SANITIZED and impl.IMPLEMENTATION == "python":
        pytest.skip("slow under the sanitizers; the compiled decoder is what they check")
    limit = 1 << 20  # the default max_message_size
    decoder = server(impl)
    fed: List[int] = []

    def run() -> None:
        with pytest.raises(MessageTooBig, match="inflates to more than") as info:
            for piece in pieces(bomb, step):
                fed.append(len(piece))
                decoder.feed(piece)
        assert info.value.close_code == 1009

    peak = peak_while(run)
    # The message up to the limit and what surrounds it (the pure decoder's
    # unmasked copy of a whole frame, its last chunk's output): never the GiB.
    assert peak < 4 * limit + (1 << 20), peak
    if step:
        assert len(fed) == 1  # refused on the first 16 KiB: inflated as it arrives
    # And the Decoder stays refused.
    with pytest.raises(MessageTooBig):
        decoder.feed(b"")


def test_input_that_inflates_to_nothing_is_consumed_linearly(impl: Any) -> None:
    # Empty fixed-Huffman blocks, 10 bits each, 4 in 5 bytes; empty final
    # blocks, each one ending a stream (a new one starts after it).
    bits = [0, 1, 0] + [0] * 7
    four = int("".join(map(str, reversed(bits * 4))), 2).to_bytes(5, "little")
    for payload in (four * 20_000 + b"\x00", b"\x03\x00" * 50_000 + b"\x00"):
        decoder = server(impl, max_message_size=None)
        assert feed(decoder, frame(2, payload, rsv1=True), 4096) == [Message(Opcode.BINARY, b"")]


# ------------------------------------------------------------------------ text


def test_text_fails_fast_inside_a_compressed_frame(impl: Any) -> None:
    text = b"valid " * 10 + b"\xed\xa0\x80" + b"more text " * 100_000  # a surrogate: \xa0 at offset 61
    payload = client_deflater(impl).compress(text)
    wire = frame(1, payload, rsv1=True)
    decoder = server(impl, max_message_size=None)
    fed = 0
    with pytest.raises(InvalidUTF8, match="offset 61") as info:
        for piece in pieces(wire, 1024):
            fed += 1
            decoder.feed(piece)
    assert fed == 1 and info.value.close_code == 1007
    # In fragments, the same: the first fragment fails.
    third = len(payload) // 3
    decoder = server(impl, max_message_size=None)
    with pytest.raises(InvalidUTF8, match="offset 61"):
        decoder.feed(frame(1, payload[:third], fin=False, rsv1=True))


def test_text_is_validated_on_the_inflated_bytes_across_fragments(impl: Any) -> None:
    text = "€uro " * 1000
    payload = client_deflater(impl).compress(text)
    n = len(payload)
    cuts = [0, 1, 2, 3, n // 2, n - 1, n]
    wire = b"".join(frame(1 if i == 0 else 0, payload[a:b], fin=b == len(payload), rsv1=i == 0)
                    for i, (a, b) in enumerate(zip(cuts, cuts[1:])))
    for step in (0, 1, 5):
        assert feed(server(impl), wire, step) == [Message(Opcode.TEXT, text)]
    truncated = client_deflater(impl).compress("€".encode()[:2])
    expect_error(impl, frame(1, truncated, rsv1=True), InvalidUTF8, 1007, "ends inside a UTF-8 sequence",
                 deflate=PMD())


# --------------------------------------------------------------- corrupt input


@pytest.mark.parametrize("payload, words", [
    (b"\xff\xff\xff", "invalid block type"),
    (bytes.fromhex("0005 0000 00"), "invalid stored block lengths"),
    (HELLO_AGAIN, "too far back"),  # a reference before the first byte
    (b"\xfc\xff\xff", "too many length"),
    (b"", "empty payload"),
    (HELLO[:-2], "RFC 7692 §7.2"),  # a truncated message
])
def test_corrupt_data_is_refused_with_1007(impl: Any, payload: bytes, words: str) -> None:
    for fragmented in (False, True):
        wire = frame(2, payload, rsv1=True)
        if fragmented:
            wire = frame(2, payload[:1], fin=False, rsv1=True) + frame(0, payload[1:])
        expect_error(impl, wire, ProtocolError, 1007, words, deflate=PMD())


def test_a_message_that_does_not_end_on_a_block_boundary(impl: Any) -> None:
    expect_error(impl, frame(2, stops_inside_a_block(), rsv1=True), ProtocolError, 1007, "RFC 7692 §7.2", deflate=PMD())
    # A stored block of 10 bytes cut after 3: the tail would become its data.
    cut = bytes.fromhex("000a00f5ff") + b"ABC"
    expect_error(impl, frame(2, cut, rsv1=True), ProtocolError, 1007, "must end on a block boundary",
                 deflate=PMD())


def test_events_before_a_corrupt_message_ride_on_the_error(impl: Any) -> None:
    wire = frame(1, HELLO, rsv1=True) + frame(9, b"p") + frame(2, b"\xff\xff", rsv1=True)
    with pytest.raises(ProtocolError) as info:
        server(impl).feed(wire)
    assert list(info.value.events) == [Message(Opcode.TEXT, "Hello"), Ping(b"p")]


# ---------------------------------------------------------- the object's rules


def test_deflate_argument(impl: Any) -> None:
    for bad in ("permessage-deflate", True, 15, {}, object()):
        with pytest.raises(TypeError, match="PerMessageDeflate"):
            impl.Decoder(deflate=bad)
    with pytest.raises(TypeError):
        impl.Decoder(PMD())  # keyword-only
    # Signature order: an earlier bad option decides.
    with pytest.raises(ValueError):
        impl.Decoder(max_message_size=-1, deflate="x")
    assert impl.Decoder(deflate=None).feed(frame(1, b"a")) == [Message(Opcode.TEXT, "a")]


def test_reinit_with_and_without_deflate(impl: Any) -> None:
    decoder = server(impl)
    assert decoder.feed(frame(1, HELLO, rsv1=True)) == [Message(Opcode.TEXT, "Hello")]
    assert decoder.feed(frame(1, HELLO[:3], fin=False, rsv1=True)) == []  # a message in progress
    # A bad argument changes nothing: still inflating, still inside the message.
    with pytest.raises(TypeError):
        decoder.__init__(deflate="bad")
    assert decoder.feed(frame(0, HELLO[3:])) == [Message(Opcode.TEXT, "Hello")]
    # The context survived too: §7.2.3.2's second message.
    assert decoder.feed(frame(1, HELLO_AGAIN, rsv1=True)) == [Message(Opcode.TEXT, "Hello")]
    # Fresh state: a new window (the back-reference is now corrupt).
    decoder.__init__(deflate=PMD())
    with pytest.raises(ProtocolError, match="too far back"):
        decoder.feed(frame(1, HELLO_AGAIN, rsv1=True))
    decoder.__init__(deflate=PMD())
    assert decoder.feed(frame(1, HELLO, rsv1=True)) == [Message(Opcode.TEXT, "Hello")]
    # Without deflate, RSV1 is reserved again.
    decoder.__init__()
    with pytest.raises(ProtocolError, match="without a negotiated extension"):
        decoder.feed(frame(1, HELLO, rsv1=True))


def test_a_decoder_with_deflate_cannot_be_copied_or_pickled(impl: Any) -> None:
    decoder = server(impl)
    decoder.feed(frame(1, HELLO, rsv1=True))
    for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError):
            attempt(decoder)
    assert decoder.feed(frame(1, HELLO_AGAIN, rsv1=True)) == [Message(Opcode.TEXT, "Hello")]


def test_an_idle_decoder_holds_no_zlib_state(c_impl: Any) -> None:
    mod = c_impl.module("deflate")
    before = mod._zlib_bytes()
    decoders = [server(c_impl) for _ in range(100)]
    for d in decoders:
        d.feed(frame(2, b"plain"))  # uncompressed messages make no stream
    assert mod._zlib_bytes() == before
    decoders[0].feed(frame(2, HELLO, rsv1=True))
    held = mod._zlib_bytes() - before
    assert 0 < held <= 42 << 10  # one inflater, window 15 (zlib 39 KiB, zlib-ng 41)
    # Without the peer's context, streams go back to a shared pool between messages.
    params = PMD(client_no_context_takeover=True, client_max_window_bits=12)
    resetting = [server(c_impl, params) for _ in range(100)]
    base = mod._zlib_bytes()
    for d in resetting:
        assert d.feed(frame(2, HELLO, rsv1=True)) == [Message(Opcode.BINARY, b"Hello")]
    assert mod._zlib_bytes() - base <= 8 * (12 << 10)  # the pool, not a stream per decoder


def test_large_messages_of_many_decoders_in_turn(impl: Any) -> None:
    # The compiled Decoders pass large message buffers on to each other (one
    # spare for the process): whatever a buffer held before, each message
    # comes out whole and alone.
    big = bytes(RND.getrandbits(8) for _ in range(1 << 16)) * 40  # 2.5 MiB
    a, b = server(impl, max_message_size=None), server(impl, max_message_size=None)
    deflater = client_deflater(impl)
    assert [e.data for e in a.feed(frame(2, deflater.compress(big), rsv1=True))] == [big]
    half = (1 << 16) * 3
    assert b.feed(frame(2, big[:half], fin=False)) == []  # in progress, from the spare
    small = b"x" * 100_000
    assert [e.data for e in a.feed(frame(1, deflater.compress(small), rsv1=True))] == [small.decode()]
    assert [e.data for e in b.feed(frame(0, big[half : 2 * half]))] == [big[: 2 * half]]
    assert [e.data for e in a.feed(frame(2, deflater.compress(big[:300_000]), rsv1=True))] == [big[:300_000]]


def test_a_large_compressed_message_releases_the_gil(c_impl: Any) -> None:
    from test_threads import progress_during

    data = bytes(range(256)) * (1 << 16)  # 16 MiB
    params = PMD()
    for client in (False, True):  # masked (unmasked on the stack first) and not
        wire = frame(2, impl_deflate(c_impl, params, not client, data), rsv1=True, key=None if client else KEY)

        def decode(client: bool = client, wire: bytes = wire) -> None:
            assert len(c_impl.Decoder(client=client, deflate=params, max_message_size=None).feed(wire)) == 1

        deltas = progress_during(decode, max_rounds=5)
        assert deltas[-1] > 0, "Decoder.feed held the GIL while inflating"


def impl_deflate(impl: Any, params: PerMessageDeflate, client: bool, data: bytes) -> bytes:
    return bytes(impl.Deflater(params, client=client).compress(data))


# --------------------------------------------------------- random conversations


@st.composite
def compressed_conversations(draw: Any) -> Tuple[PerMessageDeflate, List[bytes], List[Any], bool]:
    """(params, the frames, the events they give, whether the sender masks)."""
    params = PMD(
        client_no_context_takeover=draw(st.booleans()),
        server_no_context_takeover=draw(st.booleans()),
        client_max_window_bits=draw(st.integers(8, 15)),
        server_max_window_bits=draw(st.integers(8, 15)),
    )
    masked_ = draw(st.booleans())  # masked: the sender is a client
    key = KEY if masked_ else None
    from wsfast import _deflate_py

    deflater = _deflate_py.Deflater(params, client=masked_, level=draw(st.sampled_from([1, 6, 9])))
    frames: List[bytes] = []
    events: List[Any] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["text", "binary", "ping"]))
        if kind == "ping":
            payload = draw(st.binary(max_size=20))
            frames.append(frame(9, payload, key=key))
            events.append(Ping(payload))
            continue
        if kind == "text":
            text = draw(st.text(max_size=300) | st.sampled_from([jsonish(i) * 20 for i in range(3)]))
            data = text.encode()
        else:
            data = draw(st.binary(max_size=300) | st.sampled_from([b"", bytes(5000), bytes(range(256)) * 20]))
        compress = draw(st.booleans())
        payload = deflater.compress(data) if compress else data
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
        parts = [payload[a:b] for a, b in zip([0] + cuts, cuts + [len(payload)])]
        for i, part in enumerate(parts):
            opcode = (1 if kind == "text" else 2) if i == 0 else 0
            frames.append(frame(opcode, part, fin=i == len(parts) - 1, rsv1=compress and i == 0, key=key))
            if i < len(parts) - 1 and draw(st.integers(0, 3)) == 0:
                frames.append(frame(10, b"between", key=key))
                events.append(Pong(b"between"))
        events.append(Message(Opcode.TEXT, text) if kind == "text" else Message(Opcode.BINARY, data))
    return params, frames, events, masked_


def split(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0] + points, points + [len(data)])]


@settings(max_examples=examples(150), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conv=compressed_conversations(), cuts=st.lists(st.integers(0, 2**20), max_size=12))
def test_random_compressed_streams_split_anywhere(py_impl: Any, c_impl: Any, conv: Any, cuts: List[int]) -> None:
    params, frames, expected, masked_ = conv
    data = b"".join(frames)
    for impl in (py_impl, c_impl):
        decoder = impl.Decoder(client=not masked_, deflate=params, max_message_size=None)
        events: list = []
        for piece in split(data, cuts):
            events += decoder.feed(piece)
        assert events == expected
        assert [type(e) for e in events] == [type(e) for e in expected]
