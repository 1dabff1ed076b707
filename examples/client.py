"""An asyncio WebSocket client on wsfast.ClientConnection.

Send messages and print what comes back, one JSON object a line:

    python examples/client.py send ws://127.0.0.1:9001/ text:hello bytes:70000 ping:hi
    python examples/client.py send ws://127.0.0.1:9001/ text:héllo --fragment-size 2 --ping-between

Actions: ``text:STRING``, ``binary:HEX``, ``bytes:N`` (N bytes of a fixed
pattern: byte i is i % 251), ``ping:STRING``.  Each waits for its echo (a
message, or the Pong).  Then the client closes with 1000 and prints the
server's Close.  ``--fragment-size N`` sends each message in frames of at
most N bytes (text is cut between bytes, not characters); with
``--ping-between`` a Ping goes out after the first fragment.

The client offers permessage-deflate (the connection's default) and, when
the server accepts, compresses what it sends and inflates what it receives.

Act as the client of the Autobahn|Testsuite fuzzing server (``wstest -m
fuzzingserver``): run every case, echoing, then have it write its reports:

    python examples/client.py autobahn ws://127.0.0.1:9001 --agent wsfast
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import ssl
import sys
import time
from typing import AsyncIterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote

import wsfast
from wsfast import handshake

Opcode = wsfast.Opcode
Event = Union[wsfast.Message, wsfast.Ping, wsfast.Pong, wsfast.Close]

READ_SIZE = 256 * 1024
MAX_MESSAGE_SIZE = 64 * 1024 * 1024
# How long a client waits for the server to close TCP after the closing
# handshake (RFC 6455 §7.1.1: the server closes first).
CLOSE_TIMEOUT = 5.0


class Client:
    """A ClientConnection over asyncio streams: the connection speaks, this moves bytes."""

    def __init__(self, conn: wsfast.ClientConnection, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.conn = conn
        self.reader = reader
        self.writer = writer
        self.backlog: list = []  # events that arrived with the server's answer

    @classmethod
    async def connect(cls, uri: str, *, subprotocols: Sequence[str] = (),
                      max_message_size: int = MAX_MESSAGE_SIZE) -> Client:
        """Open the TCP connection and complete the opening handshake; HandshakeError if refused."""
        target = handshake.parse_uri(uri)
        context = ssl.create_default_context() if target.secure else None
        reader, writer = await asyncio.open_connection(target.host, target.port, ssl=context)
        client = cls(wsfast.ClientConnection(uri, subprotocols=subprotocols, max_message_size=max_message_size),
                     reader, writer)
        await client.flush()
        while client.conn.state is wsfast.ConnectionState.CONNECTING:
            events = await client.read()
            if events and isinstance(events[0], wsfast.Close):  # refused: the reason says why
                await client.close_transport()
                raise handshake.HandshakeError(events[0].reason, None)
            client.backlog = events[1:]  # after the Response event
        return client

    async def read(self) -> list:
        try:
            data = await self.reader.read(READ_SIZE)
        except ConnectionError:
            data = b""
        return self.conn.receive_data(data)

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            try:
                await self.writer.drain()  # flow control: wait while the server does not read
            except ConnectionError:
                pass

    async def events(self) -> AsyncIterator[Event]:
        """Events until the connection ends; what the caller sends in reply goes out before
        the connection's own Close (a protocol error's, or the echo of the server's)."""
        events, self.backlog = self.backlog, []
        for event in events:
            yield event
        await self.flush()
        while not self.conn.closed:
            if self.conn.state is wsfast.ConnectionState.CLOSING and self.conn.close_code is not None:
                # The closing handshake is done: give the server a while to close TCP.
                try:
                    events = await asyncio.wait_for(self.read(), CLOSE_TIMEOUT)
                except asyncio.TimeoutError:
                    self.conn.fail()
                    events = []
            else:
                events = await self.read()
            for event in events:
                yield event
            await self.flush()
        await self.close_transport()

    async def close_transport(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


def pattern(size: int) -> bytes:
    """The payload of ``bytes:N``: byte i is i % 251 (a prime, so no power-of-two period)."""
    return bytes(range(251)) * (size // 251) + bytes(range(size % 251))


def parse_action(spec: str) -> Tuple[str, Union[str, bytes]]:
    kind, sep, value = spec.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"action {spec!r} is not KIND:VALUE")
    if kind == "text":
        return "text", value
    if kind == "binary":
        return "binary", bytes.fromhex(value)
    if kind == "bytes":
        return "binary", pattern(int(value))
    if kind == "ping":
        return "ping", value.encode("utf-8")
    raise argparse.ArgumentTypeError(f"unknown action kind {kind!r} (text, binary, bytes, ping)")


def describe(event: Event) -> dict[str, object]:
    """An event as a JSON-ready dict (payloads as hex up to 64 bytes, else length and SHA-256)."""
    if isinstance(event, wsfast.Close):
        return {"event": "close", "code": event.code, "reason": event.reason}
    if isinstance(event, wsfast.Message) and event.opcode == Opcode.TEXT:
        return {"event": "text", "data": event.data if isinstance(event.data, str) else event.data.decode("utf-8")}
    if isinstance(event, wsfast.Message):
        payload = event.data.encode("utf-8") if isinstance(event.data, str) else bytes(event.data)
    else:
        payload = bytes(event.payload)
    out: dict[str, object] = {
        "event": "binary" if isinstance(event, wsfast.Message) else type(event).__name__.lower(),
        "length": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    if len(payload) <= 64:
        out["hex"] = payload.hex()
    return out


async def send_fragmented(client: Client, opcode: int, data: bytes, size: int, ping_between: bool) -> None:
    """Frames written by hand: the connection sends whole messages only, and these
    exist to exercise the server's reassembly and its Pongs between fragments."""
    await client.flush()  # whatever the connection queued goes first
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    for index, piece in enumerate(pieces):
        client.writer.write(wsfast.encode_frame(opcode if index == 0 else Opcode.CONTINUATION, piece,
                                                fin=index == len(pieces) - 1, mask=True))
        if index == 0 and ping_between:
            client.writer.write(wsfast.encode_frame(Opcode.PING, b"between", mask=True))
    await client.writer.drain()


async def run_send(args: argparse.Namespace) -> int:
    try:
        client = await Client.connect(args.uri, subprotocols=args.subprotocol)
    except handshake.HandshakeError as err:
        print(f"handshake failed: {err}", file=sys.stderr)
        return 1
    print(json.dumps({"event": "open", "subprotocol": client.conn.subprotocol}), flush=True)
    events = client.events()

    async def until(wanted: type) -> None:
        async for event in events:
            print(json.dumps(describe(event), ensure_ascii=False), flush=True)
            if isinstance(event, wanted):
                return
        raise ConnectionError("connection ended before the echo came")

    for kind, value in args.actions:
        if kind == "ping":
            client.conn.ping(value)
            await client.flush()
            await until(wsfast.Pong)
            continue
        data = value.encode("utf-8") if isinstance(value, str) else value
        if args.fragment_size and len(data) > args.fragment_size:
            await send_fragmented(client, Opcode.TEXT if kind == "text" else Opcode.BINARY, data,
                                  args.fragment_size, args.ping_between)
        else:
            client.conn.send(value)
            await client.flush()
        # A Ping sent between fragments is answered before the echo.
        await until(wsfast.Message)
    client.conn.close(1000)
    await client.flush()
    await until(wsfast.Close)
    async for _ in events:  # until the server closes TCP
        pass
    return 0


async def echo(client: Client) -> None:
    """The Autobahn client's loop: every message goes back as it came."""
    async for event in client.events():
        if isinstance(event, wsfast.Message):
            client.conn.send(event.data)


async def autobahn_text(base: str, path: str) -> List[str]:
    """The text messages of one request to the fuzzing server (its control URLs)."""
    client = await Client.connect(base.rstrip("/") + path)
    return [e.data for e in [ev async for ev in client.events()] if isinstance(e, wsfast.Message)]


async def run_autobahn(args: argparse.Namespace) -> int:
    agent = quote(args.agent, safe="")
    count = int((await autobahn_text(args.server, "/getCaseCount"))[0])
    started = time.monotonic()
    for case in range(1, count + 1):
        try:
            client = await Client.connect(f"{args.server.rstrip('/')}/runCase?case={case}&agent={agent}")
        except (handshake.HandshakeError, OSError) as err:
            # The fuzzing server records the failure in its report.
            print(f"case {case}: handshake failed: {err}", file=sys.stderr)
            continue
        await echo(client)
    await autobahn_text(args.server, f"/updateReports?agent={agent}")
    print(f"ran {count} cases as {args.agent!r} (implementation {wsfast.IMPLEMENTATION})"
          f" in {time.monotonic() - started:.1f} s", flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    send = argparse.ArgumentParser(prog="client.py send", description="send messages, print what comes back")
    send.add_argument("uri")
    send.add_argument("actions", nargs="*", type=parse_action, metavar="KIND:VALUE")
    send.add_argument("--subprotocol", action="append", default=[])
    send.add_argument("--fragment-size", type=int, default=None)
    send.add_argument("--ping-between", action="store_true")
    send.add_argument("--timeout", type=float, default=30.0, help="for the whole exchange, in seconds")
    auto = argparse.ArgumentParser(prog="client.py autobahn", description="be the client of wstest -m fuzzingserver")
    auto.add_argument("server", help="the fuzzing server's URI, e.g. ws://127.0.0.1:9001")
    auto.add_argument("--agent", default=f"wsfast-{wsfast.IMPLEMENTATION}")
    # Subcommands by hand: argparse cannot mix options and a list of
    # positionals (the actions) under subparsers.
    if args_in[:1] == ["send"]:
        args = send.parse_intermixed_args(args_in[1:])
        return asyncio.run(asyncio.wait_for(run_send(args), args.timeout))
    if args_in[:1] == ["autobahn"]:
        return asyncio.run(run_autobahn(auto.parse_args(args_in[1:])))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
