"""The example echo server and client, over loopback, for both implementations.

Each test starts examples/echo_server.py in a subprocess (the implementation
picked through WSFAST_NO_EXTENSIONS, as users pick it) and talks to it with
examples/client.py or with a raw socket.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from typing import Dict, Iterator, List

import pytest

from example_server import EchoServer, run_client
from wsfast import _impl
from wsfast import handshake as hs


@pytest.fixture
def server(impl: _impl.Implementation) -> Iterator[EchoServer]:
    """The example server running the implementation of ``impl``."""
    with EchoServer(impl.IMPLEMENTATION, ["--subprotocol", "superchat"]) as srv:
        yield srv
        # Whatever the peer did, the server handled it without a traceback.
        assert srv.errors() == ""


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def digest(data: bytes) -> Dict[str, object]:
    out: Dict[str, object] = {"event": "binary", "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if len(data) <= 64:
        out["hex"] = data.hex()
    return out


def client_events(server: EchoServer, *argv: str) -> List[Dict[str, object]]:
    done = run_client(server.impl, ["send", server.uri, *argv])
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_round_trip(server: EchoServer) -> None:
    texts = ["hello", "", "日本語のテキスト", "emoji 🙂🚀 and ünïcödé", "x" * 70_000]
    sizes = [0, 1, 125, 126, 65535, 65536, 200_000]
    argv = [f"text:{t}" for t in texts] + [f"bytes:{n}" for n in sizes] + ["ping:are you there", "binary:00ff10"]
    events = client_events(server, *argv)
    assert events == (
        [{"event": "open", "subprotocol": None}]
        + [{"event": "text", "data": t} for t in texts]
        + [digest(pattern(n)) for n in sizes]
        + [dict(digest(b"are you there"), event="pong"), digest(b"\x00\xff\x10")]
        + [{"event": "close", "code": 1000, "reason": ""}]
    )


def test_fragmented_message_with_ping_between(server: EchoServer) -> None:
    # Three-byte fragments cut every multi-byte character somewhere; the ping
    # rides between the first and second fragment and is answered first.
    text = "fragmented: 日本語 🙂 done"
    events = client_events(server, f"text:{text}", "bytes:1000", "--fragment-size", "3", "--ping-between")
    pong = dict(digest(b"between"), event="pong")
    assert events == [
        {"event": "open", "subprotocol": None},
        pong,
        {"event": "text", "data": text},
        pong,
        digest(pattern(1000)),
        {"event": "close", "code": 1000, "reason": ""},
    ]


def test_subprotocol_negotiated(server: EchoServer) -> None:
    events = client_events(server, "--subprotocol", "chat", "--subprotocol", "superchat", "text:hi")
    assert events[0] == {"event": "open", "subprotocol": "superchat"}
    assert events[1] == {"event": "text", "data": "hi"}


def raw_connect(server: EchoServer, extra: bytes = b"") -> tuple[socket.socket, bytes]:
    """A socket past the handshake (``extra`` sent in the same write as the request), and what followed the head."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    request, key = hs.client_request(server.uri)
    sock.sendall(request + extra)
    data = b""
    while hs.head_length(data) is None:
        chunk = sock.recv(65536)
        assert chunk, "server closed during the handshake"
        data += chunk
    end = hs.head_length(data)
    assert end is not None
    hs.check_response(data[:end], key)
    return sock, data[end:]


def read_all(sock: socket.socket, data: bytes = b"") -> bytes:
    """Everything until the server closes the connection."""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_frames_pipelined_behind_the_request(server: EchoServer, impl: _impl.Implementation) -> None:
    frames = impl.encode_frame(1, "first", mask=True) + impl.encode_frame(8, impl.encode_close(1000, "bye"), mask=True)
    sock, rest = raw_connect(server, frames)
    with sock:
        echoed = read_all(sock, rest)
    decoder = impl.Decoder(client=True)
    events = decoder.feed(echoed)
    assert [tuple(e) for e in events] == [(1, "first"), (1000, "")]


@pytest.mark.parametrize(
    "frame, code",
    [
        (b"\x81\x05hello", 1002),  # unmasked, to a server
        (b"\x83\x80abcd", 1002),  # reserved opcode 3
        (b"\xc1\x80abcd", 1002),  # RSV1 without an extension
        (b"\x89\xfe\x00\x7e" + b"abcd" + b"\x00" * 126, 1002),  # 126-byte ping
        (b"\x81\x82abcd" + bytes(a ^ b for a, b in zip(b"\xc3\x28", b"ab")), 1007),  # invalid UTF-8
    ],
)
def test_protocol_errors_get_a_close_with_their_code(
    server: EchoServer, impl: _impl.Implementation, frame: bytes, code: int
) -> None:
    sock, rest = raw_connect(server)
    with sock:
        sock.sendall(frame)
        answer = read_all(sock, rest)
    events = impl.Decoder(client=True).feed(answer)
    assert len(events) == 1 and events[0].code == code


def test_message_over_the_limit_gets_1009(impl: _impl.Implementation) -> None:
    with EchoServer(impl.IMPLEMENTATION, ["--max-message-size", "1000"]) as srv:
        sock, rest = raw_connect(srv)
        with sock:
            sock.sendall(impl.encode_frame(2, b"x" * 1001, mask=True))
            answer = read_all(sock, rest)
        assert [e.code for e in impl.Decoder(client=True).feed(answer)] == [1009]
        assert srv.errors() == ""


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426),
        (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ((b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"), 426),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        # Exactly the limit, so that the server has read every byte before it
        # answers (unread bytes at close would reset the connection).
        (b"GET / HTTP/1.1\r\nX: ".ljust(hs.MAX_HEAD_SIZE, b"a"), 431),
    ],
)
def test_bad_handshakes_get_an_http_error(server: EchoServer, request_bytes: bytes, status: int) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    response = hs.parse_response(head + b"\r\n\r\n")
    assert response.status == status
    assert int(response.headers.get("Content-Length") or -1) == len(body)


def test_client_refuses_a_server_that_is_not_websocket(impl: _impl.Implementation) -> None:
    # A plain TCP server that answers 200: the client fails the handshake and says so.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        # Closing the listener does not wake a blocked accept(): a client that
        # never connects must not leave the thread (and pytest's exit) waiting.
        listener.settimeout(60)
        port = listener.getsockname()[1]

        def answer() -> None:
            try:
                conn, _ = listener.accept()
            except OSError:  # timed out: the assertions below say what the client did
                return
            with conn:
                conn.settimeout(60)
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        done = run_client(impl.IMPLEMENTATION, ["send", f"ws://127.0.0.1:{port}/", "text:x"])
        thread.join(10)
    assert done.returncode != 0
    assert "server answered 200 OK" in done.stderr
