"""Autobahn|Testsuite against echo servers built on each library, unpatched and patched.

    compliance/install.sh                      # once: wstest (compliance/run.py's install)
    python compliance/patch_servers.py         # every library that can serve, both ways
    python compliance/patch_servers.py --only wsproto,tornado --cases '1.*,5.*'

For each library that can be a server (wsproto, tornado, autobahn on
asyncio, websockets; websocket-client is a client only) this starts an echo
server on 127.0.0.1 built on that library alone, runs wstest's fuzzing client
against it without the patch and then with ``wsfast.patch.install(LIB)`` in
the server process, and compares the reports case by case: the patched run
must be the same or better on every case (OK and INFORMATIONAL rank above
NON-STRICT, which ranks above UNIMPLEMENTED and FAILED).  Uses the wstest
install and report checks of compliance/run.py.

    python compliance/patch_servers.py --serve LIB PORT [--patch]

runs one such server (what the driver starts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
RANK = {"OK": 3, "INFORMATIONAL": 3, "NON-STRICT": 2, "UNIMPLEMENTED": 1, "FAILED": 0}
SERVERS = ("wsproto", "tornado", "autobahn", "websockets")
RERUNS = 3


# --- the servers ---------------------------------------------------------------


async def serve_wsproto(port: int) -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Ping, Request,
                                TextMessage)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        parts: List[Any] = []
        try:
            while True:
                data = await reader.read(65536)
                ws.receive_data(data or None)
                for event in ws.events():
                    if isinstance(event, Request):
                        writer.write(ws.send(AcceptConnection()))
                    elif isinstance(event, (TextMessage, BytesMessage)):
                        parts.append(event.data)
                        if event.message_finished:
                            whole = "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
                            parts.clear()
                            kind = TextMessage if isinstance(event, TextMessage) else BytesMessage
                            writer.write(ws.send(kind(data=whole)))
                    elif isinstance(event, Ping):
                        writer.write(ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        try:
                            writer.write(ws.send(event.response()))
                        except Exception:
                            pass
                        await writer.drain()
                        return
                await writer.drain()
                if not data:
                    return
        except Exception:
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


async def serve_tornado(port: int) -> None:
    import tornado.web
    import tornado.websocket

    class Echo(tornado.websocket.WebSocketHandler):
        def on_message(self, message: Any) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    app = tornado.web.Application([(r"/", Echo)], websocket_max_message_size=64 << 20)
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


async def serve_autobahn(port: int) -> None:
    from autobahn.asyncio.websocket import WebSocketServerFactory, WebSocketServerProtocol

    class Echo(WebSocketServerProtocol):
        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            self.sendMessage(payload, isBinary)

    factory = WebSocketServerFactory(f"ws://127.0.0.1:{port}")
    factory.protocol = Echo
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


async def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import serve

    async def echo(connection: Any) -> None:
        async for message in connection:
            await connection.send(message)

    async with serve(echo, "127.0.0.1", port, max_size=None, compression=None):
        await asyncio.Event().wait()


def serve(library: str, port: int, patched: bool) -> None:
    if patched:
        import wsfast
        import wsfast.patch

        if wsfast.patch.install(library) != [library]:
            raise SystemExit(f"{library} was not patched")
    runner = {"wsproto": serve_wsproto, "tornado": serve_tornado, "autobahn": serve_autobahn,
              "websockets": serve_websockets}[library]
    print(f"listening on 127.0.0.1:{port} ({library}, {'patched' if patched else 'unpatched'})", flush=True)
    try:
        asyncio.run(runner(port))
    except KeyboardInterrupt:  # how the driver stops it
        pass


# --- the driver ------------------------------------------------------------------


def fuzz(library: str, patched: bool, cases: List[str], outdir: Path) -> Dict[str, Any]:
    import run as harness  # compliance/run.py: wstest paths and helpers

    env = harness.impl_env("cython" if harness_compiled() else "python", use_src=True)
    port = harness.free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", library, str(port)]
    if patched:
        argv.append("--patch")
    agent = f"{library}-{'patched' if patched else 'unpatched'}"
    outdir.mkdir(parents=True, exist_ok=True)
    server_log = open(outdir.parent / f"{agent}-server.log", "wb")  # its logs of failed connections
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=server_log)
    try:
        harness.wait_listening(port, server)
        with tempfile.TemporaryDirectory(prefix="wsfast-patch-servers-") as tmp:
            spec = harness.write_spec(Path(tmp), {
                "outdir": str(outdir), "servers": [{"agent": agent, "url": f"ws://127.0.0.1:{port}"}],
                "cases": cases, "exclude-cases": [], "exclude-agent-cases": {},
            })
            subprocess.run(harness.WSTEST + ["-m", "fuzzingclient", "-s", str(spec)], cwd=tmp, check=True,
                           timeout=harness.RUN_TIMEOUT, stdout=subprocess.DEVNULL)
    finally:
        harness.stop(server)
        server_log.close()
    index = outdir / "index.json"
    if not index.is_file():
        raise RuntimeError(f"no report for {agent}")
    results: Dict[str, Any] = json.loads(index.read_text()).get(agent) or {}
    if not results:
        raise RuntimeError(f"empty report for {agent}: was the server reachable?")
    return results


def harness_compiled() -> bool:
    out = subprocess.run([sys.executable, "-c", "import wsfast; print(wsfast.IMPLEMENTATION)"],
                         env={**__import__("os").environ, "PYTHONPATH": str(HERE.parent / "src")},
                         capture_output=True, text=True)
    return out.stdout.strip() == "cython"


def score(result: Dict[str, Any]) -> int:
    return min(RANK.get(result.get("behavior"), 0), RANK.get(result.get("behaviorClose"), 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", nargs=2, metavar=("LIB", "PORT"))
    parser.add_argument("--patch", action="store_true")
    parser.add_argument("--only", default=",".join(SERVERS))
    parser.add_argument("--cases", default=",".join(f"{n}.*" for n in range(1, 11)))
    parser.add_argument("--reports", type=Path, default=HERE / "reports" / "patch-servers")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.patch)
        return 0
    sys.path.insert(0, str(HERE))
    import run as harness

    if not (harness.VENV / "bin" / "wstest").exists():
        print(f"wstest is not installed: run {HERE / 'install.sh'} first")
        return 2
    cases = [c for c in args.cases.split(",") if c]
    failed = 0
    for library in [n for n in args.only.split(",") if n]:
        started = time.monotonic()
        try:
            before = fuzz(library, False, cases, (args.reports / f"{library}-unpatched").resolve())
            after = fuzz(library, True, cases, (args.reports / f"{library}-patched").resolve())
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            print(f"{library}: run failed: {exc}")
            failed += 1
            continue
        worse = [c for c in before if score(after.get(c, {})) < score(before[c])]
        missing = sorted(set(before) ^ set(after))
        # Some cases race the server's echo against its close (4.x with an
        # async echo), either way round.  A suspect case is rerun both ways;
        # it is worse only if the patched server's best result stays below the
        # unpatched one's worst, so that a regression that always shows stays caught.
        seen_before = {c: [score(before[c])] for c in worse}
        seen_after = {c: [score(after[c])] for c in worse if c in after}
        for attempt in range(RERUNS):
            if not worse or missing:
                break
            again_before = fuzz(library, False, worse, (args.reports / f"{library}-unpatched-rerun").resolve())
            again_after = fuzz(library, True, worse, (args.reports / f"{library}-patched-rerun").resolve())
            for c in worse:
                seen_before[c].append(score(again_before.get(c, {})))
                seen_after.setdefault(c, []).append(score(again_after.get(c, {})))
            worse = [c for c in worse if max(seen_after[c]) < min(seen_before[c])]

        def tally(results: Dict[str, Any]) -> str:
            counts: Dict[str, int] = {}
            for r in results.values():
                counts[r.get("behavior")] = counts.get(r.get("behavior"), 0) + 1
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))

        verdict = "same or better" if not worse and not missing else f"WORSE on {len(worse)} cases: {worse[:10]}"
        print(f"{library}: unpatched {len(before)} cases ({tally(before)}); patched {len(after)} cases "
              f"({tally(after)}); {verdict} [{time.monotonic() - started:.0f}s]", flush=True)
        failed += bool(worse or missing)
    print(f"servers: {len(args.only.split(',')) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
