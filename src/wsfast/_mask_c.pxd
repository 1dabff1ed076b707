# C-level masking kernels, for other Cython modules (wsfast's own Decoder
# and encoder, or a user's code):  from wsfast._mask_c cimport mask_bytes

# XOR n bytes of src with the 4-byte key into dst (dst may be src), where
# src[0] sits at position `phase` of the masked stream (only phase % 4 matters).
# Uses the SIMD level in use (wsfast.SIMD).  Never fails, never holds the GIL.
cdef void mask_bytes(unsigned char *dst, const unsigned char *src, Py_ssize_t n,
                     const unsigned char *key, Py_ssize_t phase) noexcept nogil
