# cython: language_level=3
"""The sans-I/O stream decoder (RFC 6455 §5), compiled.

Hand-written rather than _decoder_py compiled a second time: the hot loop
works on raw pointers, unmasks straight into the result object, validates
text with the C UTF-8 kernel as each piece lands, and builds events without
calling their Python constructors.  docs/decoder.md gives the reasons and
the rules; the behaviour is that of _decoder_py, error for error, and its
steps are the same cdef methods.  permessage-deflate plugs into two of them:
the data-frame header (RSV1, the compressed-size bound) and the payload piece
(unmasked into a scratch area on the stack, inflated by the compiled
Inflater straight into the message buffer, validated there).  The rules and
their errors come from wsfast._protocol, the option rules from wsfast._args.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from wsfast._deflate_c cimport Inflater
from wsfast._frames_c cimport close_fields
from wsfast._mask_c cimport mask_bytes
from wsfast._utf8_c cimport utf8_feed, utf8_validate

from . import _args, _protocol
from ._errors import ProtocolError
from ._permessage_deflate import INFLATE_CHUNK as _INFLATE_CHUNK
from ._types import Close, Message, Opcode, Ping, Pong

__all__ = ["Decoder"]


cdef extern from "Python.h":
    bint PyBytes_CheckExact(object o)
    Py_ssize_t PY_SSIZE_T_MAX


cdef extern from *:
    """
    /* An instance of a tuple subclass (the NamedTuple events) built the way
       tuple.__new__ builds one, minus the argument tuple and the Python-level
       __new__ call.  From 3.14 tuples cache their hash in the object, which
       tp_alloc's zeroed memory would get wrong, so there the slow path. */
    static PyObject *wsf_event(PyObject *type, PyObject *a, PyObject *b) {
        PyTypeObject *tp = (PyTypeObject *)type;
    #if PY_VERSION_HEX >= 0x030E0000 || defined(Py_GIL_DISABLED) || defined(PYPY_VERSION)
        PyObject *items = b ? PyTuple_Pack(2, a, b) : PyTuple_Pack(1, a);
        PyObject *args, *o;
        if (!items) return NULL;
        args = PyTuple_Pack(1, items);
        Py_DECREF(items);
        if (!args) return NULL;
        o = PyTuple_Type.tp_new(tp, args, NULL);
        Py_DECREF(args);
        return o;
    #else
        PyObject *o = tp->tp_alloc(tp, b ? 2 : 1);
        if (!o) return NULL;
        Py_INCREF(a);
        PyTuple_SET_ITEM(o, 0, a);
        if (b) {
            Py_INCREF(b);
            PyTuple_SET_ITEM(o, 1, b);
        }
        /* An event holds bytes, str, int, None and an Opcode member: no
           cycle can run through it, so the collector need not visit it.
           CPython untracks such tuples itself, but only once they survive a
           collection; a 64 KiB read makes thousands of events at once. */
        PyObject_GC_UnTrack(o);
        return o;
    #endif
    }
    """
    object wsf_event(object tp, object a, object b)
    object wsf_event1 "wsf_event"(object tp, object a, void *b)


cdef enum:
    MAX_HEADER = 14
    # A message buffer larger than this is freed after its message instead
    # of being kept for the next one.
    KEEP_BUFFER = 65536
    # The stack area a masked compressed chunk is unmasked into.
    SCRATCH = 16384
    # Room below which the inflated message's buffer grows before zlib runs:
    # zlib's fast loop needs 258 bytes of room, and each call costs a little.
    MIN_ROOM = 1024
    # The largest message buffer kept as the process's spare (below).
    SPARE_MAX = 8 << 20

cdef uint64_t NO_LIMIT = <uint64_t>-1

# The protocol's constants, read once from wsfast._protocol.
cdef uint64_t MAX_CONTROL = _protocol.MAX_CONTROL_PAYLOAD
cdef unsigned int VALID_OPCODES = _protocol.VALID_OPCODE_BITS
cdef int RSV_BITS = _protocol.RSV_BITS
cdef int RSV1 = _protocol.RSV1
# Compressed input is inflated in chunks of the size both Decoders use.
cdef Py_ssize_t INFLATE_CHUNK = _INFLATE_CHUNK
if not 0 < INFLATE_CHUNK <= SCRATCH:
    raise ImportError(f"INFLATE_CHUNK ({INFLATE_CHUNK}) must be 1 to {SCRATCH}")
DEFAULT_MAX_MESSAGE_SIZE = _args.DEFAULT_MAX_MESSAGE_SIZE

cdef object _TEXT = Opcode.TEXT
cdef object _BINARY = Opcode.BINARY
cdef object _Message = Message
cdef object _Ping = Ping
cdef object _Pong = Pong
cdef object _Close = Close


# One spare message buffer for the whole process: the buffer of the last
# large message (over KEEP_BUFFER) that ended, kept for the next large message
# of any Decoder.  A fresh buffer of a few MiB costs a page fault per 4 KiB
# the first time each page is written (about a tenth of inflating 1 MiB);
# the spare has its pages already.  Idle connections still hold nothing: the
# process holds at most this one buffer, of at most SPARE_MAX bytes.
cdef uint8_t *_spare = NULL
cdef Py_ssize_t _spare_cap = 0
cdef cython.pymutex _spare_lock


cdef uint8_t *_take_spare(Py_ssize_t need, Py_ssize_t *cap) noexcept:
    """The spare buffer if it holds ``need`` bytes (its size in *cap), else NULL."""
    global _spare, _spare_cap
    cdef uint8_t *buf = NULL
    with _spare_lock:
        if _spare != NULL and _spare_cap >= need:
            buf = _spare
            cap[0] = _spare_cap
            _spare = NULL
            _spare_cap = 0
    return buf


cdef void _give_spare(uint8_t *buf, Py_ssize_t cap) noexcept:
    """Keep ``buf`` as the spare if it is larger than the current one, else free it."""
    global _spare, _spare_cap
    if cap <= SPARE_MAX:
        with _spare_lock:
            if cap > _spare_cap:
                buf, _spare = _spare, buf
                cap, _spare_cap = _spare_cap, cap
    PyMem_Free(buf)


cdef inline uint64_t _limit(object value) noexcept:
    """A limit read by wsfast._args.limit: None is no limit."""
    return NO_LIMIT if value is None else min(value, NO_LIMIT - 1)


@cython.final
@cython.auto_pickle(False)
cdef class Decoder:
    """Decode a stream of frames into events: Message, Ping, Pong and Close.

    Decoder(*, client=False, max_message_size=1 MiB, max_frame_size=None,
    decode_text=True, deflate=None); the options are those of the pure twin
    (wsfast._decoder_py.Decoder) and docs/decoder.md describes them.

    Final (no subclasses); a Decoder cannot be copied or pickled (TypeError):
    it holds a stream's half-received state.  ``__init__`` called again
    starts afresh with the new options.
    """

    # The fields are declared in _decoder_c.pxd.

    def __cinit__(self, *args, **kwargs):
        # An object made by __new__ alone is a Decoder with the default options.
        self._configure(True, DEFAULT_MAX_MESSAGE_SIZE, None, True, None)

    def __init__(self, *, client=False, max_message_size=DEFAULT_MAX_MESSAGE_SIZE,
                 max_frame_size=None, decode_text=True, deflate=None):
        # Every option is read before anything changes: an invalid one leaves
        # a re-initialised Decoder as it was.
        cdef bint expect_mask = not client
        max_message = _args.limit("max_message_size", max_message_size)
        max_frame = _args.limit("max_frame_size", max_frame_size)
        cdef bint text = decode_text
        params = _args.deflate_params(deflate)
        # The peer's half of the agreement: a server inflates the client's messages.
        cdef Inflater inflater = None if params is None else Inflater(params, client=not expect_mask)
        with cython.critical_section(self):
            if self._busy:
                raise RuntimeError("Decoder.__init__() called during feed()")
            self._configure(expect_mask, max_message, max_frame, text, inflater)

    cdef int _configure(self, bint expect_mask, object max_message, object max_frame,
                        bint decode_text, Inflater inflater) except -1:
        self._expect_mask = expect_mask
        self._max_message = _limit(max_message)
        self._max_frame = _limit(max_frame)
        self._decode_text = decode_text
        self._inflater = inflater
        self._rsv_refused = RSV_BITS if inflater is None else RSV_BITS & ~RSV1
        self._compressed = False
        self._max_compressed = _limit(_protocol.compressed_limit(max_message))
        self._closed = False
        self._error = None
        self._hdr_len = 0
        self._left = 0
        self._opcode = 0
        self._fin = True
        self._release_message()
        if self._buf_cap:
            PyMem_Free(self._buf)
            self._buf = NULL
            self._buf_cap = 0
        return 0

    def __dealloc__(self):
        PyMem_Free(self._buf)

    def __reduce_ex__(self, protocol):
        raise _args.not_copyable(self)

    def __copy__(self):
        raise _args.not_copyable(self)

    def __deepcopy__(self, memo):
        raise _args.not_copyable(self)

    @property
    def closed(self):
        """True once a Close frame was decoded; later bytes are ignored."""
        return self._closed

    def feed(self, data):
        """The events completed by ``data`` (any buffer), in order."""
        cdef Py_buffer view
        if PyBytes_CheckExact(data):
            if self._error is not None:
                raise _protocol.again(self._error)
            if self._closed:
                return []
            return self._run(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        # The argument is checked first, even after an error.
        if not PyObject_CheckBuffer(data):
            raise _args.not_buffer(data, "data")
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except BufferError:
            return self.feed(memoryview(data).tobytes())  # a non-contiguous view
        try:
            if self._error is not None:
                raise _protocol.again(self._error)
            if self._closed:
                return []
            return self._run(<const uint8_t *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    cdef list _run(self, const uint8_t *p, Py_ssize_t n):
        # Free-threaded builds: two threads feeding one Decoder would race on
        # its buffers; the critical section serialises them (a no-op with a GIL).
        with cython.critical_section(self):
            return self._run_locked(p, n)

    cdef list _run_locked(self, const uint8_t *p, Py_ssize_t n):
        cdef list events = []
        if self._busy:
            # Only reachable from a finalizer run by an allocation inside
            # feed(); the message buffer may be in use, so refuse.
            raise RuntimeError("Decoder.feed() called re-entrantly")
        self._busy = True
        try:
            return self._feed(p, n, events)
        except ProtocolError as exc:
            exc.events = events
            self._error = exc
            self._hdr_len = 0
            self._release_message()
            raise
        finally:
            self._busy = False

    cdef void _release_message(self) noexcept:
        self._buf_len = 0
        self._msg_opcode = 0
        self._msg_size = 0
        self._control_len = 0
        if self._buf_cap > KEEP_BUFFER:
            _give_spare(self._buf, self._buf_cap)
            self._buf = NULL
            self._buf_cap = 0

    cdef int _resize(self, Py_ssize_t cap) except -1:
        """Make the message buffer ``cap`` bytes (more than now), keeping what
        it holds: from the spare when ``cap`` is large and the spare is that
        large (it may be larger), else by realloc."""
        cdef Py_ssize_t spare_cap = 0
        cdef uint8_t *buf
        if cap > KEEP_BUFFER:
            buf = _take_spare(cap, &spare_cap)
            if buf != NULL:
                if self._buf_len:
                    memcpy(buf, self._buf, self._buf_len)
                PyMem_Free(self._buf)
                self._buf = buf
                self._buf_cap = spare_cap
                return 0
        buf = <uint8_t *>PyMem_Realloc(self._buf, <size_t>cap)
        if buf == NULL:
            raise MemoryError()
        self._buf = buf
        self._buf_cap = cap
        return 0

    cdef list _feed(self, const uint8_t *p, Py_ssize_t n, list events):
        cdef Py_ssize_t pos = 0, hl, take, old
        cdef uint64_t length
        if self._hdr_len:
            # Complete the carried-over header from the new bytes.
            old = self._hdr_len
            take = min(MAX_HEADER - old, n)
            memcpy(self._hdr + old, p, take)
            hl = self._header(self._hdr, old + take)
            if hl == 0:
                self._hdr_len = old + take
                return events
            self._hdr_len = 0
            pos = hl - old
            if self._begin_payload(events):
                return events
        while True:
            if self._left:
                take = <Py_ssize_t>min(self._left, <uint64_t>(n - pos))
                if take == 0:
                    break
                self._payload(p + pos, take)
                pos += take
                self._left -= take
                if not self._left and self._frame_done(events):
                    return events
                continue
            if n - pos < 2:
                if n > pos:
                    self._hdr[0] = p[pos]
                    self._hdr_len = 1
                break
            hl = self._header(p + pos, n - pos)
            if hl == 0:
                memcpy(self._hdr, p + pos, n - pos)
                self._hdr_len = n - pos
                break
            pos += hl
            length = self._length
            if length <= <uint64_t>(n - pos) and (
                    self._opcode >= 8 or (self._fin and self._opcode and not self._compressed)):
                # The whole frame is here and is a whole uncompressed message
                # or a control frame: build its event straight from the input.
                if self._whole(p + pos, <Py_ssize_t>length, events):
                    return events
                pos += <Py_ssize_t>length
                continue
            if self._begin_payload(events):
                return events
        return events

    # ------------------------------------------------------------- headers

    cdef Py_ssize_t _header(self, const uint8_t *p, Py_ssize_t avail) except -1:
        """Read and check the header at p: its length, or 0 while incomplete.
        The frame becomes current."""
        cdef int b0, b1, opcode, i
        cdef Py_ssize_t hl = 2
        cdef uint64_t length
        if avail < 2:
            return 0
        b0 = p[0]
        b1 = p[1]
        opcode = b0 & 0x0F
        length = b1 & 0x7F
        # A reserved bit is refused unless it is RSV1, agreed, on a text or
        # binary frame (bits 1 and 2 of 0x6).
        if ((b0 & RSV_BITS) and ((b0 & self._rsv_refused) or not (0x6 >> opcode) & 1)) or (
                ((b1 & 0x80) != 0) != self._expect_mask or not (VALID_OPCODES >> opcode) & 1 or (
                opcode >= 8 and (not (b0 & 0x80) or length > MAX_CONTROL))):
            self._first_bytes_rule(b0, b1)
        if length == 126:
            if avail < 4:
                return 0
            length = (<uint64_t>p[2] << 8) | p[3]
            hl = 4
            if length < 126:
                raise _protocol.non_minimal_length(length, 16)
        elif length == 127:
            if avail < 10:
                return 0
            length = 0
            for i in range(2, 10):
                length = (length << 8) | p[i]
            hl = 10
            if length >> 63:
                raise _protocol.length_top_bit()
            if length < 0x10000:
                raise _protocol.non_minimal_length(length, 64)
        if self._expect_mask:
            if avail < hl + 4:
                return 0
            memcpy(self._key, p + hl, 4)
            hl += 4
        self._masked = self._expect_mask
        if opcode < 8:
            self._data_header(opcode, b0, length)
        elif length > self._max_frame:
            raise _protocol.control_frame_too_big(length, self._max_frame)
        self._opcode = opcode
        self._fin = (b0 & 0x80) != 0
        self._length = length
        return hl

    cdef int _first_bytes_rule(self, int b0, int b1) except -1:
        """Raise the rule the first two header bytes break.  With
        permessage-deflate, RSV1 is allowed, on a text or binary frame only."""
        error = _protocol.header_error(b0, b1, self._expect_mask, 0 if self._inflater is None else RSV1)
        if error is not None:
            raise error
        return 0

    cdef inline int _data_header(self, int opcode, int b0, uint64_t length) except -1:
        """Accept a data frame's header: the frame limit, the order of
        fragments (§5.4), then the message limit, before any payload.  A
        message's first frame says whether it is compressed (RSV1); a
        compressed one's lengths are bounded by _protocol.compressed_limit,
        its inflated size while inflating."""
        if length > self._max_frame:
            raise _protocol.frame_too_big(length, self._max_frame)
        if opcode:
            if self._msg_opcode:
                raise _protocol.unfinished_message()
            self._msg_opcode = opcode
            self._msg_size = 0
            self._utf8_state = 0
            self._compressed = (b0 & RSV1) != 0
        elif not self._msg_opcode:
            raise _protocol.unexpected_continuation()
        if self._compressed:
            if length > self._max_compressed - self._msg_size:
                raise _protocol.compressed_too_big(<object>self._msg_size + <object>length, self._max_compressed)
        elif length > self._max_message - self._msg_size:
            raise _protocol.message_too_big(<object>self._msg_size + <object>length, self._max_message)
        self._msg_size += length
        return 0

    # ------------------------------------------------------------ payloads

    cdef bint _begin_payload(self, list events) except -1:
        """Start receiving the parsed frame's payload piece by piece.  True after a Close."""
        self._left = self._length
        self._phase = 0
        if self._left == 0:
            return self._frame_done(events)
        return False

    cdef bint _whole(self, const uint8_t *src, Py_ssize_t n, list events) except -1:
        """Emit the event of a frame present in full that is a whole message
        or a control frame, without the message buffer; True after a Close."""
        cdef int opcode = self._opcode
        cdef bytes payload
        if opcode == 2:
            self._msg_opcode = 0
            self._msg_size = 0
            PyList_Append(events, wsf_event(_Message, _BINARY, self._copy(src, n)))
            return False
        if opcode == 1:
            self._msg_opcode = 0
            self._msg_size = 0
            PyList_Append(events, wsf_event(_Message, _TEXT, self._text_frame(src, n)))
            return False
        payload = self._copy(src, n)
        return self._control_event(opcode, payload, events)

    cdef bytes _copy(self, const uint8_t *src, Py_ssize_t n):
        cdef bytes out
        if not self._masked:
            return PyBytes_FromStringAndSize(<const char *>src, n)
        out = PyBytes_FromStringAndSize(NULL, n)
        mask_bytes(<uint8_t *>PyBytes_AS_STRING(out), src, n, self._key, 0)
        return out

    cdef object _text_frame(self, const uint8_t *src, Py_ssize_t n):
        """A whole text message from one complete frame: str, or validated bytes."""
        cdef bytes raw
        cdef const uint8_t *data = src
        if not self._decode_text:
            raw = self._copy(src, n)
            data = <const uint8_t *>PyBytes_AS_STRING(raw)
            if not utf8_validate(data, n):
                _raise_utf8(data, n)
            return raw
        if self._masked:
            # Unmask into the (idle) message buffer, decode from there.
            if n > self._buf_cap:
                self._grow(n)
            mask_bytes(self._buf, src, n, self._key, 0)
            data = self._buf
        try:
            text = PyUnicode_DecodeUTF8(<const char *>data, n, NULL)
        except UnicodeDecodeError:
            _raise_utf8(data, n)
        if self._buf_cap > KEEP_BUFFER:
            self._release_message()
        return text

    cdef inline void _unmask_into(self, uint8_t *dst, const uint8_t *src, Py_ssize_t n) noexcept:
        """Copy the next n bytes of the current frame's payload, unmasked (§5.3)."""
        if self._masked:
            mask_bytes(dst, src, n, self._key, <Py_ssize_t>(self._phase & 3))
            self._phase += n
        else:
            memcpy(dst, src, n)

    cdef int _payload(self, const uint8_t *src, Py_ssize_t take) except -1:
        """Store one piece of the current frame's payload."""
        if self._opcode >= 8:
            self._unmask_into(self._control + self._control_len, src, take)
            self._control_len += take
            return 0
        return self._append(src, take)

    # ------------------------------------------------------------- messages

    cdef int _append(self, const uint8_t *src, Py_ssize_t take) except -1:
        """A piece of the message's payload: unmasked as it is copied into the
        message buffer, then validated at once if text (§8.1: fail fast);
        inflated into it if the message is compressed."""
        if self._compressed:
            return self._inflate(src, take)
        if self._buf_len + take > self._buf_cap:
            self._grow(self._buf_len + take)
        cdef uint8_t *dst = self._buf + self._buf_len
        self._buf_len += take
        self._unmask_into(dst, src, take)
        if self._msg_opcode == 1:
            self._check_text(dst, take)
        return 0

    cdef int _inflate(self, const uint8_t *src, Py_ssize_t n) except -1:
        """Inflate a piece of a compressed message's payload as it arrives
        (RFC 7692 §7.2.2), INFLATE_CHUNK input bytes at a time: a masked
        chunk is unmasked into a scratch area on the stack first, so that
        unmasking, inflating and validating each run over data in cache."""
        cdef uint8_t scratch[SCRATCH]
        cdef Py_ssize_t step
        while n > 0:
            step = n if n < INFLATE_CHUNK else INFLATE_CHUNK
            n -= step
            if self._masked:
                mask_bytes(scratch, src, step, self._key, <Py_ssize_t>(self._phase & 3))
                self._phase += step
                self._inflate_chunk(scratch, step, n)
            else:
                self._inflate_chunk(src, step, n)
            src += step
        return 0

    cdef int _inflate_chunk(self, const uint8_t *src, Py_ssize_t n, Py_ssize_t rest) except -1:
        """Inflate one chunk into the message buffer, each zlib call capped one
        byte past max_message_size (memory never passes the limit, whatever
        the ratio); then validate the chunk's output if text, then check the
        limit, in the pure twin's order.  ``rest``: the input received after
        this chunk, for the buffer's size."""
        cdef Py_ssize_t start = self._buf_len, used = 0, got, cap
        cdef uint64_t allowed
        while True:
            if self._buf_cap - self._buf_len < MIN_ROOM:
                self._grow_inflated(n + rest)
            cap = self._buf_cap - self._buf_len
            # Room for max_message_size + 1 bytes in all: one more than allowed means too big.
            allowed = self._max_message - <uint64_t>self._buf_len
            if allowed < <uint64_t>cap:
                cap = <Py_ssize_t>allowed + 1
            got = self._inflater.inflate_into(src, n, &used, self._buf + self._buf_len, cap)
            self._buf_len += got
            src += used
            n -= used
            # Below the cap: all consumed, nothing pending.  At the cap: the
            # buffer is full (grow, go on) or the message is too big.
            if got < cap or <uint64_t>self._buf_len > self._max_message:
                break
        if self._msg_opcode == 1 and self._buf_len > start:
            self._check_text(self._buf + start, self._buf_len - start)
        if <uint64_t>self._buf_len > self._max_message:
            raise _protocol.inflated_too_big(self._max_message)
        return 0

    cdef int _grow_inflated(self, Py_ssize_t pending) except -1:
        # The inflated size is not announced: guess 4 times the input
        # received and not inflated yet (JSON's usual ratio; never from a
        # length announced in a header), at least double, never past
        # max_message_size + 1.  A full buffer is never grown beyond that,
        # so there is always room when this is called.
        cdef uint64_t cap = <uint64_t>max(2 * self._buf_cap, self._buf_len + 4 * pending + MIN_ROOM)
        if self._max_message != NO_LIMIT and cap > self._max_message + 1:
            cap = self._max_message + 1
        if cap <= <uint64_t>self._buf_cap:
            return 0
        if cap > <uint64_t>PY_SSIZE_T_MAX:
            raise MemoryError()
        return self._resize(<Py_ssize_t>cap)

    cdef int _check_text(self, const uint8_t *data, Py_ssize_t n) except -1:
        """Validate the last n bytes put in the message buffer (at data)."""
        cdef Py_ssize_t bad = utf8_feed(&self._utf8_state, data, n)
        if bad >= 0:
            raise _protocol.text_not_utf8(self._buf_len - n + bad)
        return 0

    cdef int _grow(self, Py_ssize_t need) except -1:
        # Doubling keeps appends cheap, but never past what the message's
        # headers have announced so far (itself within max_message_size):
        # a peer trickling a message byte by byte gets a buffer of the
        # message's size, not of the next power of two.
        cdef Py_ssize_t cap = max(2 * self._buf_cap, 256)
        if <uint64_t>cap > self._msg_size:
            cap = <Py_ssize_t>self._msg_size
        if cap < need:
            cap = need
        return self._resize(cap)

    cdef bint _frame_done(self, list events) except -1:
        """The current frame's payload is all here: emit what it completes.  True after a Close."""
        cdef int opcode = self._opcode
        cdef object data
        if opcode >= 8:
            payload = PyBytes_FromStringAndSize(<const char *>self._control, self._control_len)
            self._control_len = 0
            return self._control_event(opcode, payload, events)
        if not self._fin:
            return False
        if self._compressed:
            self._inflater.finish_message()  # the end of the data (§7.2.2), before the end of the text
        if self._msg_opcode == 1:
            if self._utf8_state != 0:
                raise _protocol.text_truncated()
            if self._decode_text:
                data = PyUnicode_DecodeUTF8(<const char *>self._buf, self._buf_len, NULL)
            else:
                data = PyBytes_FromStringAndSize(<const char *>self._buf, self._buf_len)
            event = wsf_event(_Message, _TEXT, data)
        else:
            event = wsf_event(_Message, _BINARY, PyBytes_FromStringAndSize(<const char *>self._buf, self._buf_len))
        self._release_message()
        PyList_Append(events, event)
        return False

    # ------------------------------------------------------- control frames

    cdef bint _control_event(self, int opcode, bytes payload, list events) except -1:
        if opcode == 9:
            PyList_Append(events, wsf_event1(_Ping, payload, NULL))
            return False
        if opcode == 10:
            PyList_Append(events, wsf_event1(_Pong, payload, NULL))
            return False
        code, reason = close_fields(<const uint8_t *>PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
        PyList_Append(events, wsf_event(_Close, code, reason))
        self._closed = True
        self._hdr_len = 0
        self._release_message()
        return True


cdef int _raise_utf8(const uint8_t *data, Py_ssize_t n) except -1:
    cdef uint32_t state = 0
    cdef Py_ssize_t bad = utf8_feed(&state, data, n)
    if bad >= 0:
        raise _protocol.text_not_utf8(bad)
    raise _protocol.text_truncated()
