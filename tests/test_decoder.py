"""The stream Decoder over both implementations: RFC 6455 §5 rules, limits, fuzzed streams."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from wsfast import Close, InvalidUTF8, Message, MessageTooBig, Opcode, Ping, Pong, ProtocolError

KEY = b"\x11\x22\x33\x44"


def raw(b0: int, payload: bytes = b"", *, masked: bool = True, length: int | None = None, ext: str = "auto") -> bytes:
    """A frame built by hand, so that it can break every rule encode_frame enforces."""
    n = len(payload) if length is None else length
    if ext == "auto":
        ext = "7" if n < 126 else "16" if n < 65536 else "64"
    if ext == "7":
        head = bytes((b0, n))
    elif ext == "16":
        head = bytes((b0, 126)) + struct.pack("!H", n)
    else:
        head = bytes((b0, 127)) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    head = bytes((head[0], head[1] | 0x80)) + head[2:]
    return head + KEY + bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))


def feed_all(decoder, data: bytes, step: int = 0) -> list:
    if not step:
        return decoder.feed(data)
    events = []
    for i in range(0, len(data), step):
        events += decoder.feed(data[i : i + step])
    return events


def expect_error(impl, data: bytes, error: type, code: int, words: str = "", **kwargs):
    """``data`` fails with ``error`` fed whole and fed byte by byte; the failure is sticky."""
    for step in (0, 1):
        decoder = impl.Decoder(**kwargs)
        with pytest.raises(error) as info:
            feed_all(decoder, data, step)
        assert type(info.value) is error
        assert info.value.close_code == code
        assert words.lower() in str(info.value).lower()
        with pytest.raises(error) as again:
            decoder.feed(b"")
        assert str(again.value) == str(info.value)
        assert again.value.close_code == code
        assert list(again.value.events) == []
        with pytest.raises(error):
            decoder.feed(raw(0x81, b"fine"))


# ---------------------------------------------------------------- valid streams


def test_simple_messages(impl) -> None:
    d = impl.Decoder()
    events = d.feed(raw(0x81, "h\u00e9llo".encode()) + raw(0x82, b"\x00\xff") + raw(0x89, b"p") + raw(0x8A, b""))
    assert events == [Message(Opcode.TEXT, "h\u00e9llo"), Message(Opcode.BINARY, b"\x00\xff"), Ping(b"p"), Pong(b"")]
    assert type(events[0].opcode) is Opcode and type(events[0]) is Message
    assert type(events[2]) is Ping and type(events[3]) is Pong
    assert type(events[1].data) is bytes and type(events[2].payload) is bytes


def test_client_side_accepts_unmasked(impl) -> None:
    d = impl.Decoder(client=True)
    assert d.feed(raw(0x81, b"hi", masked=False)) == [Message(Opcode.TEXT, "hi")]


def test_text_as_bytes(impl) -> None:
    d = impl.Decoder(decode_text=False)
    frames = raw(0x81, "\u00e9".encode()) + raw(0x01, b"\xe2\x82") + raw(0x80, b"\xac")
    events = d.feed(frames)
    assert events == [Message(Opcode.TEXT, b"\xc3\xa9"), Message(Opcode.TEXT, b"\xe2\x82\xac")]
    assert all(type(e.data) is bytes for e in events)
    with pytest.raises(InvalidUTF8):
        d.feed(raw(0x81, b"\xff"))


def test_fragments_with_control_frames_between(impl) -> None:
    stream = (
        raw(0x01, "\u20ac".encode()[:1])
        + raw(0x89, b"ping")
        + raw(0x00, "\u20ac".encode()[1:])
        + raw(0x00, b"")
        + raw(0x8A, b"pong")
        + raw(0x80, b"!")
    )
    for step in (0, 1, 3, 7):
        d = impl.Decoder()
        assert feed_all(d, stream, step) == [Ping(b"ping"), Pong(b"pong"), Message(Opcode.TEXT, "\u20ac!")]


def test_extended_lengths(impl) -> None:
    d = impl.Decoder()
    big = bytes(range(256)) * 300
    assert d.feed(raw(0x82, big[:126]) + raw(0x82, big[:65535]) + raw(0x82, big)) == [
        Message(Opcode.BINARY, big[:126]),
        Message(Opcode.BINARY, big[:65535]),
        Message(Opcode.BINARY, big),
    ]


def test_truncated_gives_nothing_until_the_rest(impl) -> None:
    frame = raw(0x81, b"hello world")
    for cut in range(len(frame)):
        d = impl.Decoder()
        assert d.feed(frame[:cut]) == []
        assert d.feed(frame[cut:]) == [Message(Opcode.TEXT, "hello world")]


def test_any_buffer_type(impl) -> None:
    import array

    frame = raw(0x82, b"abc")
    spread = bytearray(2 * len(frame))
    spread[::2] = frame
    for data in (bytearray(frame), memoryview(frame), array.array("B", frame), memoryview(spread)[::2]):
        assert impl.Decoder().feed(data) == [Message(Opcode.BINARY, b"abc")]
    with pytest.raises(TypeError):
        impl.Decoder().feed("text")
    with pytest.raises(TypeError):
        impl.Decoder().feed(5)


def test_close_event_and_after_close(impl) -> None:
    d = impl.Decoder()
    events = d.feed(raw(0x82, b"a") + raw(0x88, b"\x03\xe8bye") + raw(0x82, b"ignored") + b"\xff\xff garbage")
    assert events == [Message(Opcode.BINARY, b"a"), Close(1000, "bye")]
    assert type(events[1]) is Close
    assert d.closed
    # After a Close the peer may send nothing more (§5.5.1); what it sends is dropped, not judged.
    assert d.feed(raw(0x81, b"\xff", masked=False)) == []
    d = impl.Decoder()
    assert d.feed(raw(0x88)) == [Close(None, "")]
    d = impl.Decoder()
    assert not d.closed
    assert d.feed(raw(0x01, b"part") + raw(0x88, b"\x0f\xa0")) == [Close(4000, "")]


# ---------------------------------------------------------------- protocol errors


@pytest.mark.parametrize("bits, name", [(0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3"), (0x70, "RSV1, RSV2, RSV3")])
def test_reserved_bits(impl, bits, name) -> None:
    expect_error(impl, raw(0x82 | bits, b"x"), ProtocolError, 1002, name)
    expect_error(impl, raw(0x89 | bits, b"x"), ProtocolError, 1002, name)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_reserved_opcodes(impl, opcode) -> None:
    expect_error(impl, raw(0x80 | opcode, b"x"), ProtocolError, 1002, "reserved")


def test_unmasked_frame_to_server(impl) -> None:
    expect_error(impl, raw(0x81, b"x", masked=False), ProtocolError, 1002, "must mask")


def test_masked_frame_to_client(impl) -> None:
    expect_error(impl, raw(0x81, b"x"), ProtocolError, 1002, "must not mask", client=True)


@pytest.mark.parametrize("opcode", [0x88, 0x89, 0x8A])
def test_oversized_control_frames(impl, opcode) -> None:
    expect_error(impl, raw(opcode, b"\x03\xe8" + b"x" * 124), ProtocolError, 1002, "125")
    expect_error(impl, raw(opcode, length=2**16, ext="64"), ProtocolError, 1002, "125")


@pytest.mark.parametrize("opcode", [0x08, 0x09, 0x0A])
def test_fragmented_control_frames(impl, opcode) -> None:
    expect_error(impl, raw(opcode, b""), ProtocolError, 1002, "fragmented")


def test_continuation_with_nothing_to_continue(impl) -> None:
    expect_error(impl, raw(0x80, b"x"), ProtocolError, 1002, "no message to continue")
    expect_error(impl, raw(0x00, b"x"), ProtocolError, 1002, "no message to continue")
    expect_error(impl, raw(0x81, b"done") + raw(0x80, b"x"), ProtocolError, 1002, "no message to continue")


@pytest.mark.parametrize("second", [0x81, 0x82, 0x01, 0x02])
def test_new_data_frame_mid_message(impl, second) -> None:
    expect_error(impl, raw(0x01, b"a") + raw(second, b"b"), ProtocolError, 1002, "before the fragmented message ended")


@pytest.mark.parametrize(
    "payload, error, code",
    [
        (b"\x03", ProtocolError, 1002),
        (b"\x03\xed", ProtocolError, 1002),  # 1005
        (b"\x03\xee", ProtocolError, 1002),  # 1006
        (b"\x03\xf7", ProtocolError, 1002),  # 1015
        (b"\x03\xec", ProtocolError, 1002),  # 1004
        (b"\x00\x00", ProtocolError, 1002),
        (b"\x03\xe7", ProtocolError, 1002),  # 999
        (b"\x03\xf8", ProtocolError, 1002),  # 1016
        (b"\x0b\xb7", ProtocolError, 1002),  # 2999
        (b"\x13\x88", ProtocolError, 1002),  # 5000
        (b"\x03\xe8\xff", InvalidUTF8, 1007),
        (b"\x03\xe8ok\xed\xa0\x80", InvalidUTF8, 1007),
    ],
)
def test_invalid_close_frames(impl, payload, error, code) -> None:
    expect_error(impl, raw(0x88, payload), error, code)


def test_non_minimal_lengths(impl) -> None:
    expect_error(impl, raw(0x82, b"x" * 5, ext="16"), ProtocolError, 1002, "minimal")
    expect_error(impl, raw(0x82, b"x" * 125, ext="16"), ProtocolError, 1002, "minimal")
    expect_error(impl, raw(0x82, b"x" * 200, ext="64"), ProtocolError, 1002, "minimal")
    d = impl.Decoder()
    assert d.feed(raw(0x82, b"x" * 126, ext="16")) == [Message(Opcode.BINARY, b"x" * 126)]


def test_length_with_top_bit(impl) -> None:
    expect_error(impl, raw(0x82, length=2**63, ext="64"), ProtocolError, 1002, "most significant bit")


def test_events_before_an_error_ride_on_it(impl) -> None:
    # Autobahn 4.1.3: a message, then a reserved opcode, in one read: the
    # message must still be echoed before the connection fails.
    d = impl.Decoder()
    with pytest.raises(ProtocolError) as info:
        d.feed(raw(0x81, b"Hello, world!") + raw(0x89, b"p") + raw(0x85) + raw(0x89))
    assert info.value.events == [Message(Opcode.TEXT, "Hello, world!"), Ping(b"p")]
    with pytest.raises(ProtocolError) as again:
        d.feed(raw(0x89))
    assert again.value.events == [] and info.value.events != []
    assert type(again.value) is type(info.value) and str(again.value) == str(info.value)


def test_errors_outside_a_decoder_carry_no_events(impl) -> None:
    with pytest.raises(ProtocolError) as info:
        impl.parse_close(b"\x03")
    assert list(info.value.events) == []


# ---------------------------------------------------------------- UTF-8


@pytest.mark.parametrize(
    "bad", [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe0\x80\x80"]
)
def test_invalid_utf8_text(impl, bad) -> None:
    expect_error(impl, raw(0x81, b"ok" + bad + b"ok"), InvalidUTF8, 1007)
    expect_error(impl, raw(0x01, b"ok") + raw(0x80, bad), InvalidUTF8, 1007)


def test_text_ending_mid_code_point(impl) -> None:
    expect_error(impl, raw(0x81, b"ok\xe2\x82"), InvalidUTF8, 1007)
    expect_error(impl, raw(0x01, b"ok\xe2") + raw(0x80, b"\x82"), InvalidUTF8, 1007)


def test_code_point_split_across_fragments_is_fine(impl) -> None:
    d = impl.Decoder()
    euro = "\u20ac".encode()
    assert d.feed(raw(0x01, euro[:1]) + raw(0x00, euro[1:2]) + raw(0x80, euro[2:])) == [Message(Opcode.TEXT, "\u20ac")]


@pytest.mark.parametrize("bad", [b"\xff", b"\xce\xba\xed\xa0\x80", b"\xf5"])
def test_invalid_utf8_fails_before_the_frame_completes(impl, bad) -> None:
    # Autobahn 6.4.x: the invalid bytes arrive, the rest of the frame does not.
    payload = b"valid " + bad + b" and a long tail" * 100
    frame = raw(0x81, payload)
    head = 8  # 2 + 2 extended length + 4 key
    d = impl.Decoder()
    with pytest.raises(InvalidUTF8):
        d.feed(frame[: head + len(b"valid ") + len(bad)])
    d = impl.Decoder()
    continuation = raw(0x80, payload)
    with pytest.raises(InvalidUTF8):  # also inside a later fragment of a message
        d.feed(raw(0x01, b"start") + continuation[: head + len(b"valid ") + len(bad)])


def test_valid_text_split_anywhere(impl) -> None:
    text = "a\u00e9\u20ac\U0001f600z" * 3
    frame = raw(0x81, text.encode())
    for cut in range(len(frame) + 1):
        d = impl.Decoder()
        assert d.feed(frame[:cut]) + d.feed(frame[cut:]) == [Message(Opcode.TEXT, text)]


# ---------------------------------------------------------------- limits


def test_default_limits_are_finite(impl) -> None:
    d = impl.Decoder()
    assert d.feed(raw(0x82, b"x" * 2**20)) == [Message(Opcode.BINARY, b"x" * 2**20)]
    expect_error(impl, raw(0x82, length=2**20 + 1), MessageTooBig, 1009)


def test_huge_length_costs_nothing(impl) -> None:
    # Only the 10-byte header is fed: the error comes before any allocation.
    # By default frames have no limit of their own: the message limit says no.
    header = raw(0x82, length=2**63 - 1, ext="64", masked=True)
    expect_error(impl, header, MessageTooBig, 1009, "max_message_size")
    expect_error(impl, header, MessageTooBig, 1009, "max_frame_size", max_frame_size=1 << 20)


def test_frame_limit_exact(impl) -> None:
    d = impl.Decoder(max_frame_size=10, max_message_size=100)
    assert d.feed(raw(0x82, b"x" * 10)) == [Message(Opcode.BINARY, b"x" * 10)]
    expect_error(impl, raw(0x82, b"x" * 11)[:8], MessageTooBig, 1009, "max_frame_size", max_frame_size=10)
    # Control frames obey it too.
    expect_error(impl, raw(0x89, b"x" * 11), MessageTooBig, 1009, "", max_frame_size=10)


def test_message_limit_exact(impl) -> None:
    d = impl.Decoder(max_message_size=10)
    assert d.feed(raw(0x01, b"x" * 4) + raw(0x00, b"x" * 4) + raw(0x80, b"x" * 2)) == [Message(Opcode.TEXT, "x" * 10)]
    assert d.feed(raw(0x82, b"x" * 10)) == [Message(Opcode.BINARY, b"x" * 10)]
    # The header of the frame that would cross the limit is enough to fail.
    stream = raw(0x01, b"x" * 4) + raw(0x00, b"x" * 4) + raw(0x80, b"x" * 3)[:6]
    expect_error(impl, stream, MessageTooBig, 1009, "max_message_size", max_message_size=10)
    # Control frames do not count towards the message.
    d = impl.Decoder(max_message_size=4)
    events = d.feed(raw(0x01, b"xx") + raw(0x89, b"p" * 100) + raw(0x80, b"xx"))
    assert events == [Ping(b"p" * 100), Message(Opcode.TEXT, "xxxx")]


def test_no_limit_and_zero_limit(impl) -> None:
    d = impl.Decoder(max_message_size=None, max_frame_size=None)
    assert d.feed(raw(0x82, b"y" * 3000)) == [Message(Opcode.BINARY, b"y" * 3000)]
    # A header announcing 2^63-1 bytes is accepted and nothing is allocated for it.
    assert d.feed(raw(0x82, length=2**63 - 1, ext="64") + b"abc") == []
    d = impl.Decoder(max_message_size=0)
    assert d.feed(raw(0x82)) == [Message(Opcode.BINARY, b"")]
    with pytest.raises(MessageTooBig):
        d.feed(raw(0x82, b"x"))


@pytest.mark.parametrize("bad", [{"max_message_size": -1}, {"max_frame_size": -5}])
def test_bad_limits(impl, bad) -> None:
    with pytest.raises(ValueError):
        impl.Decoder(**bad)
    with pytest.raises(TypeError):
        impl.Decoder(max_message_size="10")


# ---------------------------------------------------------------- round trips and fuzzing

ROLES = st.sampled_from(["server", "client"])


@st.composite
def conversations(draw):
    """(frames as bytes, the events they should give, whether the sender masks)."""
    masked = draw(st.booleans())
    parts: list[bytes] = []
    events: list = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["text", "binary", "ping", "pong"]))
        if kind in ("ping", "pong"):
            payload = draw(st.binary(max_size=125))
            parts.append(_encode(9 if kind == "ping" else 10, payload, True, masked, draw))
            events.append((Ping if kind == "ping" else Pong)(payload))
            continue
        if kind == "text":
            text = draw(st.text(max_size=300))
            data = text.encode()
        else:
            data = draw(st.binary(max_size=70000 if draw(st.integers(0, 20)) == 0 else 300))
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        for i, piece in enumerate(pieces):
            opcode = (1 if kind == "text" else 2) if i == 0 else 0
            parts.append(_encode(opcode, piece, i == len(pieces) - 1, masked, draw))
            if i < len(pieces) - 1 and draw(st.integers(0, 3)) == 0:  # a control frame between fragments
                ping = draw(st.binary(max_size=20))
                parts.append(_encode(9, ping, True, masked, draw))
                events.append(Ping(ping))
        events.append(Message(Opcode.TEXT, text) if kind == "text" else Message(Opcode.BINARY, data))
    if draw(st.booleans()):
        code = draw(st.sampled_from([None, 1000, 1001, 1011, 3000, 4999]))
        reason = draw(st.text(max_size=20)) if code else ""
        from wsfast import _frames_py

        parts.append(_encode(8, _frames_py.encode_close(code, reason), True, masked, draw))
        events.append(Close(code, reason))
    return b"".join(parts), events, masked


def _encode(opcode, payload, fin, masked, draw):
    from wsfast import _frames_py

    key = draw(st.binary(min_size=4, max_size=4)) if masked else None
    return _frames_py.encode_frame(opcode, payload, fin=fin, mask=key)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0] + points, points + [len(data)])]


@settings(max_examples=examples(150), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conv=conversations(), cuts=st.lists(st.integers(0, 2**20), max_size=12))
def test_random_streams_decode_to_their_messages(py_impl, c_impl, conv, cuts) -> None:
    data, expected, masked = conv
    for impl in (py_impl, c_impl):
        d = impl.Decoder(client=not masked, max_message_size=None)
        events = []
        for chunk in _split(data, cuts):
            events += d.feed(chunk)
        assert events == expected
        assert [type(e) for e in events] == [type(e) for e in expected]


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=200),
    prefix=st.sampled_from([b"", b"\x81\x85\x00\x00\x00\x00", b"\x01\x81\x00\x00\x00\x00a"]),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    client=st.booleans(),
)
def test_random_bytes_same_outcome_in_both(py_impl, c_impl, data, prefix, cuts, client) -> None:
    """Garbage in: both implementations give the same events, then the same error class and code."""
    outcomes = []
    for impl in (py_impl, c_impl):
        d = impl.Decoder(client=client, max_message_size=1000, max_frame_size=500)
        events: list = []
        error = None
        for chunk in _split(prefix + data, cuts):
            try:
                events += d.feed(chunk)
            except ProtocolError as exc:
                error = (type(exc), exc.close_code)
                events += exc.events
                break
        outcomes.append((events, error))
    py_out, c_out = outcomes
    assert py_out[1] == c_out[1]
    if py_out[1] is None or py_out[1][0] is not InvalidUTF8:
        assert py_out[0] == c_out[0]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    opcode=st.sampled_from([Opcode.TEXT, Opcode.BINARY]),
    payload=st.binary(max_size=2000),
    role=ROLES,
)
def test_encode_then_decode_gives_back_the_input(impl, opcode, payload, role) -> None:
    if opcode == Opcode.TEXT:
        payload = payload.decode("utf-8", "replace").encode()
    client = role == "client"
    frame = impl.encode_frame(opcode, payload, mask=None if client else True)
    d = impl.Decoder(client=client, decode_text=False)
    assert d.feed(frame) == [Message(opcode, payload)]
