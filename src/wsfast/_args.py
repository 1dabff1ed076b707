"""How the public API reads its arguments, written once for both implementations.

The compiled modules handle the common argument types (an exact ``int``, a
``bytes`` key, ``True``/``False``/``None``) in C and hand everything else to
the functions here, which the pure twins call for every argument.  So an odd
argument (an ``__index__`` object, a huge int, a memoryview of another format,
a released one) meets the same code, and the same exception, whichever
implementation runs.  docs/api.md states the rules:

* integers are read with ``operator.index`` and kept as plain ints (``bool``
  is an int; float, str, bytes and None are TypeError); a value outside the
  allowed range, of any magnitude, is ValueError, never OverflowError;
* buffers are any object with the buffer protocol (TypeError otherwise,
  ValueError for a released memoryview, as ``memoryview()`` raises);
* arguments are checked in signature order; the first bad one decides.

Also here: what the public classes allow of copy, pickle and subclassing,
and the functions a pickle of a Masker or a Utf8Validator is rebuilt with.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, NoReturn, Optional, Tuple

from . import _protocol
from ._buffers import EXACT_CODES, gather

if TYPE_CHECKING:
    from ._mask import Masker
    from ._permessage_deflate import PerMessageDeflate
    from ._utf8 import Utf8Validator

__all__ = [
    "mask_key",
    "offset_phase",
    "header_offset",
    "opcode",
    "frame_payload",
    "close_code",
    "close_reason",
    "limit",
]


# -------------------------------------------------------------------- buffers


def not_buffer(obj: object, what: str) -> TypeError:
    return TypeError(f"{what} must be a bytes-like object, not {type(obj).__name__}")


def view(obj: object, what: str) -> memoryview:
    """A memoryview of ``obj``; TypeError naming ``what`` for a non-buffer."""
    try:
        return memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise not_buffer(obj, what) from None


def read_only(obj: object) -> TypeError:
    if type(obj) is bytes:
        return TypeError("cannot mask bytes in place: it is read-only (use apply_mask)")
    return TypeError(f"cannot mask a read-only {type(obj).__name__} in place")


def exact_format(fmt: Optional[str]) -> bool:
    """True for a native format whose items memoryview writes back exactly."""
    if fmt is None:
        return True
    code = fmt[1:] if fmt[:1] == "@" else fmt
    return len(code) == 1 and code in EXACT_CODES


def unwritable(fmt: Optional[str]) -> TypeError:
    """In-place masking of a non-contiguous buffer of more than one dimension
    needs a format whose items can be written back exactly.

    Pure Python can write such a buffer only item by item, through
    memoryview, which cannot address other formats (or not exactly); the
    compiled implementation refuses the same buffers, so that the two agree.
    """
    return TypeError(
        f"cannot mask a non-contiguous multi-dimensional buffer of format {fmt!r} in place; "
        f"pass a contiguous one or a view of its bytes"
    )


def mask_key(mask: object) -> bytes:
    """A masking key: any buffer of exactly 4 bytes."""
    if type(mask) is bytes:
        size = len(mask)
        if size == 4:
            return mask
    else:
        with view(mask, "mask") as key:
            size = key.nbytes
            if size == 4:
                return key.tobytes() if key.c_contiguous else gather(key)
    raise ValueError(f"mask must be exactly 4 bytes, got {size}")


def frame_payload(payload: object) -> bytes:
    """``encode_frame``'s payload: a str as its UTF-8 text (an overridden
    ``encode()`` is ignored, lone surrogates are UnicodeEncodeError), any
    buffer as its bytes."""
    if isinstance(payload, str):
        return str.encode(payload)
    if type(payload) is bytes:
        return payload
    with view(payload, "payload") as data:
        return data.tobytes() if data.c_contiguous else gather(data)


# ------------------------------------------------------------------- integers


def integer(value: object) -> int:
    """``operator.index(value)`` as a plain ``int``.

    CPython 3.10 and later always return an exact int; CPython 3.9 and PyPy
    return an int subclass as it is (``True`` for ``True``), which would then
    show wherever the value is kept or printed (a repr, ``close_code``).
    ``int.__add__`` makes the plain int without calling anything a subclass
    overrides.
    """
    number = operator.index(value)  # type: ignore[arg-type]
    return number if type(number) is int else int.__add__(number, 0)


def offset_phase(offset: object) -> int:
    """``apply_mask_inplace``'s offset: any int >= 0; only offset % 4 matters."""
    value = integer(offset)
    if value < 0:
        raise ValueError(f"offset must be >= 0, got {value}")
    return value & 3


def header_offset(offset: object, size: int) -> int:
    """``parse_header``'s offset: an int from 0 to ``size``."""
    value = integer(offset)
    if not 0 <= value <= size:
        raise ValueError(f"offset {value} is outside the buffer (length {size})")
    return value


def opcode(value: object) -> int:
    """``encode_frame``'s opcode: one of RFC 6455's six."""
    op = integer(value)
    if op not in _protocol.OPCODES:
        raise _protocol.opcode_unknown(op)
    return op


def close_code(code: object) -> Optional[int]:
    """``encode_close``'s code: None, or a code that may be sent."""
    if code is None:
        return None
    value = integer(code)
    if not _protocol.close_code_valid(value):
        raise _protocol.close_code_unsendable(value)
    return value


def close_reason(reason: object, code: Optional[int]) -> bytes:
    """``encode_close``'s reason as UTF-8: a str (never without a code), at
    most 123 bytes once encoded; an overridden ``encode()`` is ignored."""
    if not isinstance(reason, str):
        raise TypeError(f"a close reason is a str, not {type(reason).__name__}")
    if code is None:
        if reason:
            raise _protocol.close_reason_without_code()
        return b""
    encoded = str.encode(reason)
    if len(encoded) > _protocol.MAX_CLOSE_REASON:
        raise _protocol.close_reason_too_long(len(encoded))
    return encoded


#: Decoder()'s default max_message_size; max_frame_size defaults to None.
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20


def limit(name: str, value: object) -> Optional[int]:
    """A size limit of Decoder(): None (no limit) or an int >= 0."""
    if value is None:
        return None
    try:
        size = integer(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}") from None
    if size < 0:
        raise ValueError(f"{name} must be >= 0, got {size}")
    return size


# ------------------------------------------------------------------- classes
# Every public class is final, and a Decoder cannot be copied: it holds a
# stream's half-received state, which two copies would each go on from.


def deflate_params(value: object) -> Optional[PerMessageDeflate]:
    """A Decoder's ``deflate``: the agreed PerMessageDeflate, or None."""
    from ._permessage_deflate import PerMessageDeflate  # not at import: it needs handshake, which needs this

    if value is None or type(value) is PerMessageDeflate:
        return value
    raise TypeError(f"deflate must be a wsfast.PerMessageDeflate or None, not {type(value).__name__}")


def final(cls: type) -> NoReturn:
    """For ``__init_subclass__``: the pure classes are final like the compiled ones."""
    base = cls.__mro__[1]
    raise TypeError(f"type '{base.__module__}.{base.__qualname__}' is not an acceptable base type")


def not_copyable(obj: object) -> TypeError:
    return TypeError(f"cannot copy or pickle a {type(obj).__name__}: it holds the state of a stream")


# A pickle names these functions, not a class, so that it loads under
# whichever implementation runs where it is loaded.

MAX_POSITION = (1 << 64) - 1


def rebuild_masker(mask: bytes) -> Masker:
    from ._mask import Masker

    return Masker(mask)


def masker_state(state: object) -> int:
    """A Masker's pickled state: its position, an int from 0 to 2**64 - 1."""
    position = integer(state)
    if not 0 <= position <= MAX_POSITION:
        raise ValueError(f"a Masker's position is from 0 to 2**64 - 1, got {position}")
    return position


def rebuild_utf8_validator() -> Utf8Validator:
    from ._utf8 import Utf8Validator

    return Utf8Validator()


# The DFA's states (docs/utf8.md): 0 at a code point boundary, 1-7 inside
# one, 0xFF after an impossible byte.
UTF8_STATES = frozenset(range(8)) | {0xFF}
MAX_FED = (1 << 63) - 1


def utf8_validator_state(state: Any) -> Tuple[int, int, Optional[int]]:
    """A Utf8Validator's pickled state: (DFA state, bytes fed, error offset or None)."""
    if type(state) is not tuple or len(state) != 3:
        raise TypeError("a Utf8Validator's state is a tuple (DFA state, bytes fed, error offset)")
    dfa = integer(state[0])
    fed = integer(state[1])
    error = None if state[2] is None else integer(state[2])
    if dfa not in UTF8_STATES or not 0 <= fed <= MAX_FED:
        raise ValueError(f"invalid Utf8Validator state {state!r}")
    if (error is None) != (dfa != 0xFF) or (error is not None and not 0 <= error <= MAX_FED):
        raise ValueError(f"invalid Utf8Validator state {state!r}")
    return dfa, fed, error
