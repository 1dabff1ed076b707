# cython: language_level=3, binding=False, embedsignature.format=clinic
"""RFC 6455 masking, compiled: thin Python wrappers over the C kernels.

The kernel of a SIMD level (_csrc/wsf_levels.h) is chosen at import from what
the CPU supports, or from WSFAST_SIMD, switched by wsfast._simd.force(), and
called through a function pointer.  docs/masking.md explains the design.
"""

cimport cython
from cpython.buffer cimport PyBUF_FULL_RO, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_CheckExact, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcpy

from wsfast import _simd as _wsfast_simd

__all__ = ["apply_mask", "apply_mask_inplace", "Masker"]


cdef extern from "Python.h":
    # cpython/buffer.pxd declares these without their error value.
    int PyBuffer_ToContiguous(void *buf, Py_buffer *view, Py_ssize_t len, char order) except -1
    int PyBuffer_FromContiguous(Py_buffer *view, void *buf, Py_ssize_t len, char order) except -1
    int PyBuffer_IsContiguous(Py_buffer *view, char order)


cdef extern from "mask.h":
    ctypedef void (*wsf_mask_fn)(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) noexcept nogil
    wsf_mask_fn wsf_mask_kernel(int level) noexcept nogil
    uint32_t wsf_mask_key(const uint8_t *mask, size_t phase) noexcept nogil


cdef enum:
    # From this many bytes on, the kernel runs without the GIL.  Dropping and
    # retaking it costs about as much as masking ~4 KiB (docs/masking.md), and
    # makes the call wait behind any thread that grabbed the GIL meanwhile.
    NOGIL_FROM = 65536


cdef wsf_mask_fn _kernel


cdef bint _has_kernel(int level) noexcept:
    # The kernel is NULL unless this build and this CPU can run the level.
    return wsf_mask_kernel(level) != NULL


cdef void _use_level(int level) noexcept:
    global _kernel
    _kernel = wsf_mask_kernel(level)


include "_simd_select.pxi"


# ---------------------------------------------------------------- C level API

cdef void mask_bytes(unsigned char *dst, const unsigned char *src, Py_ssize_t n,
                     const unsigned char *key, Py_ssize_t phase) noexcept nogil:
    if n > 0:
        # A negative phase still lands on the right key byte: & 3 is mod 4.
        _kernel(dst, src, <size_t>n, wsf_mask_key(key, <size_t>phase))


cdef inline void _run(uint8_t *dst, const uint8_t *src, Py_ssize_t n,
                      const uint8_t *mask, size_t phase) noexcept:
    """Mask with the GIL held, dropping it for large buffers only.

    The caller guarantees that src and dst stay valid without the GIL: they
    belong to an immutable bytes, a new result, or a held buffer export.
    """
    cdef uint32_t key = wsf_mask_key(mask, phase)
    cdef wsf_mask_fn kernel = _kernel
    if n >= NOGIL_FROM:
        with nogil:
            kernel(dst, src, <size_t>n, key)
    elif n > 0:
        kernel(dst, src, <size_t>n, key)


# ------------------------------------------------------------ argument checks

cdef inline int _read_mask(object mask, uint8_t *out) except -1:
    """Copy a 4-byte mask from any buffer into out[0:4]."""
    # Inline for the usual bytes key: at 8 to 125 bytes the call costs more
    # than the XOR.
    if PyBytes_CheckExact(mask) and PyBytes_GET_SIZE(mask) == 4:
        memcpy(out, PyBytes_AS_STRING(mask), 4)
        return 0
    return _read_mask_buffer(mask, out)


cdef int _read_mask_buffer(object mask, uint8_t *out) except -1:
    cdef Py_buffer view
    cdef Py_ssize_t size
    if PyBytes_CheckExact(mask):
        size = PyBytes_GET_SIZE(mask)
    else:
        if not PyObject_CheckBuffer(mask):
            raise TypeError(f"mask must be a bytes-like object, not {type(mask).__name__}")
        PyObject_GetBuffer(mask, &view, PyBUF_FULL_RO)
        try:
            size = view.len
            if size == 4:
                PyBuffer_ToContiguous(out, &view, 4, b'C')
                return 0
        finally:
            PyBuffer_Release(&view)
    raise ValueError(f"mask must be exactly 4 bytes, got {size}")


cdef int _negative_offset(Py_ssize_t offset) except -1:
    raise ValueError(f"offset must be >= 0, got {offset}")


cdef int _not_buffer(object data, str what) except -1:
    raise TypeError(f"{what} must be a bytes-like object, not {type(data).__name__}")


# ------------------------------------------------------- the two operations

cdef inline bytes _masked_copy(object data, const uint8_t *mask, size_t phase):
    """A new bytes: data (any buffer) masked from stream position `phase`."""
    cdef bytes result
    cdef Py_ssize_t n
    # Inline for the usual bytes, as _read_mask: the call and the frame of
    # the general case (a Py_buffer, a try) cost more than masking 16 bytes.
    if PyBytes_CheckExact(data):
        n = PyBytes_GET_SIZE(data)
        result = PyBytes_FromStringAndSize(NULL, n)
        _run(<uint8_t *>PyBytes_AS_STRING(result), <uint8_t *>PyBytes_AS_STRING(data), n, mask, phase)
        return result
    return _masked_copy_buffer(data, mask, phase)


cdef bytes _masked_copy_buffer(object data, const uint8_t *mask, size_t phase):
    cdef Py_buffer view
    cdef bytes result
    cdef Py_ssize_t n
    cdef uint8_t *out
    # A bytearray may be resized by another thread once the GIL is gone, so
    # only small ones skip the buffer export (which locks the size).
    if PyByteArray_CheckExact(data) and PyByteArray_GET_SIZE(data) < NOGIL_FROM:
        n = PyByteArray_GET_SIZE(data)
        result = PyBytes_FromStringAndSize(NULL, n)
        _run(<uint8_t *>PyBytes_AS_STRING(result), <uint8_t *>PyByteArray_AS_STRING(data), n, mask, phase)
        return result
    if not PyObject_CheckBuffer(data):
        _not_buffer(data, "data")
    PyObject_GetBuffer(data, &view, PyBUF_FULL_RO)
    try:
        result = PyBytes_FromStringAndSize(NULL, view.len)
        out = <uint8_t *>PyBytes_AS_STRING(result)
        if PyBuffer_IsContiguous(&view, b'C'):
            _run(out, <uint8_t *>view.buf, view.len, mask, phase)
        else:
            # Strided or indirect: gather in C order, then mask the copy.
            PyBuffer_ToContiguous(out, &view, view.len, b'C')
            _run(out, out, view.len, mask, phase)
    finally:
        PyBuffer_Release(&view)
    return result


cdef inline Py_ssize_t _mask_inplace(object buffer, const uint8_t *mask, size_t phase) except -1:
    """Mask a writable buffer in place from stream position `phase`; its size."""
    cdef Py_ssize_t n
    cdef uint8_t *p
    # Small bytearrays only, as in _masked_copy.
    if PyByteArray_CheckExact(buffer):
        n = PyByteArray_GET_SIZE(buffer)
        if n < NOGIL_FROM:
            if n:
                p = <uint8_t *>PyByteArray_AS_STRING(buffer)
                _kernel(p, p, <size_t>n, wsf_mask_key(mask, phase))
            return n
    return _mask_buffer_inplace(buffer, mask, phase)


cdef Py_ssize_t _mask_buffer_inplace(object buffer, const uint8_t *mask, size_t phase) except -1:
    cdef Py_buffer view
    cdef Py_ssize_t n
    cdef bytes scratch
    cdef uint8_t *tmp
    if PyBytes_CheckExact(buffer):
        raise TypeError("cannot mask bytes in place: it is read-only (use apply_mask)")
    if not PyObject_CheckBuffer(buffer):
        _not_buffer(buffer, "buffer")
    # Asking for a read-only view and checking .readonly gives every exporter
    # the same TypeError (a writable request fails with BufferError or worse).
    PyObject_GetBuffer(buffer, &view, PyBUF_FULL_RO)
    try:
        if view.readonly:
            raise TypeError(f"cannot mask a read-only {type(buffer).__name__} in place")
        n = view.len
        if PyBuffer_IsContiguous(&view, b'C'):
            _run(<uint8_t *>view.buf, <uint8_t *>view.buf, n, mask, phase)
        elif n:
            # Strided or indirect: gather, mask, scatter back, in C order.
            scratch = PyBytes_FromStringAndSize(NULL, n)
            tmp = <uint8_t *>PyBytes_AS_STRING(scratch)
            PyBuffer_ToContiguous(tmp, &view, n, b'C')
            _run(tmp, tmp, n, mask, phase)
            PyBuffer_FromContiguous(&view, tmp, n, b'C')
    finally:
        PyBuffer_Release(&view)
    return n


# ------------------------------------------------------------- public API

def apply_mask(data, mask):
    """Return ``data`` (any bytes-like object) XORed with the 4-byte ``mask``.

    Raises ValueError if ``mask`` is not 4 bytes, TypeError if ``data`` or
    ``mask`` is not a bytes-like object.
    """
    cdef uint8_t key[4]
    _read_mask(mask, key)
    return _masked_copy(data, key, 0)


def apply_mask_inplace(buffer, mask, Py_ssize_t offset=0):
    """XOR the writable ``buffer`` with the 4-byte ``mask`` in place.

    ``offset`` is the position of ``buffer[0]`` in the masked stream, so a
    payload can be unmasked piece by piece.  Raises TypeError for a read-only
    or non-buffer ``buffer``, ValueError for a bad mask or a negative offset;
    on any error the buffer is left untouched.
    """
    cdef uint8_t key[4]
    if offset < 0:
        _negative_offset(offset)
    _read_mask(mask, key)
    _mask_inplace(buffer, key, <size_t>offset)


@cython.final
@cython.auto_pickle(False)
cdef class Masker:
    # The first lines (flush left) are CPython's text-signature marker, which
    # gives inspect.signature(Masker) for a C type.
    """Masker(mask)
--

Masks a stream in pieces, carrying the key phase from call to call.

    ``position`` is the number of bytes processed since creation or the last
    ``reset()``.  A Masker is not meant to be shared between threads.
    """

    cdef uint8_t _mask[4]
    cdef unsigned long long _position

    def __init__(self, mask):
        _read_mask(mask, self._mask)
        self._position = 0

    def process(self, data):
        """Return the next piece of the stream, masked, as new bytes."""
        cdef bytes result = _masked_copy(data, self._mask, <size_t>(self._position & 3))
        self._position += <unsigned long long>PyBytes_GET_SIZE(result)
        return result

    def process_inplace(self, buffer):
        """Mask the next piece of the stream in place (a writable buffer)."""
        self._position += <unsigned long long>_mask_inplace(buffer, self._mask, <size_t>(self._position & 3))

    @property
    def position(self):
        """Bytes processed since creation or the last reset()."""
        return self._position

    def reset(self):
        """Start again at position 0 with the same mask."""
        self._position = 0

    def __repr__(self):
        return f"<wsfast.Masker position={self._position}>"
