# cython: language_level=3
"""permessage-deflate compression (RFC 7692 §7.2), compiled over zlib's C API.

The behaviour is _deflate_py's, byte for byte (the same zlib calls on the
same data, with the same back end: zlib-ng when its module is installed,
else zlib); what changes is where the bytes go: compression writes straight
into the result object, inflation straight into the caller's buffer (the
compiled Decoder's message buffer), with the GIL released around large
calls.  Streams are allocated on first use through an allocator that counts
their bytes (``_zlib_bytes()``), reset rather than recreated, and, for a
side without context takeover, shared between connections through a small
pool.  The C side is _csrc/zstream.h.  docs/deflate.md.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_XDECREF
from libc.stdint cimport uint8_t

import os

from . import _protocol
from ._errors import ProtocolError
from ._permessage_deflate import (BACKENDS, DEFAULT_LEVEL, DEFAULT_MEM_LEVEL, busy_error, check_max_length,
                                  choose_backend, deflater_args, inflater_args, no_copy, takes_zlib_ng,
                                  unknown_backend)

__all__ = ["Deflater", "Inflater"]


cdef extern from "Python.h":
    Py_ssize_t PY_SSIZE_T_MAX
    bint PyBytes_CheckExact(object o)
    bint PyUnicode_Check(object o)
    const char *PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL


cdef extern from *:
    """
    #include "zstream.h"

    /* A new bytes object (NULL with an exception), grown or shrunk in place
       (on failure *b is freed and NULL, with an exception). */
    static PyObject *wsf_bytes_new(Py_ssize_t n) { return PyBytes_FromStringAndSize(NULL, n); }
    static int wsf_bytes_resize(PyObject **b, Py_ssize_t n) { return _PyBytes_Resize(b, n); }
    static unsigned char *wsf_bytes_ptr(PyObject *b) { return (unsigned char *)PyBytes_AS_STRING(b); }
    """
    ctypedef struct wsf_strm:
        pass
    int Z_OK, Z_MEM_ERROR
    const char *zlibVersion()
    int wsf_ng_bind(const char *path)
    const char *wsf_ng_version()
    wsf_strm *wsf_deflate_new(int ng, int level, int mem_level, int wbits, int *err) nogil
    wsf_strm *wsf_inflate_new(int ng, int wbits, int *err) nogil
    void wsf_deflate_free(wsf_strm *s) nogil
    void wsf_inflate_free(wsf_strm *s) nogil
    int wsf_deflate_reset(wsf_strm *s) nogil
    int wsf_inflate_reset(wsf_strm *s) nogil
    int wsf_deflate_run(wsf_strm *s, const unsigned char *src, Py_ssize_t n, Py_ssize_t *used,
                        unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced, int *done) nogil
    int wsf_inflate_run(wsf_strm *s, int *ended, const unsigned char *src, Py_ssize_t n,
                        Py_ssize_t *used, unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced) nogil
    int wsf_inflate_drain(wsf_strm *s, unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced) nogil
    int wsf_inflate_end_message(wsf_strm *s) nogil
    Py_ssize_t wsf_deflate_bound(wsf_strm *s, Py_ssize_t n) nogil
    const char *wsf_msg(wsf_strm *s) nogil
    PyObject *wsf_bytes_new(Py_ssize_t n) except NULL
    int wsf_bytes_resize(PyObject **b, Py_ssize_t n) except -1
    unsigned char *wsf_bytes_ptr(PyObject *b) nogil
    long long WSF_LIVE() nogil


cdef enum:
    # From this much input the zlib work (~4 us for deflate, more for
    # inflate's output) outweighs dropping and retaking the GIL (~0.1 us).
    DEFLATE_NOGIL_FROM = 4096
    INFLATE_NOGIL_FROM = 2048
    INFLATE_NOGIL_ROOM = 1 << 20
    # Streams kept per kind for sides without context takeover: each is in
    # use only during one compress() call or one message, so a few serve a
    # whole server; more are made (and freed again) only under concurrency.
    POOL_SIZE = 8
    # The Python-level inflate()'s first output buffer, at least.
    FIRST_ROOM = 4096

cdef bytes EMPTY = b"\x00"

ZLIB_VERSION = zlibVersion().decode("ascii")
ZLIB_NG_VERSION = None  # zlib-ng's version once bound
BACKEND = "zlib"

cdef bint _ng_bound = False


def _bind_zlib_ng():
    global ZLIB_NG_VERSION, _ng_bound
    if _ng_bound:
        return
    from zlib_ng import zlib_ng as module
    if wsf_ng_bind(os.fsencode(module.__file__)) != 0:
        raise ImportError(f"{module.__file__} does not export zlib-ng 2.x's native API (zng_*) "
                          "that wsfast's compiled unit calls; WSFAST_ZLIB=zlib uses the system zlib")
    _ng_bound = True
    ZLIB_NG_VERSION = wsf_ng_version().decode("ascii")


def use_backend(name):
    """Switch the back end of new Deflaters and Inflaters ("auto", "zlib" or
    "zlib-ng", see _permessage_deflate); objects already made keep theirs.
    ImportError when zlib-ng is needed and its module is not installed or
    cannot lend its C API."""
    global BACKEND
    if name not in BACKENDS:
        raise unknown_backend(name)
    if name != "zlib":
        _bind_zlib_ng()
    BACKEND = name


cdef str _name(bint ng):
    return "zlib-ng" if ng else "zlib"


choose_backend(use_backend)


def _zlib_bytes():
    """Bytes that zlib holds right now, every stream of this module together."""
    return WSF_LIVE()


# ------------------------------------------------------------------- pools

cdef struct PoolEntry:
    wsf_strm *strm
    int key

cdef cython.pymutex _pool_lock
cdef PoolEntry _deflate_pool[POOL_SIZE]
cdef int _deflate_pool_n = 0
cdef PoolEntry _inflate_pool[POOL_SIZE]
cdef int _inflate_pool_n = 0


cdef inline int _deflate_key(int ng, int level, int mem_level, int wbits) noexcept nogil:
    return (level + 1) | (mem_level << 4) | (wbits << 8) | (ng << 12)


cdef inline int _inflate_key(int ng, int wbits) noexcept nogil:
    return wbits | (ng << 4)


cdef wsf_strm *_pool_take(PoolEntry *pool, int *count, int key) noexcept nogil:
    cdef int i
    cdef wsf_strm *s = NULL
    with _pool_lock:
        for i in range(count[0] - 1, -1, -1):
            if pool[i].key == key:
                s = pool[i].strm
                count[0] -= 1
                pool[i] = pool[count[0]]
                break
    return s


cdef bint _pool_give(PoolEntry *pool, int *count, int key, wsf_strm *s) noexcept nogil:
    """False when the pool is full: the caller frees the stream."""
    with _pool_lock:
        if count[0] < POOL_SIZE:
            pool[count[0]].strm = s
            pool[count[0]].key = key
            count[0] += 1
            return True
    return False


cdef int _raise_zlib(int err, wsf_strm *s) except -1:
    if err == Z_MEM_ERROR:
        raise MemoryError("zlib could not allocate its stream")
    msg = wsf_msg(s) if s != NULL else NULL
    raise _protocol.inflate_corrupt(msg.decode("ascii", "replace") if msg != NULL else "invalid input data")


cdef struct Input:
    const uint8_t *p
    Py_ssize_t n
    bint release
    Py_buffer view


cdef int _read(object data, Input *inp, bint text) except -1:
    """The bytes of data (str as UTF-8 when ``text``): a pointer valid until
    _done(inp), without a copy unless data is a non-contiguous view."""
    cdef Py_ssize_t size
    inp.release = False
    if PyUnicode_Check(data):
        if not text:
            raise TypeError("a bytes-like object is required, not 'str'")
        inp.p = <const uint8_t *>PyUnicode_AsUTF8AndSize(data, &size)
        inp.n = size
        return 0
    try:
        PyObject_GetBuffer(data, &inp.view, PyBUF_SIMPLE)
    except BufferError:
        # A non-contiguous view: its bytes in logical order (the view keeps them alive).
        PyObject_GetBuffer(memoryview(data).tobytes(), &inp.view, PyBUF_SIMPLE)
    inp.release = True
    inp.p = <const uint8_t *>inp.view.buf
    inp.n = inp.view.len
    return 0


cdef inline void _done(Input *inp) noexcept:
    if inp.release:
        PyBuffer_Release(&inp.view)
        inp.release = False


cdef object _steal(PyObject **raw):
    """The bytes object *raw as a Python reference, taking over ours."""
    out = <object>raw[0]
    Py_DECREF(out)
    raw[0] = NULL
    return out


# ---------------------------------------------------------------- Deflater

@cython.final
cdef class Deflater:
    """Compress this side's messages for permessage-deflate (RFC 7692 §7.2.1).

    Deflater(params, *, client=False, level=1, mem_level=5, window_bits=None,
    no_context_takeover=False); the arguments and behaviour are those of the
    pure twin (wsfast._deflate_py.Deflater), byte for byte.
    """

    def __init__(self, params, *, client=False, level=DEFAULT_LEVEL, mem_level=DEFAULT_MEM_LEVEL,
                 window_bits=None, no_context_takeover=False):
        level_, mem, wbits, no_takeover = deflater_args(
            params, client, level, mem_level, window_bits, no_context_takeover)
        if self._busy:
            raise busy_error(self)
        wsf_deflate_free(<wsf_strm *>self._strm)
        self._strm = NULL
        self._ng = takes_zlib_ng(BACKEND, no_takeover, wbits, mem)
        self._level = level_
        self._mem_level = mem
        self._wbits = wbits
        self._no_takeover = no_takeover

    def __dealloc__(self):
        wsf_deflate_free(<wsf_strm *>self._strm)

    def compress(self, data):
        """The payload of one compressed message: ``data`` (any buffer, or str
        as UTF-8) deflated and sync-flushed, ``00 00 ff ff`` removed."""
        cdef Input inp
        if PyBytes_CheckExact(data):
            return self.compress_ptr(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        _read(data, &inp, True)
        try:
            return self.compress_ptr(inp.p, inp.n)
        finally:
            _done(&inp)

    cdef bytes compress_ptr(self, const uint8_t *data, Py_ssize_t n):
        cdef wsf_strm *s
        cdef int err = Z_OK, done = 0
        cdef Py_ssize_t cap, used = 0, produced = 0, total = 0
        cdef PyObject *raw = NULL
        if n == 0:
            return EMPTY  # RFC 7692 §7.2.3.6, without touching (or making) a stream
        with cython.critical_section(self):
            if self._busy:
                raise busy_error(self)
            self._busy = True
        s = NULL
        try:
            if self._no_takeover:
                s = _pool_take(_deflate_pool, &_deflate_pool_n,
                               _deflate_key(self._ng, self._level, self._mem_level, self._wbits))
            else:
                s = <wsf_strm *>self._strm
            if s == NULL:
                s = wsf_deflate_new(self._ng, self._level, self._mem_level, self._wbits, &err)
                if s == NULL:
                    _raise_zlib(err, NULL)
                if not self._no_takeover:
                    self._strm = s
            cap = wsf_deflate_bound(s, n)
            raw = wsf_bytes_new(cap)
            if n < DEFLATE_NOGIL_FROM:
                err = wsf_deflate_run(s, data, n, &used, wsf_bytes_ptr(raw), cap, &produced, &done)
            else:
                with nogil:
                    err = wsf_deflate_run(s, data, n, &used, wsf_bytes_ptr(raw), cap, &produced, &done)
            total = produced
            while err == Z_OK and not done:
                # zlib's bound fell short (it does not promise one for flushes): grow, resume.
                data += used
                n -= used
                cap = cap + (cap >> 1) + 64
                wsf_bytes_resize(&raw, cap)
                err = wsf_deflate_run(s, data, n, &used, wsf_bytes_ptr(raw) + total, cap - total,
                                      &produced, &done)
                total += produced
            if err != Z_OK:
                _raise_zlib(err, NULL)
            # A sync flush always ends with 00 00 ff ff (RFC 7692 §7.2.1): drop it.
            wsf_bytes_resize(&raw, total - 4)
            self._release(s, True)
            s = NULL
            return _steal(&raw)
        finally:
            Py_XDECREF(raw)
            if s != NULL:
                self._release(s, False)
            self._busy = False

    cdef void _release(self, void *strm, bint ok) noexcept:
        """After a message: a pooled stream is reset and given back; a failed
        stream is freed, so that no half-fed context is ever reused."""
        cdef wsf_strm *s = <wsf_strm *>strm
        cdef int key = _deflate_key(self._ng, self._level, self._mem_level, self._wbits)
        if self._no_takeover:
            if ok and wsf_deflate_reset(s) == Z_OK and _pool_give(_deflate_pool, &_deflate_pool_n, key, s):
                return
            wsf_deflate_free(s)
        elif not ok:
            wsf_deflate_free(s)
            self._strm = NULL

    def __repr__(self):
        return (f"<Deflater level={self._level} mem_level={self._mem_level} window_bits={self._wbits} "
                f"no_context_takeover={bool(self._no_takeover)} backend={_name(self._ng)}>")

    def __reduce__(self):
        no_copy(self)

    def __copy__(self):
        no_copy(self)

    def __deepcopy__(self, memo):
        no_copy(self)


# ---------------------------------------------------------------- Inflater

@cython.final
cdef class Inflater:
    """Inflate the peer's compressed messages, piece by piece (RFC 7692 §7.2.2).

    Internal: the compiled Decoder holds one and calls inflate_into() and
    finish_message() (see _deflate_c.pxd); the Python-level inflate() and
    finish() are those of the pure twin (wsfast._deflate_py.Inflater).
    """

    def __init__(self, params, *, client=False):
        wbits, no_takeover = inflater_args(params, client)
        if self._busy:
            raise busy_error(self)
        self._drop()
        self._ng = takes_zlib_ng(BACKEND, no_takeover, wbits)
        self._wbits = wbits
        self._no_takeover = no_takeover
        self._ended = False
        self._fed = False
        self._full = False
        self._error = None
        self._pending = None

    def __dealloc__(self):
        wsf_inflate_free(<wsf_strm *>self._strm)

    cdef void _drop(self) noexcept:
        wsf_inflate_free(<wsf_strm *>self._strm)
        self._strm = NULL
        self._ended = False

    cdef int _acquire(self) except -1:
        cdef int err = Z_OK
        cdef wsf_strm *s = NULL
        if self._no_takeover:
            s = _pool_take(_inflate_pool, &_inflate_pool_n, _inflate_key(self._ng, self._wbits))
        if s == NULL:
            s = wsf_inflate_new(self._ng, self._wbits, &err)
            if s == NULL:
                _raise_zlib(err, NULL)
        self._strm = s
        self._ended = False
        return 0

    cdef int _fail(self, int err) except -1:
        try:
            _raise_zlib(err, <wsf_strm *>self._strm)
        except ProtocolError as exc:
            self._error = exc
            self._drop()
            raise

    cdef Py_ssize_t inflate_into(self, const uint8_t *src, Py_ssize_t n, Py_ssize_t *used,
                                 uint8_t *dst, Py_ssize_t cap) except -1:
        cdef Py_ssize_t produced = 0
        cdef int ret, ended
        if self._error is not None:
            raise self._error
        with cython.critical_section(self):
            if self._busy:
                raise busy_error(self)
            self._busy = True
        try:
            used[0] = 0
            if self._strm == NULL:
                if n == 0:
                    return 0
                self._acquire()
            if n > 0:
                self._fed = True
            ended = self._ended
            if n >= INFLATE_NOGIL_FROM or cap >= INFLATE_NOGIL_ROOM:
                with nogil:
                    ret = wsf_inflate_run(<wsf_strm *>self._strm, &ended, src, n, used, dst, cap, &produced)
            else:
                ret = wsf_inflate_run(<wsf_strm *>self._strm, &ended, src, n, used, dst, cap, &produced)
            self._ended = ended
            if ret != Z_OK:
                self._fail(ret)
            return produced
        finally:
            self._busy = False

    cdef int finish_message(self) except -1:
        cdef wsf_strm *s
        cdef int ret
        if self._error is not None:
            raise self._error
        with cython.critical_section(self):
            if self._busy:
                raise busy_error(self)
            self._busy = True
        try:
            if not self._fed:
                self._error = _protocol.compressed_empty()
                self._drop()
                raise self._error
            s = <wsf_strm *>self._strm
            if not self._ended:
                ret = wsf_inflate_end_message(s)
                if ret < 0:
                    self._fail(ret)
                if ret:
                    self._error = _protocol.compressed_bad_end()
                    self._drop()
                    raise self._error
                self._ended = True
            self._fed = False
            self._full = False
            if self._no_takeover:
                # The peer starts its next message from an empty window: reset
                # the stream and share it until then.
                self._ended = False
                self._strm = NULL
                if (wsf_inflate_reset(s) != Z_OK
                        or not _pool_give(_inflate_pool, &_inflate_pool_n, _inflate_key(self._ng, self._wbits), s)):
                    wsf_inflate_free(s)
            return 0
        finally:
            self._busy = False

    # ---------------------------------------------------- the Python level

    def inflate(self, data, max_length=None):
        """Up to ``max_length`` bytes (None: no bound) of the message, inflated from ``data``."""
        cdef Input inp
        cdef Py_ssize_t limit, size, room, got, used = 0, total = 0, n
        cdef const uint8_t *src
        cdef PyObject *raw = NULL
        _read(data, &inp, False)
        try:
            limit = min(check_max_length(max_length), PY_SSIZE_T_MAX)
            if self._error is not None:
                raise self._error
            if self._busy:
                raise busy_error(self)
            joined = None
            if self._pending is not None:
                joined = self._pending + (<const char *>inp.p)[:inp.n]
                self._pending = None
                src = <const uint8_t *>PyBytes_AS_STRING(joined)
                n = PyBytes_GET_SIZE(joined)
            else:
                src = inp.p
                n = inp.n
            # Room for JSON's usual ratio first (and never less than
            # FIRST_ROOM: zlib's fast loop only runs while 258 bytes of room
            # are left), then grown geometrically: a larger first guess costs
            # page faults on large messages.
            size = max(n * 4, FIRST_ROOM)
            if limit >= 0:
                size = min(limit, size)
            raw = wsf_bytes_new(size)
            while True:
                room = size - total
                got = self.inflate_into(src, n, &used, wsf_bytes_ptr(raw) + total, room)
                total += got
                src += used
                n -= used
                if got < room:
                    break
                if limit >= 0 and total >= limit:
                    if n:
                        self._pending = (<const char *>src)[:n]
                    break
                size = size * 2 if limit < 0 else min(limit, size * 2)
                wsf_bytes_resize(&raw, size)
            self._full = limit >= 0 and total == limit
            wsf_bytes_resize(&raw, total)
            return _steal(&raw)
        finally:
            Py_XDECREF(raw)
            _done(&inp)

    def finish(self):
        """End the current message (RFC 7692 §7.2.2): ProtocolError if it did
        not end on a block boundary, or had no compressed byte at all."""
        cdef unsigned char scratch[1]
        cdef Py_ssize_t got = 0
        if self._error is not None:
            raise self._error
        if self._full and self._strm != NULL:
            if self._pending is not None or wsf_inflate_drain(<wsf_strm *>self._strm, scratch, 1, &got) != Z_OK or got:
                raise RuntimeError("Inflater.finish() while inflate() output is still pending")
        self.finish_message()

    def __repr__(self):
        return (f"<Inflater window_bits={self._wbits} no_context_takeover={bool(self._no_takeover)} "
                f"backend={_name(self._ng)}>")

    def __reduce__(self):
        no_copy(self)

    def __copy__(self):
        no_copy(self)

    def __deepcopy__(self, memo):
        no_copy(self)
