"""Types of the compiled frame module: the same API as _frames_py, so its names are typed there."""

from ._frames_py import encode_close as encode_close
from ._frames_py import encode_frame as encode_frame
from ._frames_py import parse_close as parse_close
from ._frames_py import parse_header as parse_header

__all__ = ["parse_header", "encode_frame", "encode_close", "parse_close"]
