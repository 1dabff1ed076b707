"""An echo server on 127.0.0.1 for websocket-client's local-server tests.

    python compliance/patch/echo_server.py PORT [--patch]

Built on websockets; with --patch, websockets runs with wsfast.patch
installed, so the patched library serves the other library's test suite.
"""

from __future__ import annotations

import asyncio
import sys


async def echo(connection) -> None:  # type: ignore[no-untyped-def]
    async for message in connection:
        await connection.send(message)


async def serve(port: int) -> None:
    from websockets.asyncio.server import serve as ws_serve

    async with ws_serve(echo, "127.0.0.1", port, max_size=None):
        await asyncio.Future()


def main() -> None:
    port = int(sys.argv[1])
    if "--patch" in sys.argv[2:]:
        import wsfast.patch

        if wsfast.patch.install("websockets") != ["websockets"]:
            raise SystemExit("websockets was not patched")
    asyncio.run(serve(port))


if __name__ == "__main__":
    main()
