"""permessage-deflate (RFC 7692) through the connections, both implementations.

The connection offers (client) and accepts (server) permessage-deflate by
default, compresses what it sends and has its Decoder inflate what it
receives.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_connection import URI, pair, request_bytes

from conftest import examples
from wsfast import Close, DeflateOptions, Message, Opcode, PerMessageDeflate
from wsfast import handshake as hs

BROWSER_OFFER = "permessage-deflate; client_max_window_bits"


def test_negotiated_by_default(impl: Any) -> None:
    client = impl.ClientConnection(URI)
    offer = hs.parse_request(client.data_to_send()).headers.get("Sec-WebSocket-Extensions")
    server = impl.ServerConnection()
    request, _ = request_bytes(extra=[("Sec-WebSocket-Extensions", BROWSER_OFFER)])
    server.receive_data(request)
    server.accept()
    answer = hs.parse_response(server.data_to_send()).headers.get("Sec-WebSocket-Extensions")
    assert offer is not None and offer.startswith("permessage-deflate")
    assert answer == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    assert server.deflate == PerMessageDeflate(server_max_window_bits=12, client_max_window_bits=12)


def test_deflate_none_offers_and_accepts_nothing(impl: Any) -> None:
    client = impl.ClientConnection(URI, deflate=None)
    assert "Sec-WebSocket-Extensions" not in hs.parse_request(client.data_to_send()).headers
    server = impl.ServerConnection(deflate=None)
    request, _ = request_bytes(extra=[("Sec-WebSocket-Extensions", BROWSER_OFFER)])
    server.receive_data(request)
    server.accept()
    assert "Sec-WebSocket-Extensions" not in hs.parse_response(server.data_to_send()).headers
    assert server.deflate is None


def test_extensions_are_the_connections_own(impl: Any) -> None:
    with pytest.raises(TypeError):
        impl.ServerConnection(deflate="permessage-deflate")
    with pytest.raises(TypeError):
        impl.ClientConnection(URI, deflate=True)
    with pytest.raises(ValueError):
        impl.ClientConnection(URI, headers=[("Sec-WebSocket-Extensions", "permessage-deflate")])
    server = impl.ServerConnection(deflate=None)
    server.receive_data(request_bytes()[0])
    with pytest.raises(ValueError):
        server.accept(headers=[("sec-websocket-extensions", "x-other")])


def test_client_refuses_an_extension_it_did_not_offer(impl: Any) -> None:
    client = impl.ClientConnection(URI, deflate=None)
    key = hs.validate_request(hs.parse_request(client.data_to_send()))
    response = hs.build_response(key, headers=[("Sec-WebSocket-Extensions", "permessage-deflate")])
    (event,) = client.receive_data(response)
    assert event.code == 1006 and "extension" in event.reason and client.closed


def test_client_refuses_a_bad_deflate_answer(impl: Any) -> None:
    client = impl.ClientConnection(URI)
    key = hs.validate_request(hs.parse_request(client.data_to_send()))
    response = hs.build_response(key, headers=[("Sec-WebSocket-Extensions", "permessage-deflate; bogus=1")])
    (event,) = client.receive_data(response)
    assert event.code == 1006 and client.closed and client.deflate is None


def test_compressed_both_ways(impl: Any) -> None:
    client, server = pair(impl)
    assert client.deflate is not None and client.deflate == server.deflate
    text = "compressible " * 100
    client.send(text)
    wire = client.data_to_send()
    assert wire[0] == 0xC1 and len(wire) < len(text) // 4  # RSV1, FIN, text; smaller
    assert server.receive_data(wire) == [(Opcode.TEXT, text)]
    server.send(text.encode(), text=True)
    server.send(b"")
    assert client.receive_data(server.data_to_send()) == [(Opcode.TEXT, text), (Opcode.BINARY, b"")]


def test_frames_behind_the_request_are_inflated(impl: Any) -> None:
    # The agreement is made when the request arrives, so a compressed frame
    # in the same read is inflated with it (and its event follows the Request).
    request, _ = request_bytes(extra=[("Sec-WebSocket-Extensions", BROWSER_OFFER)])
    answer = DeflateOptions().accept(BROWSER_OFFER)
    assert answer is not None
    payload = impl.Deflater(answer[1], client=True).compress(b"behind the request")
    server = impl.ServerConnection()
    events = server.receive_data(request + impl.encode_frame(2, payload, rsv1=True, mask=True))
    assert isinstance(events[0], hs.Request)
    assert events[1:] == [(Opcode.BINARY, b"behind the request")]
    assert server.deflate == answer[1]


@pytest.mark.parametrize("options", [
    DeflateOptions(),
    DeflateOptions(no_context_takeover=True, peer_no_context_takeover=True),
    DeflateOptions(window_bits=9, peer_max_window_bits=9),
    DeflateOptions(level=9, mem_level=9, window_bits=15),
])
def test_options_round_trip(impl: Any, options: DeflateOptions) -> None:
    client = impl.ClientConnection(URI, deflate=options)
    server = impl.ServerConnection(deflate=options)
    server.receive_data(client.data_to_send())
    server.accept()
    client.receive_data(server.data_to_send())
    assert client.deflate == server.deflate is not None
    for i in range(5):
        message = f"message {i} " * (i * 50 + 1)
        client.send(message)
        assert server.receive_data(client.data_to_send()) == [(Opcode.TEXT, message)]
        server.send(message.encode())
        assert client.receive_data(server.data_to_send()) == [(Opcode.BINARY, message.encode())]
    client.close()
    assert server.receive_data(client.data_to_send()) == [Close(1000, "")]


@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=st.lists(st.one_of(st.text(max_size=2000), st.binary(max_size=2000)), max_size=10))
def test_talk_compressed(impl: Any, sent: list) -> None:
    client, server = pair(impl)
    for message in sent:
        client.send(message)
    wire = client.data_to_send()
    received = server.receive_data(wire) if wire else []  # b"" would be the end of the stream
    for event in received:
        assert type(event) is Message
        server.send(event.data)
    wire = server.data_to_send()
    assert [e.data for e in (client.receive_data(wire) if wire else [])] == sent
