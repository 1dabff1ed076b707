"""Differential fuzz target: validate_utf8 and Utf8Validator with random chunking.

Input layout (see fuzz/make_corpus.py): buffer-kind byte, chunk lengths (count
byte then one byte each), then the bytes to validate.

Beyond compiled == pure, the target checks what holds whatever the
implementation: validate_utf8 agrees with Python's strict decoder, the
validator's verdict and error_offset do not depend on the chunking, a False
from feed() stays False, and error_offset is set exactly when feed() said False.
"""

from __future__ import annotations

from typing import Any

from _common import KINDS, Reader, allowed, as_buffer, chunks, expect, implementations, main, outcome, same

ERRORS = ("TypeError",)


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def validator_log(impl: Any, pieces: list[bytes], kind: str) -> list[Any]:
    v = impl.Utf8Validator()
    log: list[Any] = []
    for piece in pieces:
        log.append((outcome(v.feed, as_buffer(piece, kind)), v.at_boundary, v.error_offset))
    log.append(outcome(v.finish))
    return log


def check_validator(impls: tuple[Any, Any], data: bytes, pieces: list[bytes], kind: str) -> None:
    logs = [validator_log(impl, pieces, kind) for impl in impls]
    same(logs[0], logs[1], f"Utf8Validator({kind}, chunks {[len(p) for p in pieces]})")
    log = logs[0]
    oneshot = validator_log(impls[1], [data], "bytes")
    failed = False
    for res, _, error_offset in log[:-1]:
        allowed(res, ERRORS, "Utf8Validator.feed")
        if res[0] != "ok":
            return
        if failed:
            expect(res[1], False, "feed() after a failure")
        failed = failed or not res[1]
        expect(error_offset is not None, failed, "error_offset set iff feed() said False")
    expect(log[-2][2], oneshot[-2][2], "error_offset depends on the chunking")
    expect(log[-1], ("ok", is_utf8(data)), "finish() vs bytes.decode")


def check(raw: bytes) -> None:
    impls = implementations()
    r = Reader(raw)
    kind = KINDS[r.byte() % len(KINDS)]
    lengths = r.lengths()
    data = r.rest()
    results = [outcome(i.validate_utf8, as_buffer(data, kind)) for i in impls]
    same(results[0], results[1], f"validate_utf8({kind})")
    expect(results[0], ("ok", is_utf8(data)), "validate_utf8 vs bytes.decode")
    check_validator(impls, data, list(chunks(data, lengths)), kind)


if __name__ == "__main__":
    main(check, ["wsfast._utf8_py"])
