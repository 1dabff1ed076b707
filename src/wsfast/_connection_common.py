"""What both connection implementations share, written once in pure Python.

The opening handshake runs once per connection and the error paths once per
failure, so both twins (_connection_py.py, _connection_c.pyx) call these
helpers instead of repeating them; the per-message path stays in each twin.
docs/connection.md describes the behaviour.
"""

from __future__ import annotations

import http
from typing import TYPE_CHECKING, Collection, Iterable, Optional, Sequence, Tuple, Union

from . import _args, handshake
from ._errors import ConnectionClosed, ProtocolError
from ._permessage_deflate import DeflateOptions, PerMessageDeflate

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "check_subprotocols",
    "check_origins",
    "DEFAULT_DEFLATE",
    "accept_deflate",
    "check_deflate",
    "check_headers",
    "client_request",
    "read_request",
    "accept_response",
    "reject_response",
    "check_response",
    "closed_error",
    "not_open_error",
    "peer_close_why",
    "error_why",
]

DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
# permessage-deflate is offered (client) and accepted (server) by default;
# DeflateOptions are immutable, so one object serves every connection.
DEFAULT_DEFLATE = DeflateOptions()
EXTENSIONS = "Sec-WebSocket-Extensions"

HeaderPairs = Tuple[Tuple[str, str], ...]


# ----------------------------------------------------------- constructor args


def check_subprotocols(value: Iterable[str]) -> Tuple[str, ...]:
    """Subprotocol names as given to a connection: an iterable of tokens."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"subprotocols is a sequence of str, not a {type(value).__name__}")
    names = tuple(value)  # TypeError for a non-iterable
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"a subprotocol is a str, not {type(name).__name__}")
        if not handshake._TOKEN.fullmatch(name):
            raise ValueError(f"invalid subprotocol {name!r}: an HTTP token is required (RFC 6455 §4.1)")
    return names


def check_origins(value: Optional[Collection[Optional[str]]]) -> Optional[frozenset[Optional[str]]]:
    """Allowed Origin values: None (any), or str items; a None item admits requests without Origin."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise TypeError(f"origins is a collection of str, not a {type(value).__name__}")
    origins = frozenset(value)  # TypeError for a non-iterable or unhashable items
    for origin in origins:
        if origin is not None and not isinstance(origin, str):
            raise TypeError(f"an origin is a str or None, not {type(origin).__name__}")
    return origins


def check_deflate(value: Optional[DeflateOptions]) -> Optional[DeflateOptions]:
    if value is not None and not isinstance(value, DeflateOptions):
        raise TypeError(f"deflate is a wsfast.DeflateOptions or None, not {type(value).__name__}")
    return value


def check_headers(value: Iterable[Tuple[str, str]]) -> HeaderPairs:
    """Extra header fields: (name, value) pairs of str; their syntax is checked where they are written."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"headers is a sequence of (name, value) pairs, not a {type(value).__name__}")
    pairs = []
    for pair in value:
        try:
            name, field = pair
        except (TypeError, ValueError):
            raise TypeError(f"a header is a (name, value) pair, not {pair!r}") from None
        if not isinstance(name, str) or not isinstance(field, str):
            raise TypeError(f"a header's name and value are str, got {pair!r}")
        pairs.append((name, field))
    return tuple(pairs)


# ------------------------------------------------------------------- server


def read_request(
    head: bytes, origins: Optional[Collection[Optional[str]]]
) -> Tuple[handshake.Request, str, Sequence[str]]:
    """(request, its key, the subprotocols it offers) from a whole request head.

    Raises handshake.HandshakeError carrying the status to answer with.
    """
    request = handshake.parse_request(head)
    key = handshake.validate_request(request)
    # Checked here rather than by validate_request, which knows no None item
    # (a request without Origin: what clients other than browsers send).
    if origins is not None:
        origin = request.headers.get("Origin")
        if origin not in origins:
            raise handshake.HandshakeError(f"origin {origin!r} not allowed", 403)
    return request, key, handshake.parse_subprotocols(request.headers)


def accept_deflate(
    options: Optional[DeflateOptions], request: handshake.Request
) -> Tuple[Optional[str], Optional[PerMessageDeflate]]:
    """(the Sec-WebSocket-Extensions answer, the agreed parameters), or (None, None).

    Computed when the request arrives, so that frames right behind it are
    inflated with the agreed parameters.  Never raises for what the client
    offered: an offer that cannot be honoured is declined (RFC 7692 §5).
    """
    if options is None:
        return None, None
    answer = options.accept(request.headers.get_all(EXTENSIONS))
    if answer is None:
        return None, None
    return answer


def accept_response(
    key: str,
    offered: Sequence[str],
    supported: Sequence[str],
    subprotocol: Optional[str],
    headers: Iterable[Tuple[str, str]],
    extensions: Optional[str] = None,
) -> Tuple[bytes, Optional[str]]:
    """(the 101 response, the subprotocol it names) for ``accept()``.

    ``subprotocol=None`` takes the first of ``supported`` that the client
    offered; a name the client did not offer is a ValueError (RFC 6455 §4.2.2:
    the server picks one of the client's).  ``extensions`` is the
    permessage-deflate answer agreed when the request came; the caller may
    not name extensions itself (the connection implements what it answers).
    """
    if subprotocol is None:
        chosen = handshake.negotiate_subprotocol(offered, supported)
    elif not isinstance(subprotocol, str):
        raise TypeError(f"subprotocol is a str or None, not {type(subprotocol).__name__}")
    elif subprotocol not in offered:
        raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client (offered: {list(offered)})")
    else:
        chosen = subprotocol
    fields = check_headers(headers)
    if any(name.lower() == EXTENSIONS.lower() for name, _ in fields):
        raise ValueError(f"header {EXTENSIONS} is negotiated by the connection itself")
    if extensions is not None:
        fields = ((EXTENSIONS, extensions),) + fields
    return handshake.build_response(key, chosen, fields), chosen


def reject_response(status: int, headers: Iterable[Tuple[str, str]], body: Buffer) -> bytes:
    """The HTTP answer of ``reject()``: a final status (200-599 but 101) with a body.

    ``Content-Length`` and ``Connection: close`` are added unless given: the
    connection ends after the answer.
    """
    code = _args.integer(status)  # TypeError for non-integers
    if not 200 <= code <= 599:
        raise ValueError(f"a rejection's status is 200 to 599, got {code}")
    fields = handshake._check_fields(check_headers(headers), frozenset())
    if isinstance(body, str):
        raise TypeError("body is bytes-like, not str")
    data = memoryview(body).tobytes()  # TypeError for a non-buffer
    names = {name.lower() for name, _ in fields}
    if "content-length" not in names:
        fields.append(("Content-Length", str(len(data))))
    if "connection" not in names:
        fields.append(("Connection", "close"))
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = "Error"
    return handshake._head(f"HTTP/1.1 {code} {phrase}", fields) + data


# ------------------------------------------------------------------- client


def client_request(
    uri: Union[str, handshake.WebSocketURI],
    subprotocols: Sequence[str],
    headers: HeaderPairs,
    deflate: Optional[DeflateOptions],
) -> Tuple[bytes, str]:
    """The upgrade request and its key; ``deflate``: the options to offer, if any."""
    if any(name.lower() == EXTENSIONS.lower() for name, _ in headers):
        raise ValueError(f"header {EXTENSIONS} is negotiated by the connection itself")
    if deflate is not None:
        headers = headers + ((EXTENSIONS, deflate.offer()),)
    return handshake.client_request(uri, subprotocols=subprotocols, headers=headers)


def check_response(
    head: bytes, key: str, subprotocols: Sequence[str], deflate: Optional[DeflateOptions]
) -> Tuple[
    Optional[handshake.Response], Optional[str], Optional[PerMessageDeflate], Optional[handshake.HandshakeError]
]:
    """(response or None, subprotocol, agreed deflate, error or None) for the server's answer head.

    ``deflate``: the options offered, if any.  Never raises for what the
    server sent: a refusal or a malformed answer comes back as the error
    (the response too, when it could be parsed).
    """
    try:
        response = handshake.parse_response(head)
    except handshake.HandshakeError as exc:
        return None, None, None, exc
    try:
        if deflate is None:
            return response, handshake.check_response(response, key, subprotocols), None, None
        chosen, agreed = handshake.check_response(response, key, subprotocols, deflate=deflate)
        return response, chosen, agreed, None
    except handshake.HandshakeError as exc:
        return response, None, None, exc


# ------------------------------------------------------------ closing, errors


def closed_error(action: str, why: str) -> ConnectionClosed:
    return ConnectionClosed(f"cannot {action}: the connection is closing or closed ({why})")


def not_open_error(action: str, role: str) -> RuntimeError:
    if role == "server":
        return RuntimeError(f"cannot {action} before accept(): the opening handshake is not complete")
    return RuntimeError(f"cannot {action} before the server's answer: the opening handshake is not complete")


def peer_close_why(code: Optional[int]) -> str:
    return f"the peer sent a Close frame ({code if code is not None else 'no status code'})"


def error_why(error: Union[ProtocolError, handshake.HandshakeError]) -> str:
    code = getattr(error, "close_code", 1006)
    return f"failed with {code}: {error}"
