# C-level frame helpers, for the compiled Decoder (and any Cython user):
#     from wsfast._frames_c cimport close_code_valid, close_event_fields, draw_mask_key

# 1 when `code` may appear in a Close frame on the wire (RFC 6455 §7.4).
cdef bint close_code_valid(long code) noexcept nogil

# (code, reason) from a Close payload of n bytes; raises ProtocolError (1002)
# or InvalidUTF8 (1007) exactly as parse_close() does.
cdef tuple close_fields(const unsigned char *data, Py_ssize_t n)

# Write a fresh 4-byte masking key from the process's os.urandom pool to key[0:4].
cdef int draw_mask_key(unsigned char *key) except -1
