"""encode_close and parse_close: codes and reasons (RFC 6455 §5.5.1, §7.4)."""

from __future__ import annotations

import pytest

from wsfast import InvalidUTF8, ProtocolError

VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
INVALID = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_round_trip(impl, code) -> None:
    payload = impl.encode_close(code, "bye \u00e9")
    assert payload == code.to_bytes(2, "big") + "bye \u00e9".encode()
    assert impl.parse_close(payload) == (code, "bye \u00e9")
    assert impl.parse_close(impl.encode_close(code)) == (code, "")


@pytest.mark.parametrize("code", INVALID)
def test_invalid_codes(impl, code) -> None:
    with pytest.raises(ValueError):
        impl.encode_close(code)
    with pytest.raises(ProtocolError) as info:
        impl.parse_close(code.to_bytes(2, "big"))
    assert type(info.value) is ProtocolError and info.value.close_code == 1002
    assert str(code) in str(info.value)


def test_empty(impl) -> None:
    assert impl.encode_close() == b""
    assert impl.parse_close(b"") == (None, "")
    with pytest.raises(ValueError):
        impl.encode_close(None, "a reason without a code")


def test_one_byte_payload(impl) -> None:
    with pytest.raises(ProtocolError) as info:
        impl.parse_close(b"\x03")
    assert info.value.close_code == 1002


def test_reason_length_limit(impl) -> None:
    assert impl.parse_close(impl.encode_close(1000, "r" * 123)) == (1000, "r" * 123)
    with pytest.raises(ValueError):
        impl.encode_close(1000, "r" * 124)
    with pytest.raises(ValueError):
        impl.encode_close(1000, "\u00e9" * 62)  # 124 bytes of UTF-8
    with pytest.raises(ProtocolError) as info:
        impl.parse_close(b"\x03\xe8" + b"r" * 124)
    assert info.value.close_code == 1002


@pytest.mark.parametrize(
    "reason",
    [b"\xff", b"ok\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80",
     b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"],
)
def test_invalid_utf8_reason(impl, reason) -> None:
    with pytest.raises(InvalidUTF8) as info:
        impl.parse_close(b"\x03\xe8" + reason)
    assert info.value.close_code == 1007


def test_any_buffer(impl) -> None:
    payload = b"\x03\xe8ok"
    assert impl.parse_close(bytearray(payload)) == (1000, "ok")
    assert impl.parse_close(memoryview(b"x" + payload)[1:]) == (1000, "ok")
    with pytest.raises(TypeError):
        impl.parse_close("\x03\xe8")
    with pytest.raises(TypeError):
        impl.encode_close(1000, b"bytes reason")
