"""Types of the compiled Decoder: the same API as _decoder_py.Decoder, typed there."""

from ._decoder_py import Decoder as Decoder

__all__ = ["Decoder"]
