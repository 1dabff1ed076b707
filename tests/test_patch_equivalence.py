"""Patched behaves as unpatched: each library's hot paths on random inputs.

Every test runs over both wsfast implementations (the ``impl`` fixture):
the adapters are built on that implementation's kernels.  The unpatched
result is computed first, with the library's own code, then the same call is
made with the patch installed; results, result types and exceptions
(type and message) must be identical.
"""

from __future__ import annotations

import array
import importlib.util
import random
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wsfast.patch as patch

FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


def outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - the exception is the result compared
        return ("raise", type(exc), str(exc), getattr(exc, "code", None))
    return ("ok", type(value), value)


class Patched:
    """Install one library on one implementation's kernels, on demand."""

    def __init__(self, impl: Any, name: str) -> None:
        self.impl = impl
        self.name = name

    def __enter__(self) -> None:
        assert patch._install(self.impl, (self.name,)) == [self.name]

    def __exit__(self, *exc: object) -> None:
        patch.uninstall()

    def both(self, fn: Callable[[], Any]) -> tuple[Any, Any]:
        before = outcome(fn)
        with self:
            after = outcome(fn)
        return before, after


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    patch.uninstall()
    yield
    patch.uninstall()


def patched(impl: Any, name: str) -> Patched:
    if not patch._is_installed(name):
        pytest.skip(f"{name} is not installed")
    return Patched(impl, name)


masks = st.binary(min_size=4, max_size=4)
payloads = st.one_of(st.binary(max_size=300), st.binary(min_size=1000, max_size=5000))


# --- tornado ---------------------------------------------------------------


@FIXTURE_OK
@given(mask=masks, data=payloads)
def test_tornado_mask(impl: Any, mask: bytes, data: bytes) -> None:
    p = patched(impl, "tornado")
    import tornado.util
    import tornado.websocket

    before, after = p.both(lambda: tornado.websocket._websocket_mask(mask, data))
    assert before == after
    assert after[2] == tornado.util._websocket_mask_python(mask, data)


@pytest.mark.parametrize(
    "mask, data",
    [
        (b"123", b"abc"),
        (b"12345", b"abc"),
        (bytearray(b"1234"), b"abc"),
        (b"1234", bytearray(b"abc")),
        (memoryview(b"1234"), b"abc"),
        ("1234", b"abc"),
        (b"1234", "abc"),
        (b"1234", None),
    ],
)
def test_tornado_mask_odd_arguments(impl: Any, mask: Any, data: Any) -> None:
    before, after = patched(impl, "tornado").both(lambda: __import__("tornado.util").util._websocket_mask(mask, data))
    assert before == after


# --- websockets --------------------------------------------------------------


def websockets_sites() -> list[tuple[str, str]]:
    sites = [("websockets.frames", "apply_mask"), ("websockets.utils", "apply_mask")]
    if importlib.util.find_spec("websockets.speedups") is not None:
        sites.append(("websockets.speedups", "apply_mask"))
    return sites


@FIXTURE_OK
@given(mask=masks, data=payloads, kind=st.sampled_from(["bytes", "bytearray", "memoryview", "strided"]))
def test_websockets_apply_mask(impl: Any, mask: bytes, data: bytes, kind: str) -> None:
    p = patched(impl, "websockets")
    value: Any = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "strided": memoryview(data)[::2],
    }[kind]
    for module, name in websockets_sites():
        mod = importlib.import_module(module)
        before, after = p.both(lambda mod=mod, name=name: getattr(mod, name)(value, mask))
        assert before == after, module


@pytest.mark.parametrize(
    "data, mask",
    [(b"abc", b"123"), (b"abc", b"12345"), ("abc", b"1234"), (b"abc", memoryview(b"1234")), (b"abc", "1234"),
     (array.array("I", [1, 2]), b"1234")],
)
def test_websockets_apply_mask_odd_arguments(impl: Any, data: Any, mask: Any) -> None:
    import types

    p = patched(impl, "websockets")
    for module, name in websockets_sites():
        mod = importlib.import_module(module)
        direct = isinstance(getattr(mod, name), types.BuiltinFunctionType)
        before, after = p.both(lambda mod=mod, name=name: getattr(mod, name)(data, mask))
        if direct and before[0] == "raise":
            # wsfast's kernel replaces the C speedup as it is (docs/patch.md): the same
            # exception types with its own messages, except that it also takes buffer
            # types the speedup refuses (array, mmap), and masks them.
            if after[0] == "ok":
                assert type(data) not in (bytes, bytearray, memoryview) and before[1] is TypeError
                assert after[2] == bytes(b ^ mask[i % 4] for i, b in enumerate(memoryview(data).cast("B")))
            else:
                assert after[:2] == before[:2], module
        else:
            assert before == after, module


@FIXTURE_OK
@given(messages=st.lists(st.one_of(st.binary(max_size=3000), st.text(max_size=300)), min_size=1, max_size=5),
       chunk=st.integers(1, 4096))
def test_websockets_protocol_round_trip(impl: Any, messages: list[Any], chunk: int) -> None:
    p = patched(impl, "websockets")
    from websockets.protocol import Protocol, Side

    def run() -> list[Any]:
        client, server = Protocol(Side.CLIENT, max_size=None), Protocol(Side.SERVER, max_size=None)
        for message in messages:
            if isinstance(message, str):
                client.send_text(message.encode())
            else:
                client.send_binary(message)
        wire = b"".join(client.data_to_send())
        for i in range(0, len(wire), chunk):
            server.receive_data(wire[i : i + chunk])
        return [(f.opcode, f.data, f.fin) for f in server.events_received()]

    before, after = p.both(run)
    assert before == after
    assert [e[1] for e in after[2]] == [m.encode() if isinstance(m, str) else m for m in messages]


# --- websocket-client --------------------------------------------------------


@FIXTURE_OK
@given(mask=masks, data=payloads, kinds=st.tuples(st.sampled_from(["bytes", "bytearray", "str"]),
                                                  st.sampled_from(["bytes", "bytearray", "str"])))
def test_websocket_client_mask(impl: Any, mask: bytes, data: bytes, kinds: tuple[str, str]) -> None:
    p = patched(impl, "websocket-client")
    from websocket._abnf import ABNF

    def convert(value: bytes, kind: str) -> Any:
        return {"bytes": value, "bytearray": bytearray(value), "str": value.decode("latin-1")}[kind]

    key, payload = convert(mask, kinds[0]), convert(data, kinds[1])
    before, after = p.both(lambda: ABNF.mask(key, payload))
    assert before == after


@pytest.mark.parametrize(
    "key, data",
    [(b"123", b"abcdef"), (b"12345", b"abcdef"), ("12\u20ac4", b"ab"), (b"1234", "\u20ac"), (b"1234", None),
     ([1, 2, 3, 4], b"ab"), (memoryview(b"1234"), b"ab")],
)
def test_websocket_client_mask_odd_arguments(impl: Any, key: Any, data: Any) -> None:
    p = patched(impl, "websocket-client")
    from websocket import _abnf

    before, after = p.both(lambda: _abnf.ABNF.mask(key, data))
    assert before == after
    if isinstance(key, bytes) and isinstance(data, bytes):
        before, after = p.both(lambda: _abnf._mask(array.array("B", key), array.array("B", data)))
        assert before == after


utf8ish = st.one_of(
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    st.binary(max_size=50),
    st.text(min_size=1, max_size=50).map(lambda s: s.encode("utf-8")).flatmap(
        lambda b: st.integers(0, len(b)).map(lambda n: b[:n])  # cut inside a code point
    ),
    st.sampled_from([b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe0\x80", b"\xf0\x9f\x98", b"\xff"]),
)


@FIXTURE_OK
@given(data=utf8ish, as_str=st.booleans())
def test_websocket_client_validate_utf8(impl: Any, data: bytes, as_str: bool) -> None:
    p = patched(impl, "websocket-client")
    from websocket import _abnf, _utils

    value: Any = data.decode("utf-8", "surrogateescape") if as_str else data
    for fn in (_utils.validate_utf8, _abnf.validate_utf8):
        before, after = p.both(lambda fn=fn: fn(value))
        assert before == after


@FIXTURE_OK
@given(payload=payloads, mask=masks, opcode=st.sampled_from([0x1, 0x2, 0x8, 0x9]), fin=st.integers(0, 1))
def test_websocket_client_frames(impl: Any, payload: bytes, mask: bytes, opcode: int, fin: int) -> None:
    """ABNF.format on send, frame_buffer.recv_frame on receive."""
    p = patched(impl, "websocket-client")
    from websocket._abnf import ABNF, frame_buffer

    def run() -> tuple[Any, ...]:
        frame = ABNF(fin, 0, 0, 0, opcode, 1, payload)
        frame.get_mask_key = lambda n: mask
        wire = frame.format()
        chunks = [wire[i : i + 7] for i in range(0, len(wire), 7)]
        buf = frame_buffer(lambda n: chunks.pop(0) if chunks else b"", skip_utf8_validation=False)
        got = outcome(buf.recv_frame)
        if got[0] == "ok":
            got = ("ok", got[2].fin, got[2].opcode, got[2].data)
        return wire, got

    before, after = p.both(run)
    assert before == after


# --- autobahn ----------------------------------------------------------------


def autobahn_pure(module: str) -> Any:
    """autobahn's pure-Python module, loaded aside whatever AUTOBAHN_USE_NVX chose."""
    import autobahn.websocket as aw

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    saved = aw.USES_NVX
    aw.USES_NVX = False
    try:
        spec.loader.exec_module(mod)
    finally:
        aw.USES_NVX = saved
    return mod


ops = st.lists(st.one_of(st.binary(max_size=600), st.just("reset")), min_size=1, max_size=12)


@FIXTURE_OK
@given(mask=masks, length=st.one_of(st.none(), st.integers(0, 300)), steps=ops)
def test_autobahn_maskers(impl: Any, mask: bytes, length: Any, steps: list[Any]) -> None:
    p = patched(impl, "autobahn")
    import autobahn.websocket.xormasker as xm

    pure = autobahn_pure("autobahn.websocket.xormasker")

    def run(factory: Callable[..., Any]) -> list[Any]:
        m = factory(mask, length)
        out = [type(m).__name__]
        for step in steps:
            if step == "reset":
                m.reset()
            else:
                out.append(m.process(step))
            out.append(m.pointer())
        return out

    reference = run(pure.create_xor_masker)
    before, after = p.both(lambda: run(xm.create_xor_masker))
    assert after == ("ok", list, reference)
    assert before[2][1:] == after[2][1:]  # the active originals (NVX or pure) agree, class names aside


@pytest.mark.parametrize("mask", [b"", b"abc", b"abcde", [1, 2, 3]])
@pytest.mark.parametrize("length", [None, 500])
def test_autobahn_masker_refuses_a_mask_not_of_4_bytes(impl: Any, mask: Any, length: Any) -> None:
    # autobahn's own maskers only assert the length (gone under `python -O`);
    # the patched ones check it for real.
    p = patched(impl, "autobahn")
    import autobahn.websocket.xormasker as xm

    with p, pytest.raises(ValueError, match="4-byte mask"):
        xm.create_xor_masker(mask, length)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given points (modulo its length), empty pieces included."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


@FIXTURE_OK
@given(data=st.lists(utf8ish, min_size=1, max_size=4).map(b"".join), cuts=st.lists(st.integers(0, 400), max_size=5),
       reset_at=st.one_of(st.none(), st.integers(0, 5)))
def test_autobahn_utf8_validator(impl: Any, data: bytes, cuts: list[int], reset_at: Any) -> None:
    p = patched(impl, "autobahn")
    import autobahn.websocket.utf8validator as uv

    pure = autobahn_pure("autobahn.websocket.utf8validator")
    chunks = split(data, cuts)

    def run(cls: type) -> list[Any]:
        v = cls()
        out = []
        for i, chunk in enumerate(chunks):
            if i == reset_at:
                v.reset()
            out.append(v.validate(chunk))
        return out

    reference = run(pure.Utf8Validator)
    before, after = p.both(lambda: run(uv.Utf8Validator))
    assert after == ("ok", list, reference)
    # NVX reports after a failure differently (docs/patch.md): compare up to the first one.
    first_bad = next((i for i, r in enumerate(reference) if not r[0]), len(reference) - 1)
    if reset_at is None or reset_at > first_bad:
        assert before[2][: first_bad + 1] == reference[: first_bad + 1]


@pytest.mark.parametrize("chunk", [b"", b"abc", bytearray(b"\xe2\x82\xac"), memoryview(b"\xff")])
def test_autobahn_validator_input_types(impl: Any, chunk: Any) -> None:
    p = patched(impl, "autobahn")
    import autobahn.websocket.utf8validator as uv

    pure = autobahn_pure("autobahn.websocket.utf8validator")
    with p:
        assert uv.Utf8Validator().validate(chunk) == pure.Utf8Validator().validate(chunk)


def test_autobahn_protocol_module_bindings(impl: Any) -> None:
    p = patched(impl, "autobahn")
    import autobahn.websocket.protocol as proto
    import autobahn.websocket.utf8validator as uv
    import autobahn.websocket.xormasker as xm

    with p:
        assert proto.Utf8Validator is uv.Utf8Validator
        assert proto.create_xor_masker is xm.create_xor_masker
        assert proto.create_xor_masker(b"abcd", 500).process(b"\x00" * 5) == b"abcda"


# --- websocket-client against a patched websockets server, over loopback -------


def test_loopback_websocket_client_to_websockets_server(impl: Any) -> None:
    for name in ("websockets", "websocket-client"):
        if not patch._is_installed(name):
            pytest.skip(f"{name} is not installed")
    import threading

    import websocket
    from websockets.sync.server import serve

    def echo(connection: Any) -> None:
        for message in connection:
            connection.send(message)

    rng = random.Random(5)
    messages: list[Any] = [rng.randbytes(n) for n in (0, 1, 125, 126, 65535, 65536, 200000)]
    messages += ["", "h\u00e9llo \u20ac", "\U0001f600" * 5000]
    assert patch._install(impl, ("websockets", "websocket-client")) == ["websockets", "websocket-client"]
    with serve(echo, "127.0.0.1", 0, max_size=None) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.socket.getsockname()[1]
            ws = websocket.create_connection(f"ws://127.0.0.1:{port}", timeout=20)
            try:
                for message in messages:
                    if isinstance(message, str):
                        ws.send(message)
                    else:
                        ws.send_binary(message)
                    assert ws.recv() == message
            finally:
                ws.close()
        finally:
            server.shutdown()
            thread.join(10)
