# permessage-deflate over zlib's C API (the system zlib's, or zlib-ng's), for
# other Cython modules (wsfast's compiled Decoder and connection):
#     from wsfast._deflate_c cimport Deflater, Inflater
# The stream is an opaque pointer here, so that cimporting modules need
# neither zlib.h nor -lz; it is NULL until first use (idle costs nothing).
from libc.stdint cimport uint8_t


cdef class Deflater:
    cdef bint _ng                # streams from zlib-ng (else the system zlib): the back end at __init__
    cdef int _level
    cdef int _mem_level
    cdef int _wbits              # zlib's window bits, 9..15 (an agreed 8 compresses with 9)
    cdef bint _no_takeover       # reset after every message; the stream is then pooled
    cdef bint _busy
    cdef void *_strm             # context takeover: this Deflater's own stream, or NULL

    # The payload of one compressed message from data[0:n]: deflated,
    # sync-flushed, 00 00 ff ff removed (RFC 7692 §7.2.1); b"\x00" for n == 0
    # without touching zlib.  Releases the GIL from 4 KiB on.  Raises
    # MemoryError, or RuntimeError when another thread is inside this
    # Deflater; after an error the context is dropped (the next message
    # starts from an empty window, which every peer can inflate).
    cdef bytes compress_ptr(self, const uint8_t *data, Py_ssize_t n)
    cdef void _release(self, void *strm, bint ok) noexcept


cdef class Inflater:
    cdef bint _ng                # as Deflater._ng
    cdef int _wbits              # the peer's window bits, 8..15
    cdef bint _no_takeover       # the peer resets every message: reset and pool after it
    cdef bint _ended             # the current deflate stream ended with a final block
    cdef bint _fed               # the current message has had compressed bytes
    cdef bint _full              # Python level: the last inflate() filled max_length
    cdef bint _busy
    cdef void *_strm             # NULL until the first compressed byte (no takeover: per message)
    cdef object _error           # the ProtocolError raised, raised again by every later call
    cdef bytes _pending          # Python level: input held back when max_length was reached

    # Inflate src[0:n], the next bytes of the current message's payload, into
    # dst[0:cap].  Returns the number of bytes written; *used is set to the
    # number of input bytes consumed.  A return value below cap means that
    # all n bytes were consumed and nothing is pending.  A return value equal
    # to cap means the output is full: more may be pending; call again with
    # src + *used, n - *used and more room (n may then be 0).  A final block
    # (BFINAL) ends the deflate stream and what follows it starts the next,
    # still seeing the window (RFC 7692 §7.2.1, §7.2.3.4).  Releases the GIL
    # from 2 KiB of input or 1 MiB of room.  Corrupt data raises
    # ProtocolError (1007, wsfast._protocol) and every later call raises it again; RuntimeError
    # when another thread is inside.  zlib's fast loop runs only while at
    # least 258 bytes of room are left: give more room than you expect.
    cdef Py_ssize_t inflate_into(self, const uint8_t *src, Py_ssize_t n, Py_ssize_t *used,
                                 uint8_t *dst, Py_ssize_t cap) except -1

    # End the current message (RFC 7692 §7.2.2): inflates 00 00 ff ff and
    # checks that the message ended on a block boundary (or right after a
    # final block); ProtocolError if not, or if the message had no
    # compressed byte at all (§7.2.3.6 sends 0x00).  With the peer's
    # no_context_takeover, the stream is reset and goes back to the shared
    # pool.  Precondition: the last inflate_into() of the message consumed
    # all its input and returned less than its cap (the output is drained).
    cdef int finish_message(self) except -1

    cdef int _acquire(self) except -1
    cdef void _drop(self) noexcept
    cdef int _fail(self, int err) except -1
