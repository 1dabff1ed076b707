"""One WebSocket connection, sans-I/O (RFC 6455 §4-§7): pure Python.

This is the specification of ``ServerConnection`` and ``ClientConnection``;
the compiled twin (_connection_c.pyx) behaves the same, byte for byte.  The
caller moves bytes: ``receive_data()`` takes what the socket read and returns
events, ``data_to_send()`` gives what to write.  Everything the protocol
requires without the caller's help happens here: Pings are answered, a peer's
Close is echoed, a protocol error ends the connection with the error's close
code.  docs/connection.md describes states, events and ordering, with reasons.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Collection, Iterable, List, NoReturn, Optional, Sequence, Tuple, Union, cast

from . import _args, handshake
from ._buffers import as_bytes
from ._connection_common import (
    DEFAULT_DEFLATE,
    DEFAULT_MAX_MESSAGE_SIZE,
    accept_deflate,
    accept_response,
    check_deflate,
    check_headers,
    check_origins,
    check_response,
    check_subprotocols,
    client_request,
    closed_error,
    error_why,
    not_open_error,
    peer_close_why,
    read_request,
    reject_response,
)
from ._decoder_py import Decoder
from ._deflate_py import Deflater
from ._errors import ProtocolError
from ._frames_py import encode_close, encode_frame
from ._types import Close, ConnectionState, Message, Opcode, Ping, Pong
from ._utf8_py import validate_utf8

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from ._permessage_deflate import DeflateOptions, PerMessageDeflate

__all__ = ["ServerConnection", "ClientConnection"]

Event = Union[Message, Ping, Pong, Close, handshake.Request, handshake.Response]

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CLOSE = Opcode.CLOSE
_PING = Opcode.PING
_PONG = Opcode.PONG
_CONNECTING = ConnectionState.CONNECTING
_OPEN = ConnectionState.OPEN
_CLOSING = ConnectionState.CLOSING
_CLOSED = ConnectionState.CLOSED


class _Connection:
    """What servers and clients share once the opening handshake is done.

    The state is a handful of facts, each set once; ``state`` is derived from
    them.  ``_out`` is what ``data_to_send()`` hands out next; ``_pending`` the
    Close frame the connection answers with on its own (an echo, or a failure
    Close), appended behind whatever the caller sends in reply to the events
    of the same ``receive_data()`` call.
    """

    __slots__ = (
        "_client",
        "_mask",
        "_decoder",
        "_head",
        "_out",
        "_pending",
        "_open",
        "_hold",
        "_receiving",
        "_close_sent",
        "_close_rcvd",
        "_done",
        "_why",
        "_error",
        "_close_code",
        "_close_reason",
        "_subprotocol",
        "_deflate",
        "_deflate_options",
        "_deflater",
        "_limits",
    )

    def _reset(
        self,
        client: bool,
        decoder: Decoder,
        limits: Tuple[Optional[int], Optional[int], bool],
        deflate: Optional[DeflateOptions],
    ) -> None:
        self._client = client
        self._mask: Optional[bool] = True if client else None
        # Typed loosely: its events are a subset of this connection's.
        self._decoder: Any = decoder
        # Bytes of the opening handshake's head so far; None once past it.
        self._head: Optional[bytearray] = bytearray()
        self._out: List[bytes] = []
        self._pending: Optional[bytes] = None
        self._open = False  # the opening handshake succeeded
        self._hold = False  # a server holds its output until accept() or reject()
        self._receiving = True  # receive_data() still reads the peer's bytes
        self._close_sent = False  # our Close frame is in the output
        self._close_rcvd = False  # the peer's Close frame was decoded
        self._done = False  # nothing more will happen but handing out the output
        self._why = ""  # what started the closing, for ConnectionClosed's message
        self._error: Optional[Exception] = None
        self._close_code: Optional[int] = None
        self._close_reason: Optional[str] = None
        self._subprotocol: Optional[str] = None
        self._limits = limits  # the Decoder's, to make it again with the agreed deflate
        self._deflate_options = deflate
        self._deflate: Optional[PerMessageDeflate] = None
        self._deflater: Optional[Deflater] = None  # made at the first message sent: idle costs nothing

    # ------------------------------------------------------------ state

    @property
    def state(self) -> ConnectionState:
        """CONNECTING, OPEN, CLOSING, or CLOSED once over and all output handed out."""
        if self.closed:
            return _CLOSED
        if not self._open:
            return _CONNECTING
        if self._close_sent or self._close_rcvd or self._done or self._pending is not None:
            return _CLOSING
        return _OPEN

    @property
    def closed(self) -> bool:
        """True once the socket may be closed: the connection is over and data_to_send() is empty."""
        return self._done and not self._out and self._pending is None and not self._hold

    @property
    def error(self) -> Optional[Exception]:
        """The ProtocolError (or handshake.HandshakeError) that ended the connection, if any."""
        return self._error

    @property
    def close_code(self) -> Optional[int]:
        """The peer's close code (1005 for a Close without one), a failure's code, or 1006 at EOF."""
        return self._close_code

    @property
    def close_reason(self) -> Optional[str]:
        return self._close_reason

    @property
    def subprotocol(self) -> Optional[str]:
        return self._subprotocol

    @property
    def deflate(self) -> Optional[PerMessageDeflate]:
        """The agreed permessage-deflate parameters, or None."""
        return self._deflate

    def _agreed(self, agreed: PerMessageDeflate) -> None:
        """permessage-deflate was agreed: the peer's messages are inflated from now on."""
        max_message_size, max_frame_size, decode_text = self._limits
        self._deflate = agreed
        self._decoder = Decoder(
            client=self._client,
            max_message_size=max_message_size,
            max_frame_size=max_frame_size,
            decode_text=decode_text,
            deflate=agreed,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.state.name}>"

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(f"{type(self).__name__} objects cannot be copied or pickled: they hold a live stream's state")

    # ---------------------------------------------------------- receive

    def receive_data(self, data: Buffer) -> List[Event]:
        """The events that ``data`` completes; ``b""`` means the peer closed the TCP stream.

        Never raises for anything the peer sent.
        """
        if type(data) is not bytes:
            data = as_bytes(data)  # TypeError for a non-buffer
        if not self._receiving:
            return []
        if not data:
            return self._eof()
        if self._head is not None:
            return self._handshake(data)
        try:
            events: List[Event] = self._decoder.feed(data)
        except ProtocolError as exc:
            return self._failed(exc)
        for event in events:
            if type(event) is not Message:
                self._control(event)
        return events

    def _control(self, event: Event) -> None:
        """React to a control event on the peer's behalf."""
        if isinstance(event, Ping):
            # Once a Close is decided nothing but it may follow (§5.5.1).
            if not self._close_sent and self._pending is None:
                pong = encode_frame(_PONG, event.payload, mask=self._mask)
                if self._hold:
                    # Held output is out of the I/O layer's sight, so a client
                    # pinging before accept() must not grow it: only the latest
                    # Pong is kept (RFC 6455 §5.5.3 allows it).
                    self._out = [pong]
                else:
                    self._out.append(pong)
        elif isinstance(event, Close):
            code = event.code
            self._close_rcvd = True
            self._close_code = 1005 if code is None else code
            self._close_reason = event.reason
            if self._close_sent:
                # Our Close is answered: the closing handshake is complete.  A
                # client waits for the server to close TCP (§7.1.1).
                if not self._client:
                    self._end()
            else:
                self._why = self._why or peer_close_why(code)
                payload = b"" if code is None else encode_close(code)
                self._pending = encode_frame(_CLOSE, payload, mask=self._mask)

    def _failed(self, exc: ProtocolError) -> List[Event]:
        """The peer broke the protocol: keep the events before it, end with a Close event."""
        events: List[Event] = list(exc.events)  # type: ignore[arg-type]  # the Decoder's events
        for event in events:
            if type(event) is not Message:
                self._control(event)
        code = exc.close_code
        reason = str(exc)
        self._error = exc
        self._close_code = code
        self._close_reason = reason
        self._why = error_why(exc)
        if not self._close_sent:
            # The code alone: the reason is for the local side (both twins'
            # messages may differ in detail, their bytes on the wire may not).
            self._pending = encode_frame(_CLOSE, encode_close(code), mask=self._mask)
        self._end()
        events.append(Close(code, reason))
        return events

    def _eof(self) -> List[Event]:
        self._end()
        self._why = self._why or "the peer closed the TCP connection"
        if self._hold:
            # Nothing can answer a request whose client has gone.
            self._hold = False
            self._out = []
            self._pending = None
        if self._close_rcvd:
            return []  # the Close event was handed out already
        if self._head is not None:
            return self._eof_in_handshake()
        self._close_code = 1006
        self._close_reason = ""
        return [Close(1006, "")]

    def _eof_in_handshake(self) -> List[Event]:
        raise NotImplementedError

    def _handshake(self, data: bytes) -> List[Event]:
        """Gather the peer's handshake head; act on it once whole."""
        head = cast(bytearray, self._head)  # not None: receive_data() checked
        searched = max(0, len(head) - 3)
        head += data
        # Only the new bytes are searched for the blank line: a head trickled
        # byte by byte costs linear time, not quadratic.
        if len(head) < handshake.MAX_HEAD_SIZE and head.find(b"\r\n\r\n", searched) < 0:
            return []
        self._head = None
        try:
            # Not None: the blank line is there, or the head is too long (an error).
            end = cast(int, handshake.head_length(head))
        except handshake.HandshakeError as exc:  # over MAX_HEAD_SIZE without its end
            return self._refused(exc)
        events = self._head_received(bytes(head[:end]))
        if len(head) > end and self._receiving:
            events += self.receive_data(bytes(head[end:]))
        return events

    def _head_received(self, head: bytes) -> List[Event]:
        raise NotImplementedError

    def _refused(self, exc: handshake.HandshakeError) -> List[Event]:
        raise NotImplementedError

    def _end(self) -> None:
        self._done = True
        self._receiving = False

    # ------------------------------------------------------------- send

    def _check_send(self, action: str) -> None:
        """Raise unless a frame may be sent now."""
        if self._open and not self._close_sent and (not self._done or self._pending is not None):
            return
        if not self._open and not self._done:
            raise not_open_error(action, "client" if self._client else "server")
        raise closed_error(action, self._why or "the opening handshake failed")

    def send(self, data: Union[str, Buffer], *, text: bool = False) -> None:
        """Queue one message: a str as text, any buffer as binary (as text with ``text=True``)."""
        if type(data) is str or isinstance(data, str):
            payload = str.encode(data, "utf-8")
            opcode = _TEXT
            bool(text)
        else:
            payload = data if type(data) is bytes else as_bytes(data)
            if text:
                if not validate_utf8(payload):
                    raise ValueError("send(..., text=True): the data is not valid UTF-8")
                opcode = _TEXT
            else:
                opcode = _BINARY
        self._check_send("send a message")
        if self._deflate is None:
            self._out.append(encode_frame(opcode, payload, mask=self._mask))
            return
        deflater = self._deflater
        if deflater is None:
            options = cast("DeflateOptions", self._deflate_options)  # set when deflate was agreed
            deflater = self._deflater = Deflater(
                self._deflate,
                client=self._client,
                level=options.level,
                mem_level=options.mem_level,
                window_bits=options.window_bits,
                no_context_takeover=options.no_context_takeover,
            )
        self._out.append(encode_frame(opcode, deflater.compress(payload), rsv1=True, mask=self._mask))

    def ping(self, payload: Union[str, Buffer] = b"") -> None:
        """Queue a Ping (at most 125 bytes; a str is sent as UTF-8)."""
        frame = encode_frame(_PING, payload, mask=self._mask)
        self._check_send("send a ping")
        self._out.append(frame)

    def close(self, code: Optional[int] = 1000, reason: str = "") -> None:
        """Start the closing handshake (§7.1.2); the peer's Close completes it."""
        payload = encode_close(code, reason)
        self._check_send("close")
        if self._pending is not None:
            # The connection answers the peer's Close (or a failure) itself.
            raise closed_error("close", self._why)
        self._out.append(encode_frame(_CLOSE, payload, mask=self._mask))
        self._close_sent = True
        self._why = "close() was called"

    def fail(self, code: int = 1011, reason: str = "") -> None:
        """End the connection now (§7.1.7): send a Close with ``code`` if none was sent, stop reading.

        For timeouts and shutdowns (1011, 1012).  Does nothing once the
        connection is over.
        """
        payload = encode_close(code, reason)
        if self._done:
            return
        if not self._open:
            # Before the handshake completed there is nobody to send a Close to.
            self._out = []
            self._pending = None
            self._hold = False
        elif not self._close_sent and self._pending is None:
            self._out.append(encode_frame(_CLOSE, payload, mask=self._mask))
            self._close_sent = True
        if self._close_code is None:
            self._close_code = 1005 if code is None else _args.integer(code)  # validated by encode_close
            self._close_reason = reason
        self._why = self._why or "fail() was called"
        self._end()

    def data_to_send(self) -> bytes:
        """Everything queued for the socket, in order; b"" when nothing is."""
        if self._hold:
            return b""
        out = self._out
        if self._pending is not None:
            out.append(self._pending)
            self._pending = None
            self._close_sent = True
            if self._close_rcvd and not self._client:
                self._end()  # a server closes TCP first (§7.1.1)
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)


class ServerConnection(_Connection):
    """The server side of one connection: its first event is the client's ``handshake.Request``.

    Answer it with ``accept()`` or ``reject()``.  A malformed or refused
    request (bad headers, an Origin not in ``origins``) is answered by the
    connection itself with the HTTP error, and no event is returned.
    """

    __slots__ = ("_subprotocols", "_origins", "_request", "_key", "_offered", "_extensions")

    def __init__(
        self,
        *,
        subprotocols: Iterable[str] = (),
        origins: Optional[Collection[Optional[str]]] = None,
        deflate: Optional[DeflateOptions] = DEFAULT_DEFLATE,
        max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: Optional[int] = None,
        decode_text: bool = True,
    ) -> None:
        supported = check_subprotocols(subprotocols)
        allowed = check_origins(origins)
        options = check_deflate(deflate)
        decoder = Decoder(
            client=False, max_message_size=max_message_size, max_frame_size=max_frame_size, decode_text=decode_text
        )
        self._reset(False, decoder, (max_message_size, max_frame_size, bool(decode_text)), options)
        self._subprotocols = supported
        self._origins = allowed
        self._request: Optional[handshake.Request] = None
        self._key = ""
        self._offered: Sequence[str] = ()
        self._extensions: Optional[str] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("ServerConnection cannot be subclassed")

    @property
    def request(self) -> Optional[handshake.Request]:
        """The client's opening request, once received."""
        return self._request

    def _head_received(self, head: bytes) -> List[Event]:
        try:
            request, key, offered = read_request(head, self._origins)
        except handshake.HandshakeError as exc:
            return self._refused(exc)
        self._request = request
        self._key = key
        self._offered = offered
        self._extensions, agreed = accept_deflate(self._deflate_options, request)
        if agreed is not None:
            self._agreed(agreed)
        self._hold = True
        return [request]

    def _refused(self, exc: handshake.HandshakeError) -> List[Event]:
        self._error = exc
        self._why = error_why(exc)
        self._out = [exc.response()]
        self._end()
        return []

    def _eof_in_handshake(self) -> List[Event]:
        return []  # no request came: there is no connection to report on

    def accept(self, subprotocol: Optional[str] = None, headers: Iterable[Tuple[str, str]] = ()) -> None:
        """Answer the request with ``101 Switching Protocols``.

        ``subprotocol``: one the client offered; None picks the first of the
        server's ``subprotocols`` that it offered (or none).  ``headers`` are
        added to the response.
        """
        if subprotocol is not None and not isinstance(subprotocol, str):
            raise TypeError(f"subprotocol is a str or None, not {type(subprotocol).__name__}")
        fields = check_headers(headers)
        self._check_answer("accept()")
        response, chosen = accept_response(
            self._key, self._offered, self._subprotocols, subprotocol, fields, self._extensions
        )
        self._out.insert(0, response)
        self._hold = False
        self._open = True
        self._subprotocol = chosen

    def reject(self, status: int, headers: Iterable[Tuple[str, str]] = (), body: Buffer = b"") -> None:
        """Answer the request with an HTTP error (status 200-599, e.g. 403) and end the connection."""
        response = reject_response(status, headers, body)
        self._check_answer("reject()")
        self._out = [response]
        self._pending = None
        self._hold = False
        self._why = f"the request was rejected with {_args.integer(status)}"
        self._end()

    def _check_answer(self, what: str) -> None:
        if self._hold:
            return
        if self._done:
            raise closed_error(f"call {what}", self._why)
        if self._open:
            raise RuntimeError(f"{what}: the request was already accepted")
        raise RuntimeError(f"{what} answers the client's request: call it after the Request event")


class ClientConnection(_Connection):
    """The client side of one connection to ``uri`` (``ws://`` or ``wss://``).

    The upgrade request is queued at construction.  The first event is the
    server's ``handshake.Response`` when it accepted; when it refused, or its
    answer breaks RFC 6455 §4.1, the only event is ``Close(1006, reason)``
    and ``error`` holds the ``handshake.HandshakeError``.
    """

    __slots__ = ("_uri", "_subprotocols", "_response", "_key")

    def __init__(
        self,
        uri: Union[str, handshake.WebSocketURI],
        *,
        subprotocols: Iterable[str] = (),
        headers: Iterable[Tuple[str, str]] = (),
        deflate: Optional[DeflateOptions] = DEFAULT_DEFLATE,
        max_message_size: Optional[int] = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: Optional[int] = None,
        decode_text: bool = True,
    ) -> None:
        if not isinstance(uri, (str, handshake.WebSocketURI)):
            raise TypeError(f"uri is a str, not {type(uri).__name__}")
        offered = check_subprotocols(subprotocols)
        fields = check_headers(headers)
        options = check_deflate(deflate)
        decoder = Decoder(
            client=True, max_message_size=max_message_size, max_frame_size=max_frame_size, decode_text=decode_text
        )
        request, key = client_request(uri, offered, fields, options)
        self._reset(True, decoder, (max_message_size, max_frame_size, bool(decode_text)), options)
        self._uri = uri
        self._subprotocols = offered
        self._response: Optional[handshake.Response] = None
        self._key = key
        self._out.append(request)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("ClientConnection cannot be subclassed")

    @property
    def response(self) -> Optional[handshake.Response]:
        """The server's answer, once received (a refusal's too, when it could be parsed)."""
        return self._response

    def _head_received(self, head: bytes) -> List[Event]:
        response, subprotocol, agreed, error = check_response(
            head, self._key, self._subprotocols, self._deflate_options
        )
        self._response = response
        if error is not None:
            return self._refused(error)
        response = cast(handshake.Response, response)  # parsed, or error would be set
        if agreed is not None:
            self._agreed(agreed)
        self._subprotocol = subprotocol
        self._open = True
        return [response]

    def _refused(self, exc: handshake.HandshakeError) -> List[Event]:
        reason = str(exc)
        self._error = exc
        self._close_code = 1006
        self._close_reason = reason
        self._why = error_why(exc)
        self._end()
        return [Close(1006, reason)]

    def _eof_in_handshake(self) -> List[Event]:
        return self._refused(
            handshake.HandshakeError("the server closed the connection during the opening handshake", None)
        )
