"""RFC 6455 masking in pure Python: the twin of ``_mask_c``.

Same API, same exceptions, same results.  How the XOR itself is done depends
on the interpreter, because what is fast differs (docs/masking.md has the
figures).  There are three techniques, one function each:

* ``_xor_bigint``: one big-integer XOR, for new bytes up to 4 KiB on CPython;
* ``_translate_inplace``: four ``bytes.translate`` passes over a bytearray,
  one per key byte, for everything else on CPython;
* ``_loop_inplace``: a plain loop, which a JIT (PyPy) compiles well and which
  beats both there.

``xor_bytes`` (a masked copy) and ``mask_view`` (in place, any writable
buffer) pick among them; the public functions read their arguments in
signature order (wsfast._args) and call those two.
"""

from __future__ import annotations

import io
import platform
from itertools import product
from typing import TYPE_CHECKING, Any, Callable, List, SupportsIndex, Union, final

from . import _args
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


def key_at(mask: bytes, phase: int) -> bytes:
    """The 4-byte key as seen from stream position ``phase`` (only phase % 4 counts)."""
    phase &= 3
    return mask[phase:] + mask[:phase] if phase else mask


# ----------------------------------------------------------- the techniques
# Each takes a key already rotated to the phase of the data's first byte.


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
    if len(buf) <= _CHUNK:
        # Open-ended slices and no loop: 4 to 8% faster at 2 to 4 KiB.
        buf[0::4] = buf[0::4].translate(t[key[0]])
        buf[1::4] = buf[1::4].translate(t[key[1]])
        buf[2::4] = buf[2::4].translate(t[key[2]])
        buf[3::4] = buf[3::4].translate(t[key[3]])
        return
    t0, t1, t2, t3 = t[key[0]], t[key[1]], t[key[2]], t[key[3]]
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


_inplace: Callable[[bytearray, bytes], None] = _loop_inplace if _JIT else _translate_inplace


# ------------------------------------------------------- the two operations


def xor_bytes(data: Buffer, n: int, key: bytes) -> bytes:
    """The ``n`` bytes of ``data`` (bytes, or any buffer read in C order)
    masked with ``key``, as new bytes."""
    if not _JIT and n <= _BIGINT_MAX:
        return _xor_bigint(data, n, key)
    buf = bytearray(data)  # gathers non-contiguous buffers in C order too
    _inplace(buf, key)
    return bytes(buf)


def mask_view(view: memoryview, key: bytes) -> None:
    """Mask the writable ``view`` in place, whatever its format and layout;
    nothing is written if it cannot be written whole."""
    n = view.nbytes
    if not n:
        return
    if not view.c_contiguous:
        if view.ndim > 1 and not _args.exact_format(view.format):
            raise _args.unwritable(view.format)
        _scatter(view, xor_bytes(gather(view), n, key))
    elif view.ndim == 1 and view.format == "B":
        if _JIT:
            _loop_inplace(view, key)
        else:
            view[:] = xor_bytes(view, n, key)
    else:
        # readinto writes raw bytes into any contiguous buffer, whatever its
        # format (memoryview.cast refuses non-native ones such as '>i').
        io.BytesIO(xor_bytes(view, n, key)).readinto(view)


def _scatter(view: memoryview, data: bytes) -> None:
    """Write ``data`` (C order) back into the non-contiguous ``view``."""
    fmt: Any = view.format  # any struct format; typeshed lists the native ones
    if view.ndim == 1:
        try:
            items = memoryview(data).cast(fmt)
        except (TypeError, ValueError):
            # A format memoryview cannot cast to (non-native, such as '>i'):
            # one item at a time, each a contiguous one-item slice.
            size = view.itemsize
            for i in range(len(view)):
                io.BytesIO(data[i * size : (i + 1) * size]).readinto(view[i : i + 1])
            return
        with items:
            view[:] = items  # copies the items' bytes as they are
        return
    # memoryview has no multi-dimensional slicing, only item access; the
    # format is one whose items survive that exactly (checked by the caller).
    with memoryview(data).cast(fmt) as items:
        for i, index in enumerate(product(*[range(d) for d in view.shape or ()])):
            view[index] = items[i]


def _writable_view(buffer: object) -> memoryview:
    """A memoryview of the writable ``buffer``; TypeError if read-only or not a buffer."""
    if type(buffer) is bytes:
        raise _args.read_only(buffer)
    view = _args.view(buffer, "buffer")
    if view.readonly:
        view.release()
        raise _args.read_only(buffer)
    return view


# ------------------------------------------------------------- public API


def apply_mask(data: Buffer, mask: Buffer) -> bytes:
    """Return ``data`` (any bytes-like object) XORed with the 4-byte ``mask``.

    Raises ValueError if ``mask`` is not 4 bytes, TypeError if ``data`` or
    ``mask`` is not a bytes-like object.
    """
    if type(data) is bytes:
        if type(mask) is not bytes or len(mask) != 4:
            mask = _args.mask_key(mask)
        return xor_bytes(data, len(data), mask)
    with _args.view(data, "data") as view:
        key = _args.mask_key(mask)
        return xor_bytes(view if view.c_contiguous else gather(view), view.nbytes, key)


def apply_mask_inplace(buffer: Buffer, mask: Buffer, offset: SupportsIndex = 0) -> None:
    """XOR the writable ``buffer`` with the 4-byte ``mask`` in place.

    ``offset`` is the position of ``buffer[0]`` in the masked stream, so a
    payload can be unmasked piece by piece; any int >= 0.  Raises TypeError
    for a read-only or non-buffer ``buffer``, ValueError for a bad mask or a
    negative offset; on any error the buffer is left untouched.
    """
    if type(buffer) is bytearray and type(offset) is int and type(mask) is bytes and len(mask) == 4 and offset >= 0:
        _inplace(buffer, key_at(mask, offset) if offset & 3 else mask)
        return
    with _writable_view(buffer) as view:
        key = _args.mask_key(mask)
        mask_view(view, key_at(key, _args.offset_phase(offset)))


@final
class Masker:
    """Masks a stream in pieces, carrying the key phase from call to call.

    ``position`` is the number of bytes processed since creation or the last
    ``reset()``.  A Masker is not meant to be shared between threads.

    Final (no subclasses).  ``copy.copy``, ``copy.deepcopy`` and pickle keep
    the key and the position; a pickle loads under either implementation.
    ``__init__`` called again starts afresh with the new key.
    """

    __slots__ = ("_mask", "_position")

    def __new__(cls, *args: object, **kwargs: object) -> Masker:
        # An object made by __new__ alone has the all-zero key, as the
        # compiled type's zeroed memory gives.
        self = object.__new__(cls)
        self._mask = b"\0\0\0\0"
        self._position = 0
        return self

    def __init__(self, mask: Buffer) -> None:
        self._mask = _args.mask_key(mask)
        self._position = 0

    def __init_subclass__(cls, **kwargs: object) -> None:
        _args.final(cls)

    def process(self, data: Buffer) -> bytes:
        """Return the next piece of the stream, masked, as new bytes."""
        key = key_at(self._mask, self._position)
        if type(data) is bytes:
            n = len(data)
            result = xor_bytes(data, n, key)
        else:
            with _args.view(data, "data") as view:
                n = view.nbytes
                result = xor_bytes(view if view.c_contiguous else gather(view), n, key)
        self._position += n
        return result

    def process_inplace(self, buffer: Buffer) -> None:
        """Mask the next piece of the stream in place (a writable buffer)."""
        key = key_at(self._mask, self._position)
        if type(buffer) is bytearray:
            _inplace(buffer, key)
            self._position += len(buffer)
            return
        with _writable_view(buffer) as view:
            mask_view(view, key)
            self._position += view.nbytes

    @property
    def position(self) -> int:
        """Bytes processed since creation or the last reset()."""
        return self._position

    def reset(self) -> None:
        """Start again at position 0 with the same mask."""
        self._position = 0

    def __repr__(self) -> str:
        return f"<wsfast.Masker position={self._position}>"

    def __copy__(self) -> Masker:
        twin = Masker(self._mask)
        twin._position = self._position
        return twin

    def __deepcopy__(self, memo: object) -> Masker:
        return self.__copy__()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_args.rebuild_masker, (self._mask,), self._position)

    def __setstate__(self, state: object) -> None:
        self._position = _args.masker_state(state)
