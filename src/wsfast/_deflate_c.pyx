# cython: language_level=3
"""permessage-deflate compression (RFC 7692 §7.2), compiled over zlib's C API.

The behaviour is _deflate_py's, byte for byte (the same zlib calls on the
same data); what changes is where the bytes go: compression writes straight
into the result object, inflation straight into the caller's buffer (the
compiled Decoder's message buffer), with the GIL released around large
calls.  zlib streams are allocated on first use through an allocator that
counts their bytes (``_zlib_bytes()``), reset with deflateReset/inflateReset
rather than recreated, and, for a side without context takeover, shared
between connections through a small pool.  docs/deflate.md.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_XDECREF
from libc.stdint cimport uint8_t

from . import _protocol
from ._errors import ProtocolError
from ._permessage_deflate import (DEFAULT_LEVEL, DEFAULT_MEM_LEVEL, busy_error, check_max_length,
                                  deflater_args, inflater_args, no_copy)

__all__ = ["Deflater", "Inflater"]


cdef extern from "Python.h":
    Py_ssize_t PY_SSIZE_T_MAX
    bint PyBytes_CheckExact(object o)
    bint PyUnicode_Check(object o)
    const char *PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL


cdef extern from *:
    """
    #include <zlib.h>

    /* Bytes zlib holds through wsf_zalloc, all streams together: how the
       memory of a connection's compressor and inflater is measured
       (tracemalloc sees them too: they come from PyMem_RawMalloc). */
    #if defined(_MSC_VER)
    #include <intrin.h>
    static volatile __int64 wsf_zlib_live = 0;
    #define WSF_ADD(v) _InterlockedExchangeAdd64(&wsf_zlib_live, (__int64)(v))
    #define WSF_LIVE() ((long long)wsf_zlib_live)
    #else
    static long long wsf_zlib_live = 0;
    #define WSF_ADD(v) __atomic_fetch_add(&wsf_zlib_live, (long long)(v), __ATOMIC_RELAXED)
    #define WSF_LIVE() __atomic_load_n(&wsf_zlib_live, __ATOMIC_RELAXED)
    #endif
    #define WSF_HEAD 16  /* keeps the block 16-byte aligned */

    static voidpf wsf_zalloc(voidpf opaque, uInt items, uInt size) {
        size_t n = (size_t)items * size;
        char *p;
        (void)opaque;
        if (size && n / size != items) return Z_NULL;
        p = (char *)PyMem_RawMalloc(n + WSF_HEAD);
        if (p == NULL) return Z_NULL;
        *(size_t *)p = n;
        WSF_ADD(n);
        return p + WSF_HEAD;
    }

    static void wsf_zfree(voidpf opaque, voidpf ptr) {
        char *p;
        (void)opaque;
        if (ptr == NULL) return;
        p = (char *)ptr - WSF_HEAD;
        WSF_ADD(-(long long)*(size_t *)p);
        PyMem_RawFree(p);
    }

    /* A stream, or NULL with *err set (Z_MEM_ERROR, Z_STREAM_ERROR...). */
    static z_stream *wsf_stream_new(int deflating, int level, int mem_level, int wbits, int *err) {
        z_stream *s = (z_stream *)PyMem_RawCalloc(1, sizeof(z_stream));
        if (s == NULL) { *err = Z_MEM_ERROR; return NULL; }
        s->zalloc = wsf_zalloc;
        s->zfree = wsf_zfree;
        if (deflating)
            *err = deflateInit2(s, level, Z_DEFLATED, -wbits, mem_level, Z_DEFAULT_STRATEGY);
        else
            *err = inflateInit2(s, -wbits);
        if (*err != Z_OK) { PyMem_RawFree(s); return NULL; }
        return s;
    }
    #define wsf_deflate_new(level, mem_level, wbits, err) wsf_stream_new(1, level, mem_level, wbits, err)
    #define wsf_inflate_new(wbits, err) wsf_stream_new(0, 0, 0, wbits, err)

    static void wsf_deflate_free(z_stream *s) {
        if (s) { deflateEnd(s); PyMem_RawFree(s); }
    }

    static void wsf_inflate_free(z_stream *s) {
        if (s) { inflateEnd(s); PyMem_RawFree(s); }
    }

    /* zlib counts in uInt: feed at most this much per call. */
    #define WSF_STEP ((Py_ssize_t)1 << 30)

    /* Give zlib the next step of input and of room, when it has used up the last. */
    static void wsf_refill(z_stream *s, Py_ssize_t *in_left, Py_ssize_t *out_left) {
        if (s->avail_in == 0 && *in_left) {
            s->avail_in = (uInt)(*in_left < WSF_STEP ? *in_left : WSF_STEP);
            *in_left -= s->avail_in;
        }
        if (s->avail_out == 0 && *out_left) {
            s->avail_out = (uInt)(*out_left < WSF_STEP ? *out_left : WSF_STEP);
            *out_left -= s->avail_out;
        }
    }

    /* Deflate src[0:n], then sync-flush, into dst[0:cap].  *done is set
       once the flush is complete; otherwise the room ran out: call again
       with src + *used, n - *used (maybe 0) and more room.  Returns Z_OK or
       zlib's error. */
    static int wsf_deflate_run(z_stream *s, const unsigned char *src, Py_ssize_t n, Py_ssize_t *used,
                               unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced, int *done) {
        Py_ssize_t in_left = n, out_left = cap;
        int flush, ret = Z_OK;
        *done = 0;
        s->next_in = (Bytef *)src;
        s->next_out = dst;
        s->avail_in = 0;
        s->avail_out = 0;
        for (;;) {
            wsf_refill(s, &in_left, &out_left);
            if (s->avail_out == 0) break;
            flush = in_left ? Z_NO_FLUSH : Z_SYNC_FLUSH;
            ret = deflate(s, flush);
            if (ret == Z_BUF_ERROR) ret = Z_OK;  /* no progress possible: the checks below decide */
            if (ret != Z_OK) break;
            /* The flush is complete when it left output room unused. */
            if (flush == Z_SYNC_FLUSH && s->avail_in == 0 && s->avail_out != 0) { *done = 1; break; }
        }
        *used = (Py_ssize_t)(s->next_in - (Bytef *)src);
        *produced = (Py_ssize_t)(s->next_out - dst);
        return ret;
    }

    /* Inflate src[0:n] into dst[0:cap]; *ended carries "the stream hit its
       final block" across calls: what comes next starts a new stream that
       keeps the window (inflateResetKeep).  Returns Z_OK or zlib's error. */
    static int wsf_inflate_run(z_stream *s, int *ended, const unsigned char *src, Py_ssize_t n,
                               Py_ssize_t *used, unsigned char *dst, Py_ssize_t cap,
                               Py_ssize_t *produced) {
        Py_ssize_t in_left = n, out_left = cap;
        int ret = Z_OK;
        s->next_in = (Bytef *)src;
        s->next_out = dst;
        s->avail_in = 0;
        s->avail_out = 0;
        for (;;) {
            wsf_refill(s, &in_left, &out_left);
            if (*ended) {
                if (s->avail_in == 0) break;
                inflateResetKeep(s);
                *ended = 0;
            }
            if (s->avail_out == 0) break;
            /* Called even without input: a previous call that filled its
               room may have left output inside zlib (the rest of a match
               whose bits it had already read). */
            ret = inflate(s, Z_NO_FLUSH);
            if (ret == Z_STREAM_END) { *ended = 1; ret = Z_OK; continue; }
            if (ret == Z_BUF_ERROR) { ret = Z_OK; break; }  /* no progress possible */
            if (ret != Z_OK) break;
            /* zlib stops with room to spare only when it needs more input. */
            if (s->avail_in == 0 && in_left == 0 && s->avail_out != 0) break;
        }
        *used = (Py_ssize_t)(s->next_in - (Bytef *)src);
        *produced = (Py_ssize_t)(s->next_out - dst);
        return ret;
    }

    /* What stays pending inside zlib after the input ran out: a call with no
       input still drains it, which the loop above skips. */
    static int wsf_inflate_drain(z_stream *s, unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced) {
        int ret;
        s->next_in = Z_NULL;
        s->avail_in = 0;
        s->next_out = dst;
        s->avail_out = (uInt)(cap < WSF_STEP ? cap : WSF_STEP);
        ret = inflate(s, Z_NO_FLUSH);
        *produced = (Py_ssize_t)(s->next_out - dst);
        return (ret == Z_BUF_ERROR || ret == Z_STREAM_END) ? Z_OK : ret;
    }

    /* The end of a message (RFC 7692 §7.2.2): the tail 00 00 ff ff, then a
       final empty stored block.  The stream ends right there, with no
       output, only if the message ended on a block boundary.  One byte of
       room: any output at all already means a wrong end.  Returns 0 when
       the end is right, 1 when it is not, or zlib's (negative) error. */
    static int wsf_inflate_end_message(z_stream *s) {
        static const unsigned char tail_probe[9] = {0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff};
        unsigned char scratch[1];
        int ret;
        s->next_in = (Bytef *)tail_probe;
        s->avail_in = 9;
        s->next_out = scratch;
        s->avail_out = 1;
        ret = inflate(s, Z_NO_FLUSH);
        if (ret == Z_STREAM_END && s->avail_in == 0 && s->avail_out == 1) return 0;
        if (ret == Z_STREAM_END || ret == Z_OK || ret == Z_BUF_ERROR) return 1;
        return ret;
    }

    /* Room for the compressed message: zlib's own bound for these settings,
       plus the sync flush's empty stored block and pending bits.  Should it
       ever fall short, the caller grows the result and resumes. */
    static Py_ssize_t wsf_deflate_bound(z_stream *s, Py_ssize_t n) {
        if ((unsigned long long)n < 0x7fffffffULL)
            return (Py_ssize_t)deflateBound(s, (uLong)n) + 16;
        return n + (n >> 3) + (n >> 5) + 64;
    }

    /* A new bytes object (NULL with an exception), grown or shrunk in place
       (on failure *b is freed and NULL, with an exception). */
    static PyObject *wsf_bytes_new(Py_ssize_t n) { return PyBytes_FromStringAndSize(NULL, n); }
    static int wsf_bytes_resize(PyObject **b, Py_ssize_t n) { return _PyBytes_Resize(b, n); }
    static unsigned char *wsf_bytes_ptr(PyObject *b) { return (unsigned char *)PyBytes_AS_STRING(b); }
    static const char *wsf_msg(z_stream *s) { return s->msg; }
    """
    ctypedef struct z_stream:
        pass
    int Z_OK, Z_STREAM_END, Z_DATA_ERROR, Z_MEM_ERROR, Z_BUF_ERROR, Z_STREAM_ERROR, Z_NO_FLUSH
    int deflateReset(z_stream *s) nogil
    int inflateReset(z_stream *s) nogil
    int inflate(z_stream *s, int flush) nogil
    const char *zlibVersion()
    z_stream *wsf_deflate_new(int level, int mem_level, int wbits, int *err) nogil
    z_stream *wsf_inflate_new(int wbits, int *err) nogil
    void wsf_deflate_free(z_stream *s) nogil
    void wsf_inflate_free(z_stream *s) nogil
    int wsf_deflate_run(z_stream *s, const unsigned char *src, Py_ssize_t n, Py_ssize_t *used,
                        unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced, int *done) nogil
    int wsf_inflate_run(z_stream *s, int *ended, const unsigned char *src, Py_ssize_t n,
                        Py_ssize_t *used, unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced) nogil
    int wsf_inflate_drain(z_stream *s, unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced) nogil
    Py_ssize_t wsf_deflate_bound(z_stream *s, Py_ssize_t n) nogil
    PyObject *wsf_bytes_new(Py_ssize_t n) except NULL
    int wsf_bytes_resize(PyObject **b, Py_ssize_t n) except -1
    unsigned char *wsf_bytes_ptr(PyObject *b) nogil
    const char *wsf_msg(z_stream *s) nogil
    int wsf_inflate_end_message(z_stream *s) nogil
    long long WSF_LIVE() nogil

    # zlib.h declares it among its "undocumented" functions; exported since 1.2.5.2.
    int inflateResetKeep(z_stream *s) nogil
    int Z_SYNC_FLUSH


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


def _zlib_bytes():
    """Bytes that zlib holds right now, every stream of this module together."""
    return WSF_LIVE()


# ------------------------------------------------------------------- pools

cdef struct PoolEntry:
    z_stream *strm
    int key

cdef cython.pymutex _pool_lock
cdef PoolEntry _deflate_pool[POOL_SIZE]
cdef int _deflate_pool_n = 0
cdef PoolEntry _inflate_pool[POOL_SIZE]
cdef int _inflate_pool_n = 0


cdef inline int _deflate_key(int level, int mem_level, int wbits) noexcept nogil:
    return (level + 1) | (mem_level << 4) | (wbits << 8)


cdef z_stream *_pool_take(PoolEntry *pool, int *count, int key) noexcept nogil:
    cdef int i
    cdef z_stream *s = NULL
    with _pool_lock:
        for i in range(count[0] - 1, -1, -1):
            if pool[i].key == key:
                s = pool[i].strm
                count[0] -= 1
                pool[i] = pool[count[0]]
                break
    return s


cdef bint _pool_give(PoolEntry *pool, int *count, int key, z_stream *s) noexcept nogil:
    """False when the pool is full: the caller frees the stream."""
    with _pool_lock:
        if count[0] < POOL_SIZE:
            pool[count[0]].strm = s
            pool[count[0]].key = key
            count[0] += 1
            return True
    return False


cdef int _raise_zlib(int err, z_stream *s) except -1:
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
        wsf_deflate_free(<z_stream *>self._strm)
        self._strm = NULL
        self._level = level_
        self._mem_level = mem
        self._wbits = wbits
        self._no_takeover = no_takeover

    def __dealloc__(self):
        wsf_deflate_free(<z_stream *>self._strm)

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
        cdef z_stream *s
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
                               _deflate_key(self._level, self._mem_level, self._wbits))
            else:
                s = <z_stream *>self._strm
            if s == NULL:
                s = wsf_deflate_new(self._level, self._mem_level, self._wbits, &err)
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
        cdef z_stream *s = <z_stream *>strm
        cdef int key = _deflate_key(self._level, self._mem_level, self._wbits)
        if self._no_takeover:
            if ok and deflateReset(s) == Z_OK and _pool_give(_deflate_pool, &_deflate_pool_n, key, s):
                return
            wsf_deflate_free(s)
        elif not ok:
            wsf_deflate_free(s)
            self._strm = NULL

    def __repr__(self):
        return (f"<Deflater level={self._level} mem_level={self._mem_level} window_bits={self._wbits} "
                f"no_context_takeover={bool(self._no_takeover)}>")

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
        self._wbits = wbits
        self._no_takeover = no_takeover
        self._ended = False
        self._fed = False
        self._full = False
        self._error = None
        self._pending = None

    def __dealloc__(self):
        wsf_inflate_free(<z_stream *>self._strm)

    cdef void _drop(self) noexcept:
        wsf_inflate_free(<z_stream *>self._strm)
        self._strm = NULL
        self._ended = False

    cdef int _acquire(self) except -1:
        cdef int err = Z_OK
        cdef z_stream *s = NULL
        if self._no_takeover:
            s = _pool_take(_inflate_pool, &_inflate_pool_n, self._wbits)
        if s == NULL:
            s = wsf_inflate_new(self._wbits, &err)
            if s == NULL:
                _raise_zlib(err, NULL)
        self._strm = s
        self._ended = False
        return 0

    cdef int _fail(self, int err) except -1:
        try:
            _raise_zlib(err, <z_stream *>self._strm)
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
                    ret = wsf_inflate_run(<z_stream *>self._strm, &ended, src, n, used, dst, cap, &produced)
            else:
                ret = wsf_inflate_run(<z_stream *>self._strm, &ended, src, n, used, dst, cap, &produced)
            self._ended = ended
            if ret != Z_OK:
                self._fail(ret)
            return produced
        finally:
            self._busy = False

    cdef int finish_message(self) except -1:
        cdef z_stream *s
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
            s = <z_stream *>self._strm
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
                if inflateReset(s) != Z_OK or not _pool_give(_inflate_pool, &_inflate_pool_n, self._wbits, s):
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
            if self._pending is not None or wsf_inflate_drain(<z_stream *>self._strm, scratch, 1, &got) != Z_OK or got:
                raise RuntimeError("Inflater.finish() while inflate() output is still pending")
        self.finish_message()

    def __repr__(self):
        return f"<Inflater window_bits={self._wbits} no_context_takeover={bool(self._no_takeover)}>"

    def __reduce__(self):
        no_copy(self)

    def __copy__(self):
        no_copy(self)

    def __deepcopy__(self, memo):
        no_copy(self)
