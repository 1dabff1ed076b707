"""ServerConnection and ClientConnection over both implementations.

The opening handshake in both roles, the automatic replies (Pong, Close
echo), protocol errors and their ordering, EOF, the closing handshake, the
argument rules, and a client and a server talking to each other in-process.
"""

from __future__ import annotations

import array
import copy
import pickle
import struct
from typing import Any, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _hardening import held_by
from conftest import examples
from wsfast import Close, ConnectionClosed, ConnectionState, Message, Opcode, Ping, Pong, ProtocolError
from wsfast import handshake as hs

KEY = b"\x11\x22\x33\x44"
URI = "ws://127.0.0.1:9001/chat?room=1"


def raw(b0: int, payload: bytes = b"", *, masked: bool = True) -> bytes:
    """A frame built by hand, so that it can break any rule."""
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((b0, bit | n))
    elif n < 65536:
        head = bytes((b0, bit | 126)) + struct.pack("!H", n)
    else:
        head = bytes((b0, bit | 127)) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    return head + KEY + bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def request_bytes(*, extra: List[Tuple[str, str]] = (), subprotocols: Tuple[str, ...] = ()) -> Tuple[bytes, str]:
    return hs.client_request(URI, subprotocols=subprotocols, headers=extra)


def server_with_request(impl: Any, data: bytes = b"", **kwargs: Any) -> Tuple[Any, list]:
    """A server that has received an upgrade request (plus ``data`` in the same read)."""
    server = impl.ServerConnection(**kwargs)
    request, _ = request_bytes()
    return server, server.receive_data(request + data)


def open_server(impl: Any, **kwargs: Any) -> Any:
    server, events = server_with_request(impl, **kwargs)
    assert len(events) == 1
    server.accept()
    assert server.data_to_send().startswith(b"HTTP/1.1 101 ")
    return server


def open_client(impl: Any, **kwargs: Any) -> Any:
    client = impl.ClientConnection(URI, **kwargs)
    request = client.data_to_send()
    key = hs.validate_request(hs.parse_request(request))
    events = client.receive_data(hs.build_response(key))
    assert [type(e) for e in events] == [hs.Response]
    return client


def pair(impl: Any, **kwargs: Any) -> Tuple[Any, Any]:
    """A client and a server connection, opened through each other."""
    client = impl.ClientConnection(URI, **kwargs)
    server = impl.ServerConnection(**kwargs)
    (_request,) = server.receive_data(client.data_to_send())
    server.accept()
    (response,) = client.receive_data(server.data_to_send())
    assert response.status == 101
    return client, server


def decode(impl: Any, data: bytes, *, client: bool) -> list:
    """What a peer's Decoder makes of ``data`` (``client``: the peer is a client)."""
    return impl.Decoder(client=client, max_message_size=None).feed(data)


def as_tuples(events: list) -> list:
    return [(type(e).__name__,) + tuple(e) for e in events]


# ------------------------------------------------------------ server handshake


def test_server_first_event_is_the_request(impl: Any) -> None:
    server = impl.ServerConnection(subprotocols=["superchat"])
    assert server.state is ConnectionState.CONNECTING and not server.closed
    request, key = request_bytes(subprotocols=("chat", "superchat"), extra=[("Origin", "http://a.example")])
    (event,) = server.receive_data(request)
    assert isinstance(event, hs.Request)
    assert event.target == "/chat?room=1" and event.headers.get("Origin") == "http://a.example"
    assert server.request == event
    assert server.data_to_send() == b""
    assert server.subprotocol is None
    server.accept()
    assert server.state is ConnectionState.OPEN
    assert server.subprotocol == "superchat"
    response = server.data_to_send()
    assert hs.check_response(response, key, ["chat", "superchat"]) == "superchat"
    assert server.data_to_send() == b""


def test_request_split_byte_by_byte(impl: Any) -> None:
    server = impl.ServerConnection()
    request, _ = request_bytes()
    data = request + raw(0x81, b"hi")
    events: list = []
    for i in range(len(data)):
        events += server.receive_data(data[i : i + 1])
    assert [type(e) for e in events] == [hs.Request, Message]
    assert events[1] == (Opcode.TEXT, "hi")


def test_accept_options(impl: Any) -> None:
    request, _ = request_bytes(subprotocols=("chat", "superchat"))
    server = impl.ServerConnection(subprotocols=["superchat"])
    server.receive_data(request)
    with pytest.raises(ValueError, match="not offered"):
        server.accept("other")
    with pytest.raises(ValueError):
        server.accept(headers=[("Upgrade", "x")])  # written by the handshake itself
    with pytest.raises(TypeError):
        server.accept(b"chat")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.accept(headers=[("X-A",)])  # type: ignore[list-item]
    assert server.state is ConnectionState.CONNECTING  # failed calls change nothing
    server.accept("chat", headers=[("Server", "wsfast"), ("X-Trace", "1")])
    response = hs.parse_response(server.data_to_send())
    assert response.headers.get("Sec-WebSocket-Protocol") == "chat"
    assert response.headers.get("Server") == "wsfast" and response.headers.get("X-Trace") == "1"
    assert server.subprotocol == "chat"


def test_no_subprotocol_when_none_matches(impl: Any) -> None:
    server, _ = server_with_request(impl, subprotocols=["x"])
    server.accept()
    assert server.subprotocol is None
    assert "Sec-WebSocket-Protocol" not in hs.parse_response(server.data_to_send()).headers


def test_frames_behind_the_request_are_decoded_and_replies_held(impl: Any) -> None:
    server, events = server_with_request(impl, raw(0x81, b"first") + raw(0x89, b"p"))
    assert as_tuples(events[1:]) == [("Message", Opcode.TEXT, "first"), ("Ping", b"p")]
    # The Pong waits for the 101: nothing but the response may come first.
    assert server.data_to_send() == b""
    server.accept()
    out = server.data_to_send()
    head_end = hs.head_length(out)
    assert head_end is not None and out[:head_end].startswith(b"HTTP/1.1 101 ")
    assert as_tuples(decode(impl, out[head_end:], client=True)) == [("Pong", b"p")]


def test_pings_before_accept_hold_one_pong(impl: Any) -> None:
    # Held output is invisible to the I/O layer's flow control: it stays bounded.
    pings = b"".join(raw(0x89, str(i).encode()) for i in range(1000))
    server, events = server_with_request(impl, pings)
    assert len(events) == 1001
    server.accept()
    out = server.data_to_send()
    head_end = hs.head_length(out)
    assert head_end is not None
    assert as_tuples(decode(impl, out[head_end:], client=True)) == [("Pong", b"999")]


def test_head_trickled_byte_by_byte_to_the_limit(impl: Any) -> None:
    """A head of MAX_HEAD_SIZE bytes without its end, one byte a call (each call
    searches only the new bytes): answered 431 at the last byte."""
    server = impl.ServerConnection()
    head = b"GET / HTTP/1.1\r\nX: ".ljust(hs.MAX_HEAD_SIZE, b"a")
    for i in range(len(head)):
        assert server.receive_data(head[i : i + 1]) == []
        if server.error is not None:
            break
    assert i == hs.MAX_HEAD_SIZE - 1
    assert server.data_to_send().startswith(b"HTTP/1.1 431 ")


def test_close_behind_the_request(impl: Any) -> None:
    server, events = server_with_request(impl, raw(0x88, close_payload(1001)))
    assert events[1] == Close(1001, "")
    assert server.data_to_send() == b""
    server.accept()
    out = server.data_to_send()
    assert out.endswith(raw(0x88, close_payload(1001), masked=False))
    assert server.closed and server.state is ConnectionState.CLOSED


def test_reject_held_replies_are_dropped(impl: Any) -> None:
    server, _ = server_with_request(impl, raw(0x89, b"p"))
    server.reject(403)
    out = server.data_to_send()
    assert out.startswith(b"HTTP/1.1 403 Forbidden\r\n") and out.endswith(b"\r\n\r\n")
    assert server.closed


@pytest.mark.parametrize(
    "request_head, status",
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426),
        ((b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"), 405),
        ((b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400),
        ((b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"), 426),
        (b"garbage\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000, 431),
    ],
)
def test_bad_request_is_answered_by_the_connection(impl: Any, request_head: bytes, status: int) -> None:
    server = impl.ServerConnection()
    assert server.receive_data(request_head + raw(0x81, b"ignored")) == []
    assert isinstance(server.error, hs.HandshakeError) and server.error.status == status
    assert not server.closed  # until the answer is handed out
    out = server.data_to_send()
    assert out.startswith(f"HTTP/1.1 {status} ".encode())
    assert server.closed and server.state is ConnectionState.CLOSED
    assert server.receive_data(b"more") == [] and server.receive_data(b"") == []
    with pytest.raises(ConnectionClosed):
        server.accept()


def test_origin_refused_with_403(impl: Any) -> None:
    server = impl.ServerConnection(origins=["https://good.example"])
    request, _ = request_bytes(extra=[("Origin", "https://evil.example")])
    assert server.receive_data(request) == []
    assert server.data_to_send().startswith(b"HTTP/1.1 403 ")
    allowed = impl.ServerConnection(origins=["https://good.example", None])
    request, _ = request_bytes()  # no Origin: admitted by the None item
    assert [type(e) for e in allowed.receive_data(request)] == [hs.Request]


def test_reject_with_body(impl: Any) -> None:
    server, _ = server_with_request(impl)
    server.reject(401, [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")], b"who are you?")
    assert not server.closed
    out = server.data_to_send()
    head_end = hs.head_length(out)
    assert head_end is not None
    status_line, *fields = out[: head_end - 4].decode("latin-1").split("\r\n")
    assert status_line == "HTTP/1.1 401 Unauthorized"
    assert "Content-Length: 12" in fields and "Connection: close" in fields and "WWW-Authenticate: Bearer" in fields
    assert out[head_end:] == b"who are you?"
    assert server.closed
    with pytest.raises(ConnectionClosed, match="rejected"):
        server.send("late")


@pytest.mark.parametrize("status, error", [(101, ValueError), (99, ValueError), (600, ValueError), (2**64, ValueError),
                                           ("403", TypeError), (403.0, TypeError)])
def test_reject_status_checked(impl: Any, status: Any, error: type) -> None:
    server, _ = server_with_request(impl)
    with pytest.raises(error):
        server.reject(status)
    server.reject(403)  # the failed call changed nothing


def test_answer_at_the_wrong_time(impl: Any) -> None:
    server = impl.ServerConnection()
    with pytest.raises(RuntimeError, match="Request event"):
        server.accept()
    with pytest.raises(RuntimeError):
        server.reject(403)
    request, _ = request_bytes()
    server.receive_data(request)
    with pytest.raises(RuntimeError, match="accept") as info:
        server.send("too early")
    assert not isinstance(info.value, ConnectionClosed)
    server.accept()
    with pytest.raises(RuntimeError, match="already accepted"):
        server.accept()
    with pytest.raises(RuntimeError):
        server.reject(403)


def test_eof_before_accept(impl: Any) -> None:
    server, _ = server_with_request(impl, raw(0x89, b"p"))
    assert server.receive_data(b"") == [Close(1006, "")]
    assert server.closed and server.data_to_send() == b""
    with pytest.raises(ConnectionClosed, match="TCP"):
        server.accept()


def test_eof_before_the_request(impl: Any) -> None:
    server = impl.ServerConnection()
    assert server.receive_data(b"GET / HT") == []
    assert server.receive_data(b"") == []
    assert server.closed and server.request is None


# ------------------------------------------------------------ client handshake


def test_client_request_queued_at_construction(impl: Any) -> None:
    client = impl.ClientConnection(URI, subprotocols=["chat"], headers=[("Origin", "http://o.example")])
    assert client.state is ConnectionState.CONNECTING
    request = hs.parse_request(client.data_to_send())
    assert request.target == "/chat?room=1"
    assert request.headers.get("Host") == "127.0.0.1:9001"
    assert request.headers.get("Origin") == "http://o.example"
    assert request.headers.get("Sec-WebSocket-Protocol") == "chat"
    hs.validate_request(request)
    assert client.data_to_send() == b""
    with pytest.raises(RuntimeError, match="answer") as info:
        client.send("too early")
    assert not isinstance(info.value, ConnectionClosed)


def test_client_accepted(impl: Any) -> None:
    client = impl.ClientConnection(URI, subprotocols=["chat", "superchat"])
    key = hs.validate_request(hs.parse_request(client.data_to_send()))
    response = hs.build_response(key, "superchat")
    events: list = []
    data = response + raw(0x81, b"welcome", masked=False)
    for i in range(len(data)):  # any split
        events += client.receive_data(data[i : i + 1])
    assert isinstance(events[0], hs.Response) and events[0].status == 101
    assert events[1:] == [(Opcode.TEXT, "welcome")]
    assert client.response == events[0]
    assert client.state is ConnectionState.OPEN and client.subprotocol == "superchat"
    assert client.error is None


@pytest.mark.parametrize(
    "answer, words",
    [
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "403"),
        ((b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: wrong\r\n\r\n"), "Accept"),
        (b"not http\r\n\r\n", "status line"),
    ],
)
def test_client_refused(impl: Any, answer: bytes, words: str) -> None:
    client = impl.ClientConnection(URI)
    client.data_to_send()
    events = client.receive_data(answer + raw(0x81, b"x", masked=False))
    assert len(events) == 1 and events[0].code == 1006 and words in events[0].reason
    assert isinstance(client.error, hs.HandshakeError)
    assert client.close_code == 1006
    assert client.closed and client.state is ConnectionState.CLOSED
    if answer.startswith(b"HTTP/1.1 403"):
        assert client.response is not None and client.response.status == 403
    with pytest.raises(ConnectionClosed):
        client.send("x")
    assert client.receive_data(b"") == []


def test_client_eof_during_handshake(impl: Any) -> None:
    client = impl.ClientConnection(URI)
    client.data_to_send()
    assert client.receive_data(b"HTTP/1.1 101 Swi") == []
    (event,) = client.receive_data(b"")
    assert event.code == 1006 and "closed" in event.reason
    assert client.closed


def test_client_unknown_subprotocol_refused(impl: Any) -> None:
    client = impl.ClientConnection(URI, subprotocols=["chat"])
    key = hs.validate_request(hs.parse_request(client.data_to_send()))
    (event,) = client.receive_data(hs.build_response(key, "other"))
    assert event.code == 1006 and client.closed


def test_client_bad_arguments(impl: Any) -> None:
    with pytest.raises(ValueError):
        impl.ClientConnection("http://x/")
    with pytest.raises(TypeError):
        impl.ClientConnection(b"ws://x/")
    with pytest.raises(ValueError):
        impl.ClientConnection(URI, headers=[("Host", "x")])
    with pytest.raises(ValueError):
        impl.ClientConnection(URI, subprotocols=["a b"])
    with pytest.raises(TypeError):
        impl.ClientConnection(URI, subprotocols="chat")
    with pytest.raises(TypeError):
        impl.ClientConnection(URI, 1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        impl.ClientConnection(URI, max_message_size="1")


# ---------------------------------------------------- replies made on their own


@pytest.mark.parametrize("role", ["server", "client"])
def test_ping_answered_and_returned(impl: Any, role: str) -> None:
    conn = open_server(impl) if role == "server" else open_client(impl)
    masked = role == "server"
    events = conn.receive_data(raw(0x89, b"hello?", masked=masked) + raw(0x8A, b"pong", masked=masked))
    assert events == [Ping(b"hello?"), Pong(b"pong")]
    assert as_tuples(decode(impl, conn.data_to_send(), client=role == "server")) == [("Pong", b"hello?")]


@pytest.mark.parametrize("role", ["server", "client"])
@pytest.mark.parametrize("payload, code", [(close_payload(1001, b"away"), 1001), (b"", 1005)])
def test_peer_close_echoed_with_its_code(impl: Any, role: str, payload: bytes, code: int) -> None:
    conn = open_server(impl) if role == "server" else open_client(impl)
    masked = role == "server"
    events = conn.receive_data(raw(0x81, b"last", masked=masked) + raw(0x88, payload, masked=masked))
    assert events[0] == (Opcode.TEXT, "last")
    assert events[1] == Close(None if code == 1005 else code, "away" if payload else "")
    assert conn.close_code == code and conn.state is ConnectionState.CLOSING
    # The echo of the message goes out before the Close echo.
    conn.send(events[0].data)
    with pytest.raises(ConnectionClosed, match="peer sent a Close"):
        conn.close()
    out = decode(impl, conn.data_to_send(), client=role == "server")
    assert as_tuples(out) == [("Message", Opcode.TEXT, "last"), ("Close", None if code == 1005 else code, "")]
    with pytest.raises(ConnectionClosed):
        conn.send("after")
    if role == "server":
        assert conn.closed and conn.state is ConnectionState.CLOSED
    else:
        # RFC 6455 §7.1.1: the client waits for the server to close TCP.
        assert not conn.closed and conn.state is ConnectionState.CLOSING
        assert conn.receive_data(b"") == []
        assert conn.closed
    assert conn.receive_data(raw(0x81, b"x", masked=masked)) == []


# ------------------------------------------------------------ protocol errors


BAD_FRAMES = [
    (raw(0x81, b"hello", masked=False), 1002),  # unmasked, to a server
    (raw(0x83, b"x"), 1002),  # reserved opcode
    (raw(0xC1, b"x"), 1002),  # RSV1 with no extension
    (raw(0x89, b"x" * 126), 1002),  # ping over 125 bytes
    (raw(0x80, b"x"), 1002),  # continuation with nothing to continue
    (raw(0x81, b"\xc3\x28"), 1007),  # invalid UTF-8
    (raw(0x88, close_payload(1005)), 1002),  # a close code not valid on the wire
    (raw(0x88, close_payload(1000, b"\xff")), 1007),  # a close reason not UTF-8
    (raw(0x82, b"x" * 2000), 1009),  # over max_message_size below
]


@pytest.mark.parametrize("bad, code", BAD_FRAMES)
def test_protocol_error_keeps_earlier_events_and_closes_last(impl: Any, bad: bytes, code: int) -> None:
    server = open_server(impl, max_message_size=1000)
    events = server.receive_data(raw(0x81, b"before") + raw(0x89, b"p") + bad + raw(0x81, b"after"))
    assert events[:2] == [(Opcode.TEXT, "before"), Ping(b"p")]
    assert len(events) == 3 and type(events[2]) is Close and events[2].code == code
    assert events[2].reason == str(server.error)
    assert isinstance(server.error, ProtocolError) and server.error.close_code == code
    assert server.close_code == code and server.close_reason == str(server.error)
    assert server.state is ConnectionState.CLOSING and not server.closed
    server.send(events[0].data)  # the reply to the message before the error
    out = decode(impl, server.data_to_send(), client=True)
    # Pong first (made during receive_data), the caller's echo, then the Close.
    assert as_tuples(out) == [("Pong", b"p"), ("Message", Opcode.TEXT, "before"), ("Close", code, "")]
    assert server.closed and server.state is ConnectionState.CLOSED
    assert server.receive_data(raw(0x81, b"x")) == [] and server.receive_data(b"") == []
    with pytest.raises(ConnectionClosed, match=f"failed with {code}"):
        server.send("late")


def test_protocol_error_in_a_later_read(impl: Any) -> None:
    server = open_server(impl)
    assert server.receive_data(raw(0x01, b"frag")) == []
    (event,) = server.receive_data(raw(0x81, b"new message inside a fragmented one"))
    assert event.code == 1002
    assert as_tuples(decode(impl, server.data_to_send(), client=True)) == [("Close", 1002, "")]


def test_protocol_error_as_client(impl: Any) -> None:
    client = open_client(impl)
    events = client.receive_data(raw(0x81, b"ok", masked=False) + raw(0x81, b"masked to a client"))
    assert events[0] == (Opcode.TEXT, "ok") and events[1].code == 1002
    out = client.data_to_send()
    assert out[1] & 0x80  # masked, as every client frame
    assert as_tuples(decode(impl, out, client=False)) == [("Close", 1002, "")]
    assert client.closed  # a failed connection is not waited on


def test_protocol_error_while_closing_sends_no_second_close(impl: Any) -> None:
    server = open_server(impl)
    server.close(1001)
    assert as_tuples(decode(impl, server.data_to_send(), client=True)) == [("Close", 1001, "")]
    events = server.receive_data(raw(0x81, b"still arriving") + raw(0x83, b""))
    assert events[0] == (Opcode.TEXT, "still arriving") and events[1].code == 1002
    assert server.data_to_send() == b""
    assert server.closed


def test_limits_follow_max_message_size(impl: Any) -> None:
    # Raising max_message_size alone admits a message of that size in one frame.
    server = open_server(impl, max_message_size=3 << 20)
    payload = bytes(range(256)) * (2 << 12)  # 2 MiB
    (event,) = server.receive_data(raw(0x82, payload))
    assert event == (Opcode.BINARY, payload)
    bounded = open_server(impl, max_message_size=3 << 20, max_frame_size=1 << 20)
    (event,) = bounded.receive_data(raw(0x82, payload))
    assert event.code == 1009


# ------------------------------------------------------------------ EOF, close


@pytest.mark.parametrize("role", ["server", "client"])
def test_eof_while_open(impl: Any, role: str) -> None:
    conn = open_server(impl) if role == "server" else open_client(impl)
    assert conn.receive_data(b"\x81") == []  # half a frame
    assert conn.receive_data(b"") == [Close(1006, "")]
    assert conn.close_code == 1006 and conn.error is None
    assert conn.closed and conn.state is ConnectionState.CLOSED
    with pytest.raises(ConnectionClosed, match="TCP"):
        conn.send("x")
    assert conn.receive_data(b"") == []


def test_server_initiated_closing_handshake(impl: Any) -> None:
    client, server = pair(impl)
    server.close(1001, "going away")
    assert server.state is ConnectionState.CLOSING
    with pytest.raises(ConnectionClosed, match="close\\(\\) was called"):
        server.send("x")
    with pytest.raises(ConnectionClosed):
        server.close()
    client.send("crossing")  # sent before the client saw the Close
    crossing = client.data_to_send()
    assert client.receive_data(server.data_to_send()) == [Close(1001, "going away")]
    assert client.state is ConnectionState.CLOSING and not client.closed
    # Messages the peer sent before its Close still reach the closing side;
    # a Ping after our Close is returned but not answered.
    events = server.receive_data(crossing + client.data_to_send())
    assert events == [(Opcode.TEXT, "crossing"), Close(1001, "")]
    assert server.closed and server.state is ConnectionState.CLOSED
    assert server.close_code == 1001 and server.close_reason == ""
    assert server.data_to_send() == b""
    assert client.receive_data(b"") == []  # the server closes TCP first
    assert client.closed and client.close_code == 1001


def test_client_initiated_closing_handshake(impl: Any) -> None:
    client, server = pair(impl)
    client.close()
    assert server.receive_data(client.data_to_send()) == [Close(1000, "")]
    assert not server.closed
    echo = server.data_to_send()
    assert server.closed
    assert client.receive_data(echo) == [Close(1000, "")]
    assert client.state is ConnectionState.CLOSING
    assert client.receive_data(b"") == []
    assert client.closed and client.state is ConnectionState.CLOSED


def test_no_pong_after_our_close(impl: Any) -> None:
    server = open_server(impl)
    server.close()
    server.data_to_send()
    assert server.receive_data(raw(0x89, b"p")) == [Ping(b"p")]
    assert server.data_to_send() == b""


def test_eof_after_our_close(impl: Any) -> None:
    server = open_server(impl)
    server.close()
    server.data_to_send()
    assert server.receive_data(b"") == [Close(1006, "")]
    assert server.closed


@pytest.mark.parametrize("code, reason, error", [(1006, "", ValueError), (1005, "", ValueError), (999, "", ValueError),
                                                 (1000, "x" * 124, ValueError), (None, "why", ValueError),
                                                 (1000, b"x", TypeError), ("1000", "", (TypeError, ValueError))])
def test_close_arguments(impl: Any, code: Any, reason: Any, error: Any) -> None:
    server = open_server(impl)
    with pytest.raises(error):
        server.close(code, reason)
    assert server.state is ConnectionState.OPEN


def test_close_without_code(impl: Any) -> None:
    server = open_server(impl)
    server.close(None)
    assert server.data_to_send() == b"\x88\x00"


def test_fail(impl: Any) -> None:
    server = open_server(impl)
    server.send("queued first")
    server.fail(1011, "keepalive ping timeout")
    assert server.state is ConnectionState.CLOSING and not server.closed
    out = decode(impl, server.data_to_send(), client=True)
    assert as_tuples(out) == [("Message", Opcode.TEXT, "queued first"), ("Close", 1011, "keepalive ping timeout")]
    assert server.closed and server.close_code == 1011
    assert server.receive_data(raw(0x88, close_payload(1000))) == []
    server.fail(1012)  # nothing left to do: no error
    with pytest.raises(ConnectionClosed, match="fail"):
        server.send("x")


def test_fail_after_close_sends_nothing_more(impl: Any) -> None:
    server = open_server(impl)
    server.close(1000)
    server.data_to_send()
    server.fail(1011)
    assert server.data_to_send() == b"" and server.closed


def test_a_close_code_given_as_an_int_subclass_is_kept_as_a_plain_int(impl: Any) -> None:
    # PyPy's and CPython 3.9's operator.index return such a code as it is.
    class Code(int):
        def __repr__(self) -> str:
            return "Code()"

    server = open_server(impl)
    server.fail(Code(4000))
    assert type(server.close_code) is int and server.close_code == 4000
    assert as_tuples(decode(impl, server.data_to_send(), client=True)) == [("Close", 4000, "")]


def test_fail_keeps_a_pending_close(impl: Any) -> None:
    server = open_server(impl)
    server.receive_data(raw(0x88, close_payload(4000)))
    server.fail(1012)
    assert as_tuples(decode(impl, server.data_to_send(), client=True)) == [("Close", 4000, "")]
    assert server.closed


def test_fail_before_the_handshake(impl: Any) -> None:
    server, _ = server_with_request(impl, raw(0x89, b"p"))
    server.fail(1012)
    assert server.data_to_send() == b"" and server.closed
    client = impl.ClientConnection(URI)
    client.fail()
    assert client.data_to_send() == b"" and client.closed


def test_fail_arguments_checked_first(impl: Any) -> None:
    server = open_server(impl)
    with pytest.raises(ValueError):
        server.fail(1006)
    assert server.state is ConnectionState.OPEN


# ------------------------------------------------------------------- sending


def test_send_kinds(impl: Any) -> None:
    client, server = pair(impl, decode_text=False)
    client.send("text")
    client.send(b"binary")
    client.send(bytearray(b"ba"))
    client.send(memoryview(b"xmvx")[1:3])
    client.send(array.array("H", [1, 2]))
    client.send("ünï".encode(), text=True)
    client.send(b"")
    client.send("")
    client.ping()
    client.ping("pïng")
    client.ping(b"x" * 125)
    events = server.receive_data(client.data_to_send())
    assert as_tuples(events) == [
        ("Message", Opcode.TEXT, b"text"),
        ("Message", Opcode.BINARY, b"binary"),
        ("Message", Opcode.BINARY, b"ba"),
        ("Message", Opcode.BINARY, b"mv"),
        ("Message", Opcode.BINARY, array.array("H", [1, 2]).tobytes()),
        ("Message", Opcode.TEXT, "ünï".encode()),
        ("Message", Opcode.BINARY, b""),
        ("Message", Opcode.TEXT, b""),
        ("Ping", b""),
        ("Ping", "pïng".encode()),
        ("Ping", b"x" * 125),
    ]


class Text(str):
    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        return b"overridden"


def test_send_arguments(impl: Any) -> None:
    server = open_server(impl)
    with pytest.raises(TypeError):
        server.send(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.send(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.send(b"x", True)  # type: ignore[misc]
    with pytest.raises(TypeError):
        server.send(b"x", binary=True)  # type: ignore[call-arg]
    with pytest.raises(UnicodeEncodeError):
        server.send("\ud800")
    with pytest.raises(ValueError, match="UTF-8"):
        server.send(b"\xff", text=True)
    with pytest.raises(ValueError):
        server.ping(b"x" * 126)
    with pytest.raises(TypeError):
        server.ping(12)  # type: ignore[arg-type]
    assert server.data_to_send() == b""
    server.send(Text("real"))  # str subclasses are encoded as str, overrides ignored
    assert server.data_to_send() == b"\x81\x04real"


def test_server_frames_unmasked_client_frames_masked(impl: Any) -> None:
    client, server = pair(impl, deflate=None)  # the frames as sent, uncompressed
    server.send(b"s")
    assert server.data_to_send() == b"\x82\x01s"
    client.send(b"c")
    out = client.data_to_send()
    assert out[:2] == b"\x82\x81" and bytes([out[6] ^ out[2]]) == b"c"


# --------------------------------------------------------------- object rules


def test_final_classes(impl: Any) -> None:
    for cls in (impl.ServerConnection, impl.ClientConnection):
        with pytest.raises(TypeError):
            type("Sub", (cls,), {})


def test_no_copy_or_pickle(impl: Any) -> None:
    for conn in (open_server(impl), impl.ClientConnection(URI)):
        with pytest.raises(TypeError):
            copy.copy(conn)
        with pytest.raises(TypeError):
            copy.deepcopy(conn)
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with pytest.raises(TypeError):
                pickle.dumps(conn, protocol)


def test_reinit(impl: Any) -> None:
    server = open_server(impl)
    server.close()
    with pytest.raises(ValueError):
        server.__init__(max_message_size=-1)
    assert server.state is ConnectionState.CLOSING  # unchanged
    server.__init__(subprotocols=["x"])
    assert server.state is ConnectionState.CONNECTING and server.request is None
    assert server.data_to_send() == b""
    client = impl.ClientConnection(URI)
    first = client.data_to_send()
    client.__init__(URI)
    assert client.data_to_send().startswith(b"GET /chat") and client.state is ConnectionState.CONNECTING
    assert first


def test_receive_data_takes_any_buffer(impl: Any) -> None:
    server = open_server(impl)
    frame = raw(0x82, b"buffers")
    for data in (bytearray(frame), memoryview(frame), array.array("B", frame), memoryview(b"xx" + frame)[2:]):
        assert server.receive_data(data) == [(Opcode.BINARY, b"buffers")]
    with pytest.raises(TypeError):
        server.receive_data("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.receive_data(None)  # type: ignore[arg-type]
    server.receive_data(b"")
    with pytest.raises(TypeError):
        server.receive_data(0)  # type: ignore[arg-type]  # checked even once closed


def test_options_checked(impl: Any) -> None:
    with pytest.raises(TypeError):
        impl.ServerConnection(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        impl.ServerConnection(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        impl.ServerConnection(subprotocols="chat")
    with pytest.raises(ValueError):
        impl.ServerConnection(subprotocols=["a,b"])
    with pytest.raises(TypeError):
        impl.ServerConnection(origins="https://x")
    with pytest.raises(ValueError):
        impl.ServerConnection(max_frame_size=-1)
    with pytest.raises(TypeError):
        impl.ServerConnection(max_message_size=1.5)


def test_repr(impl: Any) -> None:
    assert "ServerConnection" in repr(impl.ServerConnection()) and "CONNECTING" in repr(impl.ServerConnection())


# ------------------------------------------------------------ talking in-process

messages = st.lists(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300),
        # Large payloads built, not drawn byte by byte (which hypothesis finds too large).
        st.builds(lambda n, seed: bytes((seed + i * 7) & 0xFF for i in range(n)),
                  st.integers(65530, 70010), st.integers(0, 255)),
    ),
    max_size=12,
)


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), sent=messages)
def test_client_and_server_talk(impl: Any, data: st.DataObject, sent: list) -> None:
    """Every message the client sends comes back, whatever the splits of the stream."""
    client, server = pair(impl)

    def deliver(out: bytes, to: Any) -> list:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(out)), max_size=10)))
        events: list = []
        for start, end in zip([0] + cuts, cuts + [len(out)]):
            if end > start:  # b"" would mean the end of the stream
                events += to.receive_data(out[start:end])
        return events

    for message in sent:
        client.send(message)
    client.ping(b"end")
    received = deliver(client.data_to_send(), server)
    for event in received:
        if type(event) is Message:
            server.send(event.data)
    echoed = deliver(server.data_to_send(), client)
    assert [e.data for e in echoed if type(e) is Message] == sent
    # The Pong is made while the server reads, before the caller's echoes.
    assert echoed[0] == Pong(b"end")
    client.close(3000, "done")
    assert deliver(client.data_to_send(), server) == [Close(3000, "done")]
    assert deliver(server.data_to_send(), client) == [Close(3000, "")]
    assert server.closed and client.receive_data(b"") == [] and client.closed


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.binary(max_size=400), cut=st.integers(0, 400))
def test_nothing_the_peer_sends_raises(impl: Any, stream: bytes, cut: int) -> None:
    """Any bytes: no exception, and nothing after a Close event."""
    for role in ("server", "client"):
        conn = open_server(impl) if role == "server" else open_client(impl)
        events = conn.receive_data(stream[:cut]) + conn.receive_data(stream[cut:]) + conn.receive_data(b"")
        closes = [i for i, e in enumerate(events) if type(e) is Close]
        assert closes == [len(events) - 1]
        conn.data_to_send()
        assert conn.closed or (role == "client" and conn.state is ConnectionState.CLOSING)


@pytest.mark.parametrize("size", [100, 60_000])
def test_idle_connection_holds_no_large_buffer(impl: Any, size: int) -> None:
    """After a message, an idle connection keeps neither its message's buffer nor its output."""
    frame = raw(0x81, b"h" * size)
    request, _ = request_bytes()

    def idle_connections() -> List[Any]:
        conns = []
        for _ in range(50):
            conn = impl.ServerConnection()
            conn.receive_data(request)
            conn.accept()
            for event in conn.receive_data(frame):
                conn.send(event.data)
            assert len(conn.data_to_send()) > size
            conns.append(conn)
        return conns

    held = held_by(idle_connections) / 50
    # The Request with its headers is most of it (about 1.8 KB).
    assert held < 8192
