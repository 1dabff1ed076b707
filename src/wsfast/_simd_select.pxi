# The SIMD level choice shared by the kernel modules (_mask_c, _utf8_c),
# included textually so each module keeps its own kernel pointer: a direct
# call through a module-level pointer is what keeps tiny calls cheap.
#
# The including module defines, before the include:
#     cdef bint _has_kernel(int level) noexcept   # it can run that level here
#     cdef void _use_level(int level) noexcept    # point the kernel at it
# The levels are the rows of _csrc/wsf_levels.h, least preferred first.  The
# policy for WSFAST_SIMD lives in wsfast._simd.initial().

cdef extern from "wsf_cpu.h":
    enum:
        WSF_LEVEL_portable
        WSF_LEVEL_COUNT
    const char *wsf_level_name(int level) noexcept nogil
    int wsf_level_from_name(const char *name) noexcept nogil


cdef int _level = WSF_LEVEL_portable


def _simd_levels():
    """Every level this version knows, least preferred first (runnable here or not)."""
    return tuple([wsf_level_name(lv).decode("ascii") for lv in range(WSF_LEVEL_COUNT)])


def _simd_available():
    """The levels this CPU and build can run, best first."""
    return tuple([wsf_level_name(lv).decode("ascii")
                  for lv in range(WSF_LEVEL_COUNT - 1, -1, -1) if _has_kernel(lv)])


def _simd_current():
    """The level in use."""
    return wsf_level_name(_level).decode("ascii")


def _simd_select(name):
    """Use the level `name` from now on (ValueError if not runnable here)."""
    global _level
    if not isinstance(name, str):
        raise TypeError(f"SIMD variant name must be str, not {type(name).__name__}")
    cdef bytes raw = name.encode("ascii", "replace")
    cdef int level = wsf_level_from_name(raw)
    if level < 0 or not _has_kernel(level):
        raise ValueError(
            f"SIMD variant {name!r} is not available here; choose one of {_simd_available()}"
        )
    _use_level(level)
    _level = level


_use_level(WSF_LEVEL_portable)
_simd_select(_wsfast_simd.initial(_simd_available()))
