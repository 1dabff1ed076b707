# cython: language_level=3
"""Frame headers, frame encoding and close payloads (RFC 6455 §5.2, §5.5.1, §7.4): compiled.

Same behaviour as _frames_py (docs/frames.md): the rules, their errors and
the argument rules come from wsfast._protocol and wsfast._args, shared with
it.  encode_frame writes header, key and masked payload straight into the
result bytes: one allocation a call.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongAndOverflow, PyLong_AsLongLongAndOverflow, PyLong_Check, PyLong_CheckExact
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy

from wsfast._mask_c cimport mask_bytes

import os

from . import _args, _protocol
from ._types import FrameHeader

__all__ = ["parse_header", "encode_frame", "encode_close", "parse_close"]


cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL
    bint PyBytes_CheckExact(object o)
    bint PyUnicode_Check(object o)


cdef extern from *:
    """
    /* Free-threaded builds need a lock around the key pool; with a GIL the
       pool is only touched between Python calls, which the GIL makes atomic. */
    #if defined(Py_GIL_DISABLED)
    static PyMutex wsf_pool_mutex = {0};
    #define WSF_POOL_LOCK() PyMutex_Lock(&wsf_pool_mutex)
    #define WSF_POOL_UNLOCK() PyMutex_Unlock(&wsf_pool_mutex)
    #define WSF_POOL_RESET_LOCK() memset(&wsf_pool_mutex, 0, sizeof(wsf_pool_mutex))
    #else
    #define WSF_POOL_LOCK()
    #define WSF_POOL_UNLOCK()
    #define WSF_POOL_RESET_LOCK()
    #endif
    """
    void WSF_POOL_LOCK() noexcept nogil
    void WSF_POOL_UNLOCK() noexcept nogil
    void WSF_POOL_RESET_LOCK() noexcept nogil


cdef enum:
    POOL_SIZE = 4096

# The protocol's constants, read once from wsfast._protocol.
cdef Py_ssize_t MAX_CONTROL_PAYLOAD = _protocol.MAX_CONTROL_PAYLOAD
cdef unsigned int VALID_OPCODES = _protocol.VALID_OPCODE_BITS
cdef long _CLOSE_LOW[8]
cdef long _CLOSE_HIGH[8]
cdef int _CLOSE_RANGES = 0
for _low, _high in _protocol.CLOSE_CODE_RANGES[:8]:
    _CLOSE_LOW[_CLOSE_RANGES] = _low
    _CLOSE_HIGH[_CLOSE_RANGES] = _high
    _CLOSE_RANGES += 1
del _low, _high

# Opcode value -> member (None for reserved values), so results carry the enum.
cdef list _OPCODES = [_protocol.OPCODE_MEMBERS.get(_op) for _op in range(16)]


# ------------------------------------------------------------------ key pool

cdef uint8_t _pool[POOL_SIZE]
cdef Py_ssize_t _pool_pos = POOL_SIZE
_urandom = os.urandom


cdef int draw_mask_key(unsigned char *key) except -1:
    global _pool_pos
    cdef bytes fresh
    cdef bint taken = False
    while not taken:
        WSF_POOL_LOCK()
        if _pool_pos <= POOL_SIZE - 4:
            memcpy(key, &_pool[_pool_pos], 4)
            _pool_pos += 4
            taken = True
        WSF_POOL_UNLOCK()
        if not taken:
            # os.urandom may release the GIL: refill only if nobody did meanwhile.
            fresh = _urandom(POOL_SIZE)
            WSF_POOL_LOCK()
            if _pool_pos > POOL_SIZE - 4:
                memcpy(_pool, PyBytes_AS_STRING(fresh), POOL_SIZE)
                _pool_pos = 0
            WSF_POOL_UNLOCK()
    return 0


def _drop_key_pool():
    """Forget the pool (run in a forked child, so it never reuses the parent's keys)."""
    global _pool_pos
    WSF_POOL_RESET_LOCK()
    _pool_pos = POOL_SIZE


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_key_pool)


# ------------------------------------------------------------ parse_header

cdef class _Bytes:
    """Contiguous bytes of any buffer: borrowed when possible, else a copy."""
    cdef Py_buffer view
    cdef bint held
    cdef object copy
    cdef const uint8_t *ptr
    cdef Py_ssize_t size

    def __dealloc__(self):
        if self.held:
            PyBuffer_Release(&self.view)


cdef _Bytes _contiguous(object data, str what):
    cdef _Bytes b = _Bytes.__new__(_Bytes)
    if not PyObject_CheckBuffer(data):
        raise _args.not_buffer(data, what)
    try:
        PyObject_GetBuffer(data, &b.view, PyBUF_SIMPLE)
    except BufferError:
        b.copy = memoryview(data).tobytes()  # a non-contiguous view
        b.ptr = <const uint8_t *>PyBytes_AS_STRING(b.copy)
        b.size = PyBytes_GET_SIZE(b.copy)
        return b
    b.held = True
    b.ptr = <const uint8_t *>b.view.buf
    b.size = b.view.len
    return b


cdef inline uint64_t _be(const uint8_t *p, int n) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(n):
        v = (v << 8) | p[i]
    return v


def parse_header(data, offset=0):
    """Parse the frame header at ``data[offset:]``; None while it is incomplete.

    ProtocolError (1002) for a 64-bit length with its top bit set and for a
    length not in its shortest form; the Decoder judges everything else.
    ``offset`` is an int from 0 to ``len(data)``.
    """
    cdef _Bytes b = _contiguous(data, "data")
    cdef int overflow = 0
    cdef long long start = -1
    if PyLong_CheckExact(offset):
        start = PyLong_AsLongLongAndOverflow(offset, &overflow)
    if overflow or not 0 <= start <= b.size:
        start = _args.header_offset(offset, b.size)
    cdef const uint8_t *p = b.ptr + start
    cdef Py_ssize_t avail = b.size - start
    cdef Py_ssize_t header_length = 2
    cdef uint64_t length
    if avail < 2:
        return None
    length = p[1] & 0x7F
    if length == 126:
        header_length = 4
        if avail < 4:
            return None
        length = _be(p + 2, 2)
        if length < 126:
            raise _protocol.non_minimal_length(length, 16)
    elif length == 127:
        header_length = 10
        if avail < 10:
            return None
        length = _be(p + 2, 8)
        if length >> 63:
            raise _protocol.length_top_bit()
        if length < 0x10000:
            raise _protocol.non_minimal_length(length, 64)
    mask = None
    if p[1] & 0x80:
        if avail < header_length + 4:
            return None
        mask = PyBytes_FromStringAndSize(<const char *>p + header_length, 4)
        header_length += 4
    cdef int opcode = p[0] & 0x0F
    op = _OPCODES[opcode]
    return FrameHeader(
        (p[0] & 0x80) != 0,
        (p[0] & 0x40) != 0,
        (p[0] & 0x20) != 0,
        (p[0] & 0x10) != 0,
        opcode if op is None else op,
        mask,
        length,
        header_length,
    )


# ------------------------------------------------------------ encode_frame

cdef inline Py_ssize_t _write_header(uint8_t *out, int b0, int mask_bit, Py_ssize_t n) noexcept nogil:
    out[0] = <uint8_t>b0
    cdef int i
    if n < 126:
        out[1] = <uint8_t>(mask_bit | n)
        return 2
    if n < 0x10000:
        out[1] = <uint8_t>(mask_bit | 126)
        out[2] = <uint8_t>(n >> 8)
        out[3] = <uint8_t>n
        return 4
    out[1] = <uint8_t>(mask_bit | 127)
    for i in range(8):
        out[9 - i] = <uint8_t>((<uint64_t>n) >> (8 * i))
    return 10


cdef inline int _opcode(object opcode) except -1:
    """encode_frame's opcode: ints (bool and Opcode members included) here,
    anything else, and every bad value, through wsfast._args."""
    cdef int overflow = 0
    cdef long op
    if PyLong_Check(opcode):
        op = PyLong_AsLongAndOverflow(opcode, &overflow)
        if overflow == 0 and 0 <= op <= 15 and (VALID_OPCODES >> op) & 1:
            return <int>op
    return _args.opcode(opcode)


cdef int _read_key(object mask, uint8_t *key) except -1:
    cdef bytes k
    if PyBytes_CheckExact(mask) and PyBytes_GET_SIZE(mask) == 4:
        memcpy(key, PyBytes_AS_STRING(mask), 4)
        return 0
    k = _args.mask_key(mask)
    memcpy(key, PyBytes_AS_STRING(k), 4)
    return 0


def encode_frame(opcode, payload, *, fin=True, rsv1=False, mask=None):
    """One whole frame: header, masking key if any, and payload (masked if asked).

    ``payload`` is any buffer, or a str (sent as UTF-8).  ``mask`` is None or
    False (unmasked), True (a fresh key from the os.urandom pool) or a 4-byte
    key.  ValueError for an unknown opcode, a control frame over 125 bytes,
    fragmented or with RSV1, or a key that is not 4 bytes.  The arguments are
    checked in order, each against those before it.
    """
    cdef const uint8_t *src
    cdef Py_ssize_t n
    cdef _Bytes held = None
    cdef uint8_t key[4]
    cdef int mask_bit = 0
    cdef int op = _opcode(opcode)
    cdef int b0 = op
    if PyBytes_CheckExact(payload):
        src = <const uint8_t *>PyBytes_AS_STRING(payload)
        n = PyBytes_GET_SIZE(payload)
    elif PyUnicode_Check(payload):
        # Any str as its UTF-8 text, an overridden encode() ignored.
        src = <const uint8_t *>PyUnicode_AsUTF8AndSize(payload, &n)
    else:
        held = _contiguous(payload, "payload")
        src = held.ptr
        n = held.size
    if op >= 8 and n > MAX_CONTROL_PAYLOAD:
        raise _protocol.control_payload_too_long(n)
    # Each flag is read once, in order, as bool() would (__bool__ may raise).
    if fin:
        b0 |= 0x80
    elif op >= 8:
        raise _protocol.control_not_final()
    if rsv1:
        if op >= 8:
            raise _protocol.control_rsv1()
        b0 |= 0x40
    if mask is None or mask is False:
        pass
    elif mask is True:
        draw_mask_key(key)
        mask_bit = 0x80
    else:
        _read_key(mask, key)
        mask_bit = 0x80
    cdef Py_ssize_t header_length = (2 if n < 126 else 4 if n < 0x10000 else 10) + (4 if mask_bit else 0)
    cdef bytes frame = PyBytes_FromStringAndSize(NULL, header_length + n)
    cdef uint8_t *out = <uint8_t *>PyBytes_AS_STRING(frame)
    cdef Py_ssize_t pos = _write_header(out, b0, mask_bit, n)
    if mask_bit:
        memcpy(out + pos, key, 4)
        pos += 4
        if n >= 65536 and held is None:
            with nogil:  # src belongs to an immutable bytes or str
                mask_bytes(out + pos, src, n, key, 0)
        else:
            mask_bytes(out + pos, src, n, key, 0)
    elif n:
        memcpy(out + pos, src, n)
    return frame


# ------------------------------------------------------------ close payloads

cdef bint close_code_valid(long code) noexcept nogil:
    cdef int i
    for i in range(_CLOSE_RANGES):
        if _CLOSE_LOW[i] <= code <= _CLOSE_HIGH[i]:
            return True
    return False


cdef tuple close_fields(const unsigned char *data, Py_ssize_t n):
    if n == 0:
        return (None, "")
    if n == 1:
        raise _protocol.close_one_byte()
    if n > MAX_CONTROL_PAYLOAD:
        raise _protocol.close_too_long(n)
    cdef long code = (data[0] << 8) | data[1]
    if not close_code_valid(code):
        raise _protocol.close_code_invalid(code)
    try:
        reason = PyUnicode_DecodeUTF8(<const char *>data + 2, n - 2, NULL)
    except UnicodeDecodeError as exc:
        raise _protocol.close_reason_not_utf8(exc) from None
    return (code, reason)


def encode_close(code=None, reason=""):
    """The payload of a Close frame (RFC 6455 §5.5.1).

    ``code`` is None or an int that may be sent (TypeError for a non-int,
    ValueError for a code not valid on the wire, see docs/frames.md);
    ``reason`` a str (TypeError otherwise) of at most 123 bytes of UTF-8 and
    never without a code (ValueError).
    """
    # Once a connection: the shared argument rules do all of it.
    value = _args.close_code(code)
    cdef bytes text = _args.close_reason(reason, value)
    if value is None:
        return b""
    cdef long c = value
    cdef Py_ssize_t n = PyBytes_GET_SIZE(text)
    cdef bytes payload = PyBytes_FromStringAndSize(NULL, n + 2)
    cdef uint8_t *out = <uint8_t *>PyBytes_AS_STRING(payload)
    out[0] = <uint8_t>(c >> 8)
    out[1] = <uint8_t>(c & 0xFF)
    memcpy(out + 2, PyBytes_AS_STRING(text), n)
    return payload


def parse_close(payload):
    """(code, reason) from a Close frame's payload; (None, "") for an empty one.

    ProtocolError (1002) for a one-byte payload, a code not valid on the wire
    or a payload over 125 bytes; InvalidUTF8 (1007) for a reason not UTF-8.
    """
    cdef _Bytes b = _contiguous(payload, "payload")
    return close_fields(b.ptr, b.size)
