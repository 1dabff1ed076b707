"""Plain data types shared by both implementations: opcodes, headers, events."""

from __future__ import annotations

import enum
from typing import NamedTuple, Optional, Union

__all__ = ["Opcode", "FrameHeader", "Message", "Ping", "Pong", "Close", "ConnectionState"]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 §5.2, §11.8)."""

    CONTINUATION = 0
    TEXT = 1
    BINARY = 2
    CLOSE = 8
    PING = 9
    PONG = 10


class FrameHeader(NamedTuple):
    """A parsed frame header (RFC 6455 §5.2)."""

    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    mask: Optional[bytes]
    payload_length: int
    header_length: int


class Message(NamedTuple):
    """A whole text or binary message, reassembled from its fragments."""

    opcode: Opcode
    data: Union[str, bytes]


class Ping(NamedTuple):
    payload: bytes


class Pong(NamedTuple):
    payload: bytes


class Close(NamedTuple):
    """A close frame: ``code`` is None when the frame had no payload."""

    code: Optional[int]
    reason: str


class ConnectionState(enum.IntEnum):
    """Where a connection is (RFC 6455 §4, §7.1.3, §7.1.4); docs/connection.md."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3
