"""A raw ASGI WebSocket echo app: each text or binary message goes back as it came.

    uvicorn asgi_echo:app --ws wsfast.uvicorn:WSFastProtocol

No framework stands between the server and the socket, so what is measured
or tested with it (bench/e2e/, the Autobahn runs through uvicorn) is the
server's WebSocket class.  Plain HTTP requests get a 404.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Callable

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "websocket":
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] != "websocket.receive":
            return
        text = event.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": event["bytes"]})
