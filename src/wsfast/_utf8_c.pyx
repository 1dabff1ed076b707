# cython: language_level=3
"""Strict UTF-8 validation (RFC 3629), compiled: thin wrappers over C kernels.

The kernel of a SIMD level (_csrc/wsf_levels.h) is chosen at import from what
the CPU supports, or from WSFAST_SIMD, switched by wsfast._simd.force(), and
called through a function pointer.  docs/utf8.md explains the algorithm and the
choices made here.
"""

cimport cython
from cpython.buffer cimport PyBUF_FULL_RO, PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport uint32_t
from libc.string cimport memcpy

from wsfast import _simd as _wsfast_simd

__all__ = ["validate_utf8", "Utf8Validator"]


cdef extern from "utf8.h":
    ctypedef ptrdiff_t (*wsf_utf8_fn)(uint32_t *state, const unsigned char *data, size_t n) noexcept nogil
    wsf_utf8_fn wsf_utf8_kernel(int level) noexcept nogil
    enum:
        WSF_U8_ACCEPT
        WSF_UTF8_FAILED


cdef enum:
    # From this many bytes on, validation runs without the GIL.  Dropping and
    # retaking it costs ~0.1 us uncontended (the time to check ~1 KiB of text)
    # and, when contended, makes the call queue behind other threads; below
    # 64 KiB (~5 us of work) that cost is not worth paying.  docs/utf8.md.
    NOGIL_FROM = 65536
    # Stack buffer for gathering the bytes of a non-contiguous buffer.
    GATHER = 4096


cdef wsf_utf8_fn _kernel


cdef bint _has_kernel(int level) noexcept:
    # The kernel is NULL unless this build and this CPU can run the level.
    return wsf_utf8_kernel(level) != NULL


cdef void _use_level(int level) noexcept:
    global _kernel
    _kernel = wsf_utf8_kernel(level)


include "_simd_select.pxi"


# ---------------------------------------------------------------- C level API

cdef Py_ssize_t utf8_feed(uint32_t *state, const unsigned char *data, Py_ssize_t n) noexcept nogil:
    if n <= 0:
        return -1
    return _kernel(state, data, <size_t>n)


cdef bint utf8_validate(const unsigned char *data, Py_ssize_t n) noexcept nogil:
    cdef uint32_t state = WSF_U8_ACCEPT
    return utf8_feed(&state, data, n) < 0 and state == WSF_U8_ACCEPT


# ------------------------------------------------------------ buffer plumbing

cdef inline Py_ssize_t _feed_span(uint32_t *state, const unsigned char *data, Py_ssize_t n) noexcept:
    cdef Py_ssize_t r
    if n < NOGIL_FROM:
        return utf8_feed(state, data, n)
    with nogil:
        r = utf8_feed(state, data, n)
    return r


cdef Py_ssize_t _feed_strided(uint32_t *state, const Py_buffer *view) noexcept nogil:
    """Feed the bytes of a non-contiguous buffer in logical (C) order, through
    a fixed stack buffer: memory use does not grow with the input."""
    cdef unsigned char gather[GATHER]
    cdef Py_ssize_t idx[64]  # PyBUF_MAX_NDIM
    cdef Py_ssize_t fill = 0, base = 0, r, item = view.itemsize
    cdef int ndim = view.ndim, d
    cdef const char *ptr
    if view.len == 0:
        return -1
    if ndim > 64:
        return 0  # cannot happen for a conforming exporter; never read past
    for d in range(ndim):
        idx[d] = 0
    while True:
        ptr = <const char *>view.buf
        for d in range(ndim):
            ptr += idx[d] * view.strides[d]
            if view.suboffsets != NULL and view.suboffsets[d] >= 0:
                ptr = (<const char **>ptr)[0] + view.suboffsets[d]
        if fill + item > GATHER:
            r = utf8_feed(state, gather, fill)
            if r >= 0:
                return base + r
            base += fill
            fill = 0
        if item > GATHER:
            r = utf8_feed(state, <const unsigned char *>ptr, item)
            if r >= 0:
                return base + r
            base += item
        else:
            memcpy(gather + fill, ptr, item)
            fill += item
        d = ndim - 1
        while d >= 0:
            idx[d] += 1
            if idx[d] < view.shape[d]:
                break
            idx[d] = 0
            d -= 1
        if d < 0:
            break
    r = utf8_feed(state, gather, fill)
    return base + r if r >= 0 else -1


cdef Py_ssize_t _feed_object(uint32_t *state, object data, Py_ssize_t *length) except -2:
    """Validate the bytes of any buffer from *state: -1 or the offset of the
    first impossible byte; *length is set to the number of bytes in data."""
    cdef Py_buffer view
    cdef Py_ssize_t r
    if type(data) is bytes:
        length[0] = PyBytes_GET_SIZE(data)
        return _feed_span(state, <const unsigned char *>PyBytes_AS_STRING(data), length[0])
    try:
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    except BufferError:
        # Not C-contiguous (a strided memoryview, say): walk it.
        PyObject_GetBuffer(data, &view, PyBUF_FULL_RO)
        try:
            length[0] = view.len
            if view.len < NOGIL_FROM:
                return _feed_strided(state, &view)
            with nogil:
                r = _feed_strided(state, &view)
            return r
        finally:
            PyBuffer_Release(&view)
    try:
        length[0] = view.len
        return _feed_span(state, <const unsigned char *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


# ----------------------------------------------------------------- public API

# A plain builtin (no binding): CPython specializes its METH_O call.
@cython.binding(False)
@cython.always_allow_keywords(False)
def validate_utf8(data):
    """True if the bytes of ``data`` (any buffer) are complete, valid UTF-8.

    No ``str`` is built.  Raises TypeError when ``data`` is not a buffer.
    """
    cdef uint32_t state = WSF_U8_ACCEPT
    cdef Py_ssize_t length
    if type(data) is bytes:
        # The common case, without touching the buffer protocol.
        return (_feed_span(&state, <const unsigned char *>PyBytes_AS_STRING(data),
                           PyBytes_GET_SIZE(data)) < 0 and state == WSF_U8_ACCEPT)
    return _feed_object(&state, data, &length) < 0 and state == WSF_U8_ACCEPT


cdef class Utf8Validator:
    """Incremental, fail-fast UTF-8 validation of one message.

    ``feed()`` returns False at the earliest byte that cannot belong to valid
    UTF-8, also inside a code point split across feeds; once failed, the
    validator stays failed (later feeds return False and look at nothing but
    the argument's type) until ``reset()``.  ``finish()`` only asks whether
    the message could end here: it changes nothing.
    """

    cdef uint32_t _state
    cdef Py_ssize_t _fed      # bytes fed since reset(), up to the failure
    cdef Py_ssize_t _error    # offset of the first impossible byte, or -1

    def __cinit__(self):
        self._state = WSF_U8_ACCEPT
        self._fed = 0
        self._error = -1

    @cython.always_allow_keywords(False)
    def feed(self, data):
        """Validate the next bytes; False as soon as the message cannot be valid."""
        cdef Py_ssize_t r, length = 0
        if self._error >= 0:
            if not PyObject_CheckBuffer(data):
                raise TypeError(f"a bytes-like object is required, not {type(data).__name__!r}")
            return False
        r = _feed_object(&self._state, data, &length)
        if r >= 0:
            self._error = self._fed + r
            self._state = WSF_UTF8_FAILED
            return False
        self._fed += length
        return True

    def finish(self):
        """True if everything fed since reset() is complete, valid UTF-8."""
        return self._error < 0 and self._state == WSF_U8_ACCEPT

    def reset(self):
        """Forget everything fed: start a new message."""
        self._state = WSF_U8_ACCEPT
        self._fed = 0
        self._error = -1

    @property
    def at_boundary(self):
        """True if nothing failed and the bytes fed end on a whole code point."""
        return self._error < 0 and self._state == WSF_U8_ACCEPT

    @property
    def error_offset(self):
        """Offset (since reset()) of the first impossible byte, or None."""
        return self._error if self._error >= 0 else None

    def __repr__(self):
        return (f"<Utf8Validator fed={self._fed} at_boundary={self.at_boundary} "
                f"error_offset={self.error_offset}>")
