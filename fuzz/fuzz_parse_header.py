"""Differential fuzz target: parse_header.

Input layout (see fuzz/make_corpus.py): offset byte, buffer-kind byte, then
the bytes.  Offsets run past the end, and the high bit gives negative and
huge ones.

Beyond compiled == pure, a header that parses must say what its bytes say
(RFC 6455 §5.2 fixes the layout, whatever a parser's policy on the values),
and None must mean that the bytes really end before the header does.
"""

from __future__ import annotations

from typing import Any, Optional

from _common import KINDS, Reader, allowed, as_buffer, expect, implementations, main, outcome, same

ERRORS = ("ProtocolError", "ValueError", "TypeError", "IndexError", "OverflowError")


def offset_of(code: int, size: int) -> int:
    if code < 0x80:
        return code % (size + 3)  # up to two bytes past the end
    if code < 0xC0:
        return -(code & 0x3F) - 1
    return (1 << 62) + (code & 0x3F)


def layout(buf: bytes) -> Optional[tuple[Any, ...]]:
    """The fields the bytes carry, or None if the header is cut short."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = int.from_bytes(buf[2:10], "big"), 10
    mask = None
    if b1 & 0x80:
        if len(buf) < pos + 4:
            return None
        mask, pos = bytes(buf[pos : pos + 4]), pos + 4
    return (bool(b0 & 0x80), bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10), b0 & 0x0F, mask, n, pos)


def check(raw: bytes) -> None:
    impls = implementations()
    r = Reader(raw)
    code = r.byte()
    kind = KINDS[r.byte() % len(KINDS)]
    data = r.rest()
    offset = offset_of(code, len(data))
    results = [outcome(i.parse_header, as_buffer(data, kind), offset) for i in impls]
    same(results[0], results[1], f"parse_header({kind}, offset={offset})")
    res = results[0]
    allowed(res, ERRORS, "parse_header")
    if res[0] != "ok" or not 0 <= offset <= len(data):
        return
    expected = layout(data[offset:])
    if res[1] is None:
        expect(expected, None, "parse_header gave None for a complete header")
    else:
        expect(tuple(res[1]), expected, "parse_header fields vs the bytes")
        expect(type(res[1]).__name__, "FrameHeader", "parse_header result type")
    # An error must not depend on how much follows the header: the same
    # prefix with more bytes after it gives the same verdict.
    if res[1] is not None:
        longer = outcome(impls[0].parse_header, as_buffer(data + b"\0" * 16, kind), offset)
        expect(longer, res, "parse_header with trailing bytes")


if __name__ == "__main__":
    main(check, ["wsfast._frames_py"])
