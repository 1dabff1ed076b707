"""One behaviour: both implementations give the same outcome for any argument.

For every public entry point, hypothesis draws odd but legal-looking
arguments (fuzz/_oddargs.py: every buffer kind and layout, ints of every
magnitude, ``__index__`` and ``__bool__`` objects, str subclasses, keyword
misuse, re-initialisation, copy, pickle, subclassing) and the compiled and
the pure implementation must agree: same results and types, same exception
classes, close codes and protocol messages, same bytes written, same state
after each step.  The hand-written cases below pin what the agreed outcome
is for the cases that once differed, and the class rules of docs/api.md.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from wsfast import InvalidUTF8, Message, MessageTooBig, Opcode, ProtocolError, handshake

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))
import _oddargs  # noqa: E402
import fuzz_inflate  # noqa: E402
from _oddargs import (  # noqa: E402
    BoolNotBool,
    BoolRaises,
    BytesOnly,
    Index,
    IndexRaises,
    IntSub,
    Oops,
    StrSub,
)

SRC = str(Path(__file__).resolve().parent.parent / "src")


class DrawSource(_oddargs.Source):
    """_oddargs' choices drawn by hypothesis, so that failures shrink."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def choice(self, n: int) -> int:
        return self.data.draw(st.integers(0, n - 1)) if n > 1 else 0

    def blob(self, max_size: int) -> bytes:
        return bytes(self.data.draw(st.binary(max_size=max_size)))


@pytest.mark.parametrize("entry", _oddargs.ENTRIES)
@settings(max_examples=examples(400), suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_same_outcome_for_any_arguments(py_impl: Any, c_impl: Any, entry: str, data: Any) -> None:
    case = _oddargs.case_of(DrawSource(data), entry)
    compiled = _oddargs.run(c_impl, case)
    pure = _oddargs.run(py_impl, case)
    assert compiled == pure, case
    assert not _oddargs.unexpected(compiled), case


# ------------------------------------------------------------ hand-written


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=st.binary(max_size=1200))
def test_same_outcome_on_compressed_streams(c_impl: Any, raw: bytes) -> None:
    """permessage-deflate: a peer's messages compressed, fragmented, mutated
    and split as the bytes say (fuzz/fuzz_inflate.py), fed to both Decoders:
    the same events, exception classes, close codes and messages, feed by feed."""
    fuzz_inflate.check(raw)


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return ("raise", type(exc), str(exc) if isinstance(exc, ProtocolError) else None)


def both(py_impl: Any, c_impl: Any, call: Callable[[Any], Any]) -> Any:
    """The outcome of ``call(impl)``, which must be the same for both implementations."""
    results = [outcome(lambda: call(impl)) for impl in (c_impl, py_impl)]  # noqa: B023 - called at once
    compiled, pure = results
    if compiled[0] == "ok" and type(compiled[1]).__name__ in _oddargs.CLASSES:
        compiled, pure = (("ok", _oddargs.norm(r[1])) for r in results)
    assert compiled == pure
    return compiled


def raises(result: Any, cls: type) -> bool:
    return result[0] == "raise" and result[1] is cls


ODD_CALLS = [
    # (what it does, the call, the class both raise, or the result both give)
    ("an int mask", lambda i: i.encode_frame(1, b"ab", mask=4), TypeError),
    ("a list mask", lambda i: i.encode_frame(1, b"ab", mask=[1, 2, 3, 4]), TypeError),
    ("a tuple mask", lambda i: i.encode_frame(1, b"ab", mask=(1, 2, 3, 4)), TypeError),
    ("a range mask", lambda i: i.encode_frame(1, b"ab", mask=range(4)), TypeError),
    ("a __bytes__ mask", lambda i: i.encode_frame(1, b"ab", mask=BytesOnly(b"abcd")), TypeError),
    ("a 3-byte mask", lambda i: i.encode_frame(1, b"ab", mask=b"abc"), ValueError),
    ("a strided 4-byte mask", lambda i: i.encode_frame(1, b"ab", mask=memoryview(b"a_b_c_d_")[::2]),
     b"\x81\x82abcd" + bytes((ord("a") ^ ord("a"), ord("b") ^ ord("b")))),
    ("a float opcode", lambda i: i.encode_frame(9.9, b""), TypeError),
    ("a str opcode", lambda i: i.encode_frame("1", b""), TypeError),
    ("a None opcode", lambda i: i.encode_frame(None, b""), TypeError),
    ("opcode 2**31", lambda i: i.encode_frame(2**31, b""), ValueError),
    ("opcode 2**64", lambda i: i.encode_frame(2**64, b""), ValueError),
    ("opcode -1", lambda i: i.encode_frame(-1, b""), ValueError),
    ("an __index__ opcode", lambda i: i.encode_frame(Index(9), b""), b"\x89\x00"),
    ("an int-subclass opcode", lambda i: i.encode_frame(IntSub(10), b""), b"\x8a\x00"),
    ("True as opcode (bool is an int)", lambda i: i.encode_frame(True, b"x"), b"\x81\x01x"),
    ("rsv1's __bool__ raises", lambda i: i.encode_frame(2, b"", rsv1=BoolRaises()), Oops),
    ("the opcode is checked before rsv1", lambda i: i.encode_frame(None, b"", rsv1=BoolRaises()), TypeError),
    ("fin before rsv1", lambda i: i.encode_frame(2, b"", fin=BoolNotBool(), rsv1=BoolRaises()), TypeError),
    ("payload before fin", lambda i: i.encode_frame(2, 5, fin=BoolRaises()), TypeError),
    ("a control frame's size before fin", lambda i: i.encode_frame(9, b"x" * 126, fin=BoolRaises()), ValueError),
    ("a str subclass with its own encode()", lambda i: i.encode_frame(1, StrSub("hé")), b"\x81\x03h\xc3\xa9"),
    ("a lone surrogate", lambda i: i.encode_frame(1, "\ud800"), UnicodeEncodeError),
    ("a released payload", lambda i: i.encode_frame(2, _oddargs.make(("memoryview-released", b"x"))), ValueError),
    ("positional fin", lambda i: i.encode_frame(2, b"", True), TypeError),
    ("an unknown keyword", lambda i: i.encode_frame(2, b"", mask_key=b"abcd"), TypeError),
    ("a float offset", lambda i: i.parse_header(b"\x81", 0.5), TypeError),
    ("offset 2**63", lambda i: i.parse_header(b"\x81", 2**63), ValueError),
    ("offset -2**63-1", lambda i: i.parse_header(b"\x81", -(2**63) - 1), ValueError),
    ("an __index__ offset", lambda i: tuple(i.parse_header(b"xx\x81\x00", Index(2))), (True, False, False, False, 1, None, 0, 2)),
    ("parse_header's data before its offset", lambda i: i.parse_header(None, 0.5), TypeError),
    ("offset -2**63-1 in place", lambda i: i.apply_mask_inplace(bytearray(8), b"abcd", -(2**63) - 1), ValueError),
    ("offset 2**64 + 1 in place", lambda i: bytes(_inplace(i, 2**64 + 1)), bytes(b ^ k for b, k in zip(b"\0" * 4, b"bcda"))),
    ("an offset whose __index__ raises", lambda i: i.apply_mask_inplace(bytearray(8), b"abcd", IndexRaises()), Oops),
    ("the buffer before the offset", lambda i: i.apply_mask_inplace(b"read-only", b"abcd", IndexRaises()), TypeError),
    ("the mask before the offset", lambda i: i.apply_mask_inplace(bytearray(4), b"abc", IndexRaises()), ValueError),
    ("the data before the mask", lambda i: i.apply_mask(None, b"abc"), TypeError),
    ("a 2-D strided '<i' buffer in place", lambda i: i.apply_mask_inplace(_oddargs.make(("exotic-grid", bytes(16))), b"abcd"), TypeError),
    ("Utf8Validator(1, x=2)", lambda i: i.Utf8Validator(1, x=2), TypeError),
    ("validate_utf8(data=...)", lambda i: i.validate_utf8(data=b""), TypeError),
    ("Masker() without its key", lambda i: i.Masker(), TypeError),
    ("Decoder(True): keyword-only options", lambda i: i.Decoder(True), TypeError),
    ("Decoder(max_message_size=1.0)", lambda i: i.Decoder(max_message_size=1.0), TypeError),
    ("Decoder(max_message_size=-1)", lambda i: i.Decoder(max_message_size=-1), ValueError),
    ("Decoder(max_frame_size=-(2**64))", lambda i: i.Decoder(max_frame_size=-(2**64)), ValueError),
    ("client's __bool__ before the limits", lambda i: i.Decoder(client=BoolRaises(), max_message_size="x"), Oops),
    ("an encode_close code of 1000.0", lambda i: i.encode_close(1000.0), TypeError),
    ("an __index__ close code", lambda i: i.encode_close(Index(1000), "x"), b"\x03\xe8x"),
    ("the code before the reason", lambda i: i.encode_close(5000, b"reason"), ValueError),
    ("a reason without a code", lambda i: i.encode_close(None, "x"), ValueError),
    ("a bytes reason", lambda i: i.encode_close(1000, b"x"), TypeError),
    ("a str-subclass reason", lambda i: i.encode_close(1000, StrSub("é")), b"\x03\xe8\xc3\xa9"),
    ("parse_close of a str", lambda i: i.parse_close("\x03\xe8"), TypeError),
]


def _inplace(impl: Any, offset: int) -> bytearray:
    buf = bytearray(4)
    impl.apply_mask_inplace(buf, b"abcd", offset)
    return buf


@pytest.mark.parametrize("what, call, expected", ODD_CALLS, ids=[c[0] for c in ODD_CALLS])
def test_odd_calls(py_impl: Any, c_impl: Any, what: str, call: Callable[[Any], Any], expected: Any) -> None:
    result = both(py_impl, c_impl, call)
    if isinstance(expected, type) and issubclass(expected, BaseException):
        assert raises(result, expected), result
    else:
        assert result == ("ok", expected)


def test_a_random_mask_key_is_fresh_in_both(impl: Any) -> None:
    frames = {impl.encode_frame(2, b"abcd", mask=True) for _ in range(50)}
    assert len({f[2:6] for f in frames}) == 50


# -------------------------------------------------------------- the classes


@pytest.mark.parametrize("name", sorted(_oddargs.CLASSES))
def test_classes_are_final(impl: Any, name: str) -> None:
    with pytest.raises(TypeError, match="not an acceptable base type"):
        type("Sub", (getattr(impl, name),), {})


def test_decoder_cannot_be_copied_or_pickled_and_nothing_crashes() -> None:
    # In a child: this once killed the interpreter with the compiled Decoder.
    script = textwrap.dedent(
        """
        import copy, pickle
        from wsfast import _impl
        for kind in _impl.KINDS:
            try:
                decoder = _impl.load(kind).Decoder()
            except ImportError:  # the compiled modules are not built here
                continue
            decoder.feed(b"\\x01\\x81\\x00\\x00\\x00\\x00a")  # a message in progress
            for attempt in (copy.copy, copy.deepcopy, pickle.dumps,
                            lambda d: pickle.dumps(d, 0), lambda d: d.__reduce_ex__(2)):
                try:
                    attempt(decoder)
                except TypeError:
                    continue
                raise SystemExit(f"{kind}: {attempt} did not raise TypeError")
            assert decoder.feed(b"\\x80\\x81\\x00\\x00\\x00\\x00b")[0].data == "ab"
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_masker_copies_keep_key_and_position(impl: Any, how: str) -> None:
    masker = impl.Masker(b"\x01\x02\x03\x04")
    masker.process(b"abc")
    twin = _duplicate(masker, how)
    assert twin.position == 3
    assert twin.process(b"xyz") == masker.process(b"xyz") == bytes((ord("x") ^ 4, ord("y") ^ 1, ord("z") ^ 2))
    if how != "pickle":
        assert type(twin) is type(masker)


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_utf8_validator_copies_keep_the_state(impl: Any, how: str) -> None:
    validator = impl.Utf8Validator()
    assert validator.feed(b"ok \xe2\x82")
    twin = _duplicate(validator, how)
    assert not twin.at_boundary and twin.error_offset is None
    assert twin.feed(b"\xac") and twin.finish()
    assert not validator.feed(b"x") and validator.error_offset == 5
    failed = _duplicate(validator, how)
    assert failed.error_offset == 5 and not failed.feed(b"") and not failed.finish()


def _duplicate(obj: Any, how: str) -> Any:
    if how == "pickle":
        return pickle.loads(pickle.dumps(obj))
    return getattr(copy, how)(obj)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickles_load_under_the_other_implementation(c_impl: Any, protocol: int) -> None:
    """A pickle names no implementation: made by the compiled one, it loads
    where only the pure twin runs, and the other way round."""
    masker = c_impl.Masker(b"wxyz")
    masker.process(b"12345")
    validator = c_impl.Utf8Validator()
    validator.feed("€".encode()[:2])
    blob = pickle.dumps((masker, validator), protocol)
    script = textwrap.dedent(
        """
        import pickle, sys, wsfast
        assert wsfast.IMPLEMENTATION == "python"
        masker, validator = pickle.loads(sys.stdin.buffer.read())
        assert type(masker).__module__ == "wsfast._mask_py", type(masker)
        assert masker.position == 5 and masker.process(b"\\0") == b"x"
        assert validator.feed(b"\\xac") and validator.finish()
        sys.stdout.buffer.write(pickle.dumps((masker, validator), PROTOCOL))
        """
    ).replace("PROTOCOL", str(protocol))
    env = {**os.environ, "PYTHONPATH": SRC, "WSFAST_NO_EXTENSIONS": "1"}
    done = subprocess.run([sys.executable, "-c", script], input=blob, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    back_masker, back_validator = pickle.loads(done.stdout)
    assert back_masker.position == 6 and back_masker.process(b"\0") == b"y"
    assert back_validator.finish()


@pytest.mark.parametrize("state", [None, (), (0, 0), (9, 0, None), (0, -1, None), (0xFF, 3, None),
                                   (0, 3, 2), ("0", 0, None), [0, 0, None]])
def test_bad_utf8_state_is_refused(py_impl: Any, c_impl: Any, state: Any) -> None:
    result = both(py_impl, c_impl, lambda i: i.Utf8Validator().__setstate__(state))
    assert result[0] == "raise" and result[1] in (TypeError, ValueError)


@pytest.mark.parametrize("state", [-1, 2**64, 1.5, "1", None])
def test_bad_masker_state_is_refused(py_impl: Any, c_impl: Any, state: Any) -> None:
    result = both(py_impl, c_impl, lambda i: i.Masker(b"abcd").__setstate__(state))
    assert result[0] == "raise" and result[1] in (TypeError, ValueError)


def test_reinit_starts_afresh(impl: Any) -> None:
    masker = impl.Masker(b"\x01\x01\x01\x01")
    masker.process(b"ab")
    masker.__init__(b"\x02\x02\x02\x02")
    assert masker.position == 0 and masker.process(b"\0") == b"\x02"

    validator = impl.Utf8Validator()
    validator.feed(b"\xff")
    validator.__init__()
    assert validator.error_offset is None and validator.feed(b"ok") and validator.finish()

    decoder = impl.Decoder()
    assert decoder.feed(b"\x01\x81\x00\x00\x00\x00a") == []  # a message in progress
    decoder.__init__(client=True)
    # The half message is gone, and the new options hold: unmasked frames now.
    assert decoder.feed(b"\x81\x01b") == [Message(Opcode.TEXT, "b")]
    decoder.feed(b"\x88\x00")
    assert decoder.closed
    decoder.__init__(client=True)
    assert not decoder.closed and decoder.feed(b"\x82\x00") == [Message(Opcode.BINARY, b"")]
    with pytest.raises(ProtocolError):
        decoder.feed(b"\x83\x00")
    decoder.__init__(client=True)
    assert decoder.feed(b"\x82\x00") == [Message(Opcode.BINARY, b"")]


def test_reinit_with_bad_arguments_keeps_the_old_state(impl: Any) -> None:
    masker = impl.Masker(b"\x01\x01\x01\x01")
    masker.process(b"abc")
    with pytest.raises(ValueError):
        masker.__init__(b"xyz")
    assert masker.position == 3 and masker.process(b"\0") == b"\x01"

    decoder = impl.Decoder(client=True, max_message_size=4)
    assert decoder.feed(b"\x01\x01a") == []
    for bad in ({"max_message_size": -1}, {"max_frame_size": "1"}, {"decode_text": BoolRaises()}):
        with pytest.raises((ValueError, TypeError, Oops)):
            decoder.__init__(client=False, **bad)
    # Still the client with a 4-byte limit, still inside its message.
    assert decoder.feed(b"\x80\x01b") == [Message(Opcode.TEXT, "ab")]
    with pytest.raises(MessageTooBig):
        decoder.feed(b"\x82\x05abcde")


def test_new_without_init_is_the_default_object(py_impl: Any, c_impl: Any) -> None:
    for impl in (py_impl, c_impl):
        decoder = impl.Decoder.__new__(impl.Decoder)
        assert decoder.feed(b"\x81\x81\x00\x00\x00\x00a") == [Message(Opcode.TEXT, "a")]
        assert impl.Utf8Validator.__new__(impl.Utf8Validator).finish()
        assert impl.Masker.__new__(impl.Masker).process(b"ab") == b"ab"  # the all-zero key


def test_released_memoryview_after_a_failure(py_impl: Any, c_impl: Any) -> None:
    def call(impl: Any) -> Any:
        validator = impl.Utf8Validator()
        assert not validator.feed(b"\xff")
        return validator.feed(_oddargs.make(("memoryview-released", b"ok")))

    assert raises(both(py_impl, c_impl, call), ValueError)


def test_decoder_checks_its_argument_before_repeating_its_error(impl: Any) -> None:
    decoder = impl.Decoder()
    with pytest.raises(ProtocolError):
        decoder.feed(b"\x83\x80\x00\x00\x00\x00")
    with pytest.raises(TypeError):
        decoder.feed("not a buffer")
    with pytest.raises(ValueError):
        decoder.feed(_oddargs.make(("memoryview-released", b"x")))
    with pytest.raises(ProtocolError):
        decoder.feed(b"")


def test_protocol_messages_are_the_same(py_impl: Any, c_impl: Any) -> None:
    # The rules' messages come from one place: a surrogate in a one-frame
    # text message, in a fragment, at the end, and a bad close reason.
    streams = [
        b"\x81\x83\x00\x00\x00\x00\xed\xa0\x80",
        b"\x01\x82\x00\x00\x00\x00ab\x80\x82\x00\x00\x00\x00\xed\xa0",
        b"\x81\x82\x00\x00\x00\x00a\xe2",
        b"\x88\x84\x00\x00\x00\x00\x03\xe8\xc3\x28",
    ]
    for stream in streams:
        def call(impl: Any) -> Any:
            return impl.Decoder().feed(stream)  # noqa: B023 - called within the iteration

        result = both(py_impl, c_impl, call)
        assert result[1] is InvalidUTF8 and result[2]


# -------------------------------------------------------------- the layout


def test_compiled_modules_never_import_the_pure_twins(c_impl: Any) -> None:
    script = textwrap.dedent(
        """
        import sys
        for unit in ("mask", "utf8", "frames", "decoder"):
            sys.modules[f"wsfast._{unit}_py"] = None  # importing one now fails
        from wsfast import _decoder_c, _frames_c, _mask_c, _utf8_c
        d = _decoder_c.Decoder()
        assert d.feed(_frames_c.encode_frame(1, "hi", mask=True))[0].data == "hi"
        try:
            d.feed(b"\\x83\\x80\\x00\\x00\\x00\\x00")
        except Exception as exc:
            assert type(exc).__name__ == "ProtocolError", exc
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ------------------------------------------------------------ the handshake
# One implementation, the same argument rules.

_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def _request() -> handshake.Request:
    return handshake.parse_request(handshake.client_request("ws://example.com/")[0])


HANDSHAKE_CALLS = [
    ("accept_key(int)", lambda: handshake.accept_key(12), TypeError),
    ("accept_key(list)", lambda: handshake.accept_key([1, 2]), TypeError),
    ("accept_key(memoryview)", lambda: handshake.accept_key(memoryview(_KEY.encode())), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
    ("head_length(str)", lambda: handshake.head_length("GET"), TypeError),
    ("head_length(max_size=-1)", lambda: handshake.head_length(b"GET", max_size=-1), ValueError),
    ("head_length(max_size=1.5)", lambda: handshake.head_length(b"GET", max_size=1.5), TypeError),
    ("head_length(strided)", lambda: handshake.head_length(memoryview(b"a_\r_\n_\r_\n_")[::2]), 5),
    ("parse_request(int)", lambda: handshake.parse_request(5), TypeError),
    ("parse_request(max_headers=-1)", lambda: handshake.parse_request(b"GET / HTTP/1.1\r\n\r\n", max_headers=-1), ValueError),
    ("parse_uri(bytes)", lambda: handshake.parse_uri(b"ws://x/"), TypeError),
    ("client_request(int)", lambda: handshake.client_request(5), TypeError),
    ("client_request(subprotocols='chat')", lambda: handshake.client_request("ws://x/", subprotocols="chat"), TypeError),
    ("client_request(headers=['ab'])", lambda: handshake.client_request("ws://x/", headers=["ab"]), TypeError),
    ("server_handshake(bytes)", lambda: handshake.server_handshake(b"GET / HTTP/1.1\r\n\r\n"), TypeError),
    ("server_handshake(subprotocols='chat')", lambda: handshake.server_handshake(_request(), subprotocols="chat"), TypeError),
    ("server_handshake(origins='http://x')", lambda: handshake.server_handshake(_request(), origins="http://x"), TypeError),
    ("validate_request(str)", lambda: handshake.validate_request("GET"), TypeError),
    ("negotiate_subprotocol(str, str)", lambda: handshake.negotiate_subprotocol("chat", "chat"), TypeError),
    ("build_response(int)", lambda: handshake.build_response(5), TypeError),
    ("build_response(subprotocol=b'x')", lambda: handshake.build_response(_KEY, b"x"), TypeError),
    ("check_response(key=int)", lambda: handshake.check_response(b"HTTP/1.1 101 OK\r\n\r\n", 5), TypeError),
    ("check_response(subprotocols='chat')",
     lambda: handshake.check_response(handshake.build_response(_KEY, "ch"), _KEY, "chat"), TypeError),
]


@pytest.mark.parametrize("what, call, expected", HANDSHAKE_CALLS, ids=[c[0] for c in HANDSHAKE_CALLS])
def test_handshake_argument_types(what: str, call: Callable[[], Any], expected: Any) -> None:
    result = outcome(call)
    if isinstance(expected, type) and issubclass(expected, BaseException):
        assert raises(result, expected), result
    else:
        assert result == ("ok", expected)
