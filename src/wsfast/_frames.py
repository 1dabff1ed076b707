"""Selects the frame header/encoding implementation (see _impl)."""

from ._impl import IMPLEMENTATION

if IMPLEMENTATION == "cython":
    from ._frames_c import encode_close, encode_frame, parse_close, parse_header
else:
    from ._frames_py import encode_close, encode_frame, parse_close, parse_header

__all__ = ["parse_header", "encode_frame", "encode_close", "parse_close"]
