# The compiled connections' classes, so that Cython code can hold one as a
# typed object.  Their fields are private: use the methods and properties.
from cpython.object cimport PyObject
from libc.stdint cimport uint8_t

from wsfast._decoder_c cimport Decoder
from wsfast._deflate_c cimport Deflater

cdef class _Connection:
    cdef bint _client
    cdef Decoder _decoder
    # Bytes of the opening handshake's head so far; None once past it.
    cdef object _head
    # The output: one bytes object written in place while we hold its only
    # reference, handed out (shrunk to _olen) by data_to_send().  NULL when empty.
    cdef PyObject *_obuf
    cdef Py_ssize_t _olen
    cdef Py_ssize_t _ocap
    cdef bytes _pending
    cdef bint _open
    cdef bint _hold
    cdef bint _receiving
    cdef bint _close_sent
    cdef bint _close_rcvd
    cdef bint _done
    cdef str _why
    cdef object _error
    cdef object _close_code
    cdef object _close_reason
    cdef object _subprotocol
    cdef object _deflate
    cdef object _deflate_options
    cdef Deflater _deflater
    cdef tuple _limits
    cdef tuple _subprotocols
    cdef str _key

    cdef int _reset(self, bint client, Decoder decoder, tuple limits, object deflate) except -1
    cdef int _agreed(self, object agreed) except -1
    cdef Deflater _make_deflater(self)
    cdef int _message(self, int b0, const uint8_t *payload, Py_ssize_t n) except -1
    cdef list _receive(self, const uint8_t *p, Py_ssize_t n)
    cdef list _frames(self, const uint8_t *p, Py_ssize_t n)
    cdef list _decode(self, const uint8_t *p, Py_ssize_t n)
    cdef int _control(self, object event) except -1
    cdef list _failed(self, object exc)
    cdef list _eof(self)
    cdef list _handshake(self, bytes data)
    cdef list _head_received(self, bytes head)
    cdef list _refused(self, object exc)
    cdef list _eof_in_handshake(self)
    cdef void _end(self) noexcept
    cdef int _check_send(self, str action) except -1
    cdef uint8_t *_reserve(self, Py_ssize_t n) except NULL
    cdef int _write(self, const uint8_t *data, Py_ssize_t n) except -1
    cdef int _frame(self, int b0, const uint8_t *payload, Py_ssize_t n) except -1
    cdef bytes _frame_bytes(self, int opcode, bytes payload)
    cdef void _drop_output(self) noexcept
    cdef bytes _take_output(self)


cdef class ServerConnection(_Connection):
    cdef object _origins
    cdef object _request
    cdef object _offered
    cdef object _extensions

    cdef int _check_answer(self, str what) except -1


cdef class ClientConnection(_Connection):
    cdef object _uri
    cdef object _response
