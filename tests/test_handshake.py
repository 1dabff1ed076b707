"""The opening handshake (RFC 6455 §4): one pure-Python implementation."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsfast import handshake as hs
from wsfast.handshake import HandshakeError

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3


def request_head(*fields: str, line: str = "GET /chat HTTP/1.1", drop: tuple[str, ...] = ()) -> bytes:
    base = {
        "Host": "server.example.com",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    lines = [line] + [f"{k}: {v}" for k, v in base.items() if k not in drop] + list(fields)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def rejected(head: bytes, **kwargs: object) -> HandshakeError:
    with pytest.raises(HandshakeError) as info:
        hs.server_handshake(hs.parse_request(head), **kwargs)  # type: ignore[arg-type]
    return info.value


def test_accept_key_rfc_vector() -> None:
    assert hs.accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert hs.accept_key(KEY.encode()) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_rfc_example_request_gives_rfc_example_response() -> None:
    head = request_head("Origin: http://example.com", "Sec-WebSocket-Protocol: chat, superchat")
    response, chosen = hs.server_handshake(hs.parse_request(head), subprotocols=["superchat"])
    assert chosen == "superchat"
    assert response == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: superchat\r\n"
        b"\r\n"
    )


def test_server_preference_decides_subprotocol() -> None:
    assert hs.negotiate_subprotocol(["chat", "superchat"], ["superchat", "chat"]) == "superchat"
    assert hs.negotiate_subprotocol(["superchat", "chat"], ["chat", "superchat"]) == "chat"
    assert hs.negotiate_subprotocol(["chat"], ["superchat"]) is None
    assert hs.negotiate_subprotocol([], ["chat"]) is None
    # Names are case-sensitive tokens.
    assert hs.negotiate_subprotocol(["Chat"], ["chat"]) is None


def test_subprotocols_across_several_fields() -> None:
    head = request_head("Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b,, c")
    assert hs.parse_subprotocols(hs.parse_request(head).headers) == ["a", "b", "c"]
    response, chosen = hs.server_handshake(hs.parse_request(head), subprotocols=["c", "b"])
    assert chosen == "c"
    assert b"Sec-WebSocket-Protocol: c\r\n" in response


def test_no_subprotocol_header_when_none_chosen() -> None:
    response, chosen = hs.server_handshake(hs.parse_request(request_head()), subprotocols=["x"])
    assert chosen is None
    assert b"Sec-WebSocket-Protocol" not in response


def test_header_names_and_tokens_are_case_insensitive() -> None:
    head = (
        b"GET / HTTP/1.1\r\nhost: h\r\nUPGRADE: WebSocket\r\n"
        b"connection: keep-alive, UPGRADE\r\nsec-websocket-key: " + KEY.encode() + b"\r\n"
        b"SEC-WEBSOCKET-VERSION: 13\r\n\r\n"
    )
    response, _ = hs.server_handshake(hs.parse_request(head))
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in response


def test_upgrade_token_list() -> None:
    head = request_head("Upgrade: h2c, websocket", drop=("Upgrade",))
    response, _ = hs.server_handshake(hs.parse_request(head))
    assert response.startswith(b"HTTP/1.1 101 ")


def test_extra_response_headers() -> None:
    response, _ = hs.server_handshake(hs.parse_request(request_head()), headers=[("Server", "wsfast")])
    assert response.endswith(b"Server: wsfast\r\n\r\n")
    with pytest.raises(ValueError):
        hs.server_handshake(hs.parse_request(request_head()), headers=[("Upgrade", "x")])
    with pytest.raises(ValueError):
        hs.server_handshake(hs.parse_request(request_head()), headers=[("X", "a\r\nInjected: 1")])


# ------------------------------------------------------- request rejections


@pytest.mark.parametrize(
    "head, status, needle",
    [
        (request_head(line="POST /chat HTTP/1.1"), 405, "GET"),
        (request_head(line="GET /chat HTTP/1.0"), 505, "HTTP/1.1"),
        (request_head(line="GET /chat HTTP/2.0"), 505, "HTTP/1.1"),
        (request_head(drop=("Host",)), 400, "Host"),
        (request_head("Host: other"), 400, "Host"),
        (request_head(drop=("Upgrade",)), 426, "Upgrade"),
        (request_head("Upgrade: h2c", drop=("Upgrade",)), 426, "Upgrade"),
        (request_head(drop=("Connection",)), 426, "Connection"),
        (request_head("Connection: keep-alive", drop=("Connection",)), 426, "Connection"),
        (request_head(drop=("Sec-WebSocket-Version",)), 426, "Version"),
        (request_head("Sec-WebSocket-Version: 8", drop=("Sec-WebSocket-Version",)), 426, "Version"),
        (request_head("Sec-WebSocket-Version: 13, 8", drop=("Sec-WebSocket-Version",)), 426, "Version"),
        (request_head(drop=("Sec-WebSocket-Key",)), 400, "Key"),
        (request_head("Sec-WebSocket-Key: " + KEY), 400, "Key"),
        (request_head("Sec-WebSocket-Key: abc", drop=("Sec-WebSocket-Key",)), 400, "Key"),
        # 15 and 17 bytes, and 24 characters that are not base64.
        (request_head("Sec-WebSocket-Key: " + base64.b64encode(b"x" * 15).decode(),
                      drop=("Sec-WebSocket-Key",)), 400, "Key"),
        (request_head("Sec-WebSocket-Key: " + base64.b64encode(b"x" * 17).decode(),
                      drop=("Sec-WebSocket-Key",)), 400, "Key"),
        (request_head("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j!!==",
                      drop=("Sec-WebSocket-Key",)), 400, "Key"),
        (request_head("Content-Length: 5"), 400, "body"),
        (request_head("Transfer-Encoding: chunked"), 400, "body"),
        (request_head("Sec-WebSocket-Protocol: chat, bad/name"), 400, "subprotocol"),
    ],
)
def test_request_rejections(head: bytes, status: int, needle: str) -> None:
    err = rejected(head)
    assert err.status == status
    assert needle.lower() in str(err).lower()


def test_426_names_the_version_it_speaks() -> None:
    err = rejected(request_head("Sec-WebSocket-Version: 8", drop=("Sec-WebSocket-Version",)))
    assert ("Sec-WebSocket-Version", "13") in err.headers
    answer = err.response()
    assert answer.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in answer


def test_405_names_get() -> None:
    err = rejected(request_head(line="PUT / HTTP/1.1"))
    assert ("Allow", "GET") in err.headers


def test_error_response_is_well_formed() -> None:
    err = rejected(request_head(drop=("Sec-WebSocket-Key",)))
    answer = err.response()
    head, _, body = answer.partition(b"\r\n\r\n")
    parsed = hs.parse_response(head + b"\r\n\r\n")
    assert parsed.status == 400
    assert parsed.headers.get("Content-Length") == str(len(body))
    assert parsed.headers.get("Connection") == "close"
    assert b"Sec-WebSocket-Key" in body


def test_origin_check() -> None:
    head = request_head("Origin: http://good.example")
    assert hs.server_handshake(hs.parse_request(head), origins={"http://good.example"})[0].startswith(b"HTTP/1.1 101")
    assert rejected(head, origins={"http://other.example"}).status == 403
    assert rejected(request_head(), origins={"http://good.example"}).status == 403


def test_content_length_zero_is_fine() -> None:
    assert hs.server_handshake(hs.parse_request(request_head("Content-Length: 0")))[1] is None


# -------------------------------------------------------------- head parsing


def test_parse_request_fields() -> None:
    req = hs.parse_request(b"GET /a?b=c HTTP/1.1\r\nX-A:  one \r\nx-a: two\r\nEmpty:\r\n\r\n")
    assert (req.method, req.target, req.version) == ("GET", "/a?b=c", "HTTP/1.1")
    assert req.headers.get_all("X-A") == ["one", "two"]
    assert req.headers.get("empty") == ""
    assert "x-A" in req.headers and "nope" not in req.headers
    assert list(req.headers) == [("X-A", "one"), ("x-a", "two"), ("Empty", "")]
    with pytest.raises(HandshakeError, match="2 times"):
        req.headers.get("x-a")


def test_latin1_values_survive() -> None:
    req = hs.parse_request(b"GET / HTTP/1.1\r\nX: caf\xe9\r\n\r\n")
    assert req.headers.get("X") == "caf\xe9"


@pytest.mark.parametrize(
    "head",
    [
        b"GET /chat HTTP/1.1\r\nHost: h\r\n",  # no blank line
        b"GET /chat HTTP/1.1\r\nHost: h\r\n\r\nextra",  # something after it
        b"GET /chat HTTP/1.1\nHost: h\r\n\r\n",  # bare LF
        b"GET /chat HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",  # bare CR
        b"GET /chat\r\n\r\n",
        b"GET  /chat HTTP/1.1\r\n\r\n",
        b"GET /chat HTTP/1.1 x\r\n\r\n",
        b"G(T /chat HTTP/1.1\r\n\r\n",
        b"GET chat HTTP/1.1\r\n\r\n",  # not origin-form
        b"GET http://h/chat HTTP/1.1\r\n\r\n",
        b"GET /ch\xe4t HTTP/1.1\r\n\r\n",
        b"GET /chat HTTP/1\r\n\r\n",
        b"GET /chat http/1.1\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nNoColon\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nHost : h\r\n\r\n",  # space before colon
        b"GET /chat HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",  # obs-fold
        b"GET /chat HTTP/1.1\r\n: empty-name\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nX: a\x00b\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
    ],
)
def test_malformed_requests(head: bytes) -> None:
    with pytest.raises(HandshakeError) as info:
        hs.parse_request(head)
    assert info.value.status == 400


def test_request_limits() -> None:
    fields = "".join(f"X-{i}: v\r\n" for i in range(10))
    head = f"GET / HTTP/1.1\r\n{fields}\r\n".encode()
    assert len(hs.parse_request(head, max_headers=10).headers) == 10
    with pytest.raises(HandshakeError) as info:
        hs.parse_request(head, max_headers=9)
    assert info.value.status == 431
    assert hs.parse_request(head, max_size=len(head)).target == "/"
    with pytest.raises(HandshakeError) as info:
        hs.parse_request(head, max_size=len(head) - 1)
    assert info.value.status == 431
    # The defaults are finite.
    big = b"GET / HTTP/1.1\r\nX: " + b"a" * hs.MAX_HEAD_SIZE + b"\r\n\r\n"
    with pytest.raises(HandshakeError) as info:
        hs.parse_request(big)
    assert info.value.status == 431
    many = b"GET / HTTP/1.1\r\n" + b"X: a\r\n" * (hs.MAX_HEADERS + 1) + b"\r\n"
    with pytest.raises(HandshakeError) as info:
        hs.parse_request(many)
    assert info.value.status == 431


def test_head_length() -> None:
    head = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    assert hs.head_length(b"") is None
    assert hs.head_length(head[:-1]) is None
    assert hs.head_length(head) == len(head)
    assert hs.head_length(bytearray(head + b"\x81\x00")) == len(head)
    assert hs.head_length(memoryview(head + b"rest")) == len(head)
    # Exactly at the limit is fine; one byte short of finding the end is not.
    assert hs.head_length(head, max_size=len(head)) == len(head)
    with pytest.raises(HandshakeError) as info:
        hs.head_length(head, max_size=len(head) - 1)
    assert info.value.status == 431
    with pytest.raises(HandshakeError):
        hs.head_length(b"a" * hs.MAX_HEAD_SIZE)
    assert hs.head_length(b"a" * (hs.MAX_HEAD_SIZE - 1)) is None


# ------------------------------------------------------------------- client


@pytest.mark.parametrize(
    "uri, secure, host, port, resource, host_header",
    [
        ("ws://example.com", False, "example.com", 80, "/", "example.com"),
        ("ws://example.com/", False, "example.com", 80, "/", "example.com"),
        ("wss://example.com/chat", True, "example.com", 443, "/chat", "example.com"),
        ("ws://example.com:80/a", False, "example.com", 80, "/a", "example.com"),
        ("wss://example.com:443/a", True, "example.com", 443, "/a", "example.com"),
        ("ws://example.com:443/a", False, "example.com", 443, "/a", "example.com:443"),
        ("wss://example.com:80/a", True, "example.com", 80, "/a", "example.com:80"),
        ("ws://127.0.0.1:9001/runCase?case=3&agent=x", False, "127.0.0.1", 9001,
         "/runCase?case=3&agent=x", "127.0.0.1:9001"),
        ("ws://[::1]:8080/p?q", False, "::1", 8080, "/p?q", "[::1]:8080"),
        ("ws://[::1]/", False, "::1", 80, "/", "[::1]"),
        ("WS://Example.COM/Path", False, "example.com", 80, "/Path", "example.com"),
        ("ws://h/a b?c d", False, "h", 80, "/a%20b?c%20d", "h"),
        ("ws://h/%7Euser", False, "h", 80, "/%7Euser", "h"),
        ("ws://h?q=1", False, "h", 80, "/?q=1", "h"),
        ("ws://bücher.example/", False, "xn--bcher-kva.example", 80, "/", "xn--bcher-kva.example"),
    ],
)
def test_parse_uri(uri: str, secure: bool, host: str, port: int, resource: str, host_header: str) -> None:
    parsed = hs.parse_uri(uri)
    assert parsed == (secure, host, port, resource)
    assert parsed.host_header == host_header


@pytest.mark.parametrize(
    "uri",
    ["http://h/", "h/x", "ws:///path", "ws://h/#frag", "ws://h/#", "ws://u:p@h/", "ws://h:99999/", "ws://h:x/"],
)
def test_bad_uris(uri: str) -> None:
    with pytest.raises(HandshakeError) as info:
        hs.parse_uri(uri)
    assert info.value.status is None
    with pytest.raises(ValueError):
        hs.client_request(uri)


def test_client_request_shape() -> None:
    data, key = hs.client_request(
        "ws://example.com:8080/chat?room=1", subprotocols=["chat", "superchat"], headers=[("Origin", "http://o")]
    )
    req = hs.parse_request(data)
    assert (req.method, req.target, req.version) == ("GET", "/chat?room=1", "HTTP/1.1")
    assert req.headers.get("Host") == "example.com:8080"
    assert req.headers.get("Sec-WebSocket-Key") == key
    assert len(base64.b64decode(key, validate=True)) == 16
    assert req.headers.get("Sec-WebSocket-Protocol") == "chat, superchat"
    assert req.headers.get("Origin") == "http://o"
    # What the client builds, the server accepts.
    response, chosen = hs.server_handshake(req, subprotocols=["superchat"])
    assert chosen == "superchat"
    assert hs.check_response(response, key, ["chat", "superchat"]) == "superchat"


def test_client_keys_are_fresh() -> None:
    keys = {hs.client_request("ws://h/")[1] for _ in range(64)}
    assert len(keys) == 64


def test_client_request_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        hs.client_request("ws://h/", subprotocols=["a b"])
    with pytest.raises(ValueError):
        hs.client_request("ws://h/", headers=[("Sec-WebSocket-Key", KEY)])
    with pytest.raises(ValueError):
        hs.client_request("ws://h/", headers=[("host", "x")])
    with pytest.raises(ValueError):
        hs.client_request("ws://h/", headers=[("X", "a\r\nEvil: 1")])
    with pytest.raises(ValueError):
        hs.client_request("ws://h/", headers=[("Bad Name", "x")])


def response_head(*fields: str, status: str = "101 Switching Protocols", accept: str | None = None,
                  drop: tuple[str, ...] = ()) -> bytes:
    base = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept or hs.accept_key(KEY)}
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in base.items() if k not in drop] + list(fields)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_check_response_accepts() -> None:
    assert hs.check_response(response_head(), KEY) is None
    assert hs.check_response(response_head("Sec-WebSocket-Protocol: b"), KEY, ["a", "b"]) == "b"
    assert hs.check_response(hs.parse_response(response_head()), KEY) is None
    lower = response_head().replace(b"Upgrade: websocket", b"upgrade: WebSocket")
    assert hs.check_response(lower, KEY) is None


@pytest.mark.parametrize(
    "head, offered, needle",
    [
        (response_head(status="200 OK"), (), "200"),
        (response_head(status="426 Upgrade Required"), (), "426"),
        (response_head(drop=("Upgrade",)), (), "Upgrade"),
        (response_head("Upgrade: h2c", drop=("Upgrade",)), (), "Upgrade"),
        (response_head(drop=("Connection",)), (), "Connection"),
        (response_head(drop=("Sec-WebSocket-Accept",)), (), "Accept"),
        (response_head(accept=hs.accept_key("x" + KEY[1:])), (), "Accept"),
        (response_head("Sec-WebSocket-Accept: " + hs.accept_key(KEY)), (), "2 times"),
        (response_head("Sec-WebSocket-Protocol: chat"), (), "not offered"),
        (response_head("Sec-WebSocket-Protocol: chat"), ("superchat",), "not offered"),
        (response_head("Sec-WebSocket-Protocol: chat, superchat"), ("chat", "superchat"), "not offered"),
        (response_head("Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: a"), ("a",), "2 times"),
        (response_head("Sec-WebSocket-Extensions: permessage-deflate"), (), "extension"),
        (b"HTTP/1.1 101\r\n", (), "empty line"),
        (b"HTTP/1.1 1010 Switching\r\n\r\n", (), "status line"),
        (b"ICY 200 OK\r\n\r\n", (), "status line"),
    ],
)
def test_check_response_rejections(head: bytes, offered: tuple[str, ...], needle: str) -> None:
    with pytest.raises(HandshakeError) as info:
        hs.check_response(head, KEY, offered)
    assert info.value.status is None
    assert needle.lower() in str(info.value).lower()
    with pytest.raises(ValueError):  # the client failure has no HTTP answer
        info.value.response()


def test_parse_response_status_line_variants() -> None:
    assert hs.parse_response(b"HTTP/1.1 101\r\n\r\n")[:3] == ("HTTP/1.1", 101, "")
    assert hs.parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n")[:3] == ("HTTP/1.1", 404, "Not Found")
    with pytest.raises(HandshakeError):
        hs.parse_response(b"HTTP/1.1 101 Switching Protocols\r\n" + b"X: y\r\n" * (hs.MAX_HEADERS + 1) + b"\r\n")


# ----------------------------------------------------------------- properties

TOKENS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~",
                 min_size=1, max_size=12)


@given(
    offered=st.lists(TOKENS, max_size=5, unique=True),
    supported=st.lists(TOKENS, max_size=5, unique=True),
    path=st.text(max_size=20),
    port=st.integers(1, 65535),
    secure=st.booleans(),
)
def test_client_and_server_agree(offered: list[str], supported: list[str], path: str, port: int, secure: bool) -> None:
    path = path.replace("#", "")
    uri = f"{'wss' if secure else 'ws'}://example.com:{port}/{path}"
    data, key = hs.client_request(uri, subprotocols=offered)
    request = hs.parse_request(data)
    assert request.target == hs.parse_uri(uri).resource
    response, chosen = hs.server_handshake(request, subprotocols=supported)
    expected = next((name for name in supported if name in offered), None)
    assert chosen == expected
    assert hs.check_response(response, key, offered) == expected


@given(st.binary(max_size=300))
def test_parse_request_never_crashes(data: bytes) -> None:
    head = data + b"\r\n\r\n"
    try:
        request = hs.parse_request(head)
    except HandshakeError as err:
        assert err.status in (400, 431)
        assert err.response().startswith(b"HTTP/1.1 4")
        return
    try:
        hs.server_handshake(request)
    except HandshakeError as err:
        assert err.status is not None and 400 <= err.status < 600


@given(st.binary(max_size=300))
def test_check_response_never_crashes(data: bytes) -> None:
    with pytest.raises(HandshakeError):
        hs.check_response(b"HTTP/1.1 101 Switching Protocols\r\n" + data + b"\r\n\r\n", KEY, ["a"])
