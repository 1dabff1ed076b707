"""Write the seed corpus of every fuzz target: ``python fuzz/make_corpus.py [OUT_DIR]``.

Seeds come from the test-suite: every bytes and str literal in tests/*.py
(the vectors the tests were written around: Kuhn's UTF-8 stress cases, frame
headers, hostile streams), plus frames and streams built here in each of the
RFC 6455 length forms.  Each seed is wrapped in the input layout its target
reads (documented at the top of each fuzz_*.py).  OUT_DIR defaults to
fuzz/corpus; one directory per target.
"""

from __future__ import annotations

import ast
import hashlib
import os
import struct
import sys
from pathlib import Path
from typing import Iterable, Optional

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
MAX_SEED = 4096


def literals() -> list[bytes]:
    """Every bytes literal, and every non-ASCII str literal as UTF-8, in the tests."""
    found: set[bytes] = set()
    for path in sorted(TESTS.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant):
                if isinstance(node.value, bytes):
                    found.add(node.value[:MAX_SEED])
                elif isinstance(node.value, str) and not node.value.isascii():
                    found.add(node.value.encode("utf-8", "surrogatepass")[:MAX_SEED])
    return sorted(found)


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, key: Optional[bytes] = None,
          form: Optional[int] = None) -> bytes:
    """One frame; ``form`` forces the length encoding (7, 16 or 64 bits), minimal or not."""
    n = len(payload)
    form = form or (7 if n < 126 else 16 if n < 65536 else 64)
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if key is not None else 0
    if form == 7:
        head = bytes([b0, mbit | n])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if key is None:
        return head + payload
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


KEY = b"\x37\xfa\x21\x3d"


def streams(masked: bool) -> list[bytes]:
    """Valid and invalid frame streams for a decoder of one role."""
    k = KEY if masked else None
    out = [
        frame(1, b"Hello", key=k),
        frame(2, bytes(range(256)), key=k),
        frame(1, "κόσμε".encode(), key=k),
        frame(1, b"Hel", fin=False, key=k) + frame(9, b"ping", key=k) + frame(0, b"lo", key=k),
        frame(2, b"x" * 200, key=k) + frame(10, b"", key=k),
        frame(2, b"y" * 70000, key=k)[:300],  # a 64-bit length, cut short
        frame(8, struct.pack("!H", 1000) + b"bye", key=k),
        frame(8, b"", key=k),
        frame(8, b"\x03", key=k),  # a one-byte close payload
        frame(8, struct.pack("!H", 1005), key=k),
        frame(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", key=k),
        frame(1, b"\xf4\x90\x80\x80", key=k),
        frame(3, b"", key=k),  # reserved opcode
        frame(9, b"p" * 126, key=k),  # control frame too long
        frame(9, b"", fin=False, key=k),  # fragmented control frame
        frame(0, b"orphan", key=k),
        frame(1, b"a", fin=False, key=k) + frame(1, b"b", key=k),
        frame(1, b"rsv", rsv=4, key=k),
        frame(2, b"short", form=16, key=k),  # non-minimal length
        frame(2, b"short", form=64, key=k),
        bytes([0x82, (0x80 if masked else 0) | 127]) + b"\x80" + b"\0" * 7,  # 2^63
        bytes([0x82, (0x80 if masked else 0) | 127]) + b"\x7f" + b"\xff" * 7,
        frame(1, b"", fin=False, key=k) + frame(0, b"", fin=False, key=k) * 20 + frame(0, b"", key=k),
        frame(2, b"", key=k) * 50,
        frame(1, b"unmasked"),  # wrong direction for a server
        frame(1, b"masked", key=KEY),  # wrong direction for a client
    ]
    return out


def mask_seeds(lits: Iterable[bytes]) -> Iterable[bytes]:
    yield KEY + b"\0\0\0"
    for i, lit in enumerate(lits):
        yield KEY + bytes([i % 7, i % 9, 2, 3, 0x85]) + lit
    for n in (1, 3, 4, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000):
        yield bytes([n & 0xFF, 255 - (n & 0xFF), 1, 4]) + bytes([n % 4, n % 9, 1, n & 0x7F]) + bytes(range(256)) * 4


def utf8_seeds(lits: Iterable[bytes]) -> Iterable[bytes]:
    kuhn = [
        b"", b"ascii only", "κόσμε".encode(), "\U0010ffff".encode(), "\ufffe\uffff".encode(),
        b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf",
        b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\x80", b"\xbf", b"\xc2", b"\xe2\x82", b"\xf0\x9f\x98",
        b"\xfe", b"\xff", "a€𝄞".encode() * 20,
    ]
    for i, text in enumerate(kuhn + list(lits)):
        yield bytes([i % 9, 0]) + text
        yield bytes([i % 9, 3, 1, 2, 5]) + text


def header_seeds(lits: Iterable[bytes]) -> Iterable[bytes]:
    heads = []
    for form in (7, 16, 64):
        for key in (None, KEY):
            heads.append(frame(2, b"z" * 5, key=key, form=form))
    heads += [b"\x81\xfe\x00", b"\x82\xff" + b"\xff" * 8, b"\x82\x7f" + b"\x80" + b"\0" * 7, b"\x81"]
    for i, h in enumerate(heads + list(lits)[:200]):
        yield bytes([0, i % 9]) + h
        yield bytes([1, i % 9]) + b"\0" + h


def decoder_seeds(lits: Iterable[bytes]) -> Iterable[bytes]:
    # flags byte: bit 0 client role, bit 1 text as bytes; limit byte; chunk lengths.
    for client in (0, 1):
        for i, stream in enumerate(streams(masked=not client)):
            for text_bytes in (0, 2):
                yield bytes([client | text_bytes, 0, 0]) + stream
            yield bytes([client, i, 2, 1, 7]) + stream
    for lit in lits:
        yield bytes([0, 0, 0]) + lit
        yield bytes([1, 0, 0]) + lit


def inflate_seeds(lits: Iterable[bytes]) -> Iterable[bytes]:
    # flags, window bits, limit, level, chunk lengths, mutation, then a script
    # of messages (fuzz/fuzz_inflate.py): header byte, length, repeat, bytes.
    texts = [b"Hello", "κόσμε".encode() * 3, b'{"id":1,"name":"x","tags":["a","b"]}', bytes(range(256)),
             b"\xed\xa0\x80", b"\xe2\x82", b"", b"x" * 255]
    lits = list(lits)

    def script(items: Iterable[tuple[int, bytes, int]]) -> bytes:
        return b"".join(bytes([h, len(d[:255]), reps - 1]) + d[:255] for h, d, reps in items)

    for flags in (0, 1, 2, 4, 8, 12, 13):
        for bits in (0x77, 0x00, 0x14, 0x41):
            messages = [(0x03, texts[0], 1), (0x02, texts[3], 4), (0x4B, texts[2], 8), (0x00, texts[1], 1),
                        (0x83, texts[1], 2), (0x02, texts[6], 1), (0x03, texts[4], 1)]
            yield bytes([flags, bits, 0, 0, 0, 0]) + script(messages)
            yield bytes([flags, bits, 9, 5, 3, 1, 7, 64, 0]) + script(messages[:4])
            yield bytes([flags, bits, 0, 0, 0, 1, 0, 9, 0x55]) + script(messages[:3])  # one byte flipped
    for i, lit in enumerate(lits):
        lit = lit[:255]
        yield bytes([i % 16 & ~16, i % 256, 0, i % 9, 0, 0]) + script([(2 | (i & 1), lit, 1 + i % 4)])
        if i % 4 == 0:
            yield bytes([16 | (i & 1), 0x77, 0, 0, 0, 0]) + lit  # raw: the literal is the wire


def api_seeds(lits: Iterable[bytes]) -> Iterable[bytes]:
    # The first byte picks the entry point (fuzz/_oddargs.py); what follows
    # are choices, so any bytes make a case: the literals and a ramp.
    import _oddargs

    lits = list(lits)
    for i in range(len(_oddargs.ENTRIES)):
        yield bytes([i]) + bytes(range(256))
        for j, lit in enumerate(lits[i::len(_oddargs.ENTRIES)][:40]):
            yield bytes([i, j]) + lit


TARGETS = {
    "fuzz_api": api_seeds,
    "fuzz_mask": mask_seeds,
    "fuzz_utf8": utf8_seeds,
    "fuzz_parse_header": header_seeds,
    "fuzz_decoder": decoder_seeds,
    "fuzz_inflate": inflate_seeds,
}


def write(out: Path) -> dict[str, int]:
    lits = literals()
    counts = {}
    for target, seeds in TARGETS.items():
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        n = 0
        for seed in seeds(lits):
            seed = seed[: MAX_SEED + 16]
            name = hashlib.sha1(seed).hexdigest()
            path = d / name
            if not path.exists():
                path.write_bytes(seed)
                n += 1
        counts[target] = n
    return counts


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus"
    for name, n in write(target).items():
        print(f"{name}: {n} new seeds in {target / name}")
    sys.exit(0 if os.path.isdir(target) else 1)
