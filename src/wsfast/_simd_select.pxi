# The SIMD variant choice shared by the kernel modules (_mask_c, _utf8_c),
# included textually so each module keeps its own kernel pointer: a direct
# call through a module-level pointer is what keeps tiny calls cheap.
#
# The including module defines, before the include:
#     cdef bint _has_kernel(int level) noexcept   # this build has that kernel
#     cdef void _use_level(int level) noexcept    # point the kernel at it
# The policy for WSFAST_SIMD lives in wsfast._simd.initial().

cdef extern from "wsf_cpu.h":
    enum:
        WSF_PORTABLE
        WSF_SSE2
        WSF_SSSE3
        WSF_AVX2
        WSF_NEON
    int wsf_level_supported(int level) noexcept nogil
    const char *wsf_level_name(int level) noexcept nogil
    int wsf_level_from_name(const char *name) noexcept nogil


# Best first: the order _simd_available() reports.
cdef int[5] _ORDER = [WSF_AVX2, WSF_NEON, WSF_SSSE3, WSF_SSE2, WSF_PORTABLE]
cdef int _level = WSF_PORTABLE


cdef inline bint _runnable(int level) noexcept:
    return wsf_level_supported(level) and _has_kernel(level)


def _simd_available():
    """The kernel variants this CPU and build can run, best first."""
    return tuple([wsf_level_name(lv).decode("ascii") for lv in _ORDER if _runnable(lv)])


def _simd_current():
    """The kernel variant in use."""
    return wsf_level_name(_level).decode("ascii")


def _simd_select(name):
    """Use the kernel variant `name` from now on (ValueError if not runnable here)."""
    global _level
    if not isinstance(name, str):
        raise TypeError(f"SIMD variant name must be str, not {type(name).__name__}")
    cdef bytes raw = name.encode("ascii", "replace")
    cdef int level = wsf_level_from_name(raw)
    if level < 0 or not _runnable(level):
        raise ValueError(
            f"SIMD variant {name!r} is not available here; choose one of {_simd_available()}"
        )
    _use_level(level)
    _level = level


_use_level(WSF_PORTABLE)
_simd_select(_wsfast_simd.initial(_simd_available()))
