"""The opening handshake of RFC 6455 §4, sans-I/O, for servers and clients.

Servers: find the end of the request head with :func:`head_length`, parse it
with :func:`parse_request`, then :func:`server_handshake` validates it and gives
the ``101 Switching Protocols`` bytes and the chosen subprotocol.  A
:class:`HandshakeError` carries the HTTP status to answer with, and
:meth:`HandshakeError.response` builds that answer.

Clients: :func:`client_request` builds the upgrade request for a ``ws://`` or
``wss://`` URI (with a fresh random key); :func:`check_response` checks the
server's answer against that key and the subprotocols offered.

Everything here takes and returns bytes: no sockets.  See docs/handshake.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from typing import (
    TYPE_CHECKING,
    Collection,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
    overload,
)
from urllib.parse import quote, urlsplit

from . import _args
from ._buffers import as_bytes

if TYPE_CHECKING:
    from ._permessage_deflate import DeflateOptions, PerMessageDeflate

__all__ = [
    "GUID",
    "MAX_HEAD_SIZE",
    "MAX_HEADERS",
    "HandshakeError",
    "Headers",
    "Request",
    "Response",
    "WebSocketURI",
    "accept_key",
    "head_length",
    "parse_request",
    "parse_response",
    "parse_uri",
    "parse_subprotocols",
    "negotiate_subprotocol",
    "validate_request",
    "build_response",
    "server_handshake",
    "client_request",
    "check_response",
]

#: The key suffix of RFC 6455 §1.3.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: Default limit on a request or response head, terminating blank line included.
MAX_HEAD_SIZE = 16 * 1024
#: Default limit on the number of header fields in a head.
MAX_HEADERS = 128

HeaderPairs = Iterable[Tuple[str, str]]

# RFC 7230 §3.2.6 token, §3.2 field-value (VCHAR, obs-text, SP, HTAB inside).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_REQUEST_TARGET = re.compile(r"/[\x21-\x7e]*")
_HTTP_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")
_STATUS_LINE = re.compile(r"(HTTP/[0-9]\.[0-9]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?")

# Headers that client_request and build_response write themselves; a caller
# adding them again would make a request with two answers to one question.
_MANAGED_REQUEST = frozenset(
    ("host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol")
)
_MANAGED_RESPONSE = frozenset(("upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol"))


class HandshakeError(ValueError):
    """The handshake cannot go on.

    ``status`` is the HTTP status a server answers with (400 unless a rule
    says otherwise) and ``headers`` the header fields that answer must carry
    (``Sec-WebSocket-Version: 13`` with a 426, for one).  For failures found on
    the client side (a bad URI, a bad answer from the server) ``status`` is
    None: there is nobody to answer.
    """

    def __init__(
        self, message: str, status: Optional[int] = 400, headers: Sequence[Tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = tuple(headers)

    def response(self) -> bytes:
        """The HTTP answer for this rejection; the connection closes after it."""
        if self.status is None:
            raise ValueError("a client-side handshake failure has no HTTP answer")
        body = (str(self) + "\n").encode("utf-8", "replace")
        fields = list(self.headers) + [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
        return _head(f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Error')}", fields) + body


_REASONS = {
    101: "Switching Protocols",
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    505: "HTTP Version Not Supported",
}


class Headers:
    """Header fields in order, looked up without regard to case.

    Names and values are ``str`` decoded as ISO-8859-1, so every byte of the
    head maps to one character and nothing is lost.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: HeaderPairs = ()) -> None:
        self._fields: Tuple[Tuple[str, str], ...] = tuple(fields)

    def get(self, name: str) -> Optional[str]:
        """The value of ``name``; None when absent; HandshakeError when repeated."""
        values = self.get_all(name)
        if not values:
            return None
        if len(values) > 1:
            raise HandshakeError(f"header {name} appears {len(values)} times")
        return values[0]

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for n, v in self._fields if n.lower() == key]

    def tokens(self, name: str) -> list[str]:
        """The comma-separated list in every ``name`` field, empty items dropped (RFC 7230 §7)."""
        out: list[str] = []
        for value in self.get_all(name):
            out += [item.strip() for item in value.split(",") if item.strip()]
        return out

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[Tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._fields == other._fields

    def __hash__(self) -> int:
        return hash(self._fields)

    def __repr__(self) -> str:
        return f"Headers({list(self._fields)!r})"


class Request(NamedTuple):
    """A parsed request head."""

    method: str
    target: str
    version: str
    headers: Headers


class Response(NamedTuple):
    """A parsed response head."""

    version: str
    status: int
    reason: str
    headers: Headers


class WebSocketURI(NamedTuple):
    """A ``ws://`` or ``wss://`` URI taken apart (RFC 6455 §3)."""

    secure: bool
    host: str
    port: int
    resource: str

    @property
    def host_header(self) -> str:
        """The Host field: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


# ----------------------------------------------------------- argument types
# The rules of the codec's arguments (docs/api.md) hold here too: a str is
# not a list of names, a size is an int >= 0, bytes come from any buffer.


def _names(value: object, what: str) -> List[str]:
    """A list of str from a collection of them; TypeError for a lone str."""
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a collection of str, not a single {type(value).__name__}")
    names: List[str] = list(value)  # type: ignore[call-overload]
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} must hold str, not {type(name).__name__}")
    return names


def _fields(value: object, what: str) -> List[Tuple[str, str]]:
    """Header fields: (name, value) pairs of str."""
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a collection of (name, value) pairs, not a single {type(value).__name__}")
    fields: List[Tuple[str, str]] = []
    for field in value:  # type: ignore[attr-defined]
        if not (isinstance(field, (tuple, list)) and len(field) == 2 and all(isinstance(x, str) for x in field)):
            raise TypeError(f"{what} must hold (name, value) pairs of str, not {field!r:.40}")
        fields.append((field[0], field[1]))
    return fields


def _size(value: object, what: str) -> int:
    size = _args.integer(value)
    if size < 0:
        raise ValueError(f"{what} must be >= 0, got {size}")
    return size


def _request(value: object) -> Request:
    if not isinstance(value, Request):
        raise TypeError(f"request must be a handshake.Request (see parse_request), not {type(value).__name__}")
    return value


# ---------------------------------------------------------------- accept key


def accept_key(key: Union[str, bytes]) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2, step 5.4)."""
    raw = key.encode("ascii") if isinstance(key, str) else as_bytes(_args.view(key, "key"))
    digest = hashlib.sha1(raw + GUID.encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def _valid_key(key: str) -> bool:
    # §4.1: base64 of exactly 16 bytes, hence 24 characters ending in "==".
    if len(key) != 24:
        return False
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


# --------------------------------------------------------------- HTTP heads


def head_length(buffer: Union[bytes, bytearray, memoryview], *, max_size: int = MAX_HEAD_SIZE) -> Optional[int]:
    """Length of the head at the start of ``buffer``, blank line included.

    None while the blank line has not arrived; HandshakeError (431) once
    ``max_size`` bytes came without it, so a peer cannot make the caller
    buffer without end.  Bytes past the head are the peer's first frames.
    """
    max_size = _size(max_size, "max_size")
    with _args.view(buffer, "buffer") as data:
        size = data.nbytes
        # Only the first max_size bytes are looked at (and copied).
        view = as_bytes(data[:max_size] if data.ndim == 1 and data.itemsize == 1 else data)[:max_size]
    end = view.find(b"\r\n\r\n")
    if end >= 0:
        return end + 4
    if size >= max_size:
        raise HandshakeError(f"head exceeds {max_size} bytes", 431)
    return None


def _split_head(
    head: Union[bytes, bytearray, memoryview], max_size: int, max_headers: int, status: Optional[int]
) -> tuple[str, Headers]:
    """(start line, headers) of one complete head, checked against RFC 7230 §3."""
    data = as_bytes(_args.view(head, "head"))
    max_size = _size(max_size, "max_size")
    max_headers = _size(max_headers, "max_headers")
    if len(data) > max_size:
        raise HandshakeError(f"head exceeds {max_size} bytes", 431 if status else None)
    if not data.endswith(b"\r\n\r\n"):
        raise HandshakeError("head does not end with an empty line", status)
    lines = data[:-4].decode("latin-1").split("\r\n")
    # A bare CR or LF is how request smuggling starts: refuse, never guess.
    if any("\r" in line or "\n" in line for line in lines):
        raise HandshakeError("bare CR or LF in head", status)
    start, field_lines = lines[0], lines[1:]
    if len(field_lines) > max_headers:
        raise HandshakeError(f"more than {max_headers} header fields", 431 if status else None)
    fields = []
    for line in field_lines:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            # Also catches obsolete line folding (a line starting with SP/HTAB)
            # and whitespace before the colon (RFC 7230 §3.2.4).
            raise HandshakeError(f"malformed header line {line[:64]!r}", status)
        value = value.strip(" \t")
        if not _FIELD_VALUE.fullmatch(value):
            raise HandshakeError(f"control character in header {name}", status)
        fields.append((name, value))
    return start, Headers(fields)


def parse_request(
    head: Union[bytes, bytearray, memoryview], *, max_size: int = MAX_HEAD_SIZE, max_headers: int = MAX_HEADERS
) -> Request:
    """Parse a request head (request line, fields, blank line); 400 or 431 on error.

    Only the origin form of the request target (``/path?query``) is accepted:
    it is the form RFC 6455 §4.1 clients send.
    """
    start, headers = _split_head(head, max_size, max_headers, 400)
    parts = start.split(" ")
    if len(parts) != 3:
        raise HandshakeError(f"malformed request line {start[:64]!r}")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        raise HandshakeError(f"malformed method {method[:32]!r}")
    if not _REQUEST_TARGET.fullmatch(target):
        raise HandshakeError(f"request target must be a path: {target[:64]!r}")
    if not _HTTP_VERSION.fullmatch(version):
        raise HandshakeError(f"malformed HTTP version {version[:32]!r}")
    return Request(method, target, version, headers)


def parse_response(
    head: Union[bytes, bytearray, memoryview], *, max_size: int = MAX_HEAD_SIZE, max_headers: int = MAX_HEADERS
) -> Response:
    """Parse a response head; HandshakeError (status None) when malformed."""
    start, headers = _split_head(head, max_size, max_headers, None)
    match = _STATUS_LINE.fullmatch(start)
    if match is None:
        raise HandshakeError(f"malformed status line {start[:64]!r}", None)
    return Response(match.group(1), int(match.group(2)), match.group(3) or "", headers)


def _check_fields(fields: HeaderPairs, managed: frozenset[str]) -> list[Tuple[str, str]]:
    out = []
    for name, value in fields:
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if not _FIELD_VALUE.fullmatch(value) or value != value.strip(" \t"):
            raise ValueError(f"invalid value for header {name}: {value!r}")
        if name.lower() in managed:
            raise ValueError(f"header {name} is set by the handshake itself")
        out.append((name, value))
    return out


def _head(start: str, fields: HeaderPairs) -> bytes:
    lines = [start] + [f"{name}: {value}" for name, value in fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# ------------------------------------------------------------------- server


def parse_subprotocols(headers: Headers) -> list[str]:
    """The subprotocols a client offers, in its order (RFC 6455 §4.1, §11.3.4)."""
    offered = headers.tokens("Sec-WebSocket-Protocol")
    for name in offered:
        if not _TOKEN.fullmatch(name):
            raise HandshakeError(f"invalid subprotocol {name[:32]!r}")
    return offered


def negotiate_subprotocol(offered: Sequence[str], supported: Sequence[str]) -> Optional[str]:
    """The first of ``supported`` (the server's order of preference) that was offered.

    The server decides: it knows which of its protocols it would rather
    speak; RFC 6455 §4.2.2 leaves the choice to it.  Names compare exactly
    (they are case-sensitive).  None when nothing matches: the connection
    goes on without a subprotocol, and the client decides whether to stay.
    """
    wanted = set(_names(offered, "offered"))
    for name in _names(supported, "supported"):
        if name in wanted:
            return name
    return None


def validate_request(request: Request, *, origins: Optional[Collection[str]] = None) -> str:
    """Check an upgrade request against RFC 6455 §4.2.1; return its key.

    ``origins``: when given, the Origin field must be one of them (403
    otherwise, as §4.2.2 suggests); None accepts any or no Origin.
    """
    if _request(request).method != "GET":
        raise HandshakeError(f"method must be GET, not {request.method}", 405, [("Allow", "GET")])
    version = _HTTP_VERSION.fullmatch(request.version)
    if version is None or version.group(1) != "1" or version.group(2) == "0":
        raise HandshakeError(f"HTTP/1.1 is required, not {request.version}", 505)
    headers = request.headers
    if not headers.get("Host"):
        raise HandshakeError("missing Host header")
    upgrade_needed = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
    if "websocket" not in (t.lower() for t in headers.tokens("Upgrade")):
        raise HandshakeError("Upgrade header must name websocket", 426, upgrade_needed)
    if "upgrade" not in (t.lower() for t in headers.tokens("Connection")):
        raise HandshakeError("Connection header must contain Upgrade", 426, upgrade_needed)
    versions = headers.tokens("Sec-WebSocket-Version")
    if versions != ["13"]:
        raise HandshakeError(
            f"unsupported Sec-WebSocket-Version {', '.join(versions) or '(missing)'}",
            426,
            [("Sec-WebSocket-Version", "13")],
        )
    key = headers.get("Sec-WebSocket-Key")
    if key is None or not _valid_key(key):
        raise HandshakeError("Sec-WebSocket-Key must be base64 of 16 bytes")
    # Bytes after the head are read as frames, so a body would be misread.
    if "Transfer-Encoding" in headers or headers.get("Content-Length") not in (None, "0"):
        raise HandshakeError("an upgrade request has no body")
    if origins is not None and headers.get("Origin") not in _names(origins, "origins"):
        raise HandshakeError(f"origin {headers.get('Origin')!r} not allowed", 403)
    return key


def build_response(key: str, subprotocol: Optional[str] = None, headers: HeaderPairs = ()) -> bytes:
    """The ``101 Switching Protocols`` answer to a request with ``key``."""
    fields = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if subprotocol is not None:
        if not isinstance(subprotocol, str):
            raise TypeError(f"subprotocol must be a str or None, not {type(subprotocol).__name__}")
        if not _TOKEN.fullmatch(subprotocol):
            raise ValueError(f"invalid subprotocol {subprotocol!r}")
        fields.append(("Sec-WebSocket-Protocol", subprotocol))
    fields += _check_fields(_fields(headers, "headers"), _MANAGED_RESPONSE)
    return _head("HTTP/1.1 101 Switching Protocols", fields)


@overload
def server_handshake(
    request: Request,
    *,
    subprotocols: Sequence[str] = (),
    origins: Optional[Collection[str]] = None,
    headers: HeaderPairs = (),
    deflate: None = None,
) -> tuple[bytes, Optional[str]]: ...


@overload
def server_handshake(
    request: Request,
    *,
    subprotocols: Sequence[str] = (),
    origins: Optional[Collection[str]] = None,
    headers: HeaderPairs = (),
    deflate: DeflateOptions,
) -> tuple[bytes, Optional[str], Optional[PerMessageDeflate]]: ...


def server_handshake(
    request: Request,
    *,
    subprotocols: Sequence[str] = (),
    origins: Optional[Collection[str]] = None,
    headers: HeaderPairs = (),
    deflate: Optional[DeflateOptions] = None,
) -> Union[tuple[bytes, Optional[str]], tuple[bytes, Optional[str], Optional[PerMessageDeflate]]]:
    """Validate ``request`` and answer it: (the 101 response bytes, chosen subprotocol).

    ``subprotocols`` are those the server speaks, most preferred first.
    Without ``deflate``, extensions the client offers are declined by not
    naming them.  With ``deflate`` (a ``wsfast.DeflateOptions``), the
    client's permessage-deflate offers are answered by ``deflate.accept()``
    and the result is ``(response bytes, subprotocol, agreed
    PerMessageDeflate or None)``; ``headers`` may then not carry
    ``Sec-WebSocket-Extensions`` itself.  Raises HandshakeError with the
    status to answer.
    """
    key = validate_request(request, origins=origins)
    chosen = negotiate_subprotocol(parse_subprotocols(request.headers), _names(subprotocols, "subprotocols"))
    if deflate is None:
        return build_response(key, chosen, headers), chosen
    extra = list(headers)
    if any(name.lower() == "sec-websocket-extensions" for name, _ in extra):
        raise ValueError("header Sec-WebSocket-Extensions is set by the handshake itself when deflate is given")
    answer = deflate.accept(request.headers.get_all("Sec-WebSocket-Extensions"))
    if answer is None:
        return build_response(key, chosen, extra), chosen, None
    value, agreed = answer
    return build_response(key, chosen, [("Sec-WebSocket-Extensions", value)] + extra), chosen, agreed


# ------------------------------------------------------------------- client


def parse_uri(uri: str) -> WebSocketURI:
    """Take a ``ws://`` or ``wss://`` URI apart (RFC 6455 §3); ValueError if it is not one."""
    if not isinstance(uri, str):
        raise TypeError(f"uri must be a str, not {type(uri).__name__}")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise HandshakeError(f"invalid URI {uri!r}: {exc}", None) from None
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise HandshakeError(f"URI scheme must be ws or wss: {uri!r}", None)
    if parts.fragment or uri.endswith("#"):
        raise HandshakeError(f"a WebSocket URI has no fragment: {uri!r}", None)
    if parts.username is not None or parts.password is not None:
        raise HandshakeError("credentials in the URI are not supported; send an Authorization header", None)
    host = parts.hostname
    if not host:
        raise HandshakeError(f"URI has no host: {uri!r}", None)
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise HandshakeError(f"invalid host name {host!r}", None) from None
    secure = scheme == "wss"
    if port is None:
        port = 443 if secure else 80
    # The request line cannot carry spaces or non-ASCII: percent-encode them,
    # leaving existing escapes and the reserved characters alone.
    resource = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        resource += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    return WebSocketURI(secure, host, port, resource)


def client_request(
    uri: Union[str, WebSocketURI],
    *,
    subprotocols: Sequence[str] = (),
    headers: HeaderPairs = (),
) -> tuple[bytes, str]:
    """The upgrade request for ``uri``: (request bytes, its Sec-WebSocket-Key).

    The key is 16 fresh bytes from :mod:`secrets` (RFC 6455 §4.1 wants them
    unpredictable).  ``subprotocols`` are offered in the order given;
    ``headers`` are added as they are (Origin, Authorization, ...) but may not
    repeat the fields the handshake writes.
    """
    target = uri if isinstance(uri, WebSocketURI) else parse_uri(uri)
    key = base64.b64encode(secrets.token_bytes(16)).decode("ascii")
    fields = [
        ("Host", target.host_header),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    subprotocols = _names(subprotocols, "subprotocols")
    if subprotocols:
        for name in subprotocols:
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"invalid subprotocol {name!r}")
        fields.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    fields += _check_fields(_fields(headers, "headers"), _MANAGED_REQUEST)
    return _head(f"GET {target.resource} HTTP/1.1", fields), key


@overload
def check_response(
    response: Union[Response, bytes, bytearray, memoryview], key: str, subprotocols: Sequence[str] = (),
    *, deflate: None = None,
) -> Optional[str]: ...


@overload
def check_response(
    response: Union[Response, bytes, bytearray, memoryview], key: str, subprotocols: Sequence[str] = (),
    *, deflate: DeflateOptions,
) -> tuple[Optional[str], Optional[PerMessageDeflate]]: ...


def check_response(
    response: Union[Response, bytes, bytearray, memoryview], key: str, subprotocols: Sequence[str] = (),
    *, deflate: Optional[DeflateOptions] = None,
) -> Union[Optional[str], tuple[Optional[str], Optional[PerMessageDeflate]]]:
    """Check the server's answer (RFC 6455 §4.1, the client's checks); return the subprotocol.

    ``key`` is the one :func:`client_request` returned, ``subprotocols`` those
    offered.  Raises HandshakeError (status None) on any failure, including a
    non-101 status (the parsed response is then in the message only).

    Without ``deflate``, any extension in the answer fails (none was
    offered).  With ``deflate`` (the ``wsfast.DeflateOptions`` whose
    ``offer()`` the request carried), the answer's extensions are checked by
    ``deflate.finalize()`` and the result is ``(subprotocol, agreed
    PerMessageDeflate or None)``.
    """
    expected = accept_key(key)
    offered = _names(subprotocols, "subprotocols")
    resp = response if isinstance(response, Response) else parse_response(response)
    if resp.status != 101:
        raise HandshakeError(f"server answered {resp.status} {resp.reason}".rstrip(), None)
    headers = resp.headers
    try:
        if "websocket" not in (t.lower() for t in headers.tokens("Upgrade")):
            raise HandshakeError("Upgrade header of the response must be websocket", None)
        if "upgrade" not in (t.lower() for t in headers.tokens("Connection")):
            raise HandshakeError("Connection header of the response must contain Upgrade", None)
        if headers.get("Sec-WebSocket-Accept") != expected:
            raise HandshakeError("Sec-WebSocket-Accept does not match the key", None)
        if deflate is None and headers.tokens("Sec-WebSocket-Extensions"):
            raise HandshakeError("server named an extension that was not offered", None)
        chosen = headers.get("Sec-WebSocket-Protocol")
    except HandshakeError as exc:
        # Headers.get's "appears twice" error carries a server's 400.
        if exc.status is None:
            raise
        raise HandshakeError(str(exc), None) from None
    if chosen is not None and chosen not in offered:
        raise HandshakeError(f"server chose subprotocol {chosen!r}, which was not offered", None)
    if deflate is None:
        return chosen
    return chosen, deflate.finalize(headers.get_all("Sec-WebSocket-Extensions"))
