"""wsfast.uvicorn.WSFastProtocol, for both implementations of ServerConnection.

Two kinds of test:

* a real uvicorn server (a thread here, 127.0.0.1, a free port) with a real
  client: websockets' for messages, a raw socket where the test needs to
  send exactly some bytes (oversized, fragmented or broken frames, a client
  that never answers pings);
* the protocol driven directly over a recording transport, for what a
  socket cannot show: how many writes, when reading pauses, what is queued.

uvicorn's own WebSocket test suite runs against the class too
(compliance/uvicorn_suite.py); these tests cover what it does not: the
limits, flow control both ways, the Close ordering after a protocol error,
the one write per loop iteration, the version check and Starlette/FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Tuple

import pytest

pytest.importorskip("uvicorn")
websockets_sync = pytest.importorskip("websockets.sync.client")
websockets_exceptions = pytest.importorskip("websockets.exceptions")

import uvicorn  # noqa: E402
from test_browser import BINARY_SIZES, PageServer, chromium, page_server, run_chromium  # noqa: E402,F401
from test_browser import TEXTS as BROWSER_TEXTS  # noqa: E402
from test_browser import pattern as browser_pattern  # noqa: E402
from uvicorn.config import Config  # noqa: E402
from uvicorn.server import ServerState  # noqa: E402

import wsfast  # noqa: E402

try:  # at module level: FastAPI resolves the endpoint's annotations in these globals
    import fastapi
except ImportError:  # pragma: no cover - depends on the environment
    fastapi = None
import wsfast.uvicorn as wsu  # noqa: E402
from wsfast import _impl  # noqa: E402

WS = "wsfast.uvicorn:WSFastProtocol"
# Every HTTP protocol this uvicorn has whose parser is installed.
HTTP = [name for name in ("httptools", "h11", "zttp")
        if name in uvicorn.config.HTTP_PROTOCOLS and importlib.util.find_spec(name)]
Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]
WAIT = 10.0  # the longest any step waits before the test fails


@pytest.fixture
def conn_impl(impl: _impl.Implementation, monkeypatch: pytest.MonkeyPatch) -> _impl.Implementation:
    """WSFastProtocol built on this implementation's ServerConnection."""
    monkeypatch.setattr(wsu, "ServerConnection", impl.ServerConnection)
    return impl


# ------------------------------------------------------------------ apps


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] != "websocket.receive":
            return
        if event.get("text") is not None:
            await send({"type": "websocket.send", "text": event["text"]})
        else:
            await send({"type": "websocket.send", "bytes": event["bytes"]})


class Recorder:
    """An app that accepts and records every event, for the test to inspect."""

    def __init__(self, reply: bool = False) -> None:
        self.events: List[Dict[str, Any]] = []
        self.done = threading.Event()
        self.reply = reply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        try:
            while True:
                event = await receive()
                self.events.append(event)
                if event["type"] == "websocket.disconnect":
                    return
                if self.reply:
                    await send({"type": "websocket.send", "text": event.get("text") or "?"})
        finally:
            self.done.set()


# --------------------------------------------------------------- server


@contextlib.contextmanager
def serving(app: Any, **settings: Any) -> Iterator[Tuple[int, uvicorn.Server]]:
    """uvicorn with WSFastProtocol on 127.0.0.1 in a thread; yields (port, server)."""
    settings.setdefault("http", "httptools" if "httptools" in HTTP else "h11")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config(app=app, host="127.0.0.1", port=port, ws=WS, lifespan="off", log_level="warning", **settings)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port, server
    finally:
        server.should_exit = True
        thread.join(WAIT)


def protocols(server: uvicorn.Server) -> List[wsu.WSFastProtocol]:
    return [c for c in list(server.server_state.connections) if isinstance(c, wsu.WSFastProtocol)]


def wait_until(what: Callable[[], bool], message: str) -> None:
    deadline = time.monotonic() + WAIT
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.005)


class RawClient:
    """A socket that speaks just enough WebSocket to send exactly the frames a test needs."""

    KEY = "dGhlIHNhbXBsZSBub25jZQ=="

    def __init__(self, port: int, path: str = "/ws", extra: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock.sendall(
            (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {self.KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, f"connection closed during the handshake: {head!r}"
            head += chunk
        self.head, _, rest = head.partition(b"\r\n\r\n")
        self.decoder = wsfast.Decoder(client=True, max_message_size=None)
        self.events: List[Any] = []
        if self.head.startswith(b"HTTP/1.1 101"):
            self.events += self.decoder.feed(rest)

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        self.sock.sendall(wsfast.encode_frame(opcode, payload, fin=fin, mask=True))

    def read_until(self, done: Callable[[List[Any]], bool]) -> List[Any]:
        """Events until ``done(events)`` or the server closes TCP."""
        while not done(self.events):
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                break
            self.events += self.decoder.feed(data)
        return self.events

    def close(self) -> None:
        self.sock.close()


class PauseCounter:
    """A transport that counts pause_reading() calls (uvloop's methods cannot be replaced)."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self.pauses = 0

    def pause_reading(self) -> None:
        self.pauses += 1
        self._transport.pause_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def is_close(event: Any) -> bool:
    return isinstance(event, wsfast.Close)


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("http", HTTP)
def test_echo_on_every_http_protocol(conn_impl: _impl.Implementation, http: str) -> None:
    with serving(echo_app, http=http) as (port, server):
        with websockets_sync.connect(f"ws://127.0.0.1:{port}/chat?room=1") as ws:
            for message in ["", "héllo 🙂", "x" * 70000, b"", b"\x00\xff" * 40000]:
                ws.send(message)
                assert ws.recv() == message
            (protocol,) = protocols(server)
            assert type(protocol.conn) is conn_impl.ServerConnection
            assert protocol.scope["path"] == "/chat"
            assert protocol.scope["query_string"] == b"room=1"


def test_scope_headers_and_subprotocol(conn_impl: _impl.Implementation) -> None:
    seen: Dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "two", "headers": [(b"x-extra", b"yes")]})
        await receive()

    with serving(app) as (port, _):
        with websockets_sync.connect(f"ws://127.0.0.1:{port}/a%2Fb", subprotocols=["one", "two"],
                                     additional_headers={"X-Name": "abra\xe3o"}) as ws:
            assert ws.subprotocol == "two"
            assert ws.response.headers["x-extra"] == "yes"
            assert ws.response.headers["server"] == "uvicorn"
    assert seen["subprotocols"] == ["one", "two"]
    assert seen["path"] == "/a/b" and seen["raw_path"] == b"/a%2Fb"
    headers = dict(seen["headers"])
    assert headers[b"x-name"] == b"abra\xe3o"
    assert seen["scheme"] == "ws" and seen["client"][0] == "127.0.0.1"
    assert seen["extensions"] == {"websocket.http.response": {}}


@pytest.mark.parametrize("fragmented", [False, True], ids=["one-frame", "fragmented"])
def test_ws_max_size_closes_with_1009(conn_impl: _impl.Implementation, fragmented: bool) -> None:
    app = Recorder()
    with serving(app, ws_max_size=1024) as (port, _):
        client = RawClient(port)
        try:
            client.send_frame(wsfast.Opcode.BINARY, b"a" * 1024)  # exactly the limit: fine
            if fragmented:
                client.send_frame(wsfast.Opcode.TEXT, b"b" * 600, fin=False)
                client.send_frame(wsfast.Opcode.CONTINUATION, b"b" * 600)
            else:
                client.send_frame(wsfast.Opcode.BINARY, b"b" * 1025)
            events = client.read_until(lambda evs: any(is_close(e) for e in evs))
        finally:
            client.close()
        assert app.done.wait(WAIT)
    closes = [e for e in events if is_close(e)]
    assert closes and closes[0].code == 1009
    assert app.events[0] == {"type": "websocket.receive", "bytes": b"a" * 1024}
    assert app.events[-1]["type"] == "websocket.disconnect" and app.events[-1]["code"] == 1009
    assert len(app.events) == 2


def test_protocol_error_close_follows_the_apps_answers(conn_impl: _impl.Implementation) -> None:
    # Three messages and a frame with a reserved opcode in one write: the app
    # answers the three, and only then does the Close 1002 go out.
    with serving(echo_app) as (port, _):
        client = RawClient(port)
        try:
            data = b"".join(wsfast.encode_frame(wsfast.Opcode.TEXT, f"m{i}", mask=True) for i in range(3))
            client.sock.sendall(data + b"\x8b\x80" + os.urandom(4))
            events = client.read_until(lambda evs: any(is_close(e) for e in evs))
        finally:
            client.close()
    assert [e.data for e in events if isinstance(e, wsfast.Message)] == ["m0", "m1", "m2"]
    assert is_close(events[-1]) and events[-1].code == 1002


def test_close_before_accept_is_403_and_http_denial(conn_impl: _impl.Implementation) -> None:
    async def deny(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        if scope["path"] == "/closed":
            await send({"type": "websocket.close"})
        else:
            await send({"type": "websocket.http.response.start", "status": 401, "headers": [(b"x-why", b"token")]})
            await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"entry"})

    with serving(deny) as (port, _):
        for path, status, body in (("/closed", 403, b""), ("/denied", 401, b"no entry")):
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
                sock.sendall(
                    (f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {RawClient.KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
                )
                answer = b""
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            head, _, got = answer.partition(b"\r\n\r\n")
            assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
            assert got == body
            assert f"content-length: {len(body)}".encode() in head.lower()
            if status == 401:
                assert b"x-why: token" in head.lower()


def test_shutdown_sends_1012_to_open_connections_and_500_before_accept(conn_impl: _impl.Implementation) -> None:
    app = Recorder()
    accepted = threading.Event()
    never = threading.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/open":
            await app(scope, receive, send)
            return
        await receive()
        accepted.set()
        while not never.is_set():  # never answers the request
            await asyncio.sleep(0.01)

    with serving(slow) as (port, server):
        client = RawClient(port, "/open")
        pending = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        try:
            pending.sendall(
                (f"GET /pending HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {RawClient.KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
            )
            assert accepted.wait(WAIT)
            server.should_exit = True
            events = client.read_until(lambda evs: any(is_close(e) for e in evs))
            answer = pending.recv(4096)
        finally:
            never.set()
            client.close()
            pending.close()
    assert any(is_close(e) and e.code == 1012 for e in events)
    assert answer.startswith(b"HTTP/1.1 500 ")
    assert app.events == [{"type": "websocket.disconnect", "code": 1012}]


def test_keepalive_timeout_closes_with_1011(conn_impl: _impl.Implementation) -> None:
    app = Recorder()
    with serving(app, ws_ping_interval=0.05, ws_ping_timeout=0.1) as (port, _):
        client = RawClient(port)  # reads frames, never answers a Ping
        try:
            events = client.read_until(lambda evs: any(is_close(e) for e in evs))
        finally:
            client.close()
    assert any(isinstance(e, wsfast.Ping) for e in events)
    close = next(e for e in events if is_close(e))
    assert (close.code, close.reason) == (1011, "keepalive ping timeout")


def test_keepalive_answered_keeps_the_connection(conn_impl: _impl.Implementation) -> None:
    with serving(echo_app, ws_ping_interval=0.05, ws_ping_timeout=1.0) as (port, server):
        with websockets_sync.connect(f"ws://127.0.0.1:{port}") as ws:  # answers Pings by itself
            (protocol,) = protocols(server)
            wait_until(lambda: protocol.last_ping_rtt > 0, "no Ping was answered")
            ws.send("still here")
            assert ws.recv() == "still here"


def test_reading_pauses_at_ws_max_queue_not_per_message(conn_impl: _impl.Implementation) -> None:
    count, size = 2000, 1024  # 2 MiB: many reads' worth
    release = threading.Event()
    received: List[str] = []

    async def lazy(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while not release.is_set():
            await asyncio.sleep(0.005)
        while True:
            event = await receive()
            if event["type"] != "websocket.receive":
                return
            received.append(event["text"])
            if len(received) == count:
                await send({"type": "websocket.send", "text": "all"})

    with serving(lazy, ws_max_queue=16) as (port, server):
        client = RawClient(port)
        try:
            (protocol,) = protocols(server)
            counting = PauseCounter(protocol.transport)
            protocol.transport = counting  # type: ignore[assignment]
            data = b"".join(wsfast.encode_frame(wsfast.Opcode.TEXT, f"{i:04d}".ljust(size, "."), mask=True)
                            for i in range(count))
            # The sender blocks once the server stops reading: it runs beside the test.
            sender = threading.Thread(target=client.sock.sendall, args=(data,), daemon=True)
            sender.start()
            wait_until(lambda: protocol.read_paused, "reading never paused while the app did not read")
            time.sleep(0.1)
            queued = len(protocol._events)
            release.set()
            events = client.read_until(lambda evs: any(isinstance(e, wsfast.Message) for e in evs))
            sender.join(WAIT)
        finally:
            client.close()
    assert [r[:4] for r in received] == [f"{i:04d}" for i in range(count)]
    assert events[0].data == "all"
    # The watermark plus what one read (at most 256 KiB here) brought.
    assert queued <= 16 + 256 * 1024 // size
    # One pause per filling of the queue, not one per message.
    assert 1 <= counting.pauses <= count // 16


def test_send_waits_while_the_transport_is_paused(conn_impl: _impl.Implementation) -> None:
    # A client that stops reading: the app's sends block once the socket and
    # the transport's buffer are full, so the server holds a bounded amount.
    sent = [0]

    async def flood(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        chunk = b"z" * 65536
        while sent[0] < 4096:  # 256 MiB if nothing held it back
            await send({"type": "websocket.send", "bytes": chunk})
            sent[0] += 1

    with serving(flood) as (port, server):
        client = RawClient(port)
        try:
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            (protocol,) = protocols(server)
            wait_until(lambda: protocol._write_paused, "the transport never paused writing")
            time.sleep(0.2)
            stalled = sent[0]
            buffered = protocol.transport.get_write_buffer_size()
            time.sleep(0.2)
            assert sent[0] == stalled, "the app kept sending while the transport was paused"
        finally:
            client.close()
    assert stalled < 4096
    assert buffered < 4 * 1024 * 1024


def test_a_client_that_stops_reading_is_dropped(conn_impl: _impl.Implementation,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # It answers no Ping (it reads nothing), so keepalive fails it with 1011;
    # its full buffer cannot drain, so the transport is aborted after the
    # close timeout instead of waiting for TCP to give up.
    monkeypatch.setattr(wsu, "CLOSE_TIMEOUT", 0.2)
    stop = threading.Event()

    async def flood(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        try:
            while not stop.is_set():
                await send({"type": "websocket.send", "bytes": b"z" * 65536})
        except OSError:
            pass  # ClientDisconnected once the connection is gone

    with serving(flood, ws_ping_interval=0.1, ws_ping_timeout=0.2) as (port, server):
        client = RawClient(port)
        try:
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            (protocol,) = protocols(server)
            wait_until(lambda: protocol.disconnected, "the server kept a client that reads nothing")
            assert protocol not in server.server_state.connections
        finally:
            stop.set()
            client.close()


def test_starlette_endpoint(conn_impl: _impl.Implementation) -> None:
    starlette = pytest.importorskip("starlette")
    del starlette
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="json")
        while True:
            data = await websocket.receive_json()
            if data.get("bye"):
                await websocket.close(code=4000, reason="bye")
                return
            await websocket.send_json({"echo": data, "path": websocket.url.path})

    app = Starlette(routes=[WebSocketRoute("/rpc", endpoint)])
    with serving(app) as (port, _):
        with websockets_sync.connect(f"ws://127.0.0.1:{port}/rpc", subprotocols=["json"]) as ws:
            ws.send(json.dumps({"n": 1}))
            assert json.loads(ws.recv()) == {"echo": {"n": 1}, "path": "/rpc"}
            ws.send(json.dumps({"bye": True}))
            with pytest.raises(websockets_exceptions.ConnectionClosed):
                ws.recv()
            assert ws.close_code == 4000 and ws.close_reason == "bye"


@pytest.mark.skipif(fastapi is None, reason="FastAPI is not installed")
def test_fastapi_websocket(conn_impl: _impl.Implementation) -> None:
    app = fastapi.FastAPI()

    @app.websocket("/ws/{name}")
    async def hello(websocket: fastapi.WebSocket, name: str) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{text}, {name}")
        await websocket.close()

    with serving(app) as (port, _):
        with websockets_sync.connect(f"ws://127.0.0.1:{port}/ws/ada") as ws:
            ws.send("hello")
            assert ws.recv() == "hello, ada"


# ------------------------------------------------- the protocol, in-process


class RecordingTransport(asyncio.Transport):
    """What the protocol writes, and whether it paused reading."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: List[bytes] = []
        self.closed = False
        self.reading_paused = False
        self.pauses = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(name, default)

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading_paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading_paused = False

    def get_write_buffer_size(self) -> int:
        return 0


REQUEST = (b"GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
           b"sec-websocket-key: " + RawClient.KEY.encode() + b"\r\nsec-websocket-version: 13\r\n\r\n")


Steps = Callable[[wsu.WSFastProtocol, RecordingTransport], Awaitable[None]]


def drive(app: Any, steps: Steps, **settings: Any) -> None:
    async def main() -> None:
        config = Config(app=app, ws=WS, lifespan="off", **settings)
        config.load()
        protocol = wsu.WSFastProtocol(config=config, server_state=ServerState(), app_state={})
        transport = RecordingTransport()
        protocol.connection_made(transport)
        protocol.data_received(REQUEST)
        await steps(protocol, transport)
        protocol.connection_lost(None)
        await asyncio.gather(*protocol.tasks)

    asyncio.run(asyncio.wait_for(main(), WAIT))


def frames(*texts: str) -> bytes:
    return b"".join(wsfast.encode_frame(wsfast.Opcode.TEXT, t, mask=True) for t in texts)


def test_sends_of_one_loop_iteration_are_one_write(conn_impl: _impl.Implementation) -> None:
    async def steps(protocol: wsu.WSFastProtocol, transport: RecordingTransport) -> None:
        while not protocol.handshake_complete:
            await asyncio.sleep(0)
        before = len(transport.writes)
        protocol.data_received(frames(*[f"m{i}" for i in range(10)]))
        for _ in range(5):
            await asyncio.sleep(0)
        writes = transport.writes[before:]
        assert len(writes) == 1, writes
        decoded = wsfast.Decoder(client=True).feed(writes[0])
        assert [m.data for m in decoded] == [f"m{i}" for i in range(10)]

    drive(echo_app, steps)


CHROMIUM_OFFER = b"sec-websocket-extensions: permessage-deflate; client_max_window_bits\r\n"


def retained_per_connection(protocol_class: Any, count: int = 32) -> float:
    """Bytes (tracemalloc) each of ``count`` connections keeps after one compressed message each way."""
    import tracemalloc
    import zlib

    message = json.dumps({"type": "update", "items": [{"sku": f"SKU-{i:05d}", "qty": i} for i in range(40)]})
    compressor = zlib.compressobj(6, zlib.DEFLATED, -12)
    payload = compressor.compress(message.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    frame = wsfast.encode_frame(wsfast.Opcode.TEXT, payload[:-4], rsv1=True, mask=True)

    async def main() -> float:
        config = Config(app=echo_app, ws=WS, lifespan="off")
        config.load()
        kept = []
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(count):
            protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
            transport = RecordingTransport()
            protocol.connection_made(transport)
            protocol.data_received(REQUEST[:-2] + CHROMIUM_OFFER + b"\r\n")
            while not protocol.handshake_complete:
                await asyncio.sleep(0)
            protocol.data_received(frame)
            while len(transport.writes) < 2:
                await asyncio.sleep(0)
            assert protocol.conn.deflate is not None
            transport.writes.clear()  # the test's record, not the connection's memory
            kept.append(protocol)
        for _ in range(3):
            await asyncio.sleep(0)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        for protocol in kept:
            protocol.connection_lost(None)
            await asyncio.gather(*protocol.tasks)
        return (after - before) / count

    return asyncio.run(asyncio.wait_for(main(), WAIT))


def test_a_quiet_connection_holds_no_compressor(conn_impl: _impl.Implementation) -> None:
    """With the class's options the compressor goes back to the shared pool after each message.

    zlib's state is allocated through PyMem_RawMalloc in both implementations,
    so tracemalloc sees it.  The same connections with context takeover keep
    their compressor (window 12, memLevel 5: 38 KiB each), which shows the
    measure would catch one.
    """

    class KeepsContext(wsu.WSFastProtocol):
        deflate_options = wsfast.DeflateOptions()

    shipped = retained_per_connection(wsu.WSFastProtocol)
    keeping = retained_per_connection(KeepsContext)
    assert wsu.WSFastProtocol.deflate_options.no_context_takeover
    assert keeping - shipped > 30 * 1024, (shipped, keeping)
    if conn_impl.IMPLEMENTATION == "cython":
        # What stays: the inflater of the client's context (window 12: 11 KiB),
        # the connection's objects (about 13 KiB), a share of the pool's one
        # stream; a window-15 inflater would add 28 KiB.  (The pure twin's
        # inflater is what its zlib module makes: zlib-ng's holds 42 KiB at
        # any window.)
        assert shipped < 32 * 1024, shipped


def test_an_app_that_never_yields_is_flushed_by_size(conn_impl: _impl.Implementation) -> None:
    async def sender(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        for _ in range(64):  # 4 MiB without yielding to the loop once
            await send({"type": "websocket.send", "bytes": b"q" * 65536})
        await receive()

    async def steps(protocol: wsu.WSFastProtocol, transport: RecordingTransport) -> None:
        while len(transport.writes) < 65:  # the 101, then one write per 64 KiB at most
            await asyncio.sleep(0)
        assert all(len(w) < 2 * 65536 + 64 for w in transport.writes)

    drive(sender, steps)


def test_reading_pause_and_resume_follow_the_queue(conn_impl: _impl.Implementation) -> None:
    gate = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate.wait()
        while (await receive())["type"] == "websocket.receive":
            pass

    async def steps(protocol: wsu.WSFastProtocol, transport: RecordingTransport) -> None:
        while not protocol.handshake_complete:
            await asyncio.sleep(0)
        for i in range(7):
            protocol.data_received(frames(f"{i}"))
            assert not transport.reading_paused  # below ws_max_queue: no pause per message
        protocol.data_received(frames("7"))
        assert transport.reading_paused and transport.pauses == 1
        gate.set()
        while transport.reading_paused:
            await asyncio.sleep(0)
        assert len(protocol._events) <= 2  # resumed at the low watermark
        protocol.data_received(frames(*"abcdefgh"))
        assert transport.pauses == 2

    drive(slow, steps, ws_max_queue=8)


def test_close_waits_for_the_app_to_take_earlier_messages(conn_impl: _impl.Implementation) -> None:
    gate = asyncio.Event()

    async def steps(protocol: wsu.WSFastProtocol, transport: RecordingTransport) -> None:
        while not protocol.handshake_complete:
            await asyncio.sleep(0)
        before = len(transport.writes)
        # Two messages, then the peer's Close, in one read.
        protocol.data_received(frames("a", "b") + wsfast.encode_frame(wsfast.Opcode.CLOSE, wsfast.encode_close(1000),
                                                                     mask=True))
        assert transport.writes[before:] == []  # nothing goes out before the app has the messages
        gate.set()
        while not transport.closed:
            await asyncio.sleep(0)
        out = wsfast.Decoder(client=True).feed(b"".join(transport.writes[before:]))
        assert [type(e).__name__ for e in out] == ["Message", "Message", "Close"]
        assert out[2].code == 1000

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate.wait()
        while True:
            event = await receive()
            if event["type"] != "websocket.receive":
                assert event == {"type": "websocket.disconnect", "code": 1000, "reason": ""}
                return
            await send({"type": "websocket.send", "text": event["text"]})

    drive(app, steps)


def test_a_peer_that_half_closes_after_its_close_still_gets_the_answers(conn_impl: _impl.Implementation) -> None:
    gate = asyncio.Event()

    async def steps(protocol: wsu.WSFastProtocol, transport: RecordingTransport) -> None:
        while not protocol.handshake_complete:
            await asyncio.sleep(0)
        before = len(transport.writes)
        protocol.data_received(frames("a") + wsfast.encode_frame(wsfast.Opcode.CLOSE, wsfast.encode_close(1001),
                                                                mask=True))
        assert protocol.eof_received() is True  # keep the transport open for what is owed
        gate.set()
        while not transport.closed:
            await asyncio.sleep(0)
        out = wsfast.Decoder(client=True).feed(b"".join(transport.writes[before:]))
        assert [type(e).__name__ for e in out] == ["Message", "Close"]
        assert out[1].code == 1001
        assert protocol.eof_received() is None  # nothing more is owed

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate.wait()
        while (event := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": event["text"]})

    drive(app, steps)


def test_receive_after_disconnect_does_not_hang(conn_impl: _impl.Implementation) -> None:
    got: List[Dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        got.append(await receive())
        got.append(await receive())

    async def steps(protocol: wsu.WSFastProtocol, transport: RecordingTransport) -> None:
        while not protocol.handshake_complete:
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        await asyncio.gather(*protocol.tasks)

    drive(app, steps)
    assert got == [{"type": "websocket.disconnect", "code": 1006}] * 2


# ------------------------------------------------------------ packaging


def test_import_wsfast_imports_nothing_of_uvicorn() -> None:
    code = ("import sys, wsfast; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'uvicorn' or m == 'wsfast.uvicorn'))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("missing", ["ClientDisconnected", "get_path_with_query_string"])
def test_a_uvicorn_without_what_the_class_needs_fails_at_import(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    from uvicorn.protocols import utils

    monkeypatch.delattr(utils, missing)
    with pytest.raises(ImportError, match=f"uvicorn.protocols.utils.{missing}.*wsfast\\[uvicorn\\]"):
        wsu.check_uvicorn()


def test_a_config_without_ws_settings_fails_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    real = inspect.signature

    def without_queue(obj: Any) -> inspect.Signature:
        sig = real(obj)
        if obj is Config.__init__:
            return sig.replace(parameters=[p for n, p in sig.parameters.items() if n != "ws_max_queue"])
        return sig

    monkeypatch.setattr(inspect, "signature", without_queue)
    with pytest.raises(ImportError, match=r"Config\(ws_max_queue=\.\.\.\)"):
        wsu.check_uvicorn()


@pytest.mark.parametrize("version", ["0.35.0", "0.9.1", "", "unknown"])
def test_a_uvicorn_older_than_the_minimum_fails_at_import(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setattr(uvicorn, "__version__", version, raising=False)
    with pytest.raises(ImportError, match=r"needs uvicorn 0\.36 or newer, found .*wsfast\[uvicorn\]"):
        wsu.check_uvicorn()


@pytest.mark.parametrize("version", ["0.36.0", "0.54.0", "0.60.0.dev1", "1.0.0rc1"])
def test_a_recent_uvicorn_passes_the_version_check(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setattr(uvicorn, "__version__", version)
    wsu.check_uvicorn()


def test_the_check_needs_no_source_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed without .py sources (or with a compiled Config), the check still runs and passes."""
    import inspect

    def no_source(*args: Any, **kwargs: Any) -> Any:
        raise OSError("could not get source code")

    def no_signature(obj: Any) -> Any:
        raise ValueError(f"no signature found for {obj!r}")

    for name in ("getsource", "getsourcelines", "findsource", "getfile", "getsourcefile"):
        monkeypatch.setattr(inspect, name, no_source)
    monkeypatch.setattr(inspect, "signature", no_signature)
    wsu.check_uvicorn()


OLD_UVICORN = """
import sys
import uvicorn
uvicorn.__version__ = "0.35.0"
from uvicorn.main import main
sys.argv = ["uvicorn"] + sys.argv[1:]
main()
"""


def test_an_old_uvicorn_fails_at_start_up_before_serving(tmp_path: Any) -> None:
    """The command line stops with the reason before it listens: no connection ever meets the mismatch."""
    (tmp_path / "app.py").write_text("async def app(scope, receive, send):\n    pass\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run(
        [sys.executable, "-c", OLD_UVICORN, "app:app", "--app-dir", str(tmp_path), "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--ws", WS],
        env=env, capture_output=True, text=True, timeout=WAIT * 3,
    )
    assert done.returncode != 0
    assert "wsfast.uvicorn needs uvicorn 0.36 or newer, found 0.35.0" in done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout


SERVING_CLASS_APP = """
import asyncio


async def app(scope, receive, send):
    # The task running the app is the protocol's run_asgi(): name its class.
    protocol = asyncio.current_task().get_coro().cr_frame.f_locals["self"]
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": type(protocol).__module__ + ":" + type(protocol).__name__})
    await receive()
"""


@pytest.mark.parametrize("how", ["--ws", "UVICORN_WS"])
def test_the_uvicorn_command_line_serves_with_the_class(tmp_path: Any, how: str) -> None:
    (tmp_path / "which_class.py").write_text(SERVING_CLASS_APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "uvicorn", "which_class:app", "--app-dir", str(tmp_path), "--host", "127.0.0.1",
            "--port", str(port), "--lifespan", "off", "--log-level", "warning"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    if how == "--ws":
        argv += ["--ws", WS]
    else:
        env["UVICORN_WS"] = WS
    server = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WAIT
        while True:
            assert server.poll() is None, server.communicate()[0].decode(errors="replace")
            try:
                with websockets_sync.connect(f"ws://127.0.0.1:{port}/") as ws:
                    served_by = ws.recv()
                break
            except OSError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(WAIT)
    assert served_by == WS


def test_uvicorn_loads_the_class_by_name() -> None:
    config = Config(app=echo_app, ws=WS, lifespan="off")
    config.load()
    assert config.ws_protocol_class is wsu.WSFastProtocol



# ------------------------------------------------------------- a browser


def test_chromium_through_uvicorn(
    conn_impl: _impl.Implementation, chromium: str, page_server: PageServer  # noqa: F811 (fixtures)
) -> None:
    """Chromium against uvicorn with this class: every echo, the subprotocol, compression, a clean close."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        chosen = "superchat" if "superchat" in scope["subprotocols"] else None
        await send({"type": "websocket.accept", "subprotocol": chosen})
        while True:
            event = await receive()
            if event["type"] != "websocket.receive":
                return
            key = "text" if event.get("text") is not None else "bytes"
            await send({"type": "websocket.send", key: event[key]})

    with serving(app) as (port, _):
        page_server.plan = json.dumps({
            "url": f"ws://127.0.0.1:{port}/", "subprotocols": ["chat", "superchat"],
            "texts": BROWSER_TEXTS, "binary_sizes": BINARY_SIZES,
        }).encode("utf-8")
        host, page_port = page_server.server_address[:2]
        output = run_chromium(chromium, f"http://{host}:{page_port}/page.html", page_server)
        assert page_server.result is not None, f"the page never reported; Chromium said:\n{output}"
    result = dict(page_server.result)
    # Chromium offers permessage-deflate and uvicorn enables it by default;
    # the class resets its compressor after each message (docs/uvicorn.md).
    assert result.pop("extensions") == (
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12"
    )
    assert result == {
        "protocol": "superchat",
        "texts": BROWSER_TEXTS,
        "binary": [{"length": n, "sha256": hashlib.sha256(browser_pattern(n)).hexdigest()} for n in BINARY_SIZES],
        "close": {"code": 1000, "reason": "", "wasClean": True},
    }
