"""An asyncio WebSocket echo server on wsfast.ServerConnection.

    python examples/echo_server.py --host 127.0.0.1 --port 9001

Echoes text and binary messages.  The connection does the protocol: it
answers Pings, echoes a Close, answers a bad request with its HTTP error and
a peer that breaks RFC 6455 with a Close carrying the error's code (1002,
1007, 1009).  This file only moves bytes, pauses reading while the socket's
write buffer is full, and drops clients that never finish their handshake.
permessage-deflate is accepted when the client offers it (browsers do):
the connection compresses the echoes and inflates what it receives.
WSFAST_NO_EXTENSIONS=1 runs it on the pure-Python implementation.  Once
listening it prints one line, ``listening on HOST:PORT (implementation
...)``, so that a parent process started with ``--port 0`` learns the port.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Optional, Sequence

import wsfast
from wsfast import handshake

# Autobahn's 9.x cases send messages of up to 16 MiB; this server accepts
# four times that, and refuses more with close code 1009.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024
# A client that never finishes its handshake is dropped after this long.
HANDSHAKE_TIMEOUT = 10.0


class EchoProtocol(asyncio.Protocol):
    def __init__(self, subprotocols: Sequence[str], max_message_size: int) -> None:
        self.conn = wsfast.ServerConnection(subprotocols=subprotocols, max_message_size=max_message_size)
        self.transport: Optional[asyncio.Transport] = None
        self.timer: Optional[asyncio.TimerHandle] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT, transport.abort)

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        for event in conn.receive_data(data):
            if isinstance(event, wsfast.Message):
                conn.send(event.data)  # str goes back as text, bytes as binary
            elif isinstance(event, handshake.Request):
                conn.accept()
                self.cancel_timer()
        self.flush()

    def eof_received(self) -> bool:
        self.conn.receive_data(b"")
        self.flush()
        return False  # asyncio closes the transport

    def flush(self) -> None:
        assert self.transport is not None
        data = self.conn.data_to_send()
        if data:
            self.transport.write(data)
        if self.conn.closed:
            self.transport.close()  # after the write: close() flushes first

    # Flow control is the I/O layer's: stop reading while the peer does not.
    def pause_writing(self) -> None:
        assert self.transport is not None
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.cancel_timer()

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


async def serve(host: str, port: int, subprotocols: Sequence[str], max_message_size: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: EchoProtocol(subprotocols, max_message_size), host, port)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]} (implementation {wsfast.IMPLEMENTATION}, simd {wsfast.SIMD})",
          flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set_result, None)
    async with server:
        await stop


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001, help="0 picks a free port")
    parser.add_argument("--subprotocol", action="append", default=[],
                        help="one the server speaks (repeatable, preferred first)")
    parser.add_argument("--max-message-size", type=int, default=MAX_MESSAGE_SIZE)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.subprotocol, args.max_message_size))


if __name__ == "__main__":
    main()
