"""permessage-deflate compression (RFC 7692 §7.2), pure Python over the ``zlib`` module.

``Deflater`` compresses this side's messages; ``Inflater`` (internal, for
the Decoders) inflates the peer's, piece by piece, with an output cap.  Both
allocate their zlib stream on first use, so an idle connection holds none.
This module reads as the specification of the unit; ``_deflate_c`` does the
same over zlib's C API, call for call, so that both produce the same bytes
and accept the same input.  docs/deflate.md explains the choices.

How each rule maps onto the zlib module:

- Compression ends every message with a sync flush and strips its
  ``00 00 ff ff`` (§7.2.1).  No context takeover: the flush is a *full*
  flush, which empties the match history and rewinds the window exactly as
  ``deflateReset()`` does, so the stream is reset, not recreated, and goes
  back to a pool shared by every Deflater with the same settings (no
  memory per connection).
- An agreed window of 8 is compressed with zlib's 9-bit window, whose
  matches never reach more than 250 bytes back (``_permessage_deflate``).
- Inflation appends ``00 00 ff ff`` at the end of a message (§7.2.2), then
  checks that the message ended on a block boundary by inflating a final
  empty stored block (``PROBE``): a sender that did not end the message with
  a sync flush is caught here instead of garbling the messages after it.
  The probe ends the stream; the next message starts a new one that keeps
  the window, as after any final block (below).
- A final (BFINAL) block may end the deflate stream inside or at the end of
  a message (§7.2.3.4); what follows starts a new stream that still sees
  the window (§7.2.1: "the next DEFLATE block follows").  zlib's C API keeps
  the window with ``inflateResetKeep()``; here a new decompressor gets the
  last ``2 ** wbits`` bytes of output as its dictionary.
"""

from __future__ import annotations

import sys
import zlib as _stdlib_zlib
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple, Union

from . import _protocol
from ._buffers import gather
from ._errors import ProtocolError
from ._permessage_deflate import (
    BACKENDS,
    DEFAULT_LEVEL,
    DEFAULT_MEM_LEVEL,
    EMPTY_PAYLOAD,
    TAIL,
    busy_error,
    check_max_length,
    choose_backend,
    deflater_args,
    final_class,
    inflater_args,
    no_copy,
    takes_zlib_ng,
    unknown_backend,
)

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from ._permessage_deflate import PerMessageDeflate

__all__ = ["Deflater", "Inflater"]

# A final empty stored block: inflated after the tail, it ends the stream
# at once if and only if the message ended on a block boundary.
PROBE = b"\x01\x00\x00\xff\xff"
# Stream objects kept per setting for the no-context-takeover side; more
# than this many at once only happen with that many threads compressing.
POOL_SIZE = 8


BACKEND = "zlib"
_zlib_ng: Any = None  # zlib-ng's module, once a back end needs it
_pools: Dict[Tuple[Any, int, int, int], List[Any]] = {}


def use_backend(name: str) -> None:
    """Switch the back end of new Deflaters and Inflaters ("auto", "zlib" or
    "zlib-ng", see _permessage_deflate); objects already made keep theirs.
    ImportError when zlib-ng is needed and not installed."""
    global BACKEND, _zlib_ng
    if name not in BACKENDS:
        raise unknown_backend(name)
    if name != "zlib" and _zlib_ng is None:
        from zlib_ng import zlib_ng

        _zlib_ng = zlib_ng
    BACKEND = name


def _module(no_takeover: bool, wbits: int, mem_level: Optional[int] = None) -> Any:
    """The zlib module of a new Deflater (its ``mem_level``) or Inflater."""
    return _zlib_ng if takes_zlib_ng(BACKEND, no_takeover, wbits, mem_level) else _stdlib_zlib


def _name(module: Any) -> str:
    return "zlib" if module is _stdlib_zlib else "zlib-ng"


choose_backend(use_backend)


def _data(data: object) -> Union[bytes, memoryview]:
    """The bytes of ``data`` for zlib: str as UTF-8, any buffer without a copy
    when it is contiguous."""
    if type(data) is bytes:
        return data
    if isinstance(data, str):
        return str.encode(data, "utf-8")
    view = memoryview(data)  # type: ignore[arg-type]
    if view.c_contiguous:
        return view.cast("B") if view.format != "B" or view.ndim != 1 else view
    return gather(view)


class _Stream:
    """Holds a zlib stream: never copied or pickled; its subclasses here are final."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.__bases__ != (_Stream,):
            final_class(cls)

    def __reduce__(self) -> Any:
        no_copy(self)

    def __copy__(self) -> Any:
        no_copy(self)

    def __deepcopy__(self, memo: object) -> Any:
        no_copy(self)


class Deflater(_Stream):
    """Compress this side's messages for permessage-deflate (RFC 7692 §7.2.1).

    ``Deflater(params, *, client=False, level=1, mem_level=5,
    window_bits=None, no_context_takeover=False)``: ``params`` is the agreed
    ``PerMessageDeflate``, ``client`` says which side we are (a client
    compresses with the ``client_*`` parameters).  ``window_bits`` caps the
    agreed window further and ``no_context_takeover`` resets every message
    even when the agreement does not ask for it: both are always allowed.

    ``compress(data)`` returns the payload of one whole message, to send with
    RSV1 set on its first frame.  A message you would rather send
    uncompressed (tiny, or already compressed) is simply not passed here:
    send it as it is with RSV1 clear; the peer's inflater is not affected.
    """

    __slots__ = ("_level", "_mem_level", "_wbits", "_no_takeover", "_key", "_obj", "_busy", "__weakref__")

    def __init__(
        self,
        params: PerMessageDeflate,
        *,
        client: bool = False,
        level: int = DEFAULT_LEVEL,
        mem_level: int = DEFAULT_MEM_LEVEL,
        window_bits: Optional[int] = None,
        no_context_takeover: bool = False,
    ) -> None:
        level_, mem, wbits, no_takeover = deflater_args(
            params, client, level, mem_level, window_bits, no_context_takeover)
        if getattr(self, "_busy", False):
            raise busy_error(self)
        self._level = level_
        self._mem_level = mem
        self._wbits = wbits
        self._no_takeover = no_takeover
        self._key = (_module(no_takeover, wbits, mem), level_, mem, wbits)
        self._obj: Any = None  # the stream: made on first use (context takeover only)
        self._busy = False

    def _new(self) -> Any:
        zlib = self._key[0]
        return zlib.compressobj(self._level, zlib.DEFLATED, -self._wbits, self._mem_level)

    def compress(self, data: Union[Buffer, str]) -> bytes:
        """The payload of one compressed message: ``data`` (any buffer, or str
        as UTF-8) deflated and sync-flushed, ``00 00 ff ff`` removed."""
        raw = _data(data)
        if not len(raw):
            # What zlib would send for nothing: an empty stored block's header
            # (RFC 7692 §7.2.3.6), without touching, or making, a stream.
            return EMPTY_PAYLOAD
        if self._busy:
            raise busy_error(self)
        self._busy = True
        try:
            if self._no_takeover:
                return self._compress_pooled(raw)
            obj = self._obj if self._obj is not None else self._new()
            # Kept only once the whole message went through: after an error
            # the next message starts from an empty window, which every
            # peer inflates, never from a half-fed one.
            self._obj = None
            out: bytes = obj.compress(raw) + obj.flush(self._key[0].Z_SYNC_FLUSH)
            self._obj = obj
        finally:
            self._busy = False
        return out[:-4]

    def _compress_pooled(self, raw: Union[bytes, memoryview]) -> bytes:
        pool = _pools.setdefault(self._key, [])
        try:
            obj = pool.pop()
        except IndexError:
            obj = self._new()
        # A full flush leaves the stream as deflateReset() would: reusable by
        # the next message of any connection.  If compress() raised, the
        # stream's state is unknown and it is dropped instead.
        out: bytes = obj.compress(raw) + obj.flush(self._key[0].Z_FULL_FLUSH)
        if len(pool) < POOL_SIZE:
            pool.append(obj)
        return out[:-4]

    def __repr__(self) -> str:
        return (f"<Deflater level={self._level} mem_level={self._mem_level} window_bits={self._wbits} "
                f"no_context_takeover={self._no_takeover} backend={_name(self._key[0])}>")


class Inflater(_Stream):
    """Inflate the peer's compressed messages, piece by piece (RFC 7692 §7.2.2).

    Internal: the Decoders hold one.  ``Inflater(params, *, client=False)``
    inflates with the PEER's parameters (a server's uses ``client_*``).

    ``inflate(data, max_length=None)`` inflates the next bytes of the current
    message's payload and returns at most ``max_length`` bytes (None: no
    bound).  When it returns exactly ``max_length`` bytes, more may be
    pending: call it again, with ``b""`` when there is no new input.
    ``finish()`` ends the message: it checks that the message ended the way
    §7.2.1 says (on an empty stored block, or after a final block) and, when
    the peer does not take its context over, drops the stream.  Corrupt data
    raises ProtocolError (close code 1007, wsfast._protocol); so does every later call.
    """

    __slots__ = ("_zlib", "_wbits", "_window", "_no_takeover", "_obj", "_ended", "_fed", "_history",
                 "_history_len", "_pending", "_full", "_error", "_busy", "__weakref__")

    def __init__(self, params: PerMessageDeflate, *, client: bool = False) -> None:
        wbits, no_takeover = inflater_args(params, client)
        if getattr(self, "_busy", False):
            raise busy_error(self)
        self._zlib = _module(no_takeover, wbits)
        self._wbits = wbits
        self._window = 1 << wbits
        self._no_takeover = no_takeover
        self._obj: Any = None        # made on first use
        self._ended = False          # the current deflate stream has ended
        self._fed = False            # this message has had compressed bytes
        self._history: Deque[bytes] = deque()  # the last output, for a stream restart
        self._history_len = 0
        self._pending = b""          # input held back when max_length was reached
        self._full = False           # the last inflate() returned max_length bytes
        self._error: Optional[ProtocolError] = None
        self._busy = False

    # ------------------------------------------------------------- helpers

    def _remember(self, chunk: bytes) -> None:
        """Keep the last 2**wbits bytes of output: the window a new stream sees."""
        window = self._window
        if len(chunk) >= window:
            self._history.clear()
            self._history.append(chunk[-window:])
            self._history_len = window
            return
        self._history.append(chunk)
        self._history_len += len(chunk)
        while self._history_len - len(self._history[0]) >= window:
            self._history_len -= len(self._history.popleft())

    def _start(self) -> Any:
        """A decompressor that continues the window (after a final block, a
        new stream; the first time, an empty window)."""
        history = self._history
        if len(history) > 1 or self._history_len > self._window:
            joined = b"".join(history)[-self._window:]
            history.clear()
            history.append(joined)
            self._history_len = len(joined)
        if history:
            obj = self._zlib.decompressobj(-self._wbits, zdict=history[0])
        else:
            obj = self._zlib.decompressobj(-self._wbits)
        self._ended = False
        return obj

    def _enter(self) -> None:
        if self._error is not None:
            raise self._error
        if self._busy:
            raise busy_error(self)
        self._busy = True

    def _fail(self, exc: BaseException) -> ProtocolError:
        self._error = _protocol.inflate_corrupt(str(exc).partition(": ")[2] or str(exc))
        self._obj = None
        return self._error

    def _run(self, data: Union[bytes, memoryview], max_length: Optional[int]) -> bytes:
        out: List[bytes] = []
        produced = 0
        while True:
            # zlib's module takes a C ssize_t: a larger bound is no bound.
            room = 0 if max_length is None else min(max_length - produced, sys.maxsize)
            if max_length is not None and room == 0:
                self._pending = bytes(data)
                break
            if self._obj is None or self._ended:
                if not len(data):
                    break
                self._obj = self._start()
            obj = self._obj
            self._fed = True
            try:
                chunk = obj.decompress(data, room)
            except self._zlib.error as exc:
                raise self._fail(exc) from None
            if chunk:
                out.append(chunk)
                produced += len(chunk)
                self._remember(chunk)
            if obj.eof:
                # A final block ended the stream; whatever follows starts the next one.
                self._ended = True
                data = obj.unused_data
                continue
            data = obj.unconsumed_tail
            if not len(data) and (max_length is None or produced < max_length):
                break
        self._full = max_length is not None and produced == max_length
        return out[0] if len(out) == 1 else b"".join(out)

    # ----------------------------------------------------------------- API

    def inflate(self, data: Buffer, max_length: Optional[int] = None) -> bytes:
        """Up to ``max_length`` bytes (None: no bound) of the message, inflated from ``data``."""
        if isinstance(data, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        raw = _data(data)
        check_max_length(max_length)
        self._enter()
        try:
            if self._pending:
                raw = self._pending + bytes(raw)
                self._pending = b""
            return self._run(raw, max_length)
        finally:
            self._busy = False

    def finish(self) -> None:
        """End the current message (RFC 7692 §7.2.2): ProtocolError if it did
        not end on a block boundary, or had no compressed byte at all."""
        self._enter()
        try:
            self._finish()
        finally:
            self._busy = False

    def _finish(self) -> None:
        if self._full and (self._pending or self._run(b"", 1)):
            raise RuntimeError("Inflater.finish() while inflate() output is still pending")
        if not self._fed:
            self._error = _protocol.compressed_empty()
            raise self._error
        if not self._ended:
            obj = self._obj
            try:
                # At most one byte: any output at all already means a wrong end.
                out = obj.decompress(TAIL + PROBE, 1)
            except self._zlib.error as exc:
                raise self._fail(exc) from None
            if out or not obj.eof or obj.unused_data:
                self._error = _protocol.compressed_bad_end()
                self._obj = None
                raise self._error
            self._ended = True
        self._fed = False
        self._full = False
        if self._no_takeover:
            # The next message starts from an empty window: drop the stream
            # (zlib's module cannot reset one) so that nothing is held between messages.
            self._obj = None
            self._ended = False
            self._history.clear()
            self._history_len = 0

    def __repr__(self) -> str:
        return (f"<Inflater window_bits={self._wbits} no_context_takeover={self._no_takeover} "
                f"backend={_name(self._zlib)}>")
