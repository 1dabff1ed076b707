# C-level UTF-8 validation, for other Cython modules:
#     from wsfast._utf8_c cimport utf8_feed, utf8_validate
from libc.stdint cimport uint32_t

# Validate data[0:n] continuing from *state, the state left by the previous
# call (0 at a code point boundary, which is also the start state).
# Returns -1 when every byte can still start valid UTF-8 (*state updated; it
# is 0 iff the data ends on a whole code point), else the index in data of
# the first impossible byte (*state is then unspecified: today 0xFF, a
# failed state from which every further byte is impossible).  No GIL needed.
# Any length works, 0 included; the kernel of the SIMD level in use
# (wsfast.SIMD) does the work.
cdef Py_ssize_t utf8_feed(uint32_t *state, const unsigned char *data, Py_ssize_t n) noexcept nogil

# 1 if data[0:n] is complete, valid UTF-8.
cdef bint utf8_validate(const unsigned char *data, Py_ssize_t n) noexcept nogil
