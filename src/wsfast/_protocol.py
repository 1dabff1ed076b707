"""RFC 6455's rules, written once for both implementations.

The constants of the protocol (opcodes, the control-frame limit, which close
codes may travel, the reserved bits) and every error it raises, each built by
one function whose message names the rule that was broken.  The pure twins
use these directly; the compiled modules copy the constants into C at import
and call the builders on their error paths, so a rule and its wording cannot
drift between the two.  docs/frames.md and docs/decoder.md explain the rules.
"""

from __future__ import annotations

import copy
from typing import FrozenSet, Optional, Tuple

from ._errors import InvalidUTF8, MessageTooBig, ProtocolError
from ._types import Opcode

__all__ = [
    "OPCODES",
    "OPCODE_MEMBERS",
    "VALID_OPCODE_BITS",
    "MAX_CONTROL_PAYLOAD",
    "MAX_CLOSE_REASON",
    "RSV_BITS",
    "RSV1",
    "CLOSE_CODE_RANGES",
    "close_code_valid",
    "header_error",
]

# ------------------------------------------------------------------ constants

#: The opcodes RFC 6455 §5.2 defines; 3-7 and 11-15 are reserved.
OPCODES: FrozenSet[int] = frozenset(int(op) for op in Opcode)
#: Opcode value -> its Opcode member, so results carry the enum.
OPCODE_MEMBERS = {int(op): op for op in Opcode}
#: The same set as bits (bit n set for opcode n), for the compiled modules.
VALID_OPCODE_BITS = sum(1 << op for op in OPCODES)
#: Control frames (opcode 8 and up) carry at most this many bytes (§5.5).
MAX_CONTROL_PAYLOAD = 125
#: A close payload is a 2-byte code and a reason, 125 bytes in all (§5.5.1).
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2
#: RSV1, RSV2, RSV3 in a frame's first byte: 0 unless an extension owns them.
RSV_BITS = 0x70
#: RSV1: permessage-deflate's "Per-Message Compressed" bit (RFC 7692 §6),
#: legal only on the first frame of a data message, and only once agreed.
RSV1 = 0x40
#: The close code for compressed data that does not inflate (RFC 7692 is
#: silent): 1007, "invalid frame payload data", as for a text message that is
#: not UTF-8; a misplaced RSV1 is a framing error (1002).  docs/deflate.md.
INFLATE_ERROR_CODE = 1007
#: Close codes a frame may carry on the wire (§7.4.1, §7.4.2, IANA registry),
#: as inclusive ranges: 1000-1003 and 1007-1011 are RFC 6455's own, 1012-1014
#: were registered since; 3000-4999 belong to libraries and applications.
#: 1004 is reserved, 1005, 1006 and 1015 exist only inside APIs, and the rest
#: of 0-2999 is unassigned.
CLOSE_CODE_RANGES: Tuple[Tuple[int, int], ...] = ((1000, 1003), (1007, 1014), (3000, 4999))


def close_code_valid(code: int) -> bool:
    """True when ``code`` may appear in a Close frame on the wire (§7.4)."""
    for low, high in CLOSE_CODE_RANGES:
        if low <= code <= high:
            return True
    return False


# --------------------------------------------------- what a peer may not send
# Each returns the exception; the caller raises it (so tracebacks point at the
# caller, and compiled code can raise it like any other object).


def reserved_bits(b0: int) -> ProtocolError:
    names = ", ".join(name for bit, name in ((0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")) if b0 & bit)
    return ProtocolError(f"RFC 6455 §5.2: reserved bit(s) {names} set without a negotiated extension")


def reserved_opcode(opcode: int) -> ProtocolError:
    return ProtocolError(f"RFC 6455 §5.2: opcode {opcode:#x} is reserved")


def wrong_masking(expect_mask: bool) -> ProtocolError:
    if expect_mask:
        return ProtocolError("RFC 6455 §5.1: a client must mask every frame it sends; got an unmasked frame")
    return ProtocolError("RFC 6455 §5.1: a server must not mask the frames it sends; got a masked frame")


def fragmented_control() -> ProtocolError:
    return ProtocolError("RFC 6455 §5.5: control frames must not be fragmented")


def control_too_long() -> ProtocolError:
    return ProtocolError(f"RFC 6455 §5.5: a control frame payload is at most {MAX_CONTROL_PAYLOAD} bytes")


def compressed_bit_misplaced(opcode: int) -> ProtocolError:
    kind = "a continuation frame" if opcode == 0 else f"a control frame (opcode {opcode:#x})"
    return ProtocolError(f"RFC 7692 §6.1: RSV1 (compressed) set on {kind}; only a message's first frame may carry it")


def header_error(b0: int, b1: int, expect_mask: bool, rsv_allowed: int = 0) -> Optional[ProtocolError]:
    """The rule broken by a frame's first two bytes, if any, in this order:
    reserved bits (those not in ``rsv_allowed``, the bits an extension owns),
    reserved opcodes, an owned bit on a frame that does not start a message
    (permessage-deflate's RSV1, §6.1), masking direction, control-frame rules.

    Kept off the fast paths, which only test whether some rule is broken.
    """
    opcode = b0 & 0x0F
    if b0 & RSV_BITS & ~rsv_allowed:
        return reserved_bits(b0 & ~rsv_allowed)
    if opcode not in OPCODES:
        return reserved_opcode(opcode)
    if b0 & rsv_allowed and opcode not in (Opcode.TEXT, Opcode.BINARY):
        return compressed_bit_misplaced(opcode)
    if bool(b1 & 0x80) != expect_mask:
        return wrong_masking(expect_mask)
    if opcode >= 8:
        if not b0 & 0x80:
            return fragmented_control()
        if b1 & 0x7F > MAX_CONTROL_PAYLOAD:
            return control_too_long()
    return None


def non_minimal_length(length: int, bits: int) -> ProtocolError:
    return ProtocolError(
        f"RFC 6455 §5.2: payload length {length} sent in {bits} bits; the minimal encoding is required"
    )


def length_top_bit() -> ProtocolError:
    return ProtocolError("RFC 6455 §5.2: the most significant bit of a 64-bit payload length must be 0")


def unexpected_continuation() -> ProtocolError:
    return ProtocolError("RFC 6455 §5.4: a continuation frame arrived with no message to continue")


def unfinished_message() -> ProtocolError:
    return ProtocolError("RFC 6455 §5.4: a new data frame arrived before the fragmented message ended")


def frame_too_big(length: int, limit: int) -> MessageTooBig:
    return MessageTooBig(f"a {length}-byte frame exceeds max_frame_size ({limit})")


def control_frame_too_big(length: int, limit: int) -> MessageTooBig:
    return MessageTooBig(f"a {length}-byte control frame exceeds max_frame_size ({limit})")


def message_too_big(size: int, limit: int) -> MessageTooBig:
    return MessageTooBig(f"a message of at least {size} bytes exceeds max_message_size ({limit})")


def compressed_limit(max_message: Optional[int]) -> Optional[int]:
    """The most compressed bytes one message may carry on the wire, for a
    Decoder whose ``max_message_size`` is ``max_message`` (None: no bound).

    9 bits per byte, the most a literal costs in a fixed-Huffman block (a
    dynamic block costs no more, and a stored one 5 bytes per 64 KiB), plus
    1 KiB of block headers and flushes: a message that inflates to
    ``max_message`` bytes fits, however its sender compressed it, and input
    that inflates to nothing (runs of empty blocks) is bounded too, so its
    CPU is.  docs/deflate.md.
    """
    if max_message is None:
        return None
    return max_message + (max_message >> 3) + 1024


def compressed_too_big(size: int, limit: int) -> MessageTooBig:
    return MessageTooBig(
        f"a compressed message of at least {size} bytes exceeds the bound on compressed size "
        f"({limit}: max_message_size plus one eighth plus 1024)"
    )


def inflated_too_big(limit: int) -> MessageTooBig:
    return MessageTooBig(f"a compressed message inflates to more than max_message_size ({limit})")


def inflate_corrupt(detail: Optional[str]) -> ProtocolError:
    """Compressed data zlib cannot inflate (``detail``: zlib's reason)."""
    return ProtocolError(
        f"RFC 7692 §7.2.2: the compressed data is invalid ({detail or 'zlib error'})", INFLATE_ERROR_CODE
    )


def compressed_empty() -> ProtocolError:
    # §7.2.1 always leaves at least the empty stored block's header byte
    # (§7.2.3.6 sends 0x00 for an empty message): nothing at all is no DEFLATE data.
    return ProtocolError("RFC 7692 §7.2.1: a compressed message with an empty payload", INFLATE_ERROR_CODE)


def compressed_bad_end() -> ProtocolError:
    return ProtocolError(
        "RFC 7692 §7.2.1: a compressed message must end on a block boundary (an empty stored block "
        "whose 00 00 ff ff is removed, or a final block)",
        INFLATE_ERROR_CODE,
    )


def text_not_utf8(offset: int) -> InvalidUTF8:
    """``offset``: of the first impossible byte, counted from the message's start."""
    return InvalidUTF8(f"RFC 6455 §8.1: text message is not valid UTF-8 (first invalid byte at offset {offset})")


def text_truncated() -> InvalidUTF8:
    return InvalidUTF8("RFC 6455 §8.1: text message ends inside a UTF-8 sequence")


def close_one_byte() -> ProtocolError:
    return ProtocolError("RFC 6455 §5.5.1: a close payload of one byte cannot hold a status code")


def close_too_long(size: int) -> ProtocolError:
    return ProtocolError(f"RFC 6455 §5.5: a close payload is at most {MAX_CONTROL_PAYLOAD} bytes, got {size}")


def close_code_invalid(code: int) -> ProtocolError:
    return ProtocolError(f"RFC 6455 §7.4: close code {code} is not valid on the wire")


def close_reason_not_utf8(exc: UnicodeDecodeError) -> InvalidUTF8:
    """``exc``: what decoding the reason (the payload after its code) raised."""
    return InvalidUTF8(f"RFC 6455 §5.5.1: the close reason is not valid UTF-8 ({exc.reason} at byte {exc.start})")


def again(error: ProtocolError) -> ProtocolError:
    """What a failed Decoder raises on every later call: the same class and
    message, no events, and a fresh traceback (not one growing call after call)."""
    fresh = copy.copy(error)
    fresh.events = []
    return fresh.with_traceback(None)


# ------------------------------------------------ what we may not send (§5.5)
# ValueError: a caller asked for a frame the protocol forbids.


def opcode_unknown(opcode: int) -> ValueError:
    return ValueError(f"opcode {opcode!r} is not one of RFC 6455's opcodes (0, 1, 2, 8, 9, 10)")


def control_payload_too_long(length: int) -> ValueError:
    return ValueError(f"a control frame payload is at most {MAX_CONTROL_PAYLOAD} bytes (RFC 6455 §5.5), got {length}")


def control_not_final() -> ValueError:
    return ValueError("control frames cannot be fragmented (RFC 6455 §5.5): fin must be True")


def control_rsv1() -> ValueError:
    return ValueError("RSV1 cannot be set on a control frame")


def close_code_unsendable(code: int) -> ValueError:
    return ValueError(f"close code {code!r} may not be sent (RFC 6455 §7.4): use 1000-1003, 1007-1014 or 3000-4999")


def close_reason_without_code() -> ValueError:
    return ValueError("a close reason needs a close code (RFC 6455 §5.5.1)")


def close_reason_too_long(size: int) -> ValueError:
    return ValueError(f"a close reason is at most {MAX_CLOSE_REASON} bytes of UTF-8, got {size}")
