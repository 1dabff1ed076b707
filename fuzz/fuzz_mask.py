"""Differential fuzz target: apply_mask, apply_mask_inplace and Masker.

Input layout (see fuzz/make_corpus.py): 4-byte key, offset byte, buffer-kind
byte, chunk lengths (count byte then one byte each; the high bit of a length
selects process_inplace over process), then the payload.
"""

from __future__ import annotations

from typing import Any

from _common import (
    KINDS,
    WRITABLE_KINDS,
    Reader,
    allowed,
    as_buffer,
    chunks,
    contents,
    expect,
    implementations,
    main,
    outcome,
    same,
)

ERRORS = ("TypeError", "ValueError", "OverflowError")


def reference(data: bytes, key: bytes, offset: int) -> bytes:
    """RFC 6455 §5.3 written as plainly as possible: byte i XOR key[(i + offset) % 4]."""
    n = len(data)
    phase = offset % 4
    stream = (key[phase:] + key[:phase]) * (n // 4 + 1)
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big")


def offset_of(code: int) -> int:
    """Small offsets mostly; the high bit gives huge and negative ones."""
    if code < 0x80:
        return code
    if code < 0xC0:
        return (1 << 62) + (code & 3)
    return -(code & 0x3F)


def check_apply(impls: tuple[Any, Any], data: bytes, key: bytes, kind: str) -> None:
    results = [outcome(i.apply_mask, as_buffer(data, kind), key) for i in impls]
    same(results[0], results[1], f"apply_mask({kind})")
    allowed(results[0], ERRORS, "apply_mask")
    if results[0][0] == "ok":
        expect(results[0][1], reference(data, key, 0), "apply_mask vs reference")
        expect(type(results[0][1]), bytes, "apply_mask result type")


def check_inplace(impls: tuple[Any, Any], data: bytes, key: bytes, kind: str, offset: int) -> None:
    seen = []
    for impl in impls:
        buf = as_buffer(data, kind)
        res = outcome(impl.apply_mask_inplace, buf, key, offset)
        allowed(res, ERRORS, "apply_mask_inplace")
        seen.append((res, contents(buf)))
    same(seen[0], seen[1], f"apply_mask_inplace({kind}, offset={offset})")
    res, after = seen[0]
    if kind not in WRITABLE_KINDS and 0 <= offset < (1 << 62) and len(key) == 4:
        expect(res[:2], ("raise", "TypeError"), "apply_mask_inplace on a read-only buffer")
    if res[0] == "ok":
        expect(after, reference(data, key, offset), "apply_mask_inplace vs reference")
    else:
        expect(after, data, "a failed apply_mask_inplace changed its buffer")


def masker_log(impl: Any, data: bytes, key: bytes, lengths: list[int]) -> list[Any]:
    """What one implementation's Masker does with the stream: every step's outcome."""
    made = outcome(impl.Masker, key)
    if made[0] != "ok":
        return [made]
    masker = made[1]
    log: list[Any] = [("ok",)]
    for i, piece in enumerate(chunks(data, [n & 0x7F for n in lengths])):
        if lengths and lengths[i % len(lengths)] & 0x80:
            buf = bytearray(piece)
            res = outcome(masker.process_inplace, buf)
            log.append(("inplace", res, bytes(buf)))
        else:
            res = outcome(masker.process, piece)
            log.append(("process", res, res[1] if res[0] == "ok" else b""))
        log.append(masker.position)
    masker.reset()
    log.append(masker.position)
    log.append(outcome(masker.process, data))
    return log


def check_masker(impls: tuple[Any, Any], data: bytes, key: bytes, lengths: list[int]) -> None:
    logs = [masker_log(impl, data, key, lengths) for impl in impls]
    same(logs[0], logs[1], "Masker")
    log = logs[0]
    if log[0] != ("ok",):
        return
    steps = [e for e in log[1:-2] if isinstance(e, tuple)]
    if all(res[0] == "ok" for _, res, _ in steps):
        expect(b"".join(out for _, _, out in steps), reference(data, key, 0), "Masker stream vs reference")
        expect(log[-3] if steps else 0, len(data), "Masker.position at the end")
    expect(log[-2], 0, "Masker.position after reset")
    expect(log[-1], ("ok", reference(data, key, 0)), "Masker after reset")


def check(raw: bytes) -> None:
    impls = implementations()
    r = Reader(raw)
    key = r.take(4)
    offset = offset_of(r.byte())
    kind = KINDS[r.byte() % len(KINDS)]
    lengths = r.lengths()
    data = r.rest()
    # A wrong-length key must be ValueError in both.
    if lengths and lengths[0] == 0xFF:
        key = key[: len(data) % 4]
    check_apply(impls, data, key, kind)
    check_inplace(impls, data, key, kind, offset)
    check_masker(impls, data, key, lengths)


if __name__ == "__main__":
    main(check, ["wsfast._mask_py"])
