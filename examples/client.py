"""An asyncio WebSocket client built on wsfast alone.

Send messages and print what comes back, one JSON object a line:

    python examples/client.py send ws://127.0.0.1:9001/ text:hello bytes:70000 ping:hi
    python examples/client.py send ws://127.0.0.1:9001/ text:héllo --fragment-size 2 --ping-between

Actions: ``text:STRING``, ``binary:HEX``, ``bytes:N`` (N bytes of a fixed
pattern: byte i is i % 251), ``ping:STRING``.  Each waits for its echo (a
message, or the Pong).  Then the client closes with 1000 and prints the
server's Close.  ``--fragment-size N`` sends each message in frames of at
most N bytes (text is cut between bytes, not characters); with
``--ping-between`` a Ping goes out after the first fragment.

Act as the client of the Autobahn|Testsuite fuzzing server (``wstest -m
fuzzingserver``): run every case, echoing, then have it write its reports:

    python examples/client.py autobahn ws://127.0.0.1:9001 --agent wsfast
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from typing import List, Optional, Sequence, Tuple, Union
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsfast
from wsconn import Connection, Event, connect, run_echo
from wsfast import handshake

Opcode = wsfast.Opcode


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


async def send_message(
    conn: Connection, opcode: int, payload: Union[str, bytes], fragment_size: Optional[int], ping_between: bool
) -> None:
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    if not fragment_size or len(data) <= fragment_size:
        await conn.send(opcode, data)
        return
    pieces = [data[i : i + fragment_size] for i in range(0, len(data), fragment_size)]
    for index, piece in enumerate(pieces):
        await conn.send(opcode if index == 0 else Opcode.CONTINUATION, piece, fin=index == len(pieces) - 1)
        if index == 0 and ping_between:
            await conn.send(Opcode.PING, b"between")


async def run_send(args: argparse.Namespace) -> int:
    conn = await connect(args.uri, subprotocols=args.subprotocol)
    print(json.dumps({"event": "open", "subprotocol": conn.subprotocol}), flush=True)
    events = conn.events()

    async def until(wanted: type) -> None:
        async for event in events:
            print(json.dumps(describe(event), ensure_ascii=False), flush=True)
            if isinstance(event, wanted):
                return
        raise ConnectionError("connection ended before the echo came")

    for kind, value in args.actions:
        if kind == "ping":
            await conn.send(Opcode.PING, value)
            await until(wsfast.Pong)
            continue
        await send_message(conn, Opcode.TEXT if kind == "text" else Opcode.BINARY, value,
                           args.fragment_size, args.ping_between)
        # A Ping sent between fragments is answered before the echo.
        await until(wsfast.Message)
    await conn.send_close(1000)
    await until(wsfast.Close)
    await conn.close_transport(wait_for_peer=True)
    return 0


async def autobahn_text(base: str, path: str) -> List[str]:
    """The text messages of one request to the fuzzing server (its control URLs)."""
    conn = await connect(base.rstrip("/") + path)
    texts = []
    try:
        async for event in conn.events():
            if isinstance(event, wsfast.Message):
                texts.append(event.data if isinstance(event.data, str) else event.data.decode("utf-8"))
            elif isinstance(event, wsfast.Ping):
                await conn.send(Opcode.PONG, event.payload)
            elif isinstance(event, wsfast.Close):
                await conn.send_close(event.code)
    finally:
        await conn.close_transport(wait_for_peer=True)
    return texts


async def run_autobahn(args: argparse.Namespace) -> int:
    agent = quote(args.agent, safe="")
    count = int((await autobahn_text(args.server, "/getCaseCount"))[0])
    started = time.monotonic()
    for case in range(1, count + 1):
        try:
            conn = await connect(f"{args.server.rstrip('/')}/runCase?case={case}&agent={agent}")
        except (handshake.HandshakeError, OSError) as err:
            # The fuzzing server records the failure in its report.
            print(f"case {case}: handshake failed: {err}", file=sys.stderr)
            continue
        await run_echo(conn)
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
