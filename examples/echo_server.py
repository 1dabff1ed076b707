"""An asyncio WebSocket echo server built on wsfast alone.

    python examples/echo_server.py --host 127.0.0.1 --port 9001

Echoes text and binary messages, answers Ping with Pong and Close with
Close, then hangs up.  A peer that breaks RFC 6455 gets a Close with the
error's code (1002, 1007, 1009).  WSFAST_NO_EXTENSIONS=1 runs it on the
pure-Python implementation.  Once listening it prints one line,
``listening on HOST:PORT (implementation ...)``, so that a parent process
started with ``--port 0`` learns the port.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsfast
from wsconn import MAX_MESSAGE_SIZE, Connection, read_head, run_echo
from wsfast import handshake

# A client that never finishes its handshake is dropped after this long.
HANDSHAKE_TIMEOUT = 10.0


class EchoServer:
    def __init__(self, *, subprotocols: Sequence[str] = (), max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self.subprotocols = tuple(subprotocols)
        self.max_message_size = max_message_size

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            conn = await asyncio.wait_for(self._accept(reader, writer), HANDSHAKE_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError):
            conn = None
        if conn is None:
            writer.close()
            return
        await run_echo(conn)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Optional[Connection]:
        try:
            got = await read_head(reader)
            if got is None:
                return None
            head, rest = got
            response, chosen = handshake.server_handshake(
                handshake.parse_request(head), subprotocols=self.subprotocols
            )
        except handshake.HandshakeError as err:
            writer.write(err.response())
            await writer.drain()
            return None
        writer.write(response)
        await writer.drain()
        return Connection(
            reader, writer, client=False, pending=rest, subprotocol=chosen, max_message_size=self.max_message_size
        )


async def serve(host: str, port: int, subprotocols: Sequence[str], max_message_size: int) -> None:
    echo = EchoServer(subprotocols=subprotocols, max_message_size=max_message_size)
    server = await asyncio.start_server(echo.handle, host, port)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]} (implementation {wsfast.IMPLEMENTATION}, simd {wsfast.SIMD})",
          flush=True)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
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
