"""A WebSocket connection over asyncio streams, built on wsfast alone.

The examples share it: echo_server.py (the server side) and client.py (the
client side, including the Autobahn fuzzing-server client).  wsfast does the
protocol (handshake bytes, frame encoding, the Decoder); this module only
moves bytes between those and a socket.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import AsyncIterator, Optional, Sequence, Tuple, Union

import wsfast
from wsfast import handshake

Event = Union[wsfast.Message, wsfast.Ping, wsfast.Pong, wsfast.Close]

READ_SIZE = 256 * 1024
# Autobahn's 9.x cases send messages and frames of up to 16 MiB; these
# examples accept four times that, and refuse more with close code 1009.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024
# How long a closing side waits for the peer to close the TCP connection.
CLOSE_TIMEOUT = 5.0


class Connection:
    """One open WebSocket: send frames, iterate over events, close.

    ``client`` selects the role: a client masks what it sends and expects
    unmasked frames, a server the reverse (the Decoder checks the latter).
    ``pending`` holds bytes that arrived right behind the handshake head.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        client: bool,
        pending: bytes = b"",
        subprotocol: Optional[str] = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.client = client
        self.subprotocol = subprotocol
        self.decoder = wsfast.Decoder(
            client=client, max_message_size=max_message_size, max_frame_size=max_message_size
        )
        self._pending = pending
        self.close_sent = False
        self.close_received: Optional[wsfast.Close] = None

    async def send(self, opcode: int, payload: Union[bytes, str], *, fin: bool = True) -> None:
        self.writer.write(wsfast.encode_frame(opcode, payload, fin=fin, mask=True if self.client else None))
        await self.writer.drain()

    async def send_close(self, code: Optional[int] = None, reason: str = "") -> None:
        """Send a Close frame, once; later calls do nothing (RFC 6455 §5.5.1)."""
        if self.close_sent:
            return
        self.close_sent = True
        try:
            await self.send(wsfast.Opcode.CLOSE, wsfast.encode_close(code, reason))
        except ConnectionError:
            pass

    async def events(self) -> AsyncIterator[Event]:
        """Events as they complete, until the peer's Close or the end of the stream.

        Raises wsfast.ProtocolError when the peer breaks the protocol; the
        caller answers it (see run_echo).
        """
        data = self._pending
        self._pending = b""
        while True:
            if data:
                for event in self.decoder.feed(data):
                    if isinstance(event, wsfast.Close):
                        self.close_received = event
                    yield event
                    if self.close_received is not None:
                        return
            try:
                data = await self.reader.read(READ_SIZE)
            except ConnectionError:
                return
            if not data:
                return

    async def close_transport(self, *, wait_for_peer: bool) -> None:
        """Close TCP; a client first lets the server close it (RFC 6455 §7.1.1)."""
        if wait_for_peer:
            try:
                await asyncio.wait_for(self._drain_to_eof(), CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, ConnectionError):
                pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass

    async def _drain_to_eof(self) -> None:
        while await self.reader.read(READ_SIZE):
            pass


async def run_echo(conn: Connection) -> Optional[wsfast.Close]:
    """Echo every message, answer pings, answer a Close; then close TCP.

    On a protocol error, send a Close with the error's code (1002, 1007
    or 1009) and hang up.  Returns the peer's Close, if one came.
    """
    try:
        async for event in conn.events():
            await _answer(conn, event)
    except wsfast.ProtocolError as err:
        # Frames that were whole before the broken one still get their
        # answer: the Decoder hands their events over as err.events
        # (docs/decoder.md).  Autobahn counts a missing echo as NON-STRICT.
        for completed in err.events:
            await _answer(conn, completed)
        await conn.send_close(err.close_code)
    except ConnectionError:
        pass
    await conn.close_transport(wait_for_peer=conn.client)
    return conn.close_received


async def _answer(conn: Connection, event: object) -> None:
    if isinstance(event, wsfast.Message):
        await conn.send(event.opcode, event.data)
    elif isinstance(event, wsfast.Ping):
        await conn.send(wsfast.Opcode.PONG, event.payload)
    elif isinstance(event, wsfast.Close):
        # Echo the code back (§5.5.1); a Close without one gets one without one.
        await conn.send_close(event.code)


async def read_head(
    reader: asyncio.StreamReader, *, max_size: int = handshake.MAX_HEAD_SIZE
) -> Optional[Tuple[bytes, bytes]]:
    """(head, bytes after it) from the stream; None if it ended first.

    handshake.HandshakeError (431) once ``max_size`` bytes came without the
    end of the head.
    """
    buffer = b""
    while True:
        end = handshake.head_length(buffer, max_size=max_size)
        if end is not None:
            return buffer[:end], buffer[end:]
        chunk = await reader.read(READ_SIZE)
        if not chunk:
            return None
        buffer += chunk


async def connect(
    uri: str,
    *,
    subprotocols: Sequence[str] = (),
    headers: Sequence[Tuple[str, str]] = (),
    ssl_context: Optional[ssl.SSLContext] = None,
    max_message_size: int = MAX_MESSAGE_SIZE,
) -> Connection:
    """Open a client connection to ``uri`` (``ws://`` or ``wss://``)."""
    target = handshake.parse_uri(uri)
    context = None
    if target.secure:
        context = ssl_context or ssl.create_default_context()
    reader, writer = await asyncio.open_connection(target.host, target.port, ssl=context)
    try:
        request, key = handshake.client_request(target, subprotocols=subprotocols, headers=headers)
        writer.write(request)
        await writer.drain()
        got = await read_head(reader)
        if got is None:
            raise handshake.HandshakeError("connection closed during the handshake", None)
        head, rest = got
        chosen = handshake.check_response(head, key, subprotocols)
    except BaseException:
        writer.close()
        raise
    return Connection(
        reader, writer, client=True, pending=rest, subprotocol=chosen, max_message_size=max_message_size
    )
