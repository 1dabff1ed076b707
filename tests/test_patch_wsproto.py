"""wsproto with the patch: the same Frame objects and the same ParseFailed.

Streams of frames, valid and broken in every way wsproto checks (opcodes,
fragmented control frames, lengths, non-minimal lengths, the length's top
bit, reserved bits, masking direction), cut into random chunks, go through
wsproto unpatched and patched, over both wsfast implementations.
"""

from __future__ import annotations

import random
import struct
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_patch_equivalence import split as chunked

import wsfast.patch as patch

wsproto = pytest.importorskip("wsproto")
from wsproto import frame_protocol as fp  # noqa: E402
from wsproto.extensions import PerMessageDeflate  # noqa: E402

FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    patch.uninstall()
    yield
    patch.uninstall()


def encode(fin: bool, rsv: int, opcode: int, payload: bytes, key: bytes | None, form: str) -> bytes:
    """A frame as the wire carries it; ``form`` picks the length encoding, minimal or not."""
    n = len(payload)
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    bit = 0x80 if key is not None else 0
    if form == "min":
        form = "7" if n <= 125 else "16" if n <= 0xFFFF else "64"
    if form == "7":
        head = bytes([first, bit | n])
    elif form == "16":
        head = bytes([first, bit | 126]) + struct.pack("!H", n)
    elif form == "64":
        head = bytes([first, bit | 127]) + struct.pack("!Q", n)
    else:  # "msb": the length's most significant bit set
        head = bytes([first, bit | 127]) + struct.pack("!Q", n | 1 << 63)
    if key is None:
        return head + payload
    return head + key + xor(payload, key)


def xor(data: bytes, key: bytes) -> bytes:
    """RFC 6455 masking, written out independently of every implementation under test."""
    n = len(data)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def sized(draw: Any, size: int) -> bytes:
    """Random bytes, or text cut to ``size`` (so sometimes inside a code point)."""
    if draw(st.booleans()):
        return random.Random(draw(st.integers(0, 2**32))).randbytes(size)
    unit = draw(st.text(min_size=1, max_size=8)).encode()
    return (unit * (size // len(unit) + 1))[:size]


@st.composite
def frames(draw: Any, client: bool) -> bytes:
    def odd() -> bool:  # each rule is broken on its own, now and then
        return draw(st.integers(0, 11)) == 0

    opcode = draw(st.integers(0, 15)) if odd() else draw(st.sampled_from([0, 1, 2, 8, 9, 10]))
    control = opcode >= 8
    fin = draw(st.booleans()) if not control or odd() else True
    rsv = draw(st.integers(1, 7)) if odd() else 0
    if opcode == 8 and not odd():
        payload = draw(st.sampled_from([b"", struct.pack("!H", 1000), struct.pack("!H", 1001) + b"bye"]))
    else:
        big = not control or odd()
        size = draw(st.one_of(st.integers(0, 140), st.integers(65530, 65545)) if big else st.integers(0, 125))
        payload = sized(draw, size)
    masked = client if odd() else not client
    key = draw(st.binary(min_size=4, max_size=4)) if masked else None
    form = draw(st.sampled_from(["7", "16", "64", "msb"])) if odd() else "min"
    if (form == "7" and len(payload) > 125) or (form == "16" and len(payload) > 0xFFFF):
        form = "min"
    return encode(fin, rsv, opcode, payload, key, form)


def decode(chunks: list[bytes], client: bool, extensions: Callable[[], list[Any]]) -> list[Any]:
    proto = fp.FrameProtocol(client, extensions())
    out: list[Any] = []
    try:
        for chunk in chunks:
            proto.receive_bytes(chunk)
            for frame in proto.received_frames():
                out.append((frame.opcode, type(frame.payload), frame.payload, frame.frame_finished,
                            frame.message_finished))
    except fp.ParseFailed as exc:
        out.append(("ParseFailed", str(exc), exc.code))
    return out


def no_extensions() -> list[Any]:
    return []


def deflate() -> list[Any]:
    ext = PerMessageDeflate()
    ext._enabled = True
    return [ext]


class Lenient:
    """A kernel set whose parse_header checks nothing, so that the adapter's own checks are what is tested."""

    def __init__(self, impl: Any) -> None:
        self.impl = impl

    def __getattr__(self, name: str) -> Any:
        return getattr(self.impl, name)

    @staticmethod
    def parse_header(data: Any, offset: int = 0) -> Any:
        from wsfast import FrameHeader

        view = bytes(data[offset : offset + 14])
        if len(view) < 2:
            return None
        size, at = view[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(view[2:4], "big"), 4
        elif size == 127:
            size, at = int.from_bytes(view[2:10], "big"), 10
        mask = view[at : at + 4] if view[1] & 0x80 else None
        end = at + (4 if mask is not None else 0)
        if len(view) < end:
            return None
        return FrameHeader(bool(view[0] & 0x80), bool(view[0] & 0x40), bool(view[0] & 0x20), bool(view[0] & 0x10),
                           view[0] & 0x0F, mask, size, end)


def both(impl: Any, fn: Callable[[], Any]) -> tuple[Any, Any]:
    before = fn()
    assert patch._install(impl, ("wsproto",)) == ["wsproto"]
    try:
        after = fn()
    finally:
        patch.uninstall()
    return before, after


@FIXTURE_OK
@given(data=st.data(), client=st.booleans(), cuts=st.lists(st.integers(0, 200000), max_size=8),
       ext=st.sampled_from([no_extensions, deflate]))
def test_frame_decoding(impl: Any, data: Any, client: bool, cuts: list[int], ext: Any) -> None:
    stream = b"".join(data.draw(st.lists(frames(client), min_size=1, max_size=6)))
    chunks = chunked(stream, cuts)
    before, after = both(impl, lambda: decode(chunks, client, ext))
    assert before == after


@FIXTURE_OK
@given(data=st.data(), client=st.booleans(), cuts=st.lists(st.integers(0, 200000), max_size=8))
def test_frame_decoding_checks_of_the_adapter(impl: Any, data: Any, client: bool, cuts: list[int]) -> None:
    stream = b"".join(data.draw(st.lists(frames(client), min_size=1, max_size=6)))
    chunks = chunked(stream, cuts)
    before, after = both(Lenient(impl), lambda: decode(chunks, client, no_extensions))
    assert before == after


@FIXTURE_OK
@given(messages=st.lists(st.one_of(st.integers(0, 70000).map(lambda n: random.Random(n).randbytes(n)),
                                   st.text(max_size=200)), min_size=1, max_size=4),
       cuts=st.lists(st.integers(0, 300000), max_size=6), compress=st.booleans(), seed=st.integers(0, 2**32))
def test_connection_round_trip(impl: Any, messages: list[Any], cuts: list[int], compress: bool, seed: int,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Client send (masking) and server receive_data (decoding) through wsproto.Connection."""
    from wsproto import Connection, ConnectionType
    from wsproto.events import BytesMessage, Message, TextMessage

    def run() -> tuple[bytes, list[Any]]:
        rng = random.Random(seed)
        monkeypatch.setattr(fp.os, "urandom", rng.randbytes)  # the masking keys, the same in both runs
        client = Connection(ConnectionType.CLIENT, extensions=deflate() if compress else [])
        server = Connection(ConnectionType.SERVER, extensions=deflate() if compress else [])
        wire = b"".join(client.send(TextMessage(m) if isinstance(m, str) else BytesMessage(m)) for m in messages)
        events = []
        for chunk in chunked(wire, cuts):
            server.receive_data(chunk)
            events += [(type(e), e.data, e.message_finished) for e in server.events() if isinstance(e, Message)]
        return wire, events

    before, after = both(impl, run)
    assert before == after
    got: dict[bool, Any] = {}
    for _kind, payload, _finished in after[1]:
        got.setdefault(False, []).append(payload)
    assert b"".join(p if isinstance(p, bytes) else p.encode() for p in got.get(False, [])) == b"".join(
        m if isinstance(m, bytes) else m.encode() for m in messages)


@FIXTURE_OK
@given(key=st.one_of(st.binary(min_size=4, max_size=4), st.binary(min_size=4, max_size=4).map(bytearray)),
       pieces=st.lists(st.binary(max_size=40), max_size=6))
def test_masker_keeps_phase_and_types(impl: Any, key: Any, pieces: list[bytes]) -> None:
    def run() -> list[Any]:
        masker = fp.XorMaskerSimple(key)
        out = []
        for piece in pieces:
            result = masker.process(piece)
            out.append((type(result), bytes(result), bytes(masker._masking_key), type(masker._masking_key)))
        return out

    before, after = both(impl, run)
    assert before == after


def test_masker_odd_keys_behave_as_wsproto(impl: Any) -> None:
    for key in (b"abc", [1, 2, 3, 4], b"abcde"):
        def run(key: Any = key) -> Any:
            try:
                return bytes(fp.XorMaskerSimple(key).process(b"hello world"))
            except Exception as exc:  # noqa: BLE001 - the exception is the result compared
                return type(exc), str(exc)

        before, after = both(impl, run)
        assert before == after, key


@pytest.mark.parametrize("direction", ["install", "uninstall"])
def test_decoder_mid_frame_across_install(impl: Any, direction: str) -> None:
    """A connection that is in the middle of a frame when the patch goes in or out."""
    rng = random.Random(3)
    payload = rng.randbytes(5000)
    stream = encode(True, 0, 2, payload, rng.randbytes(4), "min") + encode(True, 0, 1, b"next", b"abcd", "min")
    if direction == "uninstall":
        assert patch._install(impl, ("wsproto",)) == ["wsproto"]
    proto = fp.FrameProtocol(False, [])
    proto.receive_bytes(stream[:1500])
    first = list(proto.received_frames())
    if direction == "install":
        assert patch._install(impl, ("wsproto",)) == ["wsproto"]
    else:
        patch.uninstall()
    proto.receive_bytes(stream[1500:])
    rest = list(proto.received_frames())
    frames_ = first + rest
    assert b"".join(f.payload for f in frames_[:-1]) == payload
    assert frames_[-1].payload == "next"


def test_the_fast_path_runs(impl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard against a fast path that always hands over to wsproto's own code."""
    assert patch._install(impl, ("wsproto",)) == ["wsproto"]
    calls: list[str] = []
    for cls, name in ((fp.FrameDecoder, "parse_extended_payload_length"), (fp.Buffer, "consume_at_most"),
                      (fp.Buffer, "consume_exactly")):
        original = getattr(cls, name)

        def spy(*args: Any, _original: Any = original, _name: str = name) -> Any:
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(cls, name, spy)
    proto = fp.FrameProtocol(False, [])
    payload = bytes(range(256)) * 300
    proto.receive_bytes(encode(True, 0, 2, payload, b"abcd", "min") + encode(True, 0, 9, b"p", b"wxyz", "min"))
    frames_ = list(proto.received_frames())
    assert [f.payload for f in frames_] == [payload, b"p"]
    assert type(frames_[0].payload) is bytes
    assert calls == []


BROKEN = {
    "reserved opcode": encode(True, 0, 3, b"x", b"abcd", "min"),
    "fragmented ping": encode(False, 0, 9, b"x", b"abcd", "min"),
    "ping of 126 bytes": encode(True, 0, 9, b"x" * 126, b"abcd", "min"),
    "16-bit length under 126": encode(True, 0, 2, b"abc", b"abcd", "16"),
    "64-bit length under 65536": encode(True, 0, 2, b"abc", b"abcd", "64"),
    "64-bit length with its top bit": encode(True, 0, 2, b"abc", b"abcd", "msb"),
    "rsv1 without extension": encode(True, 4, 2, b"abc", b"abcd", "min"),
    "rsv3 without extension": encode(True, 1, 2, b"abc", b"abcd", "min"),
    "unmasked to a server": encode(True, 0, 2, b"abc", None, "min"),
    "continuation first": encode(True, 0, 0, b"abc", b"abcd", "min"),
    "close of one byte": encode(True, 0, 8, b"\x03", b"abcd", "min"),
    "close with code 999": encode(True, 0, 8, struct.pack("!H", 999), b"abcd", "min"),
    "text not UTF-8": encode(True, 0, 1, b"\xff", b"abcd", "min"),
}


@pytest.mark.parametrize("lenient", [False, True], ids=["kernels", "lenient-kernels"])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_rule_gives_the_same_error(impl: Any, case: str, lenient: bool) -> None:
    """Every wsproto rule, each header cut at every byte: the same frames and ParseFailed."""
    wire = encode(True, 0, 2, b"ok", b"wxyz", "min") + BROKEN[case]
    kernels = Lenient(impl) if lenient else impl
    for cut in [*range(min(len(wire), 24)), len(wire)]:
        chunks = [wire[:cut], wire[cut:]]
        before, after = both(kernels, lambda chunks=chunks: decode(chunks, False, no_extensions))
        assert before == after, cut
        assert before[-1][0] == "ParseFailed"
