"""permessage-deflate: one message compressed, or inflated, per call, against the peers.

Context takeover, window 15, memLevel 8 and the same level for everyone
(bench/deflate_contenders.py).  Each call takes the next message of a stream
of distinct JSON-like messages (bench/deflate_workload.py), so the window
holds earlier messages, as on a real connection, without ever holding the
same one.  Decoding inflates, in order, the stream the standard library
compressed.  The frame rows decode one masked compressed text frame per
call, whole, through each library's receive path, to the message's text.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import pytest
from deflate_contenders import (
    check_encoded,
    compressed_frames,
    compressed_stream,
    decode_contenders,
    encode_contenders,
    frame_decode_contenders,
)
from deflate_workload import SIZES, stream

from conftest import record, run
from contenders import Unavailable, prepare

LEVELS = [1, 6]
ENCODERS = encode_contenders()
DECODERS = decode_contenders()
FRAME_DECODERS = frame_decode_contenders()


def cycling(fn: Callable[[bytes], bytes], items: list) -> Callable[[], bytes]:
    """Each call handles the next item; the stream wraps around in order
    (the same for every contender: one ``next`` a call)."""
    it = itertools.cycle(items)
    return lambda: fn(next(it))


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
@pytest.mark.parametrize("level", LEVELS, ids=[f"level{lv}" for lv in LEVELS])
@pytest.mark.parametrize("name", list(ENCODERS))
def test_deflate_encode(benchmark: Any, name: str, level: int, size: int) -> None:
    kind, factory = ENCODERS[name]
    messages = stream(size)
    record(benchmark, op="deflate_encode", variant=f"level {level}", size=size, contender=name,
           kind=kind, nbytes=size)
    try:
        check = prepare(kind, name, factory, level)
        if not check_encoded(check, messages[:4]):
            raise AssertionError(f"{name} gave a wrong result; refusing to time it")
        encode = prepare(kind, name, factory, level)
    except Unavailable as exc:
        pytest.skip(str(exc))
    # A first pass fills the window, so that timing starts on a warm connection.
    for m in messages:
        encode(m)
    run(benchmark, cycling(encode, messages))


def time_decoding(benchmark: Any, op: str, contenders: dict, name: str, level: int, size: int,
                  inputs: list, expected: list) -> None:
    """Check one contender's output on every input, then time it, an input a call."""
    kind, factory = contenders[name]
    record(benchmark, op=op, variant=f"level {level}", size=size, contender=name, kind=kind, nbytes=size)
    try:
        decode = prepare(kind, name, factory)
        if [decode(item) for item in inputs] != expected:
            raise AssertionError(f"{name} gave a wrong result; refusing to time it")
    except Unavailable as exc:
        pytest.skip(str(exc))
    run(benchmark, cycling(decode, inputs))


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
@pytest.mark.parametrize("level", LEVELS, ids=[f"level{lv}" for lv in LEVELS])
@pytest.mark.parametrize("name", list(DECODERS))
def test_deflate_decode(benchmark: Any, name: str, level: int, size: int) -> None:
    messages = stream(size)
    time_decoding(benchmark, "deflate_decode", DECODERS, name, level, size,
                  compressed_stream(messages, level), messages)


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
@pytest.mark.parametrize("level", LEVELS, ids=[f"level{lv}" for lv in LEVELS])
@pytest.mark.parametrize("name", list(FRAME_DECODERS))
def test_deflate_frame_decode(benchmark: Any, name: str, level: int, size: int) -> None:
    messages = stream(size)
    time_decoding(benchmark, "deflate_frame_decode", FRAME_DECODERS, name, level, size,
                  compressed_frames(messages, level), [m.decode() for m in messages])
