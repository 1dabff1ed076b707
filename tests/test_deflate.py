"""permessage-deflate compression (RFC 7692 §7.2) over both implementations.

Deflater (public) and the Decoders' Inflater (internal): output that any
zlib inflates, byte-identical output from both implementations, every
§7.2.3 example, final blocks, bounded output, corrupt input, idle memory.
"""

from __future__ import annotations

import array
import copy
import os
import pickle
import random
import subprocess
import sys
import threading
import zlib
from typing import Any, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples, zlib_backend
from wsfast import PerMessageDeflate, ProtocolError, _deflate_py

PMD = PerMessageDeflate
TAIL = b"\x00\x00\xff\xff"
RND = random.Random(7692)
JSONISH = b'{"id":%d,"user":"user%d","score":%d.%02d,"active":%s,"tags":["alpha","bravo"]}'


def jsonish(i: int) -> bytes:
    return JSONISH % (i * 7919 % 10**6, i % 977, i % 100, i % 97, b"true" if i % 3 else b"false")


MESSAGES = [b"", b"x", b"Hello", jsonish(1), jsonish(2) * 30, bytes(RND.getrandbits(8) for _ in range(3000)),
            b"".join(jsonish(i) for i in range(900)), bytes(200_000)]


def reference_inflate(payloads: List[bytes], wbits: int, takeover: bool = True) -> List[bytes]:
    """The standard library inflating a stream of messages the RFC 7692 way."""
    out, d = [], zlib.decompressobj(-wbits)
    for payload in payloads:
        if not takeover:
            d = zlib.decompressobj(-wbits)
        out.append(d.decompress(payload + TAIL))
    return out


def c_zlib_bytes() -> int:
    from wsfast import _deflate_c

    return int(_deflate_c._zlib_bytes())


# ----------------------------------------------------------------- Deflater


@pytest.mark.parametrize("bits", [8, 9, 12, 15])
@pytest.mark.parametrize("no_takeover", [False, True])
def test_deflater_output_inflates_with_any_zlib(impl: Any, bits: int, no_takeover: bool) -> None:
    params = PMD(server_max_window_bits=bits, server_no_context_takeover=no_takeover)
    deflater = impl.Deflater(params)
    payloads = [deflater.compress(m) for m in MESSAGES + MESSAGES[::-1]]
    assert reference_inflate(payloads, bits, not no_takeover) == MESSAGES + MESSAGES[::-1]
    # §7.2.1: the sync flush's 00 00 ff ff is removed; what is left ends in an
    # empty stored block's header bits.
    assert all(not p.endswith(TAIL) for p in payloads if len(p) > 4)


def test_empty_message_is_one_byte_and_touches_no_stream(impl: Any) -> None:
    deflater = impl.Deflater(PMD())
    assert deflater.compress(b"") == b"\x00"  # §7.2.3.6
    assert deflater.compress(bytearray()) == b"\x00" and deflater.compress("") == b"\x00"
    assert reference_inflate([b"\x00"], 15) == [b""]


def test_context_takeover_shrinks_repeated_messages(impl: Any, backend: str) -> None:
    msg = jsonish(5) * 3
    taking = impl.Deflater(PMD())
    first, second = taking.compress(msg), taking.compress(msg)
    assert len(second) < len(first) // 4  # the second is back-references into the first
    resetting = impl.Deflater(PMD(server_no_context_takeover=True))
    assert resetting.compress(msg) == resetting.compress(msg) == first


def test_no_context_takeover_compresses_each_message_alone(impl: Any) -> None:
    # The shared, reset stream gives what a fresh stream gives, message after message.
    params = PMD(client_no_context_takeover=True)
    shared = impl.Deflater(params, client=True, level=6)
    for m in MESSAGES:
        assert shared.compress(m) == impl.Deflater(params, client=True, level=6).compress(m)


def test_own_side_options_are_always_allowed(impl: Any) -> None:
    agreed = PMD()  # context takeover, window 15
    capped = impl.Deflater(agreed, window_bits=9, no_context_takeover=True)
    data = bytes(range(256)) * 40  # repeats at distance 256: within a 9-bit window
    payload = capped.compress(data)
    assert zlib.decompressobj(-9).decompress(payload + TAIL) == data
    assert capped.compress(data) == payload  # reset between messages


def test_role_picks_its_own_side_of_the_agreement(impl: Any) -> None:
    params = PMD(server_max_window_bits=15, client_max_window_bits=9, client_no_context_takeover=True)
    data = b"".join(jsonish(i) for i in range(400))
    client = impl.Deflater(params, client=True)
    p1, p2 = client.compress(data), client.compress(data)
    assert p1 == p2  # client_no_context_takeover
    assert zlib.decompressobj(-9).decompress(p1 + TAIL) == data
    server = impl.Deflater(params)
    assert server.compress(data) != server.compress(data)  # the server takes its context over


def repeats_at(distances: List[int], size: int = 60_000) -> bytes:
    """Data whose matches sit at the given distances, for window-size checks."""
    rnd = random.Random(sum(distances))
    out = bytearray(rnd.getrandbits(8) for _ in range(max(distances)))
    while len(out) < size:
        d = rnd.choice(distances)
        out += out[-d:][:rnd.randrange(3, 40)] + bytes([rnd.getrandbits(8)])
    return bytes(out[:size])


def stops_inside_a_block() -> bytes:
    """A message from a sender that forgot the sync flush: a partial flush
    leaves the deflate stream inside a block, not on a byte boundary."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    # zlib.h's Z_PARTIAL_FLUSH: PyPy's zlib passes the mode on to deflate()
    # but does not name this one.
    return c.compress(b"Hello, " * 100) + c.flush(getattr(zlib, "Z_PARTIAL_FLUSH", 1))


@pytest.mark.parametrize("level", [1, 6, 9])
def test_window_8_output_fits_an_8_bit_window(impl: Any, level: int) -> None:
    # zlib refuses to deflate with a raw 8-bit window ...
    with pytest.raises((ValueError, zlib.error)):
        zlib.compressobj(level, zlib.DEFLATED, -8)
    # ... so an agreed 8 is compressed with 9 bits, whose matches stop at 250
    # bytes back: an inflater with a 256-byte window, the strictest a peer
    # can have, takes the output, even for data full of repeats just past 256.
    data = repeats_at([100, 250, 255, 256, 257, 300, 511])
    for no_takeover in (False, True):
        params = PMD(server_max_window_bits=8, server_no_context_takeover=no_takeover)
        deflater = impl.Deflater(params, level=level)
        payloads = [deflater.compress(data), deflater.compress(data[::-1]), deflater.compress(data)]
        assert reference_inflate(payloads, 8, not no_takeover) == [data, data[::-1], data]
    # The check has teeth: a 15-bit window's output is refused by an 8-bit inflater.
    wide = impl.Deflater(PMD(), level=level).compress(data)
    with pytest.raises(zlib.error, match="too far"):
        zlib.decompressobj(-8).decompress(wide + TAIL)


def test_window_8_with_zlib_ng_too(impl: Any) -> None:
    with zlib_backend("zlib-ng"):
        data = repeats_at([200, 256, 257, 400])
        for level in (1, 6, 9):
            deflater = impl.Deflater(PMD(server_max_window_bits=8), level=level)
            assert "backend=zlib-ng" in repr(deflater)
            payload = deflater.compress(data)
            assert zlib.decompressobj(-8).decompress(payload + TAIL) == data


def test_both_implementations_produce_identical_bytes(py_impl: Any, c_impl: Any, backend: str) -> None:
    from wsfast import _deflate_c

    if backend == "zlib" and _deflate_c.ZLIB_VERSION != zlib.ZLIB_RUNTIME_VERSION:
        pytest.skip(f"the zlib module runs zlib {zlib.ZLIB_RUNTIME_VERSION}, wsfast links {_deflate_c.ZLIB_VERSION}")
    for bits in (8, 10, 15):
        for no_takeover in (False, True):
            for level, mem in ((1, 5), (1, 8), (6, 1), (9, 9), (-1, 8)):
                params = PMD(server_max_window_bits=bits, server_no_context_takeover=no_takeover)
                pure = py_impl.Deflater(params, level=level, mem_level=mem)
                compiled = c_impl.Deflater(params, level=level, mem_level=mem)
                for m in MESSAGES + MESSAGES:
                    assert pure.compress(m) == compiled.compress(m), (bits, no_takeover, level, mem, len(m))


@pytest.mark.parametrize("name", ["zlib", "zlib-ng"])
@settings(max_examples=examples(60))
@given(st.lists(st.binary(max_size=3000) | st.sampled_from(MESSAGES[:6]), max_size=8),
       st.booleans(), st.sampled_from([8, 11, 15]))
def test_identical_bytes_on_random_streams(name: str, messages: List[bytes], no_takeover: bool, bits: int) -> None:
    from wsfast import _impl

    try:
        c = _impl.load("cython", lazy=True)
        c.module("deflate")
    except ImportError:
        pytest.skip("the compiled implementation is not built")
    from wsfast import _deflate_c

    if name == "zlib" and _deflate_c.ZLIB_VERSION != zlib.ZLIB_RUNTIME_VERSION:
        pytest.skip("different zlib versions")
    with zlib_backend(name):
        params = PMD(client_max_window_bits=bits, client_no_context_takeover=no_takeover)
        pure = _deflate_py.Deflater(params, client=True)
        compiled = c.Deflater(params, client=True)
        got = [pure.compress(m) for m in messages]
        assert got == [compiled.compress(m) for m in messages]
        assert reference_inflate(got, bits, not no_takeover) == messages


def test_any_buffer_and_str(impl: Any) -> None:
    text = "κόσμε " * 100
    raw = text.encode()
    expect = impl.Deflater(PMD()).compress(raw)

    class Str(str):
        def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
            return b"ignored"

    strided = memoryview(bytearray(b"".join(bytes([b, 0]) for b in raw)))[::2]
    for data in (raw, bytearray(raw), memoryview(raw), array.array("B", raw), text, Str(text), strided):
        assert impl.Deflater(PMD()).compress(data) == expect, type(data)
    with pytest.raises(UnicodeEncodeError):
        impl.Deflater(PMD()).compress("\ud800")
    for bad in (None, 12, 1.5, [1, 2]):
        with pytest.raises(TypeError):
            impl.Deflater(PMD()).compress(bad)
    released = memoryview(b"abc")
    released.release()
    with pytest.raises(ValueError):
        impl.Deflater(PMD()).compress(released)


@pytest.mark.parametrize("kwargs, error", [
    ({"params": None}, TypeError), ({"params": "permessage-deflate"}, TypeError),
    ({"level": 0}, ValueError), ({"level": 10}, ValueError), ({"level": 2**64}, ValueError),
    ({"level": 1.0}, TypeError), ({"level": "1"}, TypeError), ({"mem_level": 0}, ValueError),
    ({"mem_level": None}, TypeError), ({"window_bits": 7}, ValueError), ({"window_bits": 16}, ValueError),
    ({"window_bits": b"9"}, TypeError), ({"bogus": 1}, TypeError),
])
def test_deflater_arguments(impl: Any, kwargs: dict, error: type) -> None:
    args = {"params": PMD(), **kwargs}
    params = args.pop("params")
    with pytest.raises(error):
        impl.Deflater(params, **args)


def test_deflater_arguments_in_signature_order(impl: Any) -> None:
    with pytest.raises(TypeError):
        impl.Deflater(None, level=0)
    with pytest.raises(ValueError, match="level"):
        impl.Deflater(PMD(), level=0, mem_level="x")
    with pytest.raises(TypeError):
        impl.Deflater(PMD(), True)  # client is keyword-only
    assert "level=1" in repr(impl.Deflater(PMD(), level=True))  # bool is an int


def test_deflater_reinit_and_failed_reinit(impl: Any) -> None:
    deflater = impl.Deflater(PMD())
    first = deflater.compress(jsonish(3))
    assert deflater.compress(jsonish(3)) != first  # takes its context over
    deflater.__init__(PMD())
    assert deflater.compress(jsonish(3)) == first  # fresh state
    with pytest.raises(ValueError):
        deflater.__init__(PMD(), level=42)
    assert deflater.compress(jsonish(3)) != first  # kept its old state, context and all


def test_classes_are_final_and_refuse_copy_and_pickle(impl: Any) -> None:
    for obj in (impl.Deflater(PMD()), impl.Inflater(PMD())):
        with pytest.raises(TypeError):
            type("Sub", (type(obj),), {})
        for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError):
                attempt(obj)


def test_public_name() -> None:
    import wsfast

    assert wsfast.Deflater is wsfast._impl.load(wsfast.IMPLEMENTATION, lazy=True).Deflater


# ----------------------------------------------------------------- Inflater


def inflate_message(inflater: Any, payload: bytes, step: int = 0, limit: Any = None) -> bytes:
    if step:
        out = b"".join(inflater.inflate(payload[i : i + step], limit) for i in range(0, len(payload), step))
    else:
        out = inflater.inflate(payload, limit)
    inflater.finish()
    return out


RFC_HELLO = bytes.fromhex("f248cdc9c90700")


@pytest.mark.parametrize("step", [0, 1, 3])
def test_rfc_7692_section_7_2_3_examples(impl: Any, step: int) -> None:
    inflater = impl.Inflater(PMD())
    # 7.2.3.1: one compressed block, whole or in fragments.
    assert inflate_message(inflater, RFC_HELLO, step) == b"Hello"
    # 7.2.3.2: the second "Hello" refers back into the first.
    assert inflate_message(inflater, bytes.fromhex("f200110000"), step) == b"Hello"
    # 7.2.3.3: a stored (uncompressed) block.
    assert inflate_message(inflater, bytes.fromhex("000500faff48656c6c6f00"), step) == b"Hello"
    # 7.2.3.4: a final block (BFINAL), padded with the empty stored block's header.
    assert inflate_message(inflater, bytes.fromhex("f348cdc9c9070000"), step) == b"Hello"
    # 7.2.3.5: two blocks, the first flushed.
    assert inflate_message(inflater, bytes.fromhex("f248050000 00ffff cac9c90700"), step) == b"Hello"
    # 7.2.3.6: an empty message.
    assert inflate_message(inflater, b"\x00", step) == b""
    # And the window survived all of that (context takeover).
    assert inflate_message(inflater, bytes.fromhex("f200110000"), step) == b"Hello"


def test_the_window_of_fragments_split_anywhere(impl: Any) -> None:
    # 7.2.3.1's fragmented message: 41 03 f2 48 cd, then 80 04 c9 c9 07 00.
    inflater = impl.Inflater(PMD())
    assert inflater.inflate(bytes.fromhex("f248cd")) + inflater.inflate(bytes.fromhex("c9c90700")) == b"Hello"
    inflater.finish()


def test_messages_ending_with_a_final_block_any_number_of_times(impl: Any) -> None:
    # websockets 17.4 returns empty messages after the first of these.
    for params, client in ((PMD(), False), (PMD(client_no_context_takeover=True), False)):
        inflater = impl.Inflater(params, client=client)
        for _ in range(5):
            assert inflate_message(inflater, bytes.fromhex("f348cdc9c9070000")) == b"Hello"
            # Without the padding byte that §7.2.1 adds: accepted, the stream
            # has ended and nothing is left to complete.
            assert inflate_message(inflater, bytes.fromhex("f348cdc9c90700")) == b"Hello"
            assert inflate_message(inflater, RFC_HELLO) == b"Hello"


def final_block_message(data: bytes, zdict: bytes = b"") -> bytes:
    """``data`` compressed as one final block, as a BFINAL-flushing sender does,
    referring back into ``zdict`` (the window it shares with the receiver)."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zdict=zdict) if zdict else zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH) + b"\x00"


def test_a_final_block_keeps_the_window_for_what_follows(impl: Any) -> None:
    text = b"context takeover " * 40
    # Across messages: the second message's new stream refers back into the first.
    inflater = impl.Inflater(PMD())
    assert inflate_message(inflater, final_block_message(text)) == text
    second = final_block_message(text, zdict=text)
    assert len(second) < 20  # it is back-references only
    assert inflate_message(inflater, second) == text
    # Within a message: a final block, then blocks that refer back across it,
    # also without context takeover (the window is the message's own).
    for params in (PMD(), PMD(client_no_context_takeover=True)):
        inflater = impl.Inflater(params)
        c = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zdict=text)
        tail = c.compress(b" and more " + text) + c.flush(zlib.Z_SYNC_FLUSH)
        payload = final_block_message(text)[:-1] + tail[:-4]
        for step in (0, 1, 5):
            assert inflate_message(impl.Inflater(params), payload, step) == text + b" and more " + text


def test_no_context_takeover_forgets_the_window(impl: Any) -> None:
    inflater = impl.Inflater(PMD(client_no_context_takeover=True))
    assert inflate_message(inflater, RFC_HELLO) == b"Hello"
    # 7.2.3.2's second message refers to the first: refused once the window is gone.
    with pytest.raises(ProtocolError, match="too far back") as info:
        inflate_message(inflater, bytes.fromhex("f200110000"))
    assert info.value.close_code == 1007


def test_round_trip_with_both_implementations(py_impl: Any, c_impl: Any) -> None:
    for no_takeover in (False, True):
        for bits in (8, 12, 15):
            params = PMD(client_max_window_bits=bits, client_no_context_takeover=no_takeover)
            for make in (py_impl.Deflater, c_impl.Deflater):
                deflater = make(params, client=True)
                payloads = [deflater.compress(m) for m in MESSAGES * 2]
                for inflate in (py_impl.Inflater, c_impl.Inflater):
                    inflater = inflate(params)  # the server inflates the client's messages
                    for step in (0, 4097):
                        got = [inflate_message(inflater, p, step) for p in payloads]
                        assert got == MESSAGES * 2


@settings(max_examples=examples(40))
@given(st.data())
def test_inflating_in_random_pieces_gives_the_same_messages(data: st.DataObject) -> None:
    from wsfast import _impl

    params = PMD(server_no_context_takeover=data.draw(st.booleans()))
    messages = data.draw(st.lists(st.sampled_from(MESSAGES[:7]) | st.binary(max_size=500), min_size=1, max_size=5))
    deflater = _deflate_py.Deflater(params)
    payloads = [deflater.compress(m) for m in messages]
    kinds = ["python"]
    try:
        _impl.load("cython", lazy=True).module("deflate")
        kinds.append("cython")
    except ImportError:
        pass
    for kind in kinds:
        inflater = _impl.load(kind, lazy=True).Inflater(params, client=True)
        for payload, message in zip(payloads, messages):
            cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=6)))
            pieces = [payload[a:b] for a, b in zip([0] + cuts, cuts + [len(payload)])]
            assert b"".join(inflater.inflate(p) for p in pieces) == message
            inflater.finish()


# ----------------------------------------------------------- bounded output


def zero_bomb(mib_out: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    return b"".join(c.compress(chunk) for _ in range(mib_out)) + c.flush(zlib.Z_SYNC_FLUSH)[:-4]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    # 64 MiB of zeros in about 64 KiB: the ratio of a 1 MiB frame that
    # would inflate to 1 GiB.
    return zero_bomb(64)


def test_max_length_bounds_every_call(impl: Any, bomb: bytes) -> None:
    limit = 1 << 20
    inflater = impl.Inflater(PMD())
    out = inflater.inflate(bomb, limit + 1)
    assert len(out) == limit + 1 and not any(out)
    # Fed in pieces, with the room left each time: the same bound.
    inflater, total = impl.Inflater(PMD()), 0
    for i in range(0, len(bomb), 4096):
        total += len(inflater.inflate(bomb[i : i + 4096], limit + 1 - total))
        if total > limit:
            break
    assert total == limit + 1


def test_the_bound_holds_memory_too(c_impl: Any, bomb: bytes) -> None:
    import tracemalloc

    limit = 1 << 20
    inflater = c_impl.Inflater(PMD())
    tracemalloc.start()
    try:
        inflater.inflate(bomb, limit + 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The output (limit + 1), the output's first guess, zlib's 39 KiB: never the 64 MiB.
    assert peak < 2 * limit + (256 << 10)


def test_output_left_inside_zlib_comes_out_without_new_input(impl: Any) -> None:
    # A final block whose last match is cut by the cap: zlib has read all the
    # input, and the rest of the match is still owed; a call with no input
    # must produce it.
    for n in (300, 375, 600, 1000):
        data = b"a" * n
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = c.compress(data) + c.flush(zlib.Z_FINISH)
        for cap in range(250, n, 7):
            inflater = impl.Inflater(PMD())
            out = inflater.inflate(payload, cap)
            assert len(out) == cap
            assert out + inflater.inflate(b"") == data, (n, cap)
            inflater.finish()


def test_max_length_semantics(impl: Any) -> None:
    data = b"".join(jsonish(i) for i in range(300))
    payload = impl.Deflater(PMD()).compress(data)
    inflater = impl.Inflater(PMD())
    got = inflater.inflate(payload, 1000)
    assert len(got) == 1000
    got += inflater.inflate(b"", 0)  # no room: nothing, nothing lost
    got += inflater.inflate(b"", 5000)
    while len(got) < len(data):
        piece = inflater.inflate(b"", 3000)
        assert piece
        got += piece
    assert got == data
    assert inflater.inflate(b"", 10) == b""
    inflater.finish()
    # Exactly full is not an error; finish() checks nothing is left.
    exact = impl.Inflater(PMD())
    assert exact.inflate(payload, len(data)) == data
    exact.finish()
    early = impl.Inflater(PMD())
    early.inflate(payload, 10)
    with pytest.raises(RuntimeError, match="pending"):
        early.finish()
    assert impl.Inflater(PMD()).inflate(payload, 2**80) == data  # a bound beyond memory is no bound
    for bad, error in ((-1, ValueError), (1.5, TypeError), ("10", TypeError), (-(2**80), ValueError)):
        with pytest.raises(error):
            impl.Inflater(PMD()).inflate(payload, bad)


def test_input_that_inflates_to_nothing_is_consumed_linearly(impl: Any) -> None:
    inflater = impl.Inflater(PMD())
    empty_stored = b"\x00\x00\x00\xff\xff" * 50_000  # 250 KB of empty blocks
    assert inflater.inflate(empty_stored) == b""
    # Empty fixed-Huffman blocks, 10 bits each (BFINAL 0, BTYPE 01, end-of-block
    # 0000000), packed back to back: 4 blocks in 5 bytes.
    bits = [0, 1, 0] + [0] * 7
    four = int("".join(map(str, reversed(bits * 4))), 2).to_bytes(5, "little")
    assert inflater.inflate(four * 20_000 + b"\x00") == b""
    inflater.finish()
    # Empty final blocks: each one ends a stream and the next starts another.
    finals = impl.Inflater(PMD())
    assert finals.inflate(b"\x03\x00" * 20_000 + b"\x00") == b""
    finals.finish()


# ------------------------------------------------------------ corrupt input


@pytest.mark.parametrize("payload, words", [
    (b"\xff\xff\xff", "invalid block type"),
    (bytes.fromhex("0005 0000 00"), "invalid stored block lengths"),
    (bytes.fromhex("f200110000"), "too far back"),  # a reference before the first byte
    (b"\xfc\xff\xff", "too many length"),              # a dynamic block with 288 literal codes
])
def test_corrupt_data_is_a_protocol_error_every_time(impl: Any, payload: bytes, words: str) -> None:
    inflater = impl.Inflater(PMD())
    with pytest.raises(ProtocolError, match=words) as info:
        inflate_message(inflater, payload)
    assert info.value.close_code == 1007 and "RFC 7692" in str(info.value)
    for again in (lambda: inflater.inflate(RFC_HELLO), inflater.finish):
        with pytest.raises(ProtocolError):
            again()


def test_a_message_must_end_on_a_block_boundary(impl: Any) -> None:
    inflater = impl.Inflater(PMD())
    inflater.inflate(stops_inside_a_block())
    with pytest.raises(ProtocolError, match=r"block boundary|invalid"):
        inflater.finish()
    # A truncated message, the same.
    inflater = impl.Inflater(PMD())
    inflater.inflate(RFC_HELLO[:-2])
    with pytest.raises(ProtocolError):
        inflater.finish()


def test_an_empty_compressed_payload_is_refused(impl: Any) -> None:
    # §7.2.3.6 sends 0x00 for an empty message; nothing at all is not DEFLATE.
    inflater = impl.Inflater(PMD())
    inflater.inflate(b"")
    with pytest.raises(ProtocolError, match="empty payload"):
        inflater.finish()


def test_inflater_arguments(impl: Any) -> None:
    with pytest.raises(TypeError):
        impl.Inflater(None)
    with pytest.raises(TypeError):
        impl.Inflater(PMD(), True)
    for bad in ("text", None, 3):
        with pytest.raises(TypeError):
            impl.Inflater(PMD()).inflate(bad)
    inflater = impl.Inflater(PMD())
    assert inflater.inflate(bytearray(RFC_HELLO)) == b"Hello"
    inflater.finish()
    strided = memoryview(bytearray(b"".join(bytes([b, 0]) for b in RFC_HELLO)))[::2]
    assert inflater.inflate(strided) == b"Hello"
    inflater.finish()


def test_inflater_reinit(impl: Any) -> None:
    inflater = impl.Inflater(PMD())
    inflate_message(inflater, RFC_HELLO)
    inflater.__init__(PMD())  # a fresh state: the window is gone
    with pytest.raises(ProtocolError):
        inflate_message(inflater, bytes.fromhex("f200110000"))
    inflater.__init__(PMD())  # and the error with it
    assert inflate_message(inflater, RFC_HELLO) == b"Hello"


# -------------------------------------------------------------------- memory


def test_idle_objects_hold_no_zlib_state(c_impl: Any) -> None:
    before = c_impl.module("deflate")._zlib_bytes()
    keep = [c_impl.Deflater(PMD()) for _ in range(100)] + [c_impl.Inflater(PMD()) for _ in range(100)]
    assert c_impl.module("deflate")._zlib_bytes() == before
    for d in keep[:100]:
        d.compress(b"")  # empty messages never make a stream
    assert c_impl.module("deflate")._zlib_bytes() == before


# What one stream holds (KiB), the figures docs/deflate.md gives: zlib's
# compressor is 2**(12+2) + 2**(5+9) plus its state; zlib-ng's has a fixed
# 128 KiB hash table, and its inflater a 32 KiB window whatever the agreed one.
HELD_KIB = {"zlib": {"deflate": (32, 40), "inflate": (9, 13)},
            "zlib-ng": {"deflate": (140, 180), "inflate": (38, 45)}}


def test_streams_are_made_on_first_use_and_freed_with_the_object(c_impl: Any, backend: str) -> None:
    mod = c_impl.module("deflate")
    payload = c_impl.Deflater(PMD(), client=True).compress(jsonish(1))
    before = mod._zlib_bytes()
    d = c_impl.Deflater(PMD(server_max_window_bits=12), mem_level=5)
    d.compress(jsonish(1))
    low, high = HELD_KIB[backend]["deflate"]
    assert low << 10 <= mod._zlib_bytes() - before <= high << 10
    del d
    assert mod._zlib_bytes() == before
    i = c_impl.Inflater(PMD(client_max_window_bits=12))
    assert inflate_message(i, payload) == jsonish(1)
    low, high = HELD_KIB[backend]["inflate"]
    assert low << 10 <= mod._zlib_bytes() - before <= high << 10
    del i
    assert mod._zlib_bytes() == before


def test_auto_keeps_connections_small(c_impl: Any) -> None:
    # "auto": zlib for a stream a connection holds between messages, zlib-ng
    # where that costs no memory per connection.
    mod = c_impl.module("deflate")
    with zlib_backend("auto"):
        payload = c_impl.Deflater(PMD(), client=True).compress(jsonish(2))
        before = mod._zlib_bytes()
        d = c_impl.Deflater(PMD(server_max_window_bits=12), mem_level=5)
        i = c_impl.Inflater(PMD(client_max_window_bits=12))
        d.compress(jsonish(2))
        assert inflate_message(i, payload) == jsonish(2)
        held = mod._zlib_bytes() - before
        assert (HELD_KIB["zlib"]["deflate"][0] + HELD_KIB["zlib"]["inflate"][0]) << 10 <= held
        assert held <= (HELD_KIB["zlib"]["deflate"][1] + HELD_KIB["zlib"]["inflate"][1]) << 10


def test_without_context_takeover_connections_share_a_few_streams(c_impl: Any) -> None:
    mod = c_impl.module("deflate")
    params = PMD(server_no_context_takeover=True, client_no_context_takeover=True)
    payload = c_impl.Deflater(params, client=True).compress(jsonish(9))
    base = mod._zlib_bytes()
    deflaters = [c_impl.Deflater(params) for _ in range(200)]
    inflaters = [c_impl.Inflater(params) for _ in range(200)]
    for d, i in zip(deflaters, inflaters):
        d.compress(jsonish(9))
        assert inflate_message(i, payload) == jsonish(9)
    # 200 connections after a message each: the pool's streams, not 200 of them.
    assert mod._zlib_bytes() - base < 400 << 10


def test_pure_objects_are_lazy_too(py_impl: Any) -> None:
    d, i = py_impl.Deflater(PMD()), py_impl.Inflater(PMD())
    assert d._obj is None and i._obj is None
    d.compress(b"")
    assert d._obj is None
    pooled = py_impl.Inflater(PMD(client_no_context_takeover=True))
    inflate_message(pooled, RFC_HELLO)
    assert pooled._obj is None  # nothing held between messages
    # The output kept for a new stream's window stays about one window long.
    keeping = py_impl.Inflater(PMD(client_max_window_bits=10))
    deflater = py_impl.Deflater(PMD(client_max_window_bits=10), client=True)
    for i in range(300):
        inflate_message(keeping, deflater.compress(jsonish(i)))
        assert keeping._history_len <= 2 * 1024 + 200


# ------------------------------------------------------------------- threads


def test_large_calls_release_the_gil(c_impl: Any) -> None:
    from test_threads import progress_during

    data = bytes(range(256)) * (1 << 16)  # 16 MiB
    deflater = c_impl.Deflater(PMD())
    payload = c_impl.Deflater(PMD()).compress(data)
    deltas = progress_during(lambda: deflater.compress(data), max_rounds=5)
    assert deltas[-1] > 0, "Deflater.compress held the GIL"
    deltas = progress_during(lambda: c_impl.Inflater(PMD()).inflate(payload), max_rounds=5)
    assert deltas[-1] > 0, "Inflater.inflate held the GIL"


def test_two_threads_on_one_object_never_crash(impl: Any) -> None:
    data = b"".join(jsonish(i) for i in range(4000))
    deflater = impl.Deflater(PMD())
    outcomes: List[str] = []

    def work() -> None:
        for _ in range(10):
            try:
                payload = deflater.compress(data)
                outcomes.append("ok" if payload else "empty")
            except RuntimeError:
                outcomes.append("busy")

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 20 and set(outcomes) <= {"ok", "busy"}


# ---------------------------------------------------------------- back ends


@pytest.mark.parametrize("side, params, kwargs, expect", [
    ("deflate", PMD(), {}, "zlib"),
    ("deflate", PMD(server_max_window_bits=15), {"mem_level": 7}, "zlib"),
    ("deflate", PMD(server_max_window_bits=14), {"mem_level": 9}, "zlib"),
    ("deflate", PMD(server_max_window_bits=15), {"mem_level": 8}, "zlib-ng"),  # 342 KiB against 262
    ("deflate", PMD(server_no_context_takeover=True), {}, "zlib-ng"),
    ("deflate", PMD(), {"no_context_takeover": True}, "zlib-ng"),
    ("inflate", PMD(), {}, "zlib-ng"),  # the client's window: 15 unless it says otherwise
    ("inflate", PMD(client_max_window_bits=12), {}, "zlib"),
    ("inflate", PMD(client_max_window_bits=12, client_no_context_takeover=True), {}, "zlib-ng"),
])
def test_auto_chooses_per_stream(impl: Any, side: str, params: Any, kwargs: Any, expect: str) -> None:
    with zlib_backend("auto"):
        obj = impl.Deflater(params, **kwargs) if side == "deflate" else impl.Inflater(params)
    assert f"backend={expect}>" in repr(obj)


@pytest.mark.parametrize("name", ["zlib", "zlib-ng"])
def test_objects_keep_the_back_end_they_were_made_with(impl: Any, name: str) -> None:
    other = "zlib-ng" if name == "zlib" else "zlib"
    with zlib_backend(name):
        d = impl.Deflater(PMD())
        i = impl.Inflater(PMD())
    with zlib_backend(other):
        for n in range(3):
            assert inflate_message(i, d.compress(jsonish(n))) == jsonish(n)
        assert f"backend={name}>" in repr(d) and f"backend={name}>" in repr(i)


def test_back_ends_read_each_other(impl: Any) -> None:
    # Any deflate stream is any inflater's: zlib-ng's output through zlib and
    # back, with context takeover and BFINAL blocks in the way.
    messages = [jsonish(i) * (1 + i % 5) for i in range(20)] + [bytes(70_000), MESSAGES[5]]
    for made, read in (("zlib", "zlib-ng"), ("zlib-ng", "zlib")):
        with zlib_backend(made):
            d = impl.Deflater(PMD(server_max_window_bits=11))
        with zlib_backend(read):
            i = impl.Inflater(PMD(server_max_window_bits=11), client=True)
        for m in messages:
            assert inflate_message(i, d.compress(m)) == m
        final = zlib.compressobj(6, zlib.DEFLATED, -11)
        ended = final.compress(b"final block") + final.flush()
        assert inflate_message(i, ended) == b"final block"
        assert inflate_message(i, d.compress(messages[0])) == messages[0]


@pytest.mark.parametrize("env, expect", [
    (None, ["auto"]), ("", ["auto"]), ("auto", ["auto"]), (" ZLIB ", ["zlib"]), ("zlib-ng", ["zlib-ng"]),
])
def test_wsfast_zlib_chooses_the_back_end(monkeypatch: Any, env: Any, expect: List[str]) -> None:
    from wsfast._permessage_deflate import choose_backend

    if env is None:
        monkeypatch.delenv("WSFAST_ZLIB", raising=False)
    else:
        monkeypatch.setenv("WSFAST_ZLIB", env)
    used: List[str] = []
    choose_backend(used.append)
    assert used == expect


def test_wsfast_zlib_without_zlib_ng(monkeypatch: Any) -> None:
    from wsfast._permessage_deflate import choose_backend

    used: List[str] = []

    def use(name: str) -> None:
        if name != "zlib":
            raise ImportError("No module named 'zlib_ng'")
        used.append(name)

    monkeypatch.setenv("WSFAST_ZLIB", "auto")
    choose_backend(use)
    assert used == ["zlib"]  # auto falls back
    monkeypatch.setenv("WSFAST_ZLIB", "zlib-ng")
    with pytest.raises(RuntimeError, match="WSFAST_ZLIB=zlib-ng, but zlib-ng cannot be used: No module named"):
        choose_backend(use)  # asked for by name: loud
    monkeypatch.setenv("WSFAST_ZLIB", "zlib_ng")
    with pytest.raises(ValueError, match="unknown zlib back end 'zlib_ng'"):
        choose_backend(use)


def test_use_backend_refuses_unknown_names(impl: Any) -> None:
    mod = impl.module("deflate")
    with pytest.raises(ValueError, match="unknown zlib back end"):
        mod.use_backend("isal")


def _import_wsfast(env: str, code: str) -> Any:
    full = dict(os.environ, WSFAST_ZLIB=env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60)


def test_wsfast_zlib_at_import() -> None:
    # Both implementations read it at import; "zlib" keeps every stream on zlib.
    shown = ("from wsfast import _deflate_py, _impl\n"
             "mods = [_deflate_py] + ([_impl.load('cython').module('deflate')] "
             "if _impl.IMPLEMENTATION == 'cython' else [])\n"
             "print(' '.join(m.BACKEND for m in mods))")
    done = _import_wsfast("zlib", shown)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == {"zlib"}
    # Asked for by name and not there: the import fails, it does not fall
    # back to the pure twin.
    done = _import_wsfast("zlib-ng", "import sys\nsys.modules['zlib_ng'] = None\nimport wsfast")
    assert done.returncode != 0
    assert "RuntimeError: WSFAST_ZLIB=zlib-ng, but zlib-ng cannot be used" in done.stderr
    done = _import_wsfast("fast", "import wsfast")
    assert "ValueError: unknown zlib back end 'fast'" in done.stderr
