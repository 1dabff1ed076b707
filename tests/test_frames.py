"""parse_header and encode_frame, over both implementations (RFC 6455 §5.2, §5.3, §5.7)."""

from __future__ import annotations

import array
import os
import struct
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsfast import FrameHeader, Opcode, ProtocolError

KEY = bytes.fromhex("37fa213d")


def xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


# RFC 6455 §5.7's examples, plus the two extended length forms at their edges.
RFC_EXAMPLES = [
    (dict(opcode=1, payload=b"Hello"), "810548656c6c6f"),
    (dict(opcode=1, payload=b"Hello", mask=KEY), "818537fa213d7f9f4d5158"),
    (dict(opcode=1, payload=b"Hel", fin=False), "010348656c"),
    (dict(opcode=0, payload=b"lo"), "80026c6f"),
    (dict(opcode=9, payload=b"Hello"), "890548656c6c6f"),
    (dict(opcode=10, payload=b"Hello", mask=KEY), "8a8537fa213d7f9f4d5158"),
    (dict(opcode=2, payload=b"\0" * 256), "827e0100" + "00" * 256),
    (dict(opcode=2, payload=b"\0" * 65536), "827f0000000000010000" + "00" * 65536),
]


@pytest.mark.parametrize("kwargs, expected", RFC_EXAMPLES)
def test_encode_frame_rfc_examples(impl, kwargs, expected) -> None:
    kwargs = dict(kwargs)
    opcode = kwargs.pop("opcode")
    payload = kwargs.pop("payload")
    assert impl.encode_frame(opcode, payload, **kwargs) == bytes.fromhex(expected)


@pytest.mark.parametrize("kwargs, expected", RFC_EXAMPLES)
def test_parse_header_rfc_examples(impl, kwargs, expected) -> None:
    data = bytes.fromhex(expected)
    header = impl.parse_header(data)
    assert isinstance(header, FrameHeader)
    length = len(kwargs["payload"])
    assert header.fin == kwargs.get("fin", True)
    assert header.opcode == kwargs["opcode"] and type(header.opcode) is Opcode
    assert header.mask == kwargs.get("mask")
    assert header.payload_length == length
    assert header.header_length == len(data) - length
    assert (header.rsv1, header.rsv2, header.rsv3) == (False, False, False)


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 2**40, 2**63 - 1])
@pytest.mark.parametrize("masked", [False, True])
def test_parse_header_every_prefix_is_incomplete(impl, length, masked) -> None:
    if length < 126:
        ext = b""
        b1 = length
    elif length < 65536:
        ext = struct.pack("!H", length)
        b1 = 126
    else:
        ext = struct.pack("!Q", length)
        b1 = 127
    header = bytes((0x82, b1 | (0x80 if masked else 0))) + ext + (KEY if masked else b"")
    for cut in range(len(header)):
        assert impl.parse_header(header[:cut]) is None
    parsed = impl.parse_header(header)
    assert parsed == (True, False, False, False, 2, KEY if masked else None, length, len(header))


def test_parse_header_bits_and_offset(impl) -> None:
    data = b"junk" + bytes((0x70 | 0x03, 0x00))
    header = impl.parse_header(data, 4)
    # parse_header reports reserved bits and opcodes; the Decoder judges them.
    assert header == (False, True, True, True, 3, None, 0, 2)
    assert impl.parse_header(data, 5) is None
    assert impl.parse_header(data, 6) is None
    with pytest.raises(ValueError):
        impl.parse_header(data, 7)
    with pytest.raises(ValueError):
        impl.parse_header(data, -1)


def test_parse_header_any_buffer(impl) -> None:
    frame = bytes.fromhex("818537fa213d7f9f4d5158")
    expected = impl.parse_header(frame)
    assert impl.parse_header(bytearray(frame)) == expected
    assert impl.parse_header(memoryview(frame)) == expected
    assert impl.parse_header(array.array("B", frame)) == expected
    spread = bytearray(2 * len(frame))
    spread[::2] = frame
    assert impl.parse_header(memoryview(spread)[::2]) == expected
    with pytest.raises(TypeError):
        impl.parse_header("81 05")


def test_parse_header_rejects_top_bit_of_64_bit_length(impl) -> None:
    with pytest.raises(ProtocolError) as info:
        impl.parse_header(b"\x82\x7f" + struct.pack("!Q", 2**63))
    assert info.value.close_code == 1002
    assert "most significant bit" in str(info.value)


@pytest.mark.parametrize(
    "header",
    [
        b"\x82\x7e" + struct.pack("!H", 0),
        b"\x82\x7e" + struct.pack("!H", 125),
        b"\x82\x7f" + struct.pack("!Q", 125),
        b"\x82\x7f" + struct.pack("!Q", 65535),
    ],
)
def test_parse_header_rejects_non_minimal_lengths(impl, header) -> None:
    with pytest.raises(ProtocolError) as info:
        impl.parse_header(header)
    assert info.value.close_code == 1002
    assert "minimal" in str(info.value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    opcode=st.sampled_from([0, 1, 2]),
    payload=st.binary(max_size=70000).filter(lambda b: len(b) < 300 or len(b) > 65530),
    fin=st.booleans(),
    rsv1=st.booleans(),
    key=st.none() | st.binary(min_size=4, max_size=4),
)
def test_encode_parse_round_trip(impl, opcode, payload, fin, rsv1, key) -> None:
    frame = impl.encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=key)
    header = impl.parse_header(frame)
    assert header == (fin, rsv1, False, False, opcode, key, len(payload), len(frame) - len(payload))
    body = frame[header.header_length :]
    assert (xor(body, key) if key else body) == payload


def test_encode_frame_payload_types(impl) -> None:
    expected = impl.encode_frame(2, b"abcdef", mask=KEY)
    assert impl.encode_frame(2, bytearray(b"abcdef"), mask=KEY) == expected
    assert impl.encode_frame(2, memoryview(b"xabcdefx")[1:-1], mask=KEY) == expected
    assert impl.encode_frame(2, memoryview(b"aabbccddeeff")[::2], mask=KEY) == expected
    assert impl.encode_frame(2, b"abcdef", mask=bytearray(KEY)) == expected
    assert impl.encode_frame(1, "h\u00e9", mask=None) == b"\x81\x03h\xc3\xa9"
    assert impl.encode_frame(Opcode.BINARY, b"") == b"\x82\x00"
    assert impl.encode_frame(2, b"x", mask=False) == b"\x82\x01x"
    wide = array.array("H", [1, 2])
    assert impl.encode_frame(2, wide) == b"\x82\x04" + wide.tobytes()
    with pytest.raises(TypeError):
        impl.encode_frame(2, 5)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((3, b""), {}),
        ((11, b""), {}),
        ((16, b""), {}),
        ((-1, b""), {}),
        ((9, b"x" * 126), {}),
        ((8, b"x" * 126), {}),
        ((9, b""), {"fin": False}),
        ((10, b""), {"rsv1": True}),
        ((2, b""), {"mask": b"abc"}),
        ((2, b""), {"mask": b"abcde"}),
    ],
)
def test_encode_frame_rejects(impl, args, kwargs) -> None:
    with pytest.raises(ValueError):
        impl.encode_frame(*args, **kwargs)


def test_encode_frame_control_limit(impl) -> None:
    frame = impl.encode_frame(9, b"x" * 125)
    assert frame[:2] == b"\x89\x7d"


def test_mask_true_draws_fresh_keys(impl) -> None:
    keys = set()
    # More than one 4 KiB pool block, to cross a refill.
    for _ in range(3000):
        frame = impl.encode_frame(2, b"payload", mask=True)
        header = impl.parse_header(frame)
        assert header.mask is not None and len(header.mask) == 4
        assert xor(frame[header.header_length :], header.mask) == b"payload"
        keys.add(header.mask)
    # 3000 random 32-bit keys collide with probability ~0.1%; a stuck or
    # zeroed pool would give one key.
    assert len(keys) > 2990


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_reuse_parent_keys(impl) -> None:
    impl.encode_frame(2, b"", mask=True)  # the pool is filled in the parent
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            keys = b"".join(impl.parse_header(impl.encode_frame(2, b"", mask=True)).mask for _ in range(8))
            os.write(write_end, keys)
        finally:
            os._exit(0)
    os.close(write_end)
    child = b""
    while len(child) < 32:
        chunk = os.read(read_end, 32)
        if not chunk:
            break
        child += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    parent = b"".join(impl.parse_header(impl.encode_frame(2, b"", mask=True)).mask for _ in range(8))
    assert len(child) == 32
    assert child != parent


def test_mask_keys_thread_safe(impl) -> None:
    import threading

    found: list[bytes] = []

    def work() -> None:
        local = [impl.parse_header(impl.encode_frame(2, b"", mask=True)).mask for _ in range(500)]
        found.extend(local)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 2000
    assert len(set(found)) > 1990


def test_both_implementations_encode_alike(py_impl, c_impl) -> None:
    for opcode, payload, kwargs in [
        (1, b"", {}),
        (2, b"x" * 125, {"mask": KEY}),
        (2, b"x" * 126, {"fin": False, "rsv1": True}),
        (0, b"y" * 70000, {"mask": KEY}),
        (8, b"\x03\xe8", {"mask": KEY}),
    ]:
        assert py_impl.encode_frame(opcode, payload, **kwargs) == c_impl.encode_frame(opcode, payload, **kwargs)


@pytest.mark.skipif(
    not hasattr(sys, "getrefcount"),
    reason="no reference counts on this interpreter (PyPy has a tracing GC and no sys.getrefcount)",
)
def test_refcounts_do_not_leak(impl) -> None:
    payload = b"x" * 16
    before = sys.getrefcount(payload)
    for _ in range(100):
        impl.encode_frame(2, payload, mask=True)
        impl.encode_frame(2, payload)
    assert sys.getrefcount(payload) == before
