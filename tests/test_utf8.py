"""UTF-8 validation (RFC 3629; RFC 6455 §5.6, §8.1): validate_utf8 and Utf8Validator.

Every test runs over the pure-Python implementation and every SIMD variant of
the compiled one.  Expected results come from ``oracle()`` below, written
from the table of well-formed byte sequences (Unicode 15, Table 3-7), not
from either implementation.
"""

from __future__ import annotations

import array
import itertools
import mmap
import os
import re
import subprocess
import sys
from typing import Iterator, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import compiled_available

# --------------------------------------------------------------------- oracle

# Table 3-7: the well-formed sequences, one alternative per row.
_ROWS = [
    b"[\x00-\x7f]",
    b"[\xc2-\xdf][\x80-\xbf]",
    b"\xe0[\xa0-\xbf][\x80-\xbf]",
    b"[\xe1-\xec\xee\xef][\x80-\xbf][\x80-\xbf]",
    b"\xed[\x80-\x9f][\x80-\xbf]",
    b"\xf0[\x90-\xbf][\x80-\xbf][\x80-\xbf]",
    b"[\xf1-\xf3][\x80-\xbf][\x80-\xbf][\x80-\xbf]",
    b"\xf4[\x80-\x8f][\x80-\xbf][\x80-\xbf]",
]
_WELL_FORMED = re.compile(b"(?:" + b"|".join(_ROWS) + b")*", re.S)
# A proper prefix of one row: a code point that is not finished yet.
_PARTIAL = re.compile(
    b"\xe0[\xa0-\xbf]?|\xed[\x80-\x9f]?|[\xe1-\xec\xee\xef][\x80-\xbf]?"
    b"|\xf0(?:[\x90-\xbf][\x80-\xbf]?)?|[\xf1-\xf3](?:[\x80-\xbf][\x80-\xbf]?)?"
    b"|\xf4(?:[\x80-\x8f][\x80-\xbf]?)?|[\xc2-\xdf]",
    re.S,
)


def oracle(data: bytes) -> Tuple[Optional[int], bool]:
    """(offset of the earliest impossible byte or None, ends on a boundary)."""
    m = _WELL_FORMED.match(data)
    assert m is not None
    end = m.end()
    if end == len(data):
        return None, True
    # The longest unfinished code point at `end`.
    longest = 0
    for k in range(1, 4):
        if end + k <= len(data) and _PARTIAL.fullmatch(data, end, end + k):
            longest = k
    if end + longest == len(data):
        return None, False
    return end + longest, False


def expected_valid(data: bytes) -> bool:
    error, boundary = oracle(data)
    return error is None and boundary


def feed_chunks(impl, chunks: Sequence[bytes]) -> Tuple[List[bool], object]:
    v = impl.Utf8Validator()
    return [v.feed(c) for c in chunks], v


def check_chunked(impl, data: bytes, cuts: Sequence[int]) -> None:
    """Feed data cut at `cuts`; every feed result and the final state must
    match the oracle, the failing feed being the one holding the bad byte."""
    bounds = [0, *cuts, len(data)]
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    results, v = feed_chunks(impl, chunks)
    error, boundary = oracle(data)
    for b, ok in zip(bounds[1:], results):
        assert ok == (error is None or error >= b), (data, cuts, results)
    assert v.error_offset == error, (data, cuts)
    assert v.at_boundary == (error is None and boundary)
    assert v.finish() == (error is None and boundary)


# ------------------------------------------------------------------ the cases

KOSME = "κόσμε".encode()

# (name, bytes): Markus Kuhn's UTF-8 decoder stress test, by section.  The
# expected outcome of each is the oracle's; a few are also spelled out below.
KUHN: List[Tuple[str, bytes]] = [
    # 1. correct text
    ("1 kosme", KOSME),
    # 2.1 first possible sequence of each length
    ("2.1.1 U+0000", b"\x00"),
    ("2.1.2 U+0080", b"\xc2\x80"),
    ("2.1.3 U+0800", b"\xe0\xa0\x80"),
    ("2.1.4 U+10000", b"\xf0\x90\x80\x80"),
    ("2.1.5 5-byte", b"\xf8\x88\x80\x80\x80"),
    ("2.1.6 6-byte", b"\xfc\x84\x80\x80\x80\x80"),
    # 2.2 last possible sequence of each length
    ("2.2.1 U+007F", b"\x7f"),
    ("2.2.2 U+07FF", b"\xdf\xbf"),
    ("2.2.3 U+FFFF", b"\xef\xbf\xbf"),
    ("2.2.4 U+1FFFFF", b"\xf7\xbf\xbf\xbf"),
    ("2.2.5 5-byte", b"\xfb\xbf\xbf\xbf\xbf"),
    ("2.2.6 6-byte", b"\xfd\xbf\xbf\xbf\xbf\xbf"),
    # 2.3 other boundaries
    ("2.3.1 U+D7FF", b"\xed\x9f\xbf"),
    ("2.3.2 U+E000", b"\xee\x80\x80"),
    ("2.3.3 U+FFFD", b"\xef\xbf\xbd"),
    ("2.3.4 U+10FFFF", b"\xf4\x8f\xbf\xbf"),
    ("2.3.5 U+110000", b"\xf4\x90\x80\x80"),
    # 3.1 unexpected continuation bytes
    ("3.1.1 80", b"\x80"),
    ("3.1.2 bf", b"\xbf"),
    ("3.1.3 80bf", b"\x80\xbf"),
    ("3.1.4 80bf80", b"\x80\xbf\x80"),
    ("3.1.9 all continuations", bytes(range(0x80, 0xC0))),
    ("3.1 after text", KOSME + b"\x80"),
    # 3.2 lonely start characters, each followed by a space
    *[(f"3.2 lonely {b:02x}", bytes([b, 0x20])) for b in range(0xC0, 0x100)],
    # 3.3 sequences with the last continuation byte missing
    ("3.3.1 C0", b"\xc0"),
    ("3.3.2 E0 80", b"\xe0\x80"),
    ("3.3.3 F0 80 80", b"\xf0\x80\x80"),
    ("3.3.4 F8 80 80 80", b"\xf8\x80\x80\x80"),
    ("3.3.5 FC 80 80 80 80", b"\xfc\x80\x80\x80\x80"),
    ("3.3.6 DF", b"\xdf"),
    ("3.3.7 EF BF", b"\xef\xbf"),
    ("3.3.8 F7 BF BF", b"\xf7\xbf\xbf"),
    ("3.3.9 FB BF BF BF", b"\xfb\xbf\xbf\xbf"),
    ("3.3.10 FD BF BF BF BF", b"\xfd\xbf\xbf\xbf\xbf"),
    ("3.3 valid missing last E1", b"\xe1\x80"),
    ("3.3 valid missing last F1", b"\xf1\x80\x80"),
    ("3.3 valid missing last F4", b"\xf4\x8f\xbf"),
    ("3.4 concatenated", b"\xc0\xe0\x80\xf0\x80\x80\xdf\xef\xbf\xf7\xbf\xbf"),
    ("3.4 valid truncations then text", b"\xdf\xef\xbfa"),
    # 3.5 impossible bytes
    ("3.5.1 FE", b"\xfe"),
    ("3.5.2 FF", b"\xff"),
    ("3.5.3 FE FE FF FF", b"\xfe\xfe\xff\xff"),
    # 4.1 overlong slash
    ("4.1.1 C0 AF", b"\xc0\xaf"),
    ("4.1.2 E0 80 AF", b"\xe0\x80\xaf"),
    ("4.1.3 F0 80 80 AF", b"\xf0\x80\x80\xaf"),
    ("4.1.4 F8 80 80 80 AF", b"\xf8\x80\x80\x80\xaf"),
    ("4.1.5 FC 80 80 80 80 AF", b"\xfc\x80\x80\x80\x80\xaf"),
    # 4.2 maximum overlong sequences
    ("4.2.1 C1 BF", b"\xc1\xbf"),
    ("4.2.2 E0 9F BF", b"\xe0\x9f\xbf"),
    ("4.2.3 F0 8F BF BF", b"\xf0\x8f\xbf\xbf"),
    ("4.2.4 F8 87 BF BF BF", b"\xf8\x87\xbf\xbf\xbf"),
    # 4.3 overlong NUL
    ("4.3.1 C0 80", b"\xc0\x80"),
    ("4.3.2 E0 80 80", b"\xe0\x80\x80"),
    ("4.3.3 F0 80 80 80", b"\xf0\x80\x80\x80"),
    # 5.1 single surrogates
    *[(f"5.1 {s.hex()}", s) for s in (
        b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf",
        b"\xed\xb0\x80", b"\xed\xbe\x80", b"\xed\xbf\xbf")],
    # 5.2 paired surrogates
    ("5.2.1 pair", b"\xed\xa0\x80\xed\xb0\x80"),
    ("5.2.8 pair", b"\xed\xaf\xbf\xed\xbf\xbf"),
    # 5.3 noncharacters: valid UTF-8
    ("5.3.1 U+FFFE", b"\xef\xbf\xbe"),
    ("5.3.2 U+FFFF", b"\xef\xbf\xbf"),
    ("5.3.3 U+FDD0..FDEF", "".join(map(chr, range(0xFDD0, 0xFDF0))).encode()),
    ("5.3.4 U+nFFFE/nFFFF", "".join(chr(p * 0x10000 + 0xFFFE) + chr(p * 0x10000 + 0xFFFF)
                                    for p in range(1, 17)).encode()),
]

# Spelled out: the earliest impossible byte of some of the above.
EARLIEST = [
    (b"\xed\xa0\x80", 1),
    (b"\xed\xbf\xbf", 1),
    (b"\xf4\x90\x80\x80", 1),
    (b"\xc0\x80", 0),
    (b"\xc1\xbf", 0),
    (b"\xf5\x80\x80\x80", 0),
    (b"\xff", 0),
    (b"\xe0\x80\x80", 1),
    (b"\xe0\x9f\xbf", 1),
    (b"\xf0\x80\x80\x80", 1),
    (b"\xf0\x8f\xbf\xbf", 1),
    (b"\x80", 0),
    (b"a\xc3a", 2),
    (b"\xe1\x80a", 2),
    (b"\xf1\x80\x80a", 3),
    (b"\xf1\x80\x80\xc3\xa9", 3),
    (KOSME + b"\xed\xa0\x80edited", len(KOSME) + 1),
    (KOSME + b"\xf4\x90\x80\x80edited", len(KOSME) + 1),
]

VALID_TEXTS = [
    "Hello-µ@ßöäüàá-UTF-8!!",
    "κόσμε",
    "中文字 and ascii",
    "😀 emoji 𝄞 clef",
    "\U0010ffff\U00010000\u0800\u07ff\u0080\x7f\x00",
    "\ufffe\uffff\ufdd0\U0001fffe",
]


def cases() -> Iterator[Tuple[str, bytes]]:
    yield from KUHN
    for data, _ in EARLIEST:
        yield f"earliest {data.hex()}", data
    for text in VALID_TEXTS:
        yield f"valid {text!r}", text.encode()


CASES = list(cases())


# -------------------------------------------------------------------- oracle


def test_oracle_agrees_with_python_on_validity() -> None:
    # The oracle is only as good as this: it must call valid exactly what
    # Python's strict decoder decodes.
    for _, data in CASES:
        try:
            data.decode("utf-8")
            ok = True
        except UnicodeDecodeError:
            ok = False
        assert expected_valid(data) == ok, data


@pytest.mark.parametrize("data,offset", EARLIEST)
def test_oracle_earliest_byte(data: bytes, offset: int) -> None:
    assert oracle(data)[0] == offset


# ------------------------------------------------------------ the stress test


@pytest.mark.parametrize("name,data", CASES, ids=[c[0] for c in CASES])
def test_stress_case(simd_impl, name: str, data: bytes) -> None:
    error, boundary = oracle(data)
    assert simd_impl.validate_utf8(data) is (error is None and boundary)
    for prefix in (b"", KOSME, b"x" * 61):  # also right before a SIMD block edge
        whole = prefix + data
        v = simd_impl.Utf8Validator()
        assert v.feed(whole) is (error is None)
        assert v.error_offset == (None if error is None else len(prefix) + error)
        assert v.at_boundary is (error is None and boundary)
        assert v.finish() is (error is None and boundary)
        assert simd_impl.validate_utf8(whole) is (error is None and boundary)
        assert simd_impl.validate_utf8(whole + b"tail" * 20) is (error is None and boundary)


@pytest.mark.parametrize("data,offset", EARLIEST)
def test_fails_at_the_byte_when_fed_byte_by_byte(simd_impl, data: bytes, offset: int) -> None:
    v = simd_impl.Utf8Validator()
    results = [v.feed(data[i:i + 1]) for i in range(len(data))]
    assert results == [i < offset for i in range(len(data))]
    assert v.error_offset == offset


def test_noncharacters_are_valid(simd_impl) -> None:
    for cp in [0xFFFE, 0xFFFF, *range(0xFDD0, 0xFDF0), 0x1FFFE, 0x10FFFE, 0x10FFFF]:
        assert simd_impl.validate_utf8(chr(cp).encode()), hex(cp)


def test_every_code_point_boundary(simd_impl) -> None:
    # The edges of each row of Table 3-7 and one past each, alone.
    for cp in (0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xCFFF, 0xD000, 0xD7FF,
               0xE000, 0xFFFF, 0x10000, 0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF):
        assert simd_impl.validate_utf8(chr(cp).encode()), hex(cp)


def test_every_two_byte_pair(simd_impl) -> None:
    # All 65536 two-byte inputs, each at the start and just before a block edge.
    v_cls = simd_impl.Utf8Validator
    for pad in (b"", b"a" * 31):  # the pair straddles a block edge
        blob_ok = []
        for a in range(256):
            for b in range(0, 256, 1):
                data = pad + bytes((a, b))
                error, boundary = oracle(data)
                v = v_cls()
                ok = v.feed(data)
                if ok != (error is None) or v.error_offset != error or v.at_boundary != (error is None and boundary):
                    blob_ok.append(data)
        assert blob_ok == []


# ------------------------------------------------------- Autobahn 6.x, chunked


def all_cuts(n: int) -> Iterator[Tuple[int, ...]]:
    """Every way to cut n bytes into pieces (2**(n-1) of them)."""
    for mask in range(1 << max(n - 1, 0)):
        yield tuple(i + 1 for i in range(n - 1) if mask >> i & 1)


SHORT = [data for _, data in CASES if len(data) <= 8]


@pytest.mark.parametrize("data", SHORT, ids=[d.hex() for d in SHORT])
def test_every_chunking_of_short_sequences(simd_impl, data: bytes) -> None:
    for cuts in all_cuts(len(data)):
        check_chunked(simd_impl, data, cuts)


@pytest.mark.parametrize("text", VALID_TEXTS)
def test_valid_text_in_every_split(simd_impl, text: str) -> None:
    # Autobahn 6.2: one piece, every split into two, and one byte at a time.
    data = text.encode()
    check_chunked(simd_impl, data, ())
    for cut in range(len(data) + 1):
        results, v = feed_chunks(simd_impl, [data[:cut], data[cut:]])
        assert results == [True, True] and v.finish() and v.at_boundary
    results, v = feed_chunks(simd_impl, [data[i:i + 1] for i in range(len(data))])
    assert all(results) and v.finish()


def test_at_boundary_tracks_each_byte(simd_impl) -> None:
    data = "aé中😀".encode()
    starts = {0, 1, 3, 6, 10}
    v = simd_impl.Utf8Validator()
    assert v.at_boundary and v.error_offset is None and v.finish()
    for i in range(len(data)):
        assert v.feed(data[i:i + 1])
        assert v.at_boundary == (i + 1 in starts), i
        assert v.finish() == (i + 1 in starts)


FAIL_FAST = [
    # Autobahn 6.3.x / 6.4.x: valid text, then the impossible byte, then more.
    KOSME + b"\xed\xa0\x80edited",
    KOSME + b"\xf4\x90\x80\x80edited",
    KOSME + b"\xc0\x80edited",
    KOSME + b"\xe0\x80\x80edited",
    KOSME + b"\xf0\x80\x80\x80edited",
    KOSME + b"\xf5\x80\x80\x80edited",
    KOSME + b"\x80edited",
]


@pytest.mark.parametrize("data", FAIL_FAST, ids=[d.hex() for d in FAIL_FAST])
def test_fail_fast_in_any_fragmentation(simd_impl, data: bytes) -> None:
    error = oracle(data)[0]
    assert error is not None
    # Single cuts and pairs of cuts everywhere, and fixed-size fragments.
    for cut in range(len(data) + 1):
        check_chunked(simd_impl, data, (cut,))
        for cut2 in range(cut, min(cut + 5, len(data)) + 1):
            check_chunked(simd_impl, data, (cut, cut2))
    for size in (1, 2, 3, 4, 5, 7):
        check_chunked(simd_impl, data, tuple(range(size, len(data), size)))


def test_autobahn_6_4_fragments_fail_on_the_fragment_with_the_bad_byte(simd_impl) -> None:
    # 6.4.1: "κόσμε" + F4, then 90 80 80 + "edited": the second fragment fails.
    v = simd_impl.Utf8Validator()
    assert v.feed(KOSME + b"\xf4") is True
    assert v.feed(b"\x90\x80\x80edited") is False
    assert v.error_offset == len(KOSME) + 1
    # 6.4.3: the same with the bad sequence's bytes in separate fragments.
    v = simd_impl.Utf8Validator()
    assert v.feed(KOSME) is True
    assert v.feed(b"\xf4") is True
    assert v.feed(b"\x90") is False
    assert v.error_offset == len(KOSME) + 1


# ----------------------------------------------- errors near SIMD block edges


def mixed_text(n: int, seed: int) -> bytes:
    """n bytes of valid text mixing 1-, 2-, 3- and 4-byte code points."""
    pieces = ["a", "é", "中", "😀", "z", "ß", "\uffff", "\U0010ffff", " "]
    out = bytearray()
    i = seed
    while len(out) < n:
        piece = pieces[(i * 7 + i // 3) % len(pieces)].encode()
        i += 1
        if len(out) + len(piece) > n:
            out += b"x" * (n - len(out))
        else:
            out += piece
    return bytes(out)


def code_point_starts(data: bytes) -> List[int]:
    return [i for i, b in enumerate(data) if not 0x80 <= b < 0xC0]


CORRUPTIONS = {
    "ff": lambda d, i: d[:i] + b"\xff" + d[i + 1:],
    "lone-continuation": lambda d, i: d[:i] + b"\x80" + d[i:],
    "surrogate": lambda d, i: d[:i] + b"\xed\xa0\x80" + d[i:],
    "too-large": lambda d, i: d[:i] + b"\xf4\x90\x80\x80" + d[i:],
    "overlong-2": lambda d, i: d[:i] + b"\xc1\xbf" + d[i:],
    "overlong-3": lambda d, i: d[:i] + b"\xe0\x9f\xbf" + d[i:],
    "overlong-4": lambda d, i: d[:i] + b"\xf0\x8f\xbf\xbf" + d[i:],
    "truncated-3": lambda d, i: d[:i] + b"\xe4\xb8" + d[i:],
    "truncated-4": lambda d, i: d[:i] + b"\xf0\x9f\x98" + d[i:],
    "missing-lead": lambda d, i: d[:i] + d[i + 1:],
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_error_at_every_position_near_block_edges(simd_impl, kind: str) -> None:
    corrupt = CORRUPTIONS[kind]
    for seed in (0, 1, 2):
        base = mixed_text(200, seed)
        assert simd_impl.validate_utf8(base)
        for pos in range(131):
            data = corrupt(base, pos)
            error, boundary = oracle(data)
            valid = error is None and boundary
            assert simd_impl.validate_utf8(data) is valid, (kind, seed, pos)
            v = simd_impl.Utf8Validator()
            assert v.feed(data) is (error is None), (kind, seed, pos)
            assert v.error_offset == error, (kind, seed, pos)
            # And at an odd alignment, through a memoryview slice.
            shifted = memoryview(b"#" + data)[1:]
            assert simd_impl.validate_utf8(shifted) is valid


def test_long_inputs_with_an_error_near_the_end(simd_impl) -> None:
    # Long enough to run without the GIL (64 KiB and up).
    base = mixed_text(200_003, 5)
    assert simd_impl.validate_utf8(base)
    assert simd_impl.validate_utf8(bytearray(base))
    for pos in (65_536, 131_071, 199_999):
        starts = code_point_starts(base)
        at = min(s for s in starts if s >= pos)
        data = base[:at] + b"\xff" + base[at:]
        assert not simd_impl.validate_utf8(data)
        v = simd_impl.Utf8Validator()
        assert v.feed(data[:100_000]) is (at >= 100_000)
        v.feed(data[100_000:])
        assert v.error_offset == at
    # A long input that ends inside a code point.
    v = simd_impl.Utf8Validator()
    assert v.feed(base + "中".encode()[:2])
    assert not v.at_boundary and not v.finish()
    assert not simd_impl.validate_utf8(base + b"\xf0")


def test_long_ascii_then_one_bad_byte(simd_impl) -> None:
    for n in (15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000):
        for bad in (b"\x80", b"\xc0", b"\xf5", b"\xed\xa0"):
            data = b"a" * n + bad
            v = simd_impl.Utf8Validator()
            assert v.feed(data) is False
            assert v.error_offset == n + (1 if bad == b"\xed\xa0" else 0)
        # A lead byte last: not an error yet.
        v = simd_impl.Utf8Validator()
        assert v.feed(b"a" * n + b"\xf0") is True
        assert not v.at_boundary and not v.finish()


# ------------------------------------------------------- validator behaviour


def test_stays_failed_until_reset(simd_impl) -> None:
    v = simd_impl.Utf8Validator()
    assert v.feed(b"ab") is True
    assert v.feed(b"c\xffd") is False
    assert v.error_offset == 3
    assert v.feed(b"valid") is False  # nothing fed after a failure counts
    assert v.feed(b"") is False
    assert v.error_offset == 3
    assert not v.at_boundary and not v.finish()
    v.reset()
    assert v.error_offset is None and v.at_boundary and v.finish()
    assert v.feed(b"\xc3") and not v.at_boundary
    v.reset()
    assert v.at_boundary and v.feed(b"\xa9") is False and v.error_offset == 0


def test_finish_changes_nothing(simd_impl) -> None:
    v = simd_impl.Utf8Validator()
    assert v.feed(b"a\xe4\xb8")
    assert v.finish() is False
    assert v.finish() is False
    assert v.error_offset is None
    # The stream goes on after finish(): it was only a question.
    assert v.feed(b"\xad")
    assert v.finish() is True and v.at_boundary


def test_error_offset_counts_from_reset_across_feeds(simd_impl) -> None:
    v = simd_impl.Utf8Validator()
    for _ in range(10):
        assert v.feed("é中".encode())
    assert v.feed(b"ok\xed\xbf") is False
    assert v.error_offset == 10 * 5 + 3


def test_empty_input(simd_impl) -> None:
    assert simd_impl.validate_utf8(b"") is True
    assert simd_impl.validate_utf8(bytearray()) is True
    assert simd_impl.validate_utf8(memoryview(b"")) is True
    v = simd_impl.Utf8Validator()
    assert v.feed(b"") is True and v.at_boundary and v.finish()
    assert v.feed(b"\xe4") and v.feed(b"") and not v.at_boundary


# -------------------------------------------------------------- buffer types


def buffer_forms(data: bytes) -> Iterator[Tuple[str, object]]:
    yield "bytes", data
    yield "bytearray", bytearray(data)
    yield "memoryview", memoryview(data)
    yield "array-B", array.array("B", data)
    if len(data) % 4 == 0 and data:
        yield "array-I", array.array("I", data)  # items of 4 bytes: the same bytes
        yield "2d", memoryview(data).cast("B", (len(data) // 4, 4))
    spread = bytes(itertools.chain.from_iterable((b, 0x2A) for b in data))
    yield "strided", memoryview(spread)[::2]
    yield "reversed", memoryview(data[::-1])[::-1]
    if len(data) % 4 == 0 and data:
        # Non-contiguous in two dimensions: every other row.
        rows = bytes(itertools.chain.from_iterable(
            data[i:i + 4] + b"****" for i in range(0, len(data), 4)))
        yield "2d-strided", memoryview(rows).cast("B", (len(rows) // 4, 4))[::2]
        yield "2d-strided-I", memoryview(rows).cast("I", (len(rows) // 4, 1))[::2]
        backwards = b"".join(data[i - 4:i] for i in range(len(data), 0, -4))
        yield "2d-reversed", memoryview(backwards).cast("B", (len(data) // 4, 4))[::-1]


BUFFER_DATA = [
    b"",
    "héllo wörld 中文 😀!".encode(),
    "中文字".encode() * 40 + b"abcd" * 8,
    b"abc\xed\xa0\x80def",
    b"\xc3",
    "é".encode() * 5000,  # past the gather buffer of the strided path
    "é".encode() * 5000 + b"\xff" + b"ab",
    "é".encode() * 40000,  # past the no-GIL threshold
]


@pytest.mark.parametrize("data", BUFFER_DATA, ids=range(len(BUFFER_DATA)))
def test_every_buffer_type(simd_impl, data: bytes) -> None:
    error, boundary = oracle(data)
    for name, obj in buffer_forms(data):
        assert simd_impl.validate_utf8(obj) is (error is None and boundary), name
        v = simd_impl.Utf8Validator()
        assert v.feed(obj) is (error is None), name
        assert v.error_offset == error, name


def test_mmap(simd_impl, tmp_path) -> None:
    path = tmp_path / "text"
    path.write_bytes("ünïcode".encode() * 100)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert simd_impl.validate_utf8(m)
        v = simd_impl.Utf8Validator()
        assert v.feed(m) and v.finish()


def test_buffers_are_released(simd_impl) -> None:
    # A bytearray can be resized again once validation returned.
    buf = bytearray(b"abc\xc3")
    v = simd_impl.Utf8Validator()
    assert v.feed(buf)
    assert simd_impl.validate_utf8(buf) is False
    buf += b"\xa9"
    assert v.feed(memoryview(buf)[4:]) and v.finish()
    del buf[:]


@pytest.mark.parametrize("bad", ["text", 12, None, [1, 2], 3.5, object()])
def test_non_buffer_is_type_error(simd_impl, bad: object) -> None:
    with pytest.raises(TypeError):
        simd_impl.validate_utf8(bad)
    v = simd_impl.Utf8Validator()
    with pytest.raises(TypeError):
        v.feed(bad)
    assert v.at_boundary and v.error_offset is None  # nothing changed
    v.feed(b"\xff")
    with pytest.raises(TypeError):
        v.feed(bad)  # also after a failure
    assert v.error_offset == 0


# ---------------------------------------------------------------- hypothesis

VARIANT_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)


@st.composite
def mutated_text(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(texts).encode())
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        pos = draw(st.integers(0, len(data)))
        if op == "set" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and pos < len(data):
            del data[pos]
    return bytes(data)


inputs = st.one_of(st.binary(max_size=300), mutated_text(),
                   st.builds(lambda a, b: a * 3 + b, mutated_text(), mutated_text()))


@st.composite
def chunked(draw: st.DrawFn) -> Tuple[bytes, Tuple[int, ...]]:
    data = draw(inputs)
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=8))
    return data, tuple(sorted(cuts))


@VARIANT_SETTINGS
@given(case=chunked())
def test_hypothesis_against_oracle(simd_impl, case: Tuple[bytes, Tuple[int, ...]]) -> None:
    data, cuts = case
    check_chunked(simd_impl, data, cuts)
    assert simd_impl.validate_utf8(data) is expected_valid(data)


@given(data=inputs)
def test_hypothesis_oracle_matches_python_decode(data: bytes) -> None:
    try:
        data.decode("utf-8")
        ok = True
    except UnicodeDecodeError:
        ok = False
    assert expected_valid(data) is ok


def run_all(impl, data: bytes, cuts: Tuple[int, ...], offset: int) -> list:
    """Everything observable about validating data (shifted by offset bytes
    in memory) when fed at cuts."""
    backing = b"\x00" * offset + data
    view = memoryview(backing)[offset:]
    bounds = [0, *cuts, len(data)]
    v = impl.Utf8Validator()
    seen: list = []
    for a, b in zip(bounds, bounds[1:]):
        seen.append((v.feed(view[a:b]), v.error_offset, v.at_boundary, v.finish()))
    seen.append(impl.validate_utf8(view))
    seen.append(impl.validate_utf8(data))
    return seen


@VARIANT_SETTINGS
@given(case=chunked(), offset=st.integers(0, 40))
def test_hypothesis_python_and_compiled_agree(py_impl, c_impl, case, offset: int) -> None:
    data, cuts = case
    assert run_all(py_impl, data, cuts, offset) == run_all(c_impl, data, cuts, offset)


# --------------------------------------------------------- kernel selection


def _utf8_c():
    if not compiled_available():
        pytest.skip("the compiled implementation is not built")
    import wsfast._utf8_c as mod

    return mod


def test_simd_select_and_errors() -> None:
    mod = _utf8_c()
    names = mod._simd_available()
    assert names and names[-1] == "portable"
    before = mod._simd_current()
    try:
        for name in names:
            mod._simd_select(name)
            assert mod._simd_current() == name
    finally:
        mod._simd_select(before)
    with pytest.raises(ValueError):
        mod._simd_select("mmx")
    with pytest.raises(TypeError):
        mod._simd_select(3)
    assert mod._simd_current() == before


def test_simd_env_var_read_at_import() -> None:
    mod = _utf8_c()
    env = dict(os.environ)
    env.pop("WSFAST_NO_EXTENSIONS", None)
    code = "import wsfast._utf8_c as m; print(m._simd_current())"
    for name in mod._simd_available():
        env["WSFAST_SIMD"] = name
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
        assert out == name
    env["WSFAST_SIMD"] = "bogus"
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == mod._simd_available()[0]
    assert "WSFAST_SIMD" in proc.stderr and "RuntimeWarning" in proc.stderr


def test_c_level_api_is_exported() -> None:
    # The Decoder cimports these; their signatures are part of the contract.
    capi = _utf8_c().__pyx_capi__
    assert "Py_ssize_t (uint32_t *, unsigned char const *, Py_ssize_t)" in repr(capi["utf8_feed"])
    assert "int (unsigned char const *, Py_ssize_t)" in repr(capi["utf8_validate"])


def test_large_inputs_from_several_threads(simd_impl) -> None:
    # Large inputs run without the GIL in the compiled implementation; the
    # results must not depend on what other threads do meanwhile.
    import threading

    good = mixed_text(300_000, 3)
    bad = good[:250_000] + b"\xc0" + good[250_000:]
    results: list = []

    def work(data: bytes, expect: bool) -> None:
        for _ in range(5):
            v = simd_impl.Utf8Validator()
            results.append(simd_impl.validate_utf8(data) is expect
                           and v.feed(bytearray(data)) is expect
                           and v.error_offset == (None if expect else 250_000))

    threads = [threading.Thread(target=work, args=(d, e)) for d, e in
               ((good, True), (bad, False), (good, True), (bad, False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 20
