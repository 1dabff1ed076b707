"""Exceptions, each carrying the close code to send the peer (RFC 6455 §7.4.1)."""

from __future__ import annotations

from typing import Sequence

__all__ = ["ProtocolError", "InvalidUTF8", "MessageTooBig", "ConnectionClosed"]


class ProtocolError(Exception):
    """The peer broke RFC 6455; close the connection with ``close_code``.

    When Decoder.feed() raises it, ``events`` holds the events the same call
    completed before reaching the error (handle them, then close); on the
    later calls that raise it again, ``events`` is empty.
    """

    close_code: int = 1002
    events: Sequence[object] = ()

    def __init__(self, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        if close_code is not None:
            self.close_code = close_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidUTF8(ProtocolError):
    """A text message or close reason is not valid UTF-8 (close code 1007)."""

    close_code = 1007


class MessageTooBig(ProtocolError):
    """A frame or message exceeds the configured limit (close code 1009)."""

    close_code = 1009


class ConnectionClosed(RuntimeError):
    """Something was sent on a connection that has queued its Close frame or ended.

    The message says why the connection is closing: the local close(), the
    peer's Close (which the connection answers itself), a protocol error, or
    the end of the TCP stream.  Nothing the peer sends raises it: it is
    raised to the local caller only.
    """
