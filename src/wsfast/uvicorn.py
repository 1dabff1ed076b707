"""uvicorn's WebSocket protocol, on wsfast's ServerConnection.

    uvicorn app:app --ws wsfast.uvicorn:WSFastProtocol
    uvicorn.run(app, ws="wsfast.uvicorn:WSFastProtocol")     # or UVICORN_WS=...

``WSFastProtocol`` serves ASGI WebSocket apps (FastAPI, Starlette, raw ASGI)
behind every HTTP protocol uvicorn has, with uvicorn's settings
(``ws_max_size``, ``ws_max_queue``, ``ws_ping_interval``, ``ws_ping_timeout``,
``ws_per_message_deflate``), scope and log lines.  What differs from uvicorn's
own classes, and why, is in docs/uvicorn.md; in short:

* reading pauses when ``ws_max_queue`` messages (or ``QUEUE_HIGH_BYTES``) wait
  for the app, not around every message;
* what the app sends during one event-loop iteration goes to the socket in
  one write;
* when the peer closes or breaks the protocol, the Close frame goes out once
  the app has taken the messages that came before it (and answered them).

Importing this module checks that the installed uvicorn has the interfaces
the class uses; a uvicorn that differs fails at start-up with the reason,
never in the middle of a connection.  ``import wsfast`` does not import it.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import os
import re
from typing import Any, ClassVar, Deque, Dict, List, Optional, Tuple, cast
from urllib.parse import unquote

from . import handshake
from ._connection import ServerConnection
from ._errors import ConnectionClosed
from ._permessage_deflate import DeflateOptions
from ._types import Close, Message, Ping, Pong

try:
    import uvicorn
    from uvicorn.config import Config
    from uvicorn.logging import TRACE_LOG_LEVEL
    from uvicorn.protocols import utils as _uvicorn_utils
    from uvicorn.server import ServerState
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"wsfast.uvicorn needs uvicorn ({exc}); install it with: pip install 'wsfast[uvicorn]'"
    ) from exc

__all__ = ["WSFastProtocol", "QUEUE_HIGH_BYTES", "FLUSH_BYTES", "CLOSE_TIMEOUT", "MIN_UVICORN", "check_uvicorn"]

# Reading pauses when the messages waiting for the app hold this many bytes,
# even below ws_max_queue messages: with uvicorn's 16 MiB ws_max_size, 32
# queued messages could otherwise hold 512 MiB for one slow app.
QUEUE_HIGH_BYTES = 1 << 20
# What one loop iteration may queue before it is written without waiting for
# the end of the iteration: an app that sends in a loop without ever yielding
# must not grow the output without bound.
FLUSH_BYTES = 1 << 16

# How long the peer's Close is awaited after ours, and how long a transport
# that we closed on an unresponsive peer may take to drain before it is aborted.
CLOSE_TIMEOUT = 10.0

_Event = Dict[str, Any]


# The oldest uvicorn the class is written for: 0.36 is the first that loads a
# ``module:Class`` given to --ws.  The extra ``wsfast[uvicorn]`` asks for the same.
MIN_UVICORN = (0, 36)


def _release(version: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of a version string such as '0.54.0' or '1.0.0rc1'; None if it has none."""
    match = re.match(r"\s*v?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_uvicorn() -> None:
    """Raise ImportError, naming the reason, for a uvicorn this class cannot run with.

    Runs when the module is imported, which is when uvicorn loads ``--ws``:
    at start-up, never in the middle of a connection.  Two checks: the
    version (what the class relies on but cannot look at without building a
    Config, such as ``Config.loaded``), and the interfaces it reads, probed
    without needing uvicorn's source files.
    """
    version = str(getattr(uvicorn, "__version__", ""))
    release = _release(version)
    if release is None or release < MIN_UVICORN:
        raise ImportError(
            f"wsfast.uvicorn needs uvicorn {MIN_UVICORN[0]}.{MIN_UVICORN[1]} or newer, "
            f"found {version or 'a uvicorn without a version'}.  Install a supported uvicorn: "
            "pip install 'wsfast[uvicorn]'"
        )
    missing = []
    try:
        params: Any = inspect.signature(Config.__init__).parameters
    except (TypeError, ValueError):  # a Config whose signature cannot be read: the version vouches
        params = None
    if params is not None:
        for name in ("ws_max_size", "ws_max_queue", "ws_ping_interval", "ws_ping_timeout",
                     "ws_per_message_deflate", "root_path"):
            if name not in params:
                missing.append(f"Config({name}=...)")
    for name in ("asgi_version", "load"):
        if not hasattr(Config, name):
            missing.append(f"Config.{name}")
    state = ServerState()
    for name in ("connections", "tasks", "default_headers"):
        if not hasattr(state, name):
            missing.append(f"ServerState.{name}")
    for name in ("ClientDisconnected", "get_local_addr", "get_remote_addr", "is_ssl", "get_client_addr",
                 "get_path_with_query_string"):
        if not hasattr(_uvicorn_utils, name):
            missing.append(f"uvicorn.protocols.utils.{name}")
    if missing:
        raise ImportError(
            f"wsfast.uvicorn: uvicorn {version} lacks what WSFastProtocol uses: "
            f"{', '.join(missing)}.  Install a supported uvicorn: pip install 'wsfast[uvicorn]'"
        )


check_uvicorn()
# After the check, so that a uvicorn without them fails with its message.
from uvicorn.protocols.utils import ClientDisconnected  # noqa: E402
from uvicorn.protocols.utils import get_client_addr as _get_client_addr  # noqa: E402
from uvicorn.protocols.utils import get_local_addr as _get_local_addr  # noqa: E402
from uvicorn.protocols.utils import get_path_with_query_string as _get_path_with_query_string  # noqa: E402
from uvicorn.protocols.utils import get_remote_addr as _get_remote_addr  # noqa: E402
from uvicorn.protocols.utils import is_ssl as _is_ssl  # noqa: E402


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# The app's view of the connection.
_CONNECTING = 0  # the request came; the app answers with accept, close or an HTTP response
_RESPONDING = 1  # the app started an HTTP response (websocket.http.response.start)
_OPEN = 2  # accepted
_CLOSED = 3  # the app sent websocket.close, or was told of the disconnect, or failed


class WSFastProtocol(asyncio.Protocol):
    """An ``asyncio.Protocol`` that uvicorn hands a connection to after the HTTP upgrade request."""

    # permessage-deflate as this class negotiates it while uvicorn's
    # ws_per_message_deflate is on (its default).  server_no_context_takeover:
    # our compressor starts every message afresh, so it is borrowed from a
    # pool shared by all connections for the length of one compress() call,
    # and a quiet connection holds none (31 KiB less per connection, for
    # 22% more bytes on 1 KiB JSON).  The client keeps its context, in a
    # window of 12 bits when its offer lets us say so: our inflater then
    # holds 11 KiB.  The measurements are in docs/uvicorn.md.  A subclass
    # may set others (given to uvicorn as --ws module:Subclass).
    deflate_options: ClassVar[DeflateOptions] = DeflateOptions(no_context_takeover=True)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: Dict[str, Any],
        _loop: Optional[asyncio.AbstractEventLoop] = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.logger = logging.getLogger("uvicorn.error")
        self.root_path = config.root_path
        self.asgi_version = config.asgi_version
        self.app_state = app_state
        self.server_state = server_state
        # uvicorn types these sets with its own classes only.
        self.connections: Any = server_state.connections
        self.tasks: Any = server_state.tasks

        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: Optional[Tuple[str, Optional[int]]] = None
        self.client: Optional[Tuple[str, int]] = None
        self.scheme = "ws"
        self.scope: Dict[str, Any] = {}

        self.conn = ServerConnection(
            deflate=self.deflate_options if config.ws_per_message_deflate else None,
            max_message_size=config.ws_max_size,
        )
        self.phase = _CONNECTING
        self.handshake_complete = False
        # The transport is gone (connection_lost) or closed by us.
        self.disconnected = False

        # Receive side: events for the app, and the app's receive() waiting on them.
        self._events: Deque[_Event] = collections.deque()
        self._sizes: Deque[int] = collections.deque()  # payload size of each queued event
        self._queued_bytes = 0
        self._waiter: Optional[asyncio.Future[None]] = None
        self._queue_high = max(1, int(config.ws_max_queue))
        self._queue_low = self._queue_high // 4
        self.read_paused = False
        # The peer's Close (or a protocol error) was seen: once the app has
        # taken what came before it, our Close goes out and TCP is closed.
        self._ending = False
        self._ending_timer: Optional[asyncio.TimerHandle] = None
        self._disconnect_event: Optional[_Event] = None

        # Send side.
        self._write_paused = False
        self._writable: Optional[asyncio.Future[None]] = None
        self._flush_handle: Optional[asyncio.Handle] = None
        self._unflushed = 0
        self._response: Optional[Tuple[int, List[Tuple[str, str]], List[bytes], bool]] = None

        # Closing handshake we started: the peer's Close is awaited this long.
        self.close_timeout = CLOSE_TIMEOUT
        self._abort_timer: Optional[asyncio.TimerHandle] = None
        self.close_timer: Optional[asyncio.TimerHandle] = None
        self.close_sent = False

        # Keepalive.
        self.ping_interval = config.ws_ping_interval
        self.ping_timeout = config.ws_ping_timeout
        self.ping_timer: Optional[asyncio.TimerHandle] = None
        self.pong_timer: Optional[asyncio.TimerHandle] = None
        self.pending_ping_payload: Optional[bytes] = None
        self.ping_sent_at = 0.0
        self.last_ping_rtt = 0.0

    # ------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connections.add(self)
        self.transport = cast(asyncio.Transport, transport)
        self.server = _get_local_addr(self.transport)
        self.client = _get_remote_addr(self.transport)
        self.scheme = "wss" if _is_ssl(self.transport) else "ws"
        self._trace("WebSocket connection made")

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.connections.discard(self)
        self._trace("WebSocket connection lost")
        self._stop_keepalive()
        self._cancel_close_timer()
        for handle in (self._flush_handle, self._ending_timer, self._abort_timer):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._ending_timer = self._abort_timer = None
        self.disconnected = True
        events = self.conn.receive_data(b"")
        if self._disconnect_event is None:
            code = 1006
            for event in events:
                if type(event) is Close:
                    code = event.code if event.code is not None else 1006
            self._disconnect({"type": "websocket.disconnect", "code": code})
        self._wake_writers()
        if exc is None and not self.transport.is_closing():
            self.transport.close()

    def eof_received(self) -> Optional[bool]:
        if self._ending and not self.disconnected:
            # The peer sent its Close and then shut its side down: it can
            # still read the app's answers and our Close, written once the
            # app has taken what came before; the transport stays open for
            # them and is closed after them.
            return True
        return None  # otherwise a peer that half-closes is gone: close the transport

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writers()

    def data_received(self, data: bytes) -> None:
        events: List[Any] = self.conn.receive_data(data)
        reply = False
        queue = self._events
        sizes = self._sizes
        before = len(queue)
        # Once our Close is out (or the app is gone), what the peer sent
        # before reading it is dropped, and reading goes on for its Close.
        wanted = self.phase != _CLOSED and not self._ending
        for event in events:
            kind = type(event)
            if kind is Message:
                if wanted:
                    payload = event[1]
                    if type(payload) is str:
                        queue.append({"type": "websocket.receive", "text": payload})
                    else:
                        queue.append({"type": "websocket.receive", "bytes": payload})
                    sizes.append(len(payload))
                    self._queued_bytes += len(payload)
            elif kind is Ping:
                reply = True  # the connection queued the Pong
            elif kind is Pong:
                self._pong(event)
            elif kind is Close:
                self._peer_close(event)
                reply = True
            elif isinstance(event, handshake.Request):
                self._request(event)
        if len(queue) != before:
            self._queued()
        if not self.scope:
            # No request yet, or a malformed one that the connection answered itself.
            reply = True
        if reply:
            self._flush()

    # --------------------------------------------------------------- events

    def _request(self, request: handshake.Request) -> None:
        raw_path, _, query = request.target.partition("?")
        headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers]
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": self.scheme,
            "server": self.server,
            "client": self.client,
            "root_path": self.root_path,
            "path": self.root_path + unquote(raw_path),
            "raw_path": self.root_path.encode("ascii") + raw_path.encode("ascii"),
            "query_string": query.encode("ascii"),
            "headers": headers,
            "subprotocols": handshake.parse_subprotocols(request.headers),
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        self._events.append({"type": "websocket.connect"})
        self._sizes.append(0)
        task = self.loop.create_task(self.run_asgi())
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _queued(self) -> None:
        """Events were queued: wake the app, and stop reading at the high watermark."""
        if self._waiter is not None:
            _wake(self._waiter)
            self._waiter = None
        if not self.read_paused and (
            len(self._events) >= self._queue_high or self._queued_bytes >= QUEUE_HIGH_BYTES
        ):
            self.read_paused = True
            self.transport.pause_reading()

    def _peer_close(self, event: Close) -> None:
        """The peer's Close, a protocol error's Close, or the end of the stream."""
        self._stop_keepalive()
        if self.close_sent:
            # The peer answered our Close: the closing handshake is complete.
            self._cancel_close_timer()
            return
        if self._disconnect_event is not None:
            return
        self._ending = True
        code = 1005 if event.code is None else event.code
        self._disconnect({"type": "websocket.disconnect", "code": code, "reason": event.reason or ""})
        self._resume_reading()
        # An app that never reads again must not keep the connection open.
        self._ending_timer = self.loop.call_later(self.close_timeout, self._end_now)

    def _end_now(self) -> None:
        """Write the app's answers and our Close now, and end the connection."""
        self._ending = False
        if self._ending_timer is not None:
            self._ending_timer.cancel()
            self._ending_timer = None
        self._flush()

    def _disconnect(self, event: _Event) -> None:
        """Tell the app, once, that the connection is over."""
        if self._disconnect_event is None:
            self._disconnect_event = event
            self._events.append(event)
            self._sizes.append(0)
            self._queued()

    # -------------------------------------------------------------- app side

    async def run_asgi(self) -> None:
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self._send_500()
        else:
            if not self.handshake_complete and self._response is None:
                self.logger.error("ASGI callable returned without completing handshake.")
                self._send_500()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        self.phase = _CLOSED
        self._end_now()
        if self.close_timer is None and not self.transport.is_closing():
            self._stop_keepalive()
            self.transport.close()

    async def receive(self) -> _Event:
        events = self._events
        while not events:
            if self._disconnect_event is not None:
                # Told once; every later call gets the same answer instead of a hang.
                return dict(self._disconnect_event)
            waiter = self._waiter = self.loop.create_future()
            await waiter
        event = events.popleft()
        self._queued_bytes -= self._sizes.popleft()
        if self.read_paused and len(events) <= self._queue_low and self._queued_bytes < QUEUE_HIGH_BYTES // 2:
            self._resume_reading()
        if self._ending and event is self._disconnect_event:
            # The app has taken every message that came before the peer's
            # Close or the protocol error: its answers go out, then our Close.
            self.phase = _CLOSED
            self._end_now()
        return event

    async def send(self, message: _Event) -> None:
        if self._write_paused and not self.disconnected:
            await self._wait_writable()
        if self.disconnected:
            raise ClientDisconnected()
        kind = message["type"]
        phase = self.phase
        if phase == _OPEN:
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is None:
                    data = message.get("text")
                    if data is None:
                        raise RuntimeError("websocket.send needs 'bytes' or 'text'")
                try:
                    self.conn.send(data)
                except ConnectionClosed:
                    raise ClientDisconnected() from None
                self._unflushed += len(data)
                if self._unflushed >= FLUSH_BYTES:
                    if self._ending:
                        self._end_now()  # an app that only sends: its output stays bounded
                    else:
                        self._flush()
                elif self._flush_handle is None and not self._ending:
                    self._flush_handle = self.loop.call_soon(self._flush)
            elif kind == "websocket.close":
                self._app_close(message)
            else:
                raise RuntimeError(
                    f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'."
                )
        elif phase == _CONNECTING:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._deny()
            elif kind == "websocket.http.response.start":
                self._response_start(message)
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.accept', 'websocket.close' "
                    f"or 'websocket.http.response.start' but got '{kind}'."
                )
        elif phase == _RESPONDING:
            if kind == "websocket.http.response.body":
                self._response_body(message)
            else:
                raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'.")
        elif self._disconnect_event is not None and not self.close_sent:
            raise ClientDisconnected()
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")

    def _app_close(self, message: _Event) -> None:
        code = message.get("code", 1000)
        if code is None:
            code = 1000
        reason = message.get("reason") or ""
        self.phase = _CLOSED
        if self._ending:
            # The peer's Close (or an error) came first: the connection answers it.
            self._end_now()
            return
        if self.transport.is_closing():
            return
        try:
            self.conn.close(code, reason)
        except ConnectionClosed:
            raise ClientDisconnected() from None
        self.close_sent = True
        self._disconnect({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._stop_keepalive()
        self._flush()
        # The peer's Close is read even when the app left messages unread.
        self._resume_reading()
        if not self.transport.is_closing():
            self.close_timer = self.loop.call_later(self.close_timeout, self._close_timed_out)

    def _accept(self, message: _Event) -> None:
        self._log_answer("[accepted]")
        subprotocol = message.get("subprotocol")
        headers = []
        for name, value in list(self.server_state.default_headers) + list(message.get("headers") or []):
            key = name.decode("latin-1")
            if key.lower() == "sec-websocket-protocol":
                # The handshake writes this field itself, from the subprotocol.
                subprotocol = subprotocol or value.decode("latin-1")
                continue
            headers.append((key, value.decode("latin-1")))
        try:
            self.conn.accept(subprotocol, headers)
        except ConnectionClosed:
            raise ClientDisconnected() from None
        self.phase = _OPEN
        self.handshake_complete = True
        self._flush()
        self._start_keepalive()

    def _deny(self) -> None:
        self._log_answer("403")
        self.phase = _CLOSED
        self.handshake_complete = True
        self._disconnect({"type": "websocket.disconnect", "code": 1006})
        try:
            self.conn.reject(403)
        except ConnectionClosed:
            raise ClientDisconnected() from None
        self._flush()

    def _response_start(self, message: _Event) -> None:
        status = message["status"]
        if not 100 <= status < 600:
            raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
        self._log_answer(str(status))
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in message.get("headers") or []]
        streaming = any(name.lower() == "content-length" for name, _ in headers)
        self.phase = _RESPONDING
        self._response = (status, headers, [], streaming)
        if streaming:
            # The length is known: the head goes now and the body as it comes.
            self._reject(status, headers, b"", end=False)

    def _response_body(self, message: _Event) -> None:
        status, headers, chunks, streaming = cast(Tuple[int, List[Tuple[str, str]], List[bytes], bool], self._response)
        body = bytes(message.get("body", b""))
        more = message.get("more_body", False)
        if streaming:
            if body:
                self.transport.write(body)
        else:
            chunks.append(body)
        if more:
            return
        self.phase = _CLOSED
        self.handshake_complete = True
        self._disconnect({"type": "websocket.disconnect", "code": 1006})
        if not streaming:
            self._reject(status, headers, b"".join(chunks))
        self.transport.close()

    def _reject(self, status: int, headers: List[Tuple[str, str]], body: bytes, end: bool = True) -> None:
        names = {name.lower() for name, _ in headers}
        if "content-type" not in names:
            headers = headers + [("Content-Type", "text/plain; charset=utf-8")]
        try:
            self.conn.reject(status, headers, body)
        except ConnectionClosed:
            raise ClientDisconnected() from None
        if end:
            self._flush()
        else:
            # The body follows, written by _response_body: TCP stays open.
            self.transport.write(self.conn.data_to_send())

    def _send_500(self) -> None:
        if self.handshake_complete or self._response is not None or self.disconnected:
            return
        try:
            self.conn.reject(500, [("Content-Type", "text/plain; charset=utf-8")], b"Internal Server Error")
        except (ConnectionClosed, RuntimeError):
            return  # the connection answered the request itself already
        self.handshake_complete = True
        self._flush()

    # -------------------------------------------------------------- output

    def _flush(self) -> None:
        """Write what the connection has queued; close TCP once the connection is over."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._unflushed = 0
        if self.disconnected or (self._ending and self.phase == _OPEN):
            return
        data = self.conn.data_to_send()
        if data:
            self.transport.write(data)
        if self.conn.closed and not self.transport.is_closing():
            self._stop_keepalive()
            self._cancel_close_timer()
            self.transport.close()

    async def _wait_writable(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = self.loop.create_future()
        await self._writable

    def _wake_writers(self) -> None:
        if self._writable is not None:
            _wake(self._writable)
            self._writable = None

    def _resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def _close_timed_out(self) -> None:
        self.close_timer = None
        self._give_up()

    def _give_up(self) -> None:
        """Close TCP on a peer that stopped answering; abort it if it does not drain in time.

        close() waits until the transport's buffer is written, which a peer
        that vanished or stopped reading never allows: without the abort, its
        buffer and this connection would stay until TCP itself gives up.
        """
        self.transport.close()
        if self._abort_timer is None and not self.disconnected:
            self._abort_timer = self.loop.call_later(self.close_timeout, self._abort)

    def _abort(self) -> None:
        self._abort_timer = None
        abort = getattr(self.transport, "abort", None)  # every asyncio transport has it; test doubles may not
        if not self.disconnected and abort is not None:
            abort()

    def _cancel_close_timer(self) -> None:
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None

    def shutdown(self) -> None:
        """uvicorn's server is stopping: Close 1012 to an open connection, 500 to a pending request."""
        self._stop_keepalive()
        if self.close_sent or (self.phase == _CLOSED and self.handshake_complete):
            self._cancel_close_timer()
            self.transport.close()
            return
        if self.handshake_complete and self.phase == _OPEN:
            self._disconnect({"type": "websocket.disconnect", "code": 1012})
            self.phase = _CLOSED
            self._ending = False
            self.conn.fail(1012)
            self._flush()
        else:
            self._send_500()
        self.transport.close()

    # ------------------------------------------------------------ keepalive

    def _start_keepalive(self) -> None:
        if self.ping_interval is not None and self.ping_interval > 0:
            self._schedule_ping()

    def _stop_keepalive(self) -> None:
        if self.ping_timer is not None:
            self.ping_timer.cancel()
            self.ping_timer = None
        if self.pong_timer is not None:
            self.pong_timer.cancel()
            self.pong_timer = None
        self.pending_ping_payload = None

    def _schedule_ping(self) -> None:
        interval = self.ping_interval or 0.0  # only called when it is set and positive
        self.ping_timer = self.loop.call_later(max(0.0, interval - self.last_ping_rtt), self._send_ping)

    def _send_ping(self) -> None:
        self.ping_timer = None
        if self.phase != _OPEN or self._ending or self.transport.is_closing():
            return
        # A fresh payload tells this ping's Pong from a stale or unsolicited one.
        self.pending_ping_payload = os.urandom(4)
        self.ping_sent_at = self.loop.time()
        try:
            self.conn.ping(self.pending_ping_payload)
        except ConnectionClosed:
            return
        self._flush()
        if self.ping_timeout is not None:
            self.pong_timer = self.loop.call_later(self.ping_timeout, self._ping_timed_out)
        else:
            self._schedule_ping()

    def _pong(self, event: Pong) -> None:
        if self.pending_ping_payload is None or event.payload != self.pending_ping_payload:
            return
        self.last_ping_rtt = self.loop.time() - self.ping_sent_at
        self.pending_ping_payload = None
        if self.pong_timer is not None:
            self.pong_timer.cancel()
            self.pong_timer = None
            self._schedule_ping()

    def _ping_timed_out(self) -> None:
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.phase != _OPEN or self.transport.is_closing():
            return
        self._trace("WebSocket keepalive ping timeout")
        self.conn.fail(1011, "keepalive ping timeout")
        self.close_sent = True
        self._flush()
        self._give_up()

    # -------------------------------------------------------------- logging

    def _log_answer(self, what: str) -> None:
        """The line uvicorn's own classes log when the app answers the request."""
        scope: Any = self.scope
        self.logger.info('%s - "WebSocket %s" %s', _get_client_addr(scope), _get_path_with_query_string(scope), what)

    def _trace(self, what: str) -> None:
        if self.logger.level <= TRACE_LOG_LEVEL:
            prefix = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
            self.logger.log(TRACE_LOG_LEVEL, "%s%s", prefix, what)

