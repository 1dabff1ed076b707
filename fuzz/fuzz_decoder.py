"""Differential fuzz target: the stream Decoder, both roles, text as str and as bytes.

Input layout (see fuzz/make_corpus.py): flags byte (bit 0: client role, bit 1:
text handed over as bytes), limits byte (0: the defaults; else small
max_message_size / max_frame_size so that the limits are reached), chunk
lengths (count byte then one byte each), then the stream.

Beyond compiled == pure (events of every feed, exception type and close code),
the target checks what holds whatever the implementation: only ProtocolError
and its subclasses come out of feed(); after an error every later feed raises
again; and whether a stream is refused does not depend on how it is chunked,
nor do the events of a stream that is accepted.
"""

from __future__ import annotations

from typing import Any

from _common import KINDS, Reader, as_buffer, chunks, expect, implementations, main, outcome, same

ERRORS = ("ProtocolError", "InvalidUTF8", "MessageTooBig")


def options(flags: int, limits: int) -> dict[str, Any]:
    opts: dict[str, Any] = {"client": bool(flags & 1)}
    if flags & 2:
        opts["decode_text"] = False
    if limits:
        opts["max_message_size"] = 1 << (limits & 0x0F)
        opts["max_frame_size"] = 1 << ((limits >> 4) & 0x0F)
    return opts


def run(impl: Any, opts: dict[str, Any], pieces: list[bytes], kind: str) -> list[Any]:
    """Every feed's outcome, plus one more feed after an error (it must raise again)."""
    made = outcome(impl.Decoder, **opts)
    if made[0] != "ok":
        return [made]
    decoder = made[1]
    log: list[Any] = [("ok",)]
    for piece in pieces:
        res = outcome(decoder.feed, as_buffer(piece, kind))
        log.append(res)
        if res[0] != "ok":
            log.append(outcome(decoder.feed, b"\x81\x00"))
            break
    return log


def check(raw: bytes) -> None:
    impls = implementations()
    r = Reader(raw)
    flags = r.byte()
    opts = options(flags, r.byte())
    kind = KINDS[(flags >> 2) % len(KINDS)]
    lengths = r.lengths()
    stream = r.rest()
    pieces = list(chunks(stream, lengths))
    logs = [run(impl, opts, pieces, kind) for impl in impls]
    same(logs[0], logs[1], f"Decoder({opts}, {kind}, chunks {[len(p) for p in pieces]})")
    log = logs[0]
    if log[0] != ("ok",):
        return
    for res in log[1:]:
        if res[0] != "ok" and res[1] not in ERRORS:
            raise AssertionError(f"Decoder.feed raised {res[1]}, not a ProtocolError")
    if log[-1][0] != "ok":
        expect(log[-1][1:3], log[-2][1:3], "the feed after an error")
        expect(log[-1][3], [], "events carried by a repeated error")
    # The same stream in one piece: refused iff refused in pieces; same events.
    whole = run(impls[1], opts, [stream], "bytes")
    refused = log[-1][0] != "ok"
    expect(whole[-1][0] != "ok", refused, "refusal depends on the chunking")
    if not refused:
        events = [e for res in log[1:] for e in res[1]]
        expect(events, whole[1][1], "events depend on the chunking")


if __name__ == "__main__":
    main(check, ["wsfast._decoder_py", "wsfast._frames_py"])
