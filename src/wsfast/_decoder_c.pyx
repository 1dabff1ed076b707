# cython: language_level=3
"""The sans-I/O stream decoder (RFC 6455 §5), compiled.

Hand-written rather than _decoder_py compiled a second time: the hot loop
works on raw pointers, unmasks straight into the result object, validates
text with the C UTF-8 kernel as each piece lands, and builds events without
calling their Python constructors.  docs/decoder.md gives the reasons and
the rules; the behaviour is that of _decoder_py, error for error.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from wsfast._frames_c cimport close_fields
from wsfast._mask_c cimport mask_bytes
from wsfast._utf8_c cimport utf8_feed, utf8_validate

from ._decoder_py import DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE, again, check_limit, header_error
from ._errors import InvalidUTF8, MessageTooBig, ProtocolError
from ._types import Close, Message, Opcode, Ping, Pong

__all__ = ["Decoder"]


cdef extern from "Python.h":
    bint PyBytes_CheckExact(object o)


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
    MAX_CONTROL = 125
    MAX_HEADER = 14
    # A message buffer larger than this is freed after its message instead
    # of being kept for the next one.
    KEEP_BUFFER = 65536

cdef uint64_t NO_LIMIT = <uint64_t>-1

cdef object _TEXT = Opcode.TEXT
cdef object _BINARY = Opcode.BINARY
cdef object _Message = Message
cdef object _Ping = Ping
cdef object _Pong = Pong
cdef object _Close = Close


cdef uint64_t _limit(str name, object value) except? 0:
    value = check_limit(name, value)
    return NO_LIMIT if value is None else min(value, NO_LIMIT - 1)


# Opcodes 0, 1, 2, 8, 9, 10 as a bit set.
cdef enum:
    VALID_OPCODES = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 8) | (1 << 9) | (1 << 10)


cdef class Decoder:
    """Decode a stream of frames into events: Message, Ping, Pong and Close.

    Decoder(*, client=False, max_message_size=1 MiB, max_frame_size=1 MiB,
    decode_text=True); the options are those of the pure twin
    (wsfast._decoder_py.Decoder) and docs/decoder.md describes them.
    """

    # The fields are declared in _decoder_c.pxd.

    def __init__(self, *, client=False, max_message_size=DEFAULT_MAX_MESSAGE_SIZE,
                 max_frame_size=DEFAULT_MAX_FRAME_SIZE, decode_text=True):
        self._expect_mask = not client
        self._max_message = _limit("max_message_size", max_message_size)
        self._max_frame = _limit("max_frame_size", max_frame_size)
        self._decode_text = bool(decode_text)

    def __dealloc__(self):
        PyMem_Free(self._buf)

    @property
    def closed(self):
        """True once a Close frame was decoded; later bytes are ignored."""
        return self._closed

    def feed(self, data):
        """The events completed by ``data`` (any buffer), in order."""
        cdef Py_buffer view
        if self._error is not None:
            raise again(self._error)
        if PyBytes_CheckExact(data):
            if self._closed:
                return []
            return self._run(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except BufferError:
            return self.feed(memoryview(data).tobytes())  # a non-contiguous view
        try:
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
            PyMem_Free(self._buf)
            self._buf = NULL
            self._buf_cap = 0

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
            if length <= <uint64_t>(n - pos) and (self._opcode >= 8 or (self._fin and self._opcode)):
                # The whole frame is here and is a whole message or a control
                # frame: build its event straight from the input.
                if self._whole(p + pos, <Py_ssize_t>length, events):
                    return events
                pos += <Py_ssize_t>length
                continue
            if self._begin_payload(events):
                return events
        return events

    cdef Py_ssize_t _header(self, const uint8_t *p, Py_ssize_t avail) except -1:
        """Parse and check the header at p; its length, or 0 while incomplete."""
        cdef int b0, b1, opcode, i
        cdef Py_ssize_t hl = 2
        cdef uint64_t length
        if avail < 2:
            return 0
        b0 = p[0]
        b1 = p[1]
        opcode = b0 & 0x0F
        length = b1 & 0x7F
        if (b0 & 0x70) or ((b1 & 0x80) != 0) != self._expect_mask or not (VALID_OPCODES >> opcode) & 1 or (
                opcode >= 8 and (not (b0 & 0x80) or length > MAX_CONTROL)):
            raise header_error(b0, b1, self._expect_mask)
        if length == 126:
            if avail < 4:
                return 0
            length = (<uint64_t>p[2] << 8) | p[3]
            hl = 4
            if length < 126:
                raise ProtocolError(
                    f"RFC 6455 §5.2: payload length {length} sent in 16 bits; the minimal encoding is required")
        elif length == 127:
            if avail < 10:
                return 0
            length = 0
            for i in range(2, 10):
                length = (length << 8) | p[i]
            hl = 10
            if length >> 63:
                raise ProtocolError("RFC 6455 §5.2: the most significant bit of a 64-bit payload length must be 0")
            if length < 0x10000:
                raise ProtocolError(
                    f"RFC 6455 §5.2: payload length {length} sent in 64 bits; the minimal encoding is required")
        if self._expect_mask:
            if avail < hl + 4:
                return 0
            memcpy(self._key, p + hl, 4)
            hl += 4
        self._masked = self._expect_mask
        if length > self._max_frame:
            if opcode >= 8:
                raise MessageTooBig(f"a {length}-byte control frame exceeds max_frame_size ({self._max_frame})")
            raise MessageTooBig(f"a {length}-byte frame exceeds max_frame_size ({self._max_frame})")
        if opcode < 8:
            if opcode:
                if self._msg_opcode:
                    raise ProtocolError("RFC 6455 §5.4: a new data frame arrived before the fragmented message ended")
                self._msg_opcode = opcode
                self._msg_size = 0
                self._utf8_state = 0
            elif not self._msg_opcode:
                raise ProtocolError("RFC 6455 §5.4: a continuation frame arrived with no message to continue")
            if length > self._max_message - self._msg_size:
                raise MessageTooBig(
                    f"a message of at least {self._msg_size + length} bytes exceeds"
                    f" max_message_size ({self._max_message})")
            self._msg_size += length
        self._opcode = opcode
        self._fin = (b0 & 0x80) != 0
        self._length = length
        return hl

    cdef bint _begin_payload(self, list events) except -1:
        """Start receiving the parsed frame's payload piece by piece.  True after a Close."""
        self._left = self._length
        self._phase = 0
        if self._left == 0:
            return self._frame_done(events)
        return False

    cdef bint _whole(self, const uint8_t *src, Py_ssize_t n, list events) except -1:
        """Emit the event of a frame present in full; True after a Close."""
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

    cdef int _payload(self, const uint8_t *src, Py_ssize_t take) except -1:
        """Store one piece of the current frame's payload (unmasked, text validated)."""
        cdef uint8_t *dst
        cdef Py_ssize_t bad
        if self._opcode >= 8:
            dst = self._control + self._control_len
            self._control_len += take
        else:
            if self._buf_len + take > self._buf_cap:
                self._grow(self._buf_len + take)
            dst = self._buf + self._buf_len
            self._buf_len += take
        if self._masked:
            mask_bytes(dst, src, take, self._key, <Py_ssize_t>(self._phase & 3))
            self._phase += take
        else:
            memcpy(dst, src, take)
        if self._opcode < 8 and self._msg_opcode == 1:
            bad = utf8_feed(&self._utf8_state, dst, take)
            if bad >= 0:
                raise InvalidUTF8(
                    "RFC 6455 §8.1: text message is not valid UTF-8 (first invalid byte at offset "
                    f"{self._buf_len - take + bad})")
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
        cdef uint8_t *buf = <uint8_t *>PyMem_Realloc(self._buf, cap)
        if buf == NULL:
            raise MemoryError()
        self._buf = buf
        self._buf_cap = cap
        return 0

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
        if self._msg_opcode == 1:
            if self._utf8_state != 0:
                raise InvalidUTF8("RFC 6455 §8.1: text message ends inside a UTF-8 sequence")
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
        raise InvalidUTF8(f"RFC 6455 §8.1: text message is not valid UTF-8 (first invalid byte at offset {bad})")
    raise InvalidUTF8("RFC 6455 §8.1: text message ends inside a UTF-8 sequence")
