"""UTF-8 validation of one whole message: ASCII and mixed non-ASCII text."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import record, run
from contenders import Unavailable, checked, prepare, utf8_contenders

# The same inputs as `python -m wsfast`: ASCII prose, or CJK (3 bytes),
# Cyrillic and Latin letters (2 bytes), one emoji (4 bytes) and spaces.
from wsfast._selfbench import text

SIZES = [64, 1 << 20]
CONTENDERS = utf8_contenders()


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
        fn, args, kwargs = checked(prepare(kind, name, factory, data), bool, name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    run(benchmark, fn, *args, **kwargs)
