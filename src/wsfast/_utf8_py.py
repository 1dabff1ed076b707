"""Strict UTF-8 validation (RFC 3629), pure Python: the twin of _utf8_c.

The interpreter's own decoder does the bulk of the work (it is C on CPython
and fast on PyPy).  A small DFA, the same one the C kernels use, covers what
the decoder cannot say: which *byte* is the first impossible one (the decoder
reports where the bad sequence starts), whether a sequence it stopped at is
bad or just unfinished, and the state of a code point left unfinished at the
end of a chunk.  docs/utf8.md has the details.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any, Optional, Union, final

from . import _args
from ._buffers import gather

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["validate_utf8", "Utf8Validator"]

_decode = codecs.utf_8_decode

# DFA states, numbered as in _csrc/utf8.h.  Each state other than ACCEPT
# allows one range for the next byte and names the state after it.
_ACCEPT = 0
_FAILED = 0xFF
#            ACCEPT  NEED1  NEED2  E0     ED     NEED3  F0     F4
_LO = (0x00, 0x80, 0x80, 0xA0, 0x80, 0x80, 0x90, 0x80)
_HI = (0x00, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0xBF, 0x8F)
_NEXT = (0, 0, 1, 1, 1, 2, 2, 2)


def _lead_state(byte: int) -> int:
    if byte < 0x80:
        return _ACCEPT
    if byte < 0xC2:  # a lone continuation, or an overlong C0/C1
        return _FAILED
    if byte < 0xE0:
        return 1
    if byte < 0xF0:
        return 3 if byte == 0xE0 else 4 if byte == 0xED else 2
    if byte < 0xF5:
        return 6 if byte == 0xF0 else 7 if byte == 0xF4 else 5
    return _FAILED  # beyond U+10FFFF


_LEAD = tuple(_lead_state(b) for b in range(256))

_Buffer = Union[bytes, bytearray, memoryview]


def _scan(state: int, buf: _Buffer, i: int, n: int) -> tuple[int, int]:
    """Run the DFA over buf[i:n]: (index of the first impossible byte or -1, state)."""
    while i < n:
        byte = buf[i]
        if state == _ACCEPT:
            state = _LEAD[byte]
        elif state < _FAILED and _LO[state] <= byte <= _HI[state]:
            state = _NEXT[state]
        else:
            state = _FAILED
        if state == _FAILED:
            return i, _FAILED
        i += 1
    return -1, state


def _feed(state: int, buf: _Buffer, n: int) -> tuple[int, int]:
    """Validate buf[0:n] (bytes or a flat memoryview) continuing from state."""
    i = 0
    if state != _ACCEPT:
        # Finish the code point left open by the previous chunk, byte by byte.
        while state != _ACCEPT and i < n:
            err, state = _scan(state, buf, i, i + 1)
            if err >= 0:
                return err, _FAILED
            i += 1
        if i == n:
            return -1, state
    # The common case, a chunk of whole code points, is one decoder call.
    # Decoding as final makes the decoder stop at the first sequence that is
    # bad *or* unfinished, which the DFA then tells apart (and the DFA, not
    # the decoder, pins the byte: exc.start is where the sequence begins).
    try:
        if i == 0:
            if type(buf) is bytes:
                buf.decode("utf-8")
            else:
                _decode(buf, "strict", True)
        else:
            with memoryview(buf) as whole, whole[i:] as rest:
                _decode(rest, "strict", True)
        return -1, _ACCEPT
    except UnicodeDecodeError as exc:
        start = i + exc.start
    err, state = _scan(_ACCEPT, buf, start, n)
    if err < 0 and n - start > 3:
        # Never seen: the decoder rejected what the DFA accepts.  Trust the
        # DFA over the whole chunk rather than guess.
        return _scan(_ACCEPT, buf, i, n)
    return err, state


def _feed_any(state: int, data: Buffer) -> tuple[int, int, int]:
    """(error index or -1, new state, byte length) for any buffer; TypeError otherwise."""
    if type(data) is bytes:
        err, state = _feed(state, data, len(data))
        return err, state, len(data)
    with memoryview(data) as view:
        if view.c_contiguous:
            if view.ndim == 1 and view.format == "B":
                return _feed(state, view, view.nbytes) + (view.nbytes,)
            try:
                flat = view.cast("B")
            except TypeError:
                flat = None
            if flat is not None:
                with flat:
                    return _feed(state, flat, flat.nbytes) + (flat.nbytes,)
        # Strided (non-contiguous): the bytes in logical order, as a copy.
        raw = gather(view)
    err, state = _feed(state, raw, len(raw))
    return err, state, len(raw)


def first_invalid(data: bytes) -> int:
    """The index of the first impossible byte of ``data``, or -1 when every
    byte could still begin valid UTF-8 (it may end inside a code point)."""
    return _feed(_ACCEPT, data, len(data))[0]


def validate_utf8(data: Buffer, /) -> bool:
    """True if the bytes of ``data`` (any buffer) are complete, valid UTF-8."""
    if type(data) is bytes:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    err, state, _ = _feed_any(_ACCEPT, data)
    return err < 0 and state == _ACCEPT


@final
class Utf8Validator:
    """Incremental, fail-fast UTF-8 validation of one message.

    ``feed()`` returns False at the earliest byte that cannot belong to valid
    UTF-8, also inside a code point split across feeds; once failed, the
    validator stays failed (later feeds return False and look at nothing but
    whether the argument is a buffer) until ``reset()``.  ``finish()`` only
    asks whether the message could end here: it changes nothing.

    Final (no subclasses).  ``copy.copy``, ``copy.deepcopy`` and pickle keep
    the whole state; a pickle loads under either implementation.
    ``__init__`` called again is ``reset()``.
    """

    __slots__ = ("_state", "_fed", "_error")
    _state: int
    _fed: int
    _error: Optional[int]

    def __new__(cls, *args: object, **kwargs: object) -> Utf8Validator:
        # An object made by __new__ alone is a fresh validator, as the
        # compiled type's __cinit__ makes it.
        self = object.__new__(cls)
        self.reset()
        return self

    def __init__(self) -> None:
        self.reset()

    def __init_subclass__(cls, **kwargs: object) -> None:
        _args.final(cls)

    def feed(self, data: Buffer, /) -> bool:
        """Validate the next bytes; False as soon as the message cannot be valid."""
        if type(data) is bytes and self._state == _ACCEPT:
            # The common case, whole code points in bytes, in one decoder call.
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                self._fed += len(data)
                return True
        if self._error is not None:
            _args.view(data, "data").release()  # TypeError for a non-buffer
            return False
        err, state, length = _feed_any(self._state, data)
        if err >= 0:
            self._error = self._fed + err
            self._state = _FAILED
            return False
        self._state = state
        self._fed += length
        return True

    def finish(self) -> bool:
        """True if everything fed since reset() is complete, valid UTF-8."""
        return self._error is None and self._state == _ACCEPT

    def reset(self) -> None:
        """Forget everything fed: start a new message."""
        self._state = _ACCEPT
        self._fed = 0
        self._error = None

    @property
    def at_boundary(self) -> bool:
        """True if nothing failed and the bytes fed end on a whole code point."""
        return self._error is None and self._state == _ACCEPT

    @property
    def error_offset(self) -> int | None:
        """Offset (since reset()) of the first impossible byte, or None."""
        return self._error

    def __repr__(self) -> str:
        return (
            f"<Utf8Validator fed={self._fed} at_boundary={self.at_boundary} "
            f"error_offset={self.error_offset}>"
        )

    def __copy__(self) -> Utf8Validator:
        twin = Utf8Validator()
        twin._state, twin._fed, twin._error = self._state, self._fed, self._error
        return twin

    def __deepcopy__(self, memo: object) -> Utf8Validator:
        return self.__copy__()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_args.rebuild_utf8_validator, (), (self._state, self._fed, self._error))

    def __setstate__(self, state: object) -> None:
        self._state, self._fed, self._error = _args.utf8_validator_state(state)
