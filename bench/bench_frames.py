"""The frame layer: Decoder frames per 64 KiB read, and encode_frame per call."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import record, run, run_fresh
from contenders import Unavailable, checked, decoder_contenders, encoder_contenders, frame_stream, is_frame, prepare

FRAME_SIZES = [0, 16, 125, 1 << 10]
DECODERS = decoder_contenders()
ENCODERS = encoder_contenders()
# Writers that hand the frame to a transport check it themselves.
WRITES_TO_TRANSPORT = {"picows", "aiohttp"}


@pytest.mark.parametrize("size", FRAME_SIZES, ids=[f"{s}B" for s in FRAME_SIZES])
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("name", list(DECODERS))
def test_decoder(benchmark: Any, name: str, masked: bool, size: int) -> None:
    kind, factory = DECODERS[name]
    stream, count = frame_stream(size, masked)
    record(benchmark, op="decoder", variant="masked" if masked else "unmasked",
           size=size, contender=name, kind=kind, nbytes=len(stream), frames=count)
    try:
        made = prepare(kind, name, factory, stream, count, masked)
        if made[0] == "setup":
            _, setup, target = made
            args, kwargs = setup()
            checked((target, args, kwargs), lambda events: len(events) == count, name)
            run_fresh(benchmark, setup, target)
            return
        checked(made, lambda events: len(events) == count, name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    fn, args, kwargs = made
    run(benchmark, fn, *args, **kwargs)


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("name", list(ENCODERS))
def test_encode_frame(benchmark: Any, name: str, masked: bool) -> None:
    kind, factory = ENCODERS[name]
    payload = bytes(range(16))
    record(benchmark, op="encode_frame", variant="masked" if masked else "unmasked",
           size=len(payload), contender=name, kind=kind, nbytes=len(payload))
    try:
        call = prepare(kind, name, factory, payload, masked)
        if name not in WRITES_TO_TRANSPORT:
            checked(call, lambda out: is_frame(out, payload, masked), name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    fn, args, kwargs = call
    run(benchmark, fn, *args, **kwargs)
