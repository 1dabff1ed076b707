"""The echo servers that bench/e2e/run.py measures, one per process.

    python bench/e2e/servers.py uvicorn PORT --ws websockets-sansio
    python bench/e2e/servers.py uvicorn PORT --ws wsproto --patch wsproto
    python bench/e2e/servers.py uvicorn PORT --ws wsfast.uvicorn:WSFastProtocol
    python bench/e2e/servers.py aiohttp PORT
    python bench/e2e/servers.py picows PORT

Every server listens on 127.0.0.1 only, echoes each text or binary message
back as it came, and runs on uvloop when it is installed (uvicorn picks it by
itself; aiohttp and picows are given it), so the event loop is the same for
all.  uvicorn runs the raw ASGI app of examples/asgi_echo.py with its
defaults, as ``uvicorn asgi_echo:app --ws ...`` would, with logging at warning
so that a log line per connection does not count as WebSocket work.

WSFAST_E2E_DEFLATE (e.g. ``no_context_takeover=1,peer_max_window_bits=9``)
serves wsfast's class with other permessage-deflate options, through a
subclass: how docs/uvicorn.md measured the choice of the class's own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

# 64 KiB messages and every library's default limit are far apart, but the
# limits differ (aiohttp 4 MiB, uvicorn 16 MiB): all are given uvicorn's.
MAX_SIZE = 16 * 1024 * 1024


def use_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def serve_uvicorn(port: int, ws: str, patch: str | None) -> None:
    if patch:
        import warnings

        import wsfast.patch

        with warnings.catch_warnings():
            warnings.simplefilter("error", wsfast.patch.PatchWarning)
            done = wsfast.patch.install(*patch.split(","))
        if done != patch.split(","):
            raise SystemExit(f"wsfast.patch.install({patch}) patched only {done}")
    import uvicorn

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    from asgi_echo import app

    protocol: Any = ws
    if os.environ.get("WSFAST_E2E_DEFLATE") and ws.startswith("wsfast.uvicorn:"):
        protocol = wsfast_with_options(os.environ["WSFAST_E2E_DEFLATE"])
    uvicorn.run(app, host="127.0.0.1", port=port, ws=protocol, lifespan="off", log_level="warning",
                access_log=False)


def wsfast_with_options(spec: str) -> Any:
    """WSFastProtocol with DeflateOptions(**spec): 'name=value,...', values int (booleans as 0/1)."""
    import wsfast
    from wsfast.uvicorn import WSFastProtocol

    options = {}
    for item in filter(None, spec.split(",")):
        name, _, value = item.partition("=")
        default = getattr(wsfast.DeflateOptions(), name.strip())
        options[name.strip()] = bool(int(value)) if isinstance(default, bool) else int(value)
    print(f"deflate options {options}", file=sys.stderr, flush=True)

    class Tuned(WSFastProtocol):
        deflate_options = wsfast.DeflateOptions(**options)

    return Tuned


def serve_aiohttp(port: int) -> None:
    from aiohttp import WSMsgType, web

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_SIZE)  # compress=True is the default
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    use_uvloop()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_picows(port: int) -> None:
    from picows import (
        WSFrame,
        WSListener,
        WSMsgType,
        WSTransport,
        WSUpgradeRequest,
        ws_create_server,
    )

    class Echo(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
                # The load generator never fragments, so a frame is a message.
                transport.send(frame.msg_type, frame.get_payload_as_memoryview())

    def factory(request: WSUpgradeRequest) -> WSListener:
        return Echo()

    async def main() -> None:
        server = await ws_create_server(factory, "127.0.0.1", port, max_frame_size=MAX_SIZE)
        await server.serve_forever()

    use_uvloop()
    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("server", choices=("uvicorn", "aiohttp", "picows"))
    parser.add_argument("port", type=int)
    parser.add_argument("--ws", default="websockets-sansio", help="uvicorn's --ws: a name or module:Class")
    parser.add_argument("--patch", help="wsfast.patch.install() these libraries first (comma-separated)")
    args = parser.parse_args()
    # 1000 idle connections for the memory probe need more descriptors than
    # some shells allow by default.
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    print(f"pid {os.getpid()}", file=sys.stderr, flush=True)
    if args.server == "uvicorn":
        serve_uvicorn(args.port, args.ws, args.patch)
    elif args.server == "aiohttp":
        serve_aiohttp(args.port)
    else:
        serve_picows(args.port)


if __name__ == "__main__":
    main()
