# cython: language_level=3
"""One WebSocket connection, sans-I/O (RFC 6455 §4-§7): compiled.

The behaviour is that of _connection_py, which reads as the specification;
docs/connection.md describes it.  What differs is where the time goes on the
per-message path: bytes are decoded through the compiled Decoder's C entry,
the events are scanned for control frames in C, and every frame sent
(messages, Pongs, Closes) is written straight into one output bytes object,
which data_to_send() hands out without a copy.  The opening handshake and the
error paths call the shared pure-Python helpers (_connection_common).
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.mem cimport PyMem_Free
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy

from wsfast._decoder_c cimport Decoder
from wsfast._deflate_c cimport Deflater
from wsfast._frames_c cimport draw_mask_key
from wsfast._mask_c cimport mask_bytes
from wsfast._utf8_c cimport utf8_validate


from . import _args, handshake
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
from ._errors import ProtocolError
from ._frames_c import encode_close, encode_frame
from ._types import Close, ConnectionState, Message, Ping

__all__ = ["ServerConnection", "ClientConnection"]


cdef extern from "Python.h":
    bint PyBytes_CheckExact(object o)
    bint PyUnicode_Check(object o)
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL
    int _PyBytes_Resize(PyObject **pv, Py_ssize_t newsize) except -1


cdef enum:
    IDLE_BUFFER = 4096

cdef object _Message = Message
cdef object _Ping = Ping
cdef object _Close = Close
cdef object _CONNECTING = ConnectionState.CONNECTING
cdef object _OPEN = ConnectionState.OPEN
cdef object _CLOSING = ConnectionState.CLOSING
cdef object _CLOSED = ConnectionState.CLOSED


cdef inline Py_ssize_t _header_size(Py_ssize_t n) noexcept nogil:
    return 2 if n < 126 else 4 if n < 0x10000 else 10


cdef inline void _write_header(uint8_t *out, int b0, int mask_bit, Py_ssize_t n) noexcept nogil:
    cdef int i
    out[0] = <uint8_t>b0
    if n < 126:
        out[1] = <uint8_t>(mask_bit | n)
    elif n < 0x10000:
        out[1] = <uint8_t>(mask_bit | 126)
        out[2] = <uint8_t>(n >> 8)
        out[3] = <uint8_t>n
    else:
        out[1] = <uint8_t>(mask_bit | 127)
        for i in range(8):
            out[9 - i] = <uint8_t>((<uint64_t>n) >> (8 * i))


cdef class _Connection:
    """What servers and clients share; the fields are declared in _connection_c.pxd."""

    def __dealloc__(self):
        Py_XDECREF(self._obuf)

    cdef int _reset(self, bint client, Decoder decoder, tuple limits, object deflate) except -1:
        self._client = client
        self._decoder = decoder
        self._head = bytearray()
        self._drop_output()
        self._pending = None
        self._open = False
        self._hold = False
        self._receiving = True
        self._close_sent = False
        self._close_rcvd = False
        self._done = False
        self._why = ""
        self._error = None
        self._close_code = None
        self._close_reason = None
        self._subprotocol = None
        self._limits = limits  # the Decoder's, to make it again with the agreed deflate
        self._deflate_options = deflate
        self._deflate = None
        self._deflater = None  # made at the first message sent: idle costs nothing
        return 0

    cdef int _agreed(self, object agreed) except -1:
        """permessage-deflate was agreed: the peer's messages are inflated from now on."""
        max_message_size, max_frame_size, decode_text = self._limits
        self._deflate = agreed
        self._decoder = Decoder(client=self._client, max_message_size=max_message_size,
                                max_frame_size=max_frame_size, decode_text=decode_text, deflate=agreed)
        return 0

    cdef Deflater _make_deflater(self):
        options = self._deflate_options
        self._deflater = Deflater(self._deflate, client=self._client, level=options.level,
                                  mem_level=options.mem_level, window_bits=options.window_bits,
                                  no_context_takeover=options.no_context_takeover)
        return self._deflater

    # ------------------------------------------------------------ state

    @property
    def state(self):
        """CONNECTING, OPEN, CLOSING, or CLOSED once over and all output handed out."""
        if self.closed:
            return _CLOSED
        if not self._open:
            return _CONNECTING
        if self._close_sent or self._close_rcvd or self._done or self._pending is not None:
            return _CLOSING
        return _OPEN

    @property
    def closed(self):
        """True once the socket may be closed: the connection is over and data_to_send() is empty."""
        return self._done and self._olen == 0 and self._pending is None and not self._hold

    @property
    def error(self):
        """The ProtocolError (or handshake.HandshakeError) that ended the connection, if any."""
        return self._error

    @property
    def close_code(self):
        """The peer's close code (1005 for a Close without one), a failure's code, or 1006 at EOF."""
        return self._close_code

    @property
    def close_reason(self):
        return self._close_reason

    @property
    def subprotocol(self):
        return self._subprotocol

    @property
    def deflate(self):
        """The agreed permessage-deflate parameters, or None."""
        return self._deflate

    def __repr__(self):
        return f"<{type(self).__name__} {self.state.name}>"

    def __reduce_ex__(self, protocol):
        raise TypeError(f"{type(self).__name__} objects cannot be copied or pickled: they hold a live stream's state")

    # ----------------------------------------------------------- output

    cdef uint8_t *_reserve(self, Py_ssize_t n) except NULL:
        """Room for n (> 0) more bytes at the end of the output; _olen is the caller's to advance."""
        cdef Py_ssize_t need = self._olen + n
        cdef Py_ssize_t cap
        cdef object fresh
        if self._obuf == NULL:
            # Exactly what is asked: the one frame of an echo is handed out
            # as it is, with neither a resize nor a copy.
            fresh = PyBytes_FromStringAndSize(NULL, n)
            Py_INCREF(fresh)  # the field holds this reference until handed out
            self._obuf = <PyObject *>fresh
            self._ocap = n
        elif need > self._ocap:
            cap = max(need, 2 * self._ocap)
            if _PyBytes_Resize(&self._obuf, cap) < 0:
                self._olen = 0
                self._ocap = 0
                return NULL
            self._ocap = cap
        return <uint8_t *>PyBytes_AS_STRING(<object>self._obuf) + self._olen

    cdef int _write(self, const uint8_t *data, Py_ssize_t n) except -1:
        if n:
            memcpy(self._reserve(n), data, n)
            self._olen += n
        return 0

    cdef int _message(self, int b0, const uint8_t *payload, Py_ssize_t n) except -1:
        """Append one message: compressed, with RSV1, when permessage-deflate was agreed."""
        cdef Deflater deflater
        cdef bytes compressed
        if self._deflate is None:
            return self._frame(b0, payload, n)
        deflater = self._deflater if self._deflater is not None else self._make_deflater()
        compressed = deflater.compress_ptr(payload, n)
        return self._frame(b0 | 0x40, <const uint8_t *>PyBytes_AS_STRING(compressed), PyBytes_GET_SIZE(compressed))

    cdef int _frame(self, int b0, const uint8_t *payload, Py_ssize_t n) except -1:
        """Append one frame; a client's is masked with a fresh key."""
        cdef uint8_t key[4]
        cdef uint8_t *out
        cdef Py_ssize_t hl = _header_size(n)
        if self._client:
            # The key first: drawing it may run Python code (os.urandom),
            # which must not happen while we hold a pointer into the output.
            draw_mask_key(key)
            out = self._reserve(hl + 4 + n)
            _write_header(out, b0, 0x80, n)
            memcpy(out + hl, key, 4)
            mask_bytes(out + hl + 4, payload, n, key, 0)
            self._olen += hl + 4 + n
        else:
            out = self._reserve(hl + n)
            _write_header(out, b0, 0, n)
            memcpy(out + hl, payload, n)
            self._olen += hl + n
        return 0

    cdef bytes _frame_bytes(self, int opcode, bytes payload):
        return encode_frame(opcode, payload, mask=True if self._client else None)

    cdef void _drop_output(self) noexcept:
        Py_XDECREF(self._obuf)
        self._obuf = NULL
        self._olen = 0
        self._ocap = 0

    cdef bytes _take_output(self):
        cdef PyObject *o = self._obuf
        cdef bytes out
        if o == NULL or self._olen == 0:
            self._drop_output()
            return b""
        if self._olen < self._ocap:
            if _PyBytes_Resize(&self._obuf, self._olen) < 0:
                self._obuf = NULL
                self._olen = 0
                self._ocap = 0
                raise MemoryError()
            o = self._obuf
        self._obuf = NULL
        self._olen = 0
        self._ocap = 0
        out = <bytes>o
        Py_XDECREF(o)
        return out

    # ---------------------------------------------------------- receive

    def receive_data(self, data):
        """The events that ``data`` completes; ``b""`` means the peer closed the TCP stream.

        Never raises for anything the peer sent.
        """
        cdef Py_buffer view
        if PyBytes_CheckExact(data):
            with cython.critical_section(self):
                return self._receive(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except BufferError:
            return self.receive_data(memoryview(data).tobytes())  # a non-contiguous view
        try:
            with cython.critical_section(self):
                return self._receive(<const uint8_t *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    cdef list _receive(self, const uint8_t *p, Py_ssize_t n):
        if not self._receiving:
            return []
        if n == 0:
            return self._eof()
        if self._head is not None:
            return self._handshake(PyBytes_FromStringAndSize(<const char *>p, n))
        return self._frames(p, n)

    cdef list _frames(self, const uint8_t *p, Py_ssize_t n):
        cdef list events
        cdef Py_ssize_t i
        cdef object event
        try:
            events = self._decode(p, n)
        except ProtocolError as exc:
            return self._failed(exc)
        for i in range(PyList_GET_SIZE(events)):
            event = <object>PyList_GET_ITEM(events, i)
            if type(event) is not _Message:
                self._control(event)
        return events

    cdef list _decode(self, const uint8_t *p, Py_ssize_t n):
        # The one place that reaches into the compiled Decoder: its C entry,
        # past feed()'s argument handling (the bytes are already a pointer),
        # and its message buffer, which the Decoder keeps between messages
        # up to 64 KiB.  Between messages a connection keeps at most
        # IDLE_BUFFER of it: thousands of quiet connections must not each
        # hold the buffer of the largest message they once received.
        cdef Decoder decoder = self._decoder
        cdef list events
        if decoder._closed:
            return []
        events = decoder._run(p, n)
        if decoder._buf_cap > IDLE_BUFFER and decoder._msg_opcode == 0:
            PyMem_Free(decoder._buf)
            decoder._buf = NULL
            decoder._buf_cap = 0
        return events

    cdef int _control(self, object event) except -1:
        """React to a control event on the peer's behalf."""
        cdef bytes payload
        if type(event) is _Ping:
            # Once a Close is decided nothing but it may follow (§5.5.1).
            if not self._close_sent and self._pending is None:
                if self._hold:
                    # Held output is out of the I/O layer's sight, so a client
                    # pinging before accept() must not grow it: only the latest
                    # Pong is kept (RFC 6455 §5.5.3 allows it).
                    self._drop_output()
                payload = event[0]
                self._frame(0x8A, <const uint8_t *>PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
        elif type(event) is _Close:
            code = event[0]
            self._close_rcvd = True
            self._close_code = 1005 if code is None else code
            self._close_reason = event[1]
            if self._close_sent:
                # Our Close is answered: the closing handshake is complete.  A
                # client waits for the server to close TCP (§7.1.1).
                if not self._client:
                    self._end()
            else:
                self._why = self._why or peer_close_why(code)
                self._pending = self._frame_bytes(8, b"" if code is None else encode_close(code))
        return 0

    cdef list _failed(self, object exc):
        """The peer broke the protocol: keep the events before it, end with a Close event."""
        cdef list events = list(exc.events)
        for event in events:
            if type(event) is not _Message:
                self._control(event)
        code = exc.close_code
        reason = str(exc)
        self._error = exc
        self._close_code = code
        self._close_reason = reason
        self._why = error_why(exc)
        if not self._close_sent:
            # The code alone: both twins' messages may differ in detail,
            # their bytes on the wire may not.
            self._pending = self._frame_bytes(8, encode_close(code))
        self._end()
        events.append(Close(code, reason))
        return events

    cdef list _eof(self):
        self._end()
        self._why = self._why or "the peer closed the TCP connection"
        if self._hold:
            # Nothing can answer a request whose client has gone.
            self._hold = False
            self._drop_output()
            self._pending = None
        if self._close_rcvd:
            return []  # the Close event was handed out already
        if self._head is not None:
            return self._eof_in_handshake()
        self._close_code = 1006
        self._close_reason = ""
        return [Close(1006, "")]

    cdef list _handshake(self, bytes data):
        """Gather the peer's handshake head; act on it once whole."""
        cdef list events
        cdef bytearray head = self._head
        cdef Py_ssize_t searched = max(0, len(head) - 3)
        cdef bytes rest
        head += data
        # Only the new bytes are searched for the blank line: a head trickled
        # byte by byte costs linear time, not quadratic.
        if len(head) < handshake.MAX_HEAD_SIZE and head.find(b"\r\n\r\n", searched) < 0:
            return []
        self._head = None
        try:
            end = handshake.head_length(head)
        except handshake.HandshakeError as exc:  # over MAX_HEAD_SIZE without its end
            return self._refused(exc)
        events = self._head_received(bytes(head[:end]))
        rest = bytes(head[end:])
        if rest and self._receiving:
            events += self._frames(<const uint8_t *>PyBytes_AS_STRING(rest), PyBytes_GET_SIZE(rest))
        return events

    cdef list _head_received(self, bytes head):
        raise NotImplementedError

    cdef list _refused(self, object exc):
        raise NotImplementedError

    cdef list _eof_in_handshake(self):
        raise NotImplementedError

    cdef void _end(self) noexcept:
        self._done = True
        self._receiving = False

    # ------------------------------------------------------------- send

    cdef int _check_send(self, str action) except -1:
        """Raise unless a frame may be sent now."""
        if self._open and not self._close_sent and (not self._done or self._pending is not None):
            return 0
        if not self._open and not self._done:
            raise not_open_error(action, "client" if self._client else "server")
        raise closed_error(action, self._why or "the opening handshake failed")

    def send(self, data, *, text=False):
        """Queue one message: a str as text, any buffer as binary (as text with ``text=True``)."""
        cdef Py_buffer view
        cdef const uint8_t *src
        cdef Py_ssize_t n
        cdef int b0
        if PyBytes_CheckExact(data):
            src = <const uint8_t *>PyBytes_AS_STRING(data)
            n = PyBytes_GET_SIZE(data)
            b0 = 0x81 if text else 0x82
            if b0 == 0x81 and not utf8_validate(src, n):
                raise ValueError("send(..., text=True): the data is not valid UTF-8")
            with cython.critical_section(self):
                self._check_send("send a message")
                self._message(b0, src, n)
            return
        if PyUnicode_Check(data):
            src = <const uint8_t *>PyUnicode_AsUTF8AndSize(data, &n)
            if text:  # evaluated, as the pure twin does, though a str is always text
                pass
            with cython.critical_section(self):
                self._check_send("send a message")
                self._message(0x81, src, n)
            return
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except BufferError:
            return self.send(memoryview(data).tobytes(), text=text)  # a non-contiguous view
        try:
            src = <const uint8_t *>view.buf
            n = view.len
            b0 = 0x81 if text else 0x82
            if b0 == 0x81 and not utf8_validate(src, n):
                raise ValueError("send(..., text=True): the data is not valid UTF-8")
            with cython.critical_section(self):
                self._check_send("send a message")
                self._message(b0, src, n)
        finally:
            PyBuffer_Release(&view)

    def ping(self, payload=b""):
        """Queue a Ping (at most 125 bytes; a str is sent as UTF-8)."""
        cdef bytes frame = encode_frame(9, payload, mask=True if self._client else None)
        with cython.critical_section(self):
            self._check_send("send a ping")
            self._write(<const uint8_t *>PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame))

    def close(self, code=1000, reason=""):
        """Start the closing handshake (§7.1.2); the peer's Close completes it."""
        cdef bytes payload = encode_close(code, reason)
        cdef bytes frame
        with cython.critical_section(self):
            self._check_send("close")
            if self._pending is not None:
                # The connection answers the peer's Close (or a failure) itself.
                raise closed_error("close", self._why)
            frame = self._frame_bytes(8, payload)
            self._write(<const uint8_t *>PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame))
            self._close_sent = True
            self._why = "close() was called"

    def fail(self, code=1011, reason=""):
        """End the connection now (§7.1.7): send a Close with ``code`` if none was sent, stop reading.

        For timeouts and shutdowns (1011, 1012).  Does nothing once the
        connection is over.
        """
        cdef bytes payload = encode_close(code, reason)
        cdef bytes frame
        with cython.critical_section(self):
            if self._done:
                return
            if not self._open:
                # Before the handshake completed there is nobody to send a Close to.
                self._drop_output()
                self._pending = None
                self._hold = False
            elif not self._close_sent and self._pending is None:
                frame = self._frame_bytes(8, payload)
                self._write(<const uint8_t *>PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame))
                self._close_sent = True
            if self._close_code is None:
                self._close_code = 1005 if code is None else _args.integer(code)  # validated by encode_close
                self._close_reason = reason
            self._why = self._why or "fail() was called"
            self._end()

    def data_to_send(self):
        """Everything queued for the socket, in order; b"" when nothing is."""
        with cython.critical_section(self):
            if self._hold:
                return b""
            if self._pending is not None:
                self._write(<const uint8_t *>PyBytes_AS_STRING(self._pending), PyBytes_GET_SIZE(self._pending))
                self._pending = None
                self._close_sent = True
                if self._close_rcvd and not self._client:
                    self._end()  # a server closes TCP first (§7.1.1)
            return self._take_output()


@cython.final
@cython.auto_pickle(False)
cdef class ServerConnection(_Connection):
    """The server side of one connection: its first event is the client's ``handshake.Request``.

    ServerConnection(*, subprotocols=(), origins=None, deflate=None,
    max_message_size=1 MiB, max_frame_size=None, decode_text=True); the pure
    twin (wsfast._connection_py.ServerConnection) documents the API.
    """

    def __init__(self, *, subprotocols=(), origins=None, deflate=DEFAULT_DEFLATE,
                 max_message_size=DEFAULT_MAX_MESSAGE_SIZE, max_frame_size=None, decode_text=True):
        supported = check_subprotocols(subprotocols)
        allowed = check_origins(origins)
        options = check_deflate(deflate)
        decoder = Decoder(client=False, max_message_size=max_message_size, max_frame_size=max_frame_size,
                          decode_text=decode_text)
        with cython.critical_section(self):
            self._reset(False, decoder, (max_message_size, max_frame_size, bool(decode_text)), options)
            self._subprotocols = supported
            self._origins = allowed
            self._request = None
            self._key = ""
            self._offered = ()
            self._extensions = None

    @property
    def request(self):
        """The client's opening request, once received."""
        return self._request

    cdef list _head_received(self, bytes head):
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

    cdef list _refused(self, object exc):
        cdef bytes answer = exc.response()
        self._error = exc
        self._why = error_why(exc)
        self._drop_output()
        self._write(<const uint8_t *>PyBytes_AS_STRING(answer), PyBytes_GET_SIZE(answer))
        self._end()
        return []

    cdef list _eof_in_handshake(self):
        return []  # no request came: there is no connection to report on

    def accept(self, subprotocol=None, headers=()):
        """Answer the request with ``101 Switching Protocols``."""
        cdef bytes response
        if subprotocol is not None and not isinstance(subprotocol, str):
            raise TypeError(f"subprotocol is a str or None, not {type(subprotocol).__name__}")
        fields = check_headers(headers)
        with cython.critical_section(self):
            self._check_answer("accept()")
            response, chosen = accept_response(self._key, self._offered, self._subprotocols, subprotocol, fields,
                                               self._extensions)
            response += self._take_output()  # the replies held until now
            self._write(<const uint8_t *>PyBytes_AS_STRING(response), PyBytes_GET_SIZE(response))
            self._hold = False
            self._open = True
            self._subprotocol = chosen

    def reject(self, status, headers=(), body=b""):
        """Answer the request with an HTTP error (status 200-599, e.g. 403) and end the connection."""
        cdef bytes response = reject_response(status, headers, body)
        with cython.critical_section(self):
            self._check_answer("reject()")
            self._drop_output()
            self._write(<const uint8_t *>PyBytes_AS_STRING(response), PyBytes_GET_SIZE(response))
            self._pending = None
            self._hold = False
            self._why = f"the request was rejected with {_args.integer(status)}"
            self._end()

    cdef int _check_answer(self, str what) except -1:
        if self._hold:
            return 0
        if self._done:
            raise closed_error(f"call {what}", self._why)
        if self._open:
            raise RuntimeError(f"{what}: the request was already accepted")
        raise RuntimeError(f"{what} answers the client's request: call it after the Request event")


@cython.final
@cython.auto_pickle(False)
cdef class ClientConnection(_Connection):
    """The client side of one connection to ``uri`` (``ws://`` or ``wss://``).

    ClientConnection(uri, *, subprotocols=(), headers=(), deflate=None,
    max_message_size=1 MiB, max_frame_size=None, decode_text=True); the pure
    twin (wsfast._connection_py.ClientConnection) documents the API.
    """

    def __init__(self, uri, *, subprotocols=(), headers=(), deflate=DEFAULT_DEFLATE,
                 max_message_size=DEFAULT_MAX_MESSAGE_SIZE, max_frame_size=None, decode_text=True):
        cdef bytes request
        if not isinstance(uri, (str, handshake.WebSocketURI)):
            raise TypeError(f"uri is a str, not {type(uri).__name__}")
        offered = check_subprotocols(subprotocols)
        fields = check_headers(headers)
        options = check_deflate(deflate)
        decoder = Decoder(client=True, max_message_size=max_message_size, max_frame_size=max_frame_size,
                          decode_text=decode_text)
        request, key = client_request(uri, offered, fields, options)
        with cython.critical_section(self):
            self._reset(True, decoder, (max_message_size, max_frame_size, bool(decode_text)), options)
            self._uri = uri
            self._subprotocols = offered
            self._response = None
            self._key = key
            self._write(<const uint8_t *>PyBytes_AS_STRING(request), PyBytes_GET_SIZE(request))

    @property
    def response(self):
        """The server's answer, once received (a refusal's too, when it could be parsed)."""
        return self._response

    cdef list _head_received(self, bytes head):
        response, subprotocol, agreed, error = check_response(head, self._key, self._subprotocols,
                                                              self._deflate_options)
        self._response = response
        if error is not None:
            return self._refused(error)
        if agreed is not None:
            self._agreed(agreed)
        self._subprotocol = subprotocol
        self._open = True
        return [response]

    cdef list _refused(self, object exc):
        reason = str(exc)
        self._error = exc
        self._close_code = 1006
        self._close_reason = reason
        self._why = error_why(exc)
        self._end()
        return [Close(1006, reason)]

    cdef list _eof_in_handshake(self):
        return self._refused(handshake.HandshakeError(
            "the server closed the connection during the opening handshake", None))
