"""Differential fuzz target: the Decoder with permessage-deflate (RFC 7692).

Input layout (see fuzz/make_corpus.py):

- flags byte: bit 0 client role, bit 1 text handed over as bytes, bit 2
  server_no_context_takeover, bit 3 client_no_context_takeover, bit 4 raw
  mode (the script below is the wire itself, not messages to compress), bits
  5 to 7 the buffer kind;
- window byte: low nibble the server's window bits (8 + n % 8), high nibble
  the client's;
- limit byte: 0 for the default max_message_size, else 2 ** (n % 21);
- level byte: the sender's compression level (1 + n % 9);
- chunk lengths (count byte then one byte each);
- mutation: a byte; when odd, a 2-byte position and a byte to XOR there;
- the script: messages the peer sends, each a header byte (bit 0 text, bit 1
  compressed, bits 2-3 one to four fragments, bit 6 a Ping between the first
  two, bit 7 an RFC 7692 §7.2.3.4 final-block message before it, when the
  sender resets its context), a length byte, a repeat byte, then the bytes.

The peer's messages are compressed with the other side's Deflater, framed
(masked when the peer is a client), mutated, split and fed to both
implementations.  Beyond compiled == pure (events, exception types, close
codes and messages of every feed), the target checks that only
ProtocolError and its subclasses come out, that an error repeats, and, for
an unmutated stream, that the events and the refusal do not depend on the
chunking.  One difference is allowed, on mutated input only: zlib checks a
back-reference against the output of its current call as well as the
window, so a stream that reaches past the agreed window may be refused by
one implementation and not the other (docs/deflate.md, "Limits").
"""

from __future__ import annotations

from typing import Any, List, Tuple

from _oddargs import frame

from _common import KINDS, Reader, as_buffer, chunks, expect, implementations, main, same

ERRORS = ("ProtocolError", "InvalidUTF8", "MessageTooBig")
KEY = b"\x37\xfa\x21\x3d"
BFINAL_HELLO = bytes.fromhex("f348cdc9c9070000")
RSV1 = 4  # _oddargs.frame's rsv: the three bits, RSV1 first


def build(r: Reader, impl: Any, params: Any, peer_is_client: bool, level: int) -> bytes:
    deflater = impl.Deflater(params, client=peer_is_client, level=level)
    resets = params.client_no_context_takeover if peer_is_client else params.server_no_context_takeover
    key = KEY if peer_is_client else None
    wire = b""
    for _ in range(8):
        if r.pos >= len(r.data):
            break
        h, n, reps = r.byte(), r.byte(), 1 + r.byte() % 8
        data = r.take(min(n, len(r.data) - r.pos)) * reps
        opcode = 1 if h & 1 else 2
        compress = bool(h & 2)
        if h & 0x80 and resets:
            wire += frame(opcode, BFINAL_HELLO, True, RSV1, key)
        payload = deflater.compress(data) if compress else data
        count = 1 + (h >> 2) % 4
        step = max(1, -(-len(payload) // count))
        parts = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        for i, part in enumerate(parts):
            wire += frame(opcode if i == 0 else 0, part, i == len(parts) - 1, RSV1 if compress and i == 0 else 0, key)
            if i == 0 and h & 0x40 and len(parts) > 1:
                wire += frame(9, b"between", True, 0, key)
    return wire


def run(impl: Any, opts: dict[str, Any], pieces: List[bytes], kind: str) -> List[Tuple[Any, ...]]:
    """Every feed's outcome (with the error's message), plus one more feed after an error."""
    decoder = impl.Decoder(**opts)
    log: List[Tuple[Any, ...]] = []
    for piece in pieces:
        try:
            log.append(("ok", decoder.feed(as_buffer(piece, kind))))
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            log.append(("raise", type(exc).__name__, getattr(exc, "close_code", None), str(exc),
                        list(getattr(exc, "events", ()))))
            try:
                decoder.feed(b"\x81\x00")
                log.append(("ok", "accepted after an error"))
            except Exception as again:  # noqa: BLE001
                log.append(("raise", type(again).__name__, getattr(again, "close_code", None), str(again),
                            list(getattr(again, "events", ()))))
            break
    return log


def beyond_the_window(log: List[Tuple[Any, ...]]) -> bool:
    return any(step[0] == "raise" and "too far back" in step[3] for step in log)


def check(raw: bytes) -> None:
    from wsfast import PerMessageDeflate

    impls = implementations()
    r = Reader(raw)
    flags = r.byte()
    bits = r.byte()
    params = PerMessageDeflate(
        server_no_context_takeover=bool(flags & 4),
        client_no_context_takeover=bool(flags & 8),
        server_max_window_bits=8 + (bits & 0x0F) % 8,
        client_max_window_bits=8 + (bits >> 4) % 8,
    )
    client = bool(flags & 1)
    opts: dict[str, Any] = {"client": client, "deflate": params}
    if flags & 2:
        opts["decode_text"] = False
    limit = r.byte()
    if limit:
        opts["max_message_size"] = 1 << (limit % 21)
    level = 1 + r.byte() % 9
    kind = KINDS[(flags >> 5) % len(KINDS)]
    lengths = r.lengths()
    mutation = r.byte()
    position, xor = int.from_bytes(r.take(2), "big"), r.byte() or 1
    stream = r.rest() if flags & 16 else build(r, impls[0], params, not client, level)
    mutated = bool(flags & 16)
    if mutation & 1 and stream:
        changed = bytearray(stream)
        changed[position % len(stream)] ^= xor
        stream = bytes(changed)
        mutated = True
    pieces = list(chunks(stream, lengths))
    logs = [run(impl, opts, pieces, kind) for impl in impls]
    what = f"Decoder({opts}, {kind}, chunks {[len(p) for p in pieces]})"
    if not (mutated and logs[0] != logs[1] and (beyond_the_window(logs[0]) or beyond_the_window(logs[1]))):
        same(logs[0], logs[1], what)
    log = logs[0]
    for res in log:
        if res[0] != "ok" and res[1] not in ERRORS:
            raise AssertionError(f"{what}: Decoder.feed raised {res[1]}, not a ProtocolError")
    if log and log[-1][0] != "ok":
        expect(log[-1][1:4], log[-2][1:4], "the feed after an error")
        expect(log[-1][4], [], "events carried by a repeated error")
    if mutated:
        return
    # A stream as the peer sends it, in one piece: refused iff refused in pieces; same events.
    whole = run(impls[0], opts, [stream], "bytes")
    refused = bool(log) and log[-1][0] != "ok"
    expect(whole[-1][0] != "ok", refused, "refusal depends on the chunking")
    if not refused:
        events = [e for res in log for e in res[1]]
        expect(events, whole[0][1], "events depend on the chunking")


if __name__ == "__main__":
    main(check, ["wsfast._decoder_py", "wsfast._deflate_py", "wsfast._frames_py"])
