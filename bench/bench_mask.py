"""Masking: apply_mask (new bytes) and in-place, 8 B to 16 MiB."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import record, run
from contenders import Unavailable, apply_mask_contenders, checked, mask_inplace_contenders, prepare, xor_reference

SIZES = [8, 16, 64, 125, 1 << 10, 4 << 10, 64 << 10, 1 << 20, 16 << 20]
MASK = b"\x37\xfa\x21\x3d"
APPLY = apply_mask_contenders()
INPLACE = mask_inplace_contenders()
each_size = pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])


def payload(size: int) -> bytes:
    # Not all zeros: a kernel that skipped work would show up in the check.
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


@each_size
@pytest.mark.parametrize("name", list(APPLY))
def test_apply_mask(benchmark: Any, name: str, size: int) -> None:
    kind, factory = APPLY[name]
    record(benchmark, op="apply_mask", variant="", size=size, contender=name,
           kind=kind, nbytes=size)
    data = payload(size)
    expected = data if name == "copy" else xor_reference(data, MASK)
    try:
        call = checked(prepare(kind, name, factory, data, MASK), lambda out: bytes(out) == expected, name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    fn, args, kwargs = call
    run(benchmark, fn, *args, **kwargs)


@each_size
@pytest.mark.parametrize("name", list(INPLACE))
def test_mask_inplace(benchmark: Any, name: str, size: int) -> None:
    kind, factory = INPLACE[name]
    record(benchmark, op="mask_inplace", variant="", size=size, contender=name,
           kind=kind, nbytes=size)
    data = payload(size)
    buf = bytearray(data)
    expected = data if name == "copy" else xor_reference(data, MASK)
    try:
        call = prepare(kind, name, factory, buf, MASK)
        checked(call, lambda out: out is None or bytes(out) == data, name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    if name != "copy" and bytes(buf) != expected:
        raise AssertionError(f"{name} masked wrongly; refusing to time it")
    # Masking twice restores the data, so rounds keep XOR-ing the same buffer.
    fn, args, kwargs = call
    run(benchmark, fn, *args, **kwargs)
