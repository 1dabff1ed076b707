"""The two implementations' connections, run side by side over the same random streams.

Hypothesis builds a peer's byte stream (messages, fragments, control frames
between fragments, injected protocol errors) and cuts it at random places;
a pure and a compiled connection read the same pieces, answer the same way,
and must return the same events, reach the same states and write the same
bytes (a client's frames compared unmasked: their keys are random).
"""

from __future__ import annotations

import struct
from typing import Any, List, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_connection import raw

from conftest import examples
from wsfast import Close, InvalidUTF8, Message, Opcode
from wsfast import handshake as hs


def frame(b0: int, payload: bytes, masked: bool) -> bytes:
    return raw(b0, payload, masked=masked)


text = st.text(max_size=40).map(lambda s: s.encode("utf-8"))
binary = st.binary(max_size=300)
control_payload = st.binary(max_size=20)


@st.composite
def pieces(draw: Any, masked: bool) -> bytes:
    """One element of a peer's stream: mostly valid, sometimes broken."""
    kind = draw(st.sampled_from(["text", "binary", "fragmented", "ping", "pong", "close", "error", "big"]))
    if kind in ("text", "binary"):
        return frame(0x81 if kind == "text" else 0x82, draw(text if kind == "text" else binary), masked)
    if kind == "big":
        return frame(0x82, bytes(range(256)) * draw(st.integers(1, 300)), masked)
    if kind == "fragmented":
        data = draw(text)
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=3)))
        parts = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        out = b""
        for i, part in enumerate(parts):
            b0 = (0x01 if i == 0 else 0x00) | (0x80 if i == len(parts) - 1 else 0)
            out += frame(b0, part, masked)
            if draw(st.booleans()):
                out += frame(0x89, draw(control_payload), masked)  # a Ping between fragments
        return out
    if kind == "ping":
        return frame(0x89, draw(control_payload), masked)
    if kind == "pong":
        return frame(0x8A, draw(control_payload), masked)
    if kind == "close":
        code = draw(st.sampled_from([None, 1000, 1001, 1011, 3000, 4999]))
        payload = b"" if code is None else struct.pack("!H", code) + draw(text)[:100]
        return frame(0x88, payload, masked)
    return draw(
        st.sampled_from(
            [
                frame(0x81, b"\xc3\x28", masked),  # invalid UTF-8
                frame(0x81, b"ok\xed\xa0\x80", masked),  # a surrogate
                frame(0x83, b"", masked),  # reserved opcode
                frame(0xA2, b"x", masked),  # RSV2
                frame(0x09, b"", masked),  # fragmented ping
                frame(0x80, b"x", masked),  # continuation of nothing
                frame(0x82, b"x", not masked),  # wrong masking direction
                frame(0x88, b"\x03", masked),  # one-byte close payload
                frame(0x88, struct.pack("!H", 1006), masked),  # a close code not for the wire
                frame(0x82, b"y" * 3000, masked),  # over max_message_size (2 KiB below)
                bytes((0x82, (0x80 if masked else 0) | 126, 0, 5)),  # non-minimal length
            ]
        )
    )


def shape(events: List[Any]) -> List[Tuple[Any, ...]]:
    """Events compared across implementations: a failure's reason by kind only, since
    the pure validator may name a surrogate's offset one byte later."""
    out = []
    for event in events:
        if type(event) is Close and event.code == 1007:
            out.append(("Close", 1007))
        else:
            out.append((type(event).__name__,) + tuple(event))
    return out


def unmasked(py_impl: Any, data: bytes) -> List[Tuple[Any, ...]]:
    """A client's output, as the server would read it."""
    return [tuple(e) for e in py_impl.Decoder(client=False, max_message_size=None).feed(data)]


def run_both(py_impl: Any, c_impl: Any, role: str, stream: bytes, cuts: List[int], actions: List[int]) -> None:
    conns = []
    request, _ = hs.client_request("ws://127.0.0.1/")
    for impl in (py_impl, c_impl):
        if role == "server":
            conn = impl.ServerConnection(max_message_size=2048)
            assert [type(e) for e in conn.receive_data(request)] == [hs.Request]
            conn.accept()
        else:
            conn = impl.ClientConnection("ws://127.0.0.1/", max_message_size=2048)
            key = hs.validate_request(hs.parse_request(conn.data_to_send()))
            assert [type(e) for e in conn.receive_data(hs.build_response(key))] == [hs.Response]
        conns.append(conn)
    outputs: List[List[bytes]] = [[], []]
    bounds = sorted(set(cuts)) + [len(stream)]
    start = 0
    for step, end in enumerate(bounds):
        chunk = stream[start:end]
        start = end
        if not chunk:
            continue
        got = []
        for i, conn in enumerate(conns):
            events = conn.receive_data(chunk)
            action = actions[step % len(actions)] if actions else 0
            refused = []
            for event in events:
                if type(event) is Message:
                    try:
                        conn.send(event.data, text=event.opcode is Opcode.TEXT)
                    except RuntimeError as exc:  # our own Close went out earlier
                        refused.append(type(exc))
            if action == 1 and conn.state == 1:
                conn.ping(b"ours")
            elif action == 2 and conn.state == 1:
                conn.close(4000, "ours")
            outputs[i].append(conn.data_to_send())
            got.append((shape(events), refused, conn.state, conn.closed, conn.close_code, type(conn.error)))
        assert got[0] == got[1]
        if role == "server":
            assert outputs[0][-1] == outputs[1][-1]
        else:
            assert unmasked(py_impl, outputs[0][-1]) == unmasked(py_impl, outputs[1][-1])
            assert len(outputs[0][-1]) == len(outputs[1][-1])
    ends = [conn.receive_data(b"") for conn in conns]
    assert shape(ends[0]) == shape(ends[1])
    finals = [c.data_to_send() for c in conns]
    assert len(finals[0]) == len(finals[1])
    assert conns[0].state == conns[1].state and conns[0].closed == conns[1].closed
    if conns[0].error is not None:
        assert type(conns[0].error) is type(conns[1].error)
        if not isinstance(conns[0].error, InvalidUTF8):
            assert str(conns[0].error) == str(conns[1].error)


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    data=st.data(),
    role=st.sampled_from(["server", "client"]),
    actions=st.lists(st.integers(0, 6), max_size=6),
)
def test_same_events_and_bytes(py_impl: Any, c_impl: Any, data: st.DataObject, role: str, actions: List[int]) -> None:
    stream = b"".join(data.draw(st.lists(pieces(masked=role == "server"), max_size=12)))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    run_both(py_impl, c_impl, role, stream, cuts, actions)


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), role=st.sampled_from(["server", "client"]))
def test_same_on_arbitrary_bytes(py_impl: Any, c_impl: Any, data: st.DataObject, role: str) -> None:
    stream = data.draw(st.binary(max_size=300))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    run_both(py_impl, c_impl, role, stream, cuts, [0])
