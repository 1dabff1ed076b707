"""Selects the permessage-deflate compression implementation (see _impl)."""

from ._impl import IMPLEMENTATION

if IMPLEMENTATION == "cython":
    from ._deflate_c import Deflater, Inflater
else:
    from ._deflate_py import Deflater, Inflater  # type: ignore[assignment]

__all__ = ["Deflater", "Inflater"]
