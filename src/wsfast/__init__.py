"""wsfast: a fast, strict, sans-I/O WebSocket (RFC 6455) codec.

``wsfast.IMPLEMENTATION`` says whether the compiled ("cython") or the
pure-Python ("python") implementation is running, and ``wsfast.SIMD`` which
kernel variant the CPU was given.
"""

from ._impl import IMPLEMENTATION, SIMD
from ._errors import ConnectionClosed, InvalidUTF8, MessageTooBig, ProtocolError
from ._types import Close, ConnectionState, FrameHeader, Message, Opcode, Ping, Pong
from ._mask import Masker, apply_mask, apply_mask_inplace
from ._utf8 import Utf8Validator, validate_utf8
from ._frames import encode_close, encode_frame, parse_close, parse_header
from ._decoder import Decoder
from ._permessage_deflate import DeflateOptions, PerMessageDeflate
from ._deflate import Deflater
from ._connection import ClientConnection, ServerConnection
from . import handshake

__version__ = "0.1.0"

__all__ = [
    "IMPLEMENTATION",
    "SIMD",
    "apply_mask",
    "apply_mask_inplace",
    "Masker",
    "validate_utf8",
    "Utf8Validator",
    "Opcode",
    "FrameHeader",
    "parse_header",
    "encode_frame",
    "encode_close",
    "parse_close",
    "Decoder",
    "Message",
    "Ping",
    "Pong",
    "Close",
    "ProtocolError",
    "InvalidUTF8",
    "MessageTooBig",
    "ServerConnection",
    "ClientConnection",
    "ConnectionState",
    "ConnectionClosed",
    "PerMessageDeflate",
    "DeflateOptions",
    "Deflater",
    "handshake",
]
