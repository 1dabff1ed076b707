"""RFC 6455 masking in pure Python: the twin of ``_mask_c``.

Same API, same exceptions, same results.  How the XOR itself is done depends
on the interpreter, because what is fast differs (docs/masking.md has the
figures): on CPython, one big-integer XOR for small inputs and four
``bytes.translate`` passes (one per key byte) for large ones; under a JIT
(PyPy) a plain loop, which the JIT compiles well and which beats both.
"""

from __future__ import annotations

import operator
import platform
import sys
from itertools import product
from typing import TYPE_CHECKING, Any, List, SupportsIndex, Union

from ._buffers import gather

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["apply_mask", "apply_mask_inplace", "Masker"]

# Up to this size the big-integer XOR beats copying into a bytearray and
# translating it on CPython when a new bytes is wanted (a few C calls against
# a dozen); above it, converting to and from an int costs more per byte than
# translating.  In place on a bytearray the translate passes need no copy and
# win at every size, 8 B included.  docs/masking.md has the figures.
_BIGINT_MAX = 4096

_JIT = platform.python_implementation() != "CPython"

# Bound once: looking int.from_bytes up makes a bound method at every call,
# which costs as much as converting 16 bytes.
_from_bytes = int.from_bytes

# ------------------------------------------------------------ argument checks

def _view(obj: object, what: str) -> memoryview:
    try:
        return memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be a bytes-like object, not {type(obj).__name__}") from None


def _read_mask(mask: object) -> bytes:
    if type(mask) is bytes:
        size = len(mask)
        if size == 4:
            return mask
    else:
        with _view(mask, "mask") as view:
            size = view.nbytes
            if size == 4:
                return view.tobytes() if view.c_contiguous else gather(view)
    raise ValueError(f"mask must be exactly 4 bytes, got {size}")


def _check_offset(offset: object) -> int:
    offset = operator.index(offset)  # type: ignore[arg-type]
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if offset > sys.maxsize:
        # The compiled twin takes a Py_ssize_t; keep the two alike.
        raise OverflowError("offset does not fit in a C ssize_t")
    return offset


def _key_at(mask: bytes, phase: int) -> bytes:
    """The mask as seen from stream position ``phase``."""
    phase &= 3
    return mask[phase:] + mask[:phase] if phase else mask


# ---------------------------------------------------------------- XOR cores
# Each takes any buffer ``data`` of ``n`` bytes and a key already rotated to
# the phase of data[0].

def _xor_tables() -> List[bytes]:
    """The 256 translate tables, table k XORing every byte with k.

    Built at import (64 KiB, well under a millisecond by big-integer XOR), so
    that a mask costs four list lookups and no test for a missing table.
    """
    identity = _from_bytes(bytes(range(256)), "little")
    ones = _from_bytes(b"\x01" * 256, "little")
    # k * ones repeats the byte k 256 times: k < 256, so no carries.
    return [(identity ^ (k * ones)).to_bytes(256, "little") for k in range(256)]


_TABLES = _xor_tables()


# Large buffers are translated a chunk at a time: the four strided passes
# then run over data in L2 with temporaries malloc reuses.  Whole-buffer
# passes need 2 x 1/4 of the buffer in fresh temporaries per pass; when those
# come as fresh pages (calls interleaved with other work, so glibc hands back
# its mmap'd blocks) chunking takes 0.5x to 0.8x the time at 1 to 16 MiB, and
# in a steady loop, where malloc reuses them, the two are level
# (docs/masking.md).  A multiple of 4, so every chunk starts at key byte 0.
_CHUNK = 65536


def _translate_inplace(buf: bytearray, key: bytes) -> None:
    # Every fourth byte shares a key byte, so four strided passes do it all.
    t = _TABLES
    t0, t1, t2, t3 = t[key[0]], t[key[1]], t[key[2]], t[key[3]]
    if len(buf) <= _CHUNK:
        # Open-ended slices and no loop: 4 to 8% faster at 2 to 4 KiB.
        buf[0::4] = buf[0::4].translate(t0)
        buf[1::4] = buf[1::4].translate(t1)
        buf[2::4] = buf[2::4].translate(t2)
        buf[3::4] = buf[3::4].translate(t3)
        return
    for i in range(0, len(buf), _CHUNK):
        j = i + _CHUNK
        buf[i:j:4] = buf[i:j:4].translate(t0)
        buf[i + 1 : j : 4] = buf[i + 1 : j : 4].translate(t1)
        buf[i + 2 : j : 4] = buf[i + 2 : j : 4].translate(t2)
        buf[i + 3 : j : 4] = buf[i + 3 : j : 4].translate(t3)


def _loop_inplace(buf: Union[bytearray, memoryview], key: bytes) -> None:
    k0, k1, k2, k3 = key
    n = len(buf)
    whole = n & ~3
    for i in range(0, whole, 4):
        buf[i] ^= k0
        buf[i + 1] ^= k1
        buf[i + 2] ^= k2
        buf[i + 3] ^= k3
    for i in range(whole, n):
        buf[i] ^= key[i & 3]


# _ONES[w] has a 1 in the low byte of each of its w 32-bit words, so that
# key * _ONES[w] is the key repeated w times: one multiplication, several
# times cheaper than int.from_bytes of the repeated key.  Built on first use.
# Exact up to 1 KiB (256 words); above, rounded up to 256 B (64 words) and the
# surplus bytes cut off, which bounds the cache to 272 ints, ~180 KiB if all
# are built.
_EXACT_WORDS = 256
_ONES: List[int] = [0] * (_EXACT_WORDS + (_BIGINT_MAX >> 8) + 1)


def _ones(slot: int, words: int) -> int:
    ones = _ONES[slot] = _from_bytes(b"\x01\x00\x00\x00" * words, "little")
    return ones


def _xor_bigint(data: Buffer, n: int, key: bytes) -> bytes:
    words = (n + 3) >> 2
    if words <= _EXACT_WORDS:
        slot = words
    else:
        slot = _EXACT_WORDS + ((words + 63) >> 6)
        words = (slot - _EXACT_WORDS) << 6
    stream = _from_bytes(key, "little") * (_ONES[slot] or _ones(slot, words))
    out = (_from_bytes(data, "little") ^ stream).to_bytes(words << 2, "little")
    # The last word(s) may reach past the data: those bytes are key alone.
    return out[:n] if n != words << 2 else out


def _xor_copy(data: Buffer, n: int, key: bytes) -> bytes:
    """``data`` masked, as new bytes."""
    if not _JIT and n <= _BIGINT_MAX:
        return _xor_bigint(data, n, key)
    buf = bytearray(data)  # gathers non-contiguous buffers in C order too
    (_loop_inplace if _JIT else _translate_inplace)(buf, key)
    return bytes(buf)


# ------------------------------------------------------- the two operations

def _masked_copy(data: object, key: bytes) -> bytes:
    kind = type(data)
    if kind is bytes or kind is bytearray:
        return _xor_copy(data, len(data), key)  # type: ignore[arg-type]
    with _view(data, "data") as view:
        return _xor_copy(view if view.c_contiguous else gather(view), view.nbytes, key)


def _mask_inplace(buffer: object, key: bytes) -> int:
    """Mask a writable buffer in place; returns its size in bytes."""
    if type(buffer) is bytearray:
        (_loop_inplace if _JIT else _translate_inplace)(buffer, key)
        return len(buffer)
    if type(buffer) is bytes:
        raise TypeError("cannot mask bytes in place: it is read-only (use apply_mask)")
    with _view(buffer, "buffer") as view:
        if view.readonly:
            raise TypeError(f"cannot mask a read-only {type(buffer).__name__} in place")
        n = view.nbytes
        if n == 0:
            return 0
        if view.c_contiguous:
            flat = _bytes_view(view) if (view.ndim != 1 or view.format != "B") else view
            try:
                if _JIT:
                    _loop_inplace(flat, key)
                else:
                    flat[:] = _xor_copy(flat, n, key)
            finally:
                if flat is not view:
                    flat.release()
        else:
            _scatter(view, _xor_copy(gather(view), n, key))
    return n


def _bytes_view(view: memoryview) -> memoryview:
    try:
        return view.cast("B")
    except TypeError:
        # A format memoryview cannot parse (a numpy struct dtype, say).
        raise TypeError(
            f"the pure-Python implementation cannot write to a buffer of format "
            f"{view.format!r}; pass a view of its bytes"
        ) from None


def _scatter(view: memoryview, data: bytes) -> None:
    """Write ``data`` (C order) back into the non-contiguous ``view``."""
    if view.format == "B" and view.ndim == 1:
        view[:] = data
        return
    fmt: Any = view.format  # any struct format; typeshed lists the native ones
    try:
        items = memoryview(data).cast(fmt)
    except (TypeError, ValueError):
        # memoryview can neither cast to nor assign items of a non-native
        # format (e.g. '<i' from numpy): nothing has been written yet.
        raise TypeError(
            f"the pure-Python implementation cannot write to a non-contiguous buffer "
            f"of format {view.format!r}; pass a contiguous one"
        ) from None
    with items:
        if view.ndim == 1:
            view[:] = items
        else:
            # memoryview has no multi-dimensional slicing, only item access.
            for i, index in enumerate(product(*[range(d) for d in view.shape or ()])):
                view[index] = items[i]


# ------------------------------------------------------------- public API

def apply_mask(data: Buffer, mask: Buffer) -> bytes:
    """Return ``data`` (any bytes-like object) XORed with the 4-byte ``mask``.

    Raises ValueError if ``mask`` is not 4 bytes, TypeError if ``data`` or
    ``mask`` is not a bytes-like object.
    """
    if type(mask) is not bytes or len(mask) != 4:
        mask = _read_mask(mask)
    # Small bytes first, inline: there the cost of a call is the cost of it all.
    if type(data) is bytes and not _JIT:
        n = len(data)
        if n <= 1024:  # _xor_bigint inline, its exact part (_EXACT_WORDS)
            words = (n + 3) >> 2
            stream = _from_bytes(mask, "little") * (_ONES[words] or _ones(words, words))
            out = (_from_bytes(data, "little") ^ stream).to_bytes(words << 2, "little")
            return out[:n] if n & 3 else out
    return _masked_copy(data, mask)


def apply_mask_inplace(buffer: Buffer, mask: Buffer, offset: SupportsIndex = 0) -> None:
    """XOR the writable ``buffer`` with the 4-byte ``mask`` in place.

    ``offset`` is the position of ``buffer[0]`` in the masked stream, so a
    payload can be unmasked piece by piece.  Raises TypeError for a read-only
    or non-buffer ``buffer``, ValueError for a bad mask or a negative offset;
    on any error the buffer is left untouched.
    """
    # The same order of checks as the compiled twin, whose argument parsing
    # looks at the offset first.
    # The default offset 0 costs one test; anything else is checked in full.
    if type(offset) is not int or offset:
        offset = _check_offset(offset)
        if type(mask) is not bytes or len(mask) != 4:
            mask = _read_mask(mask)
        if offset & 3:
            mask = _key_at(mask, offset)
    elif type(mask) is not bytes or len(mask) != 4:
        mask = _read_mask(mask)
    if type(buffer) is bytearray and not _JIT and len(buffer) <= _CHUNK:
        # _translate_inplace, inline: at 8 B the call would cost a fifth.
        t = _TABLES
        buffer[0::4] = buffer[0::4].translate(t[mask[0]])
        buffer[1::4] = buffer[1::4].translate(t[mask[1]])
        buffer[2::4] = buffer[2::4].translate(t[mask[2]])
        buffer[3::4] = buffer[3::4].translate(t[mask[3]])
    else:
        _mask_inplace(buffer, mask)


class Masker:
    """Masks a stream in pieces, carrying the key phase from call to call.

    ``position`` is the number of bytes processed since creation or the last
    ``reset()``.  A Masker is not meant to be shared between threads.
    """

    __slots__ = ("_mask", "_position")

    def __init__(self, mask: Buffer) -> None:
        self._mask = _read_mask(mask)
        self._position = 0

    def process(self, data: Buffer) -> bytes:
        """Return the next piece of the stream, masked, as new bytes."""
        result = _masked_copy(data, _key_at(self._mask, self._position))
        self._position += len(result)
        return result

    def process_inplace(self, buffer: Buffer) -> None:
        """Mask the next piece of the stream in place (a writable buffer)."""
        self._position += _mask_inplace(buffer, _key_at(self._mask, self._position))

    @property
    def position(self) -> int:
        """Bytes processed since creation or the last reset()."""
        return self._position

    def reset(self) -> None:
        """Start again at position 0 with the same mask."""
        self._position = 0

    def __repr__(self) -> str:
        return f"<wsfast.Masker position={self._position}>"
