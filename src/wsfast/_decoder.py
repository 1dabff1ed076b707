"""Selects the stream Decoder implementation (see _impl)."""

from ._impl import IMPLEMENTATION

if IMPLEMENTATION == "cython":
    from ._decoder_c import Decoder
else:
    from ._decoder_py import Decoder  # type: ignore[assignment]

__all__ = ["Decoder"]
