"""Every unit reads multi-dimensional strided buffers in logical (C) order.

PyPy 7.3's memoryview.tobytes() gets these wrong (and aborts on negative
strides), so the pure twin reads them through wsfast._buffers; these cases
would catch a unit that went back to tobytes() when run on PyPy.
"""

from __future__ import annotations

from typing import Any

import pytest

SRC = bytes(range(48))
KEY = b"\x01\x80\x7f\xff"


def views(data: bytearray) -> dict[str, memoryview]:
    grid = memoryview(data).cast("B", (6, 8))
    return {"2d-every-other-row": grid[::2], "2d-reversed-rows": grid[::-2]}


def expected(name: str) -> bytes:
    rows = range(0, 6, 2) if name == "2d-every-other-row" else (5, 3, 1)
    return b"".join(SRC[i * 8 : (i + 1) * 8] for i in rows)


NAMES = ["2d-every-other-row", "2d-reversed-rows"]


def xor(data: bytes) -> bytes:
    return bytes(b ^ KEY[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("name", NAMES)
def test_mask_reads_and_writes_logical_order(impl: Any, name: str) -> None:
    view = views(bytearray(SRC))[name]
    assert not view.c_contiguous and view.ndim == 2
    assert impl.apply_mask(view, KEY) == xor(expected(name))
    buf = bytearray(SRC)
    impl.apply_mask_inplace(views(buf)[name], KEY)
    # tolist(), not tobytes(): the latter is what PyPy gets wrong.
    assert bytes(b for row in views(buf)[name].tolist() for b in row) == xor(expected(name))
    # Rows the view does not cover are untouched.
    untouched = [i for i in range(6) if SRC[i * 8 : i * 8 + 8] not in expected(name)]
    assert all(buf[i * 8 : i * 8 + 8] == SRC[i * 8 : i * 8 + 8] for i in untouched)


@pytest.mark.parametrize("name", NAMES)
def test_utf8_frames_and_decoder_read_logical_order(impl: Any, name: str) -> None:
    view = views(bytearray(SRC))[name]
    payload = expected(name)
    assert impl.validate_utf8(view) == impl.validate_utf8(payload)
    frame = impl.encode_frame(2, view)
    assert frame == impl.encode_frame(2, payload)
    # The Decoder reads the frame from a strided 2-D view: its two halves sit
    # in rows 0 and 2 of a 4-row grid.
    assert len(frame) % 2 == 0
    width = len(frame) // 2
    grid = bytearray(4 * width)
    grid[0:width] = frame[:width]
    grid[2 * width : 3 * width] = frame[width:]
    strided = memoryview(grid).cast("B", (4, width))[::2]
    assert not strided.c_contiguous
    (event,) = impl.Decoder(client=True).feed(strided)
    assert event.data == payload
