# The compiled Decoder's class, so that Cython code can hold one as a typed
# object.  Its fields are private: use feed() and closed.
cimport cython
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from wsfast._deflate_c cimport Inflater


@cython.final
cdef class Decoder:
    cdef bint _expect_mask
    cdef bint _decode_text
    cdef bint _closed
    cdef bint _busy
    cdef uint64_t _max_message
    cdef uint64_t _max_frame
    cdef object _error
    cdef uint8_t _hdr[14]
    cdef Py_ssize_t _hdr_len
    cdef uint64_t _length
    cdef uint64_t _left
    cdef uint64_t _phase
    cdef int _opcode
    cdef bint _fin
    cdef bint _masked
    cdef uint8_t _key[4]
    cdef uint8_t _control[125]
    cdef Py_ssize_t _control_len
    cdef int _msg_opcode
    cdef uint64_t _msg_size
    cdef uint8_t *_buf
    cdef Py_ssize_t _buf_len
    cdef Py_ssize_t _buf_cap
    cdef uint32_t _utf8_state
    # permessage-deflate: the peer's inflater (None: not agreed), the reserved
    # bits a header may not carry, whether the message in progress is
    # compressed, and the bound on a compressed message's wire bytes.
    cdef Inflater _inflater
    cdef int _rsv_refused
    cdef bint _compressed
    cdef uint64_t _max_compressed

    cdef int _configure(self, bint expect_mask, object max_message, object max_frame,
                        bint decode_text, Inflater inflater) except -1
    cdef list _run(self, const uint8_t *p, Py_ssize_t n)
    cdef list _run_locked(self, const uint8_t *p, Py_ssize_t n)
    cdef void _release_message(self) noexcept
    cdef int _resize(self, Py_ssize_t cap) except -1
    cdef list _feed(self, const uint8_t *p, Py_ssize_t n, list events)
    cdef Py_ssize_t _header(self, const uint8_t *p, Py_ssize_t avail) except -1
    cdef int _first_bytes_rule(self, int b0, int b1) except -1
    cdef int _data_header(self, int opcode, int b0, uint64_t length) except -1
    cdef bint _begin_payload(self, list events) except -1
    cdef bint _whole(self, const uint8_t *src, Py_ssize_t n, list events) except -1
    cdef bytes _copy(self, const uint8_t *src, Py_ssize_t n)
    cdef object _text_frame(self, const uint8_t *src, Py_ssize_t n)
    cdef void _unmask_into(self, uint8_t *dst, const uint8_t *src, Py_ssize_t n) noexcept
    cdef int _payload(self, const uint8_t *src, Py_ssize_t take) except -1
    cdef int _append(self, const uint8_t *src, Py_ssize_t take) except -1
    cdef int _inflate(self, const uint8_t *src, Py_ssize_t n) except -1
    cdef int _inflate_chunk(self, const uint8_t *src, Py_ssize_t n, Py_ssize_t rest) except -1
    cdef int _grow_inflated(self, Py_ssize_t pending) except -1
    cdef int _check_text(self, const uint8_t *data, Py_ssize_t n) except -1
    cdef int _grow(self, Py_ssize_t need) except -1
    cdef bint _frame_done(self, list events) except -1
    cdef bint _control_event(self, int opcode, bytes payload, list events) except -1
