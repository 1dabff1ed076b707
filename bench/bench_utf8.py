"""UTF-8 validation of one whole message: ASCII and mixed non-ASCII text."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import record, run
from contenders import Unavailable, checked, utf8_contenders

SIZES = [64, 1 << 20]
# Mixed: CJK (3 bytes), Cyrillic and Latin-1 letters (2 bytes), some ASCII,
# and one emoji (4 bytes): every sequence length, no ASCII-only stretch
# longer than a word.
MIXED = "日本語のテキスト Größe текст ñandú 中文 😀 "
CONTENDERS = utf8_contenders()


def text(kind: str, size: int) -> bytes:
    """Exactly ``size`` bytes of valid UTF-8 (padded with ASCII at the end)."""
    unit = ("The quick brown fox jumps over the lazy dog. " if kind == "ascii" else MIXED)
    out = bytearray()
    for ch in unit * (size // len(unit.encode()) + 1):
        enc = ch.encode()
        if len(out) + len(enc) > size:
            break
        out += enc
    out += b" " * (size - len(out))
    return bytes(out)


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
@pytest.mark.parametrize("variant", ["ascii", "mixed"])
@pytest.mark.parametrize("name", list(CONTENDERS))
def test_utf8(benchmark: Any, name: str, variant: str, size: int) -> None:
    kind, factory = CONTENDERS[name]
    record(benchmark, op="utf8", variant=variant, size=size, contender=name,
           kind=kind, nbytes=size)
    data = text(variant, size)
    assert len(data) == size
    try:
        fn, args, kwargs = checked(factory(data), bool, name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    run(benchmark, fn, *args, **kwargs)
