"""The connection: the cost of one echoed message, against the bare codec and the peers.

One masked binary frame from a client goes in, its echo comes out:
``receive_data`` + ``send`` + ``data_to_send`` for wsfast's ServerConnection,
``Decoder.feed`` + ``encode_frame`` for the bare codec (what the connection
adds is the difference), websockets' ``ServerProtocol`` and wsproto's
``Connection`` doing the same work.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import record, run
from contenders import Unavailable, build_frame, checked, echo_contenders, prepare

SIZES = [32, 1 << 10, 64 << 10]
ECHOERS = echo_contenders()


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
@pytest.mark.parametrize("name", list(ECHOERS))
def test_echo(benchmark: Any, name: str, size: int) -> None:
    kind, factory = ECHOERS[name]
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    frame = build_frame(payload, b"\x9a\x0b\x3c\x4d")
    record(benchmark, op="echo", variant="", size=size, contender=name, kind=kind, nbytes=size)
    try:
        call = prepare(kind, name, factory, frame)
        checked(call, lambda out: bytes(out) == build_frame(payload, None), name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    fn, args, kwargs = call
    run(benchmark, fn, *args, **kwargs)
