"""What wsfast.uvicorn's Python glue costs per message, without the kernel.

    python bench/e2e/glue.py                       # the class as shipped
    python bench/e2e/glue.py --compiled            # the same module compiled by Cython, for comparison
    python bench/e2e/glue.py --deflate             # 1 KiB JSON, permessage-deflate agreed

One WSFastProtocol (uvicorn's Config defaults) on a uvloop loop, a transport
that only counts what is written, and the raw ASGI echo app of
examples/asgi_echo.py.  Each round hands the protocol one read of --batch
frames (as the end-to-end benchmark's connections bring 8 messages in
flight), then lets the loop run until their echoes have been written.  What
is timed (thread CPU time, the lowest of --repeat runs) is everything the
server does in Python and in wsfast per message, less the system calls:
the ServerConnection, this class's glue, the app, asyncio's task steps.

--compiled builds src/wsfast/uvicorn.py unchanged with Cython into a
temporary directory and measures that module instead: the gain a compiled
glue would bring without a rewrite.  --floor measures a subclass whose
data_received, receive and send do only what an echo needs (no flow
control, no state checks, no closing handshake): what is left is the
connection, the app and asyncio, so the difference to the class as shipped
bounds what any rewrite of the glue, compiled or not, could save.  --profile prints where the time goes
(cProfile, so the figures are inflated; read the shares).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "examples")]

from asgi_echo import app  # noqa: E402
from uvicorn.config import Config  # noqa: E402
from uvicorn.server import ServerState  # noqa: E402

import wsfast  # noqa: E402

REQUEST = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
OFFER = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


class Transport(asyncio.Transport):
    """Counts writes and their bytes; everything else a protocol may ask is a no-op."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.written = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes += 1
        self.written += len(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def compiled_module() -> ModuleType:
    """src/wsfast/uvicorn.py compiled by Cython as wsfast._uvicorn_glue_bench, imported."""
    work = Path(tempfile.mkdtemp(prefix="wsfast-glue-"))
    source = work / "_uvicorn_glue_bench.py"
    text = (ROOT / "src" / "wsfast" / "uvicorn.py").read_text()
    # Relative imports name the package: the module is built outside it.
    source.write_text(text.replace("from . import", "from wsfast import").replace("from ._", "from wsfast._"))
    subprocess.run([sys.executable, "-m", "cython", "-3", str(source)], check=True, cwd=work)
    import sysconfig

    include = sysconfig.get_paths()["include"]
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    cc = os.environ.get("CC", "gcc")
    subprocess.run([cc, "-O2", "-shared", "-fPIC", f"-I{include}", "-o", str(work / f"_uvicorn_glue_bench{ext}"),
                    str(work / "_uvicorn_glue_bench.c")], check=True)
    spec = importlib.util.spec_from_file_location("_uvicorn_glue_bench", work / f"_uvicorn_glue_bench{ext}")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.rmtree(work, ignore_errors=True)
    return module


def floor_class(module: Any) -> Any:
    """WSFastProtocol with the least glue an echo can run on (see --floor)."""
    message_type = wsfast.Message

    class Floor(module.WSFastProtocol):  # type: ignore[misc, name-defined]
        def data_received(self, data: bytes) -> None:
            events = self.conn.receive_data(data)
            if self.phase != module._OPEN:  # the request: answered as the class does
                self._handshake(events)
                return
            queue = self._events
            for event in events:
                if type(event) is message_type:
                    payload = event[1]
                    queue.append({"type": "websocket.receive", "bytes": payload} if type(payload) is bytes
                                 else {"type": "websocket.receive", "text": payload})
            if self._waiter is not None:
                self._waiter.set_result(None)
                self._waiter = None

        def _handshake(self, events: Any) -> None:
            for event in events:
                if type(event) is not message_type:
                    self._request(event)
            self._queued()

        async def receive(self) -> Any:
            events = self._events
            while not events:
                waiter = self._waiter = self.loop.create_future()
                await waiter
            return events.popleft()

        async def send(self, message: Any) -> None:
            if self.phase != module._OPEN:
                return await module.WSFastProtocol.send(self, message)  # type: ignore[no-any-return]
            data = message.get("bytes")
            self.conn.send(data if data is not None else message["text"])
            if self._flush_handle is None:
                self._flush_handle = self.loop.call_soon(self._flush)

    return Floor


def frames(batch: int, deflate: bool, size: int = 32) -> tuple[bytes, int]:
    """One read of ``batch`` masked client frames, and how many bytes their echoes take at least."""
    if deflate:
        import zlib

        body = ('{"type":"update","items":[' + ",".join(
            f'{{"sku":"SKU-{i:05d}","qty":{i % 20},"price":{i % 500}.{i % 100:02d},"tags":["blue","large"]}}'
            for i in range(12)) + '],"note":"' + "lorem ipsum dolor sit amet " * 8 + '"}')[:1024].encode()
        comp = zlib.compressobj(6, zlib.DEFLATED, -12, 8)
        parts = []
        for _ in range(batch):
            payload = comp.compress(body) + comp.flush(zlib.Z_SYNC_FLUSH)
            parts.append(wsfast.encode_frame(wsfast.Opcode.TEXT, payload[:-4], rsv1=True, mask=True))
        return b"".join(parts), batch * 3
    one = wsfast.encode_frame(wsfast.Opcode.BINARY, os.urandom(size), mask=True)
    return one * batch, batch * size


async def drive(module: Any, rounds: int, batch: int, deflate: bool, floor: bool = False, size: int = 32) -> float:
    loop = asyncio.get_running_loop()
    config = Config(app=app, ws=module.WSFastProtocol, lifespan="off", log_level="warning")
    config.ws_per_message_deflate = deflate
    config.load()
    proto = (floor_class(module) if floor else module.WSFastProtocol)(config, ServerState(), {}, _loop=loop)
    transport = Transport()
    proto.connection_made(transport)
    proto.data_received(REQUEST + (OFFER if deflate else b"") + b"\r\n")
    while transport.writes == 0:
        await asyncio.sleep(0)
    data, _ = frames(batch, deflate, size)
    t0 = time.thread_time()
    for _ in range(rounds):
        before = transport.writes
        proto.data_received(data)
        while transport.writes == before:
            await asyncio.sleep(0)
    spent = time.thread_time() - t0
    proto.connection_lost(None)
    return spent / (rounds * batch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compiled", action="store_true")
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--size", type=int, default=32, help="binary message size without --deflate")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    import uvloop

    if args.compiled:
        module: Any = compiled_module()
    else:
        import wsfast.uvicorn as module
    rounds = args.rounds // (10 if args.deflate else 1)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        uvloop.run(drive(module, rounds, args.batch, args.deflate))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return 0
    if args.size > 1024:
        rounds = max(100, rounds * 1024 // args.size)
    best = min(uvloop.run(drive(module, rounds, args.batch, args.deflate, args.floor, args.size))
               for _ in range(args.repeat))
    what = "compiled by Cython" if args.compiled else "as shipped"
    if args.floor:
        what += ", least glue (--floor)"
    load = "1 KiB JSON deflated" if args.deflate else f"{args.size} B"
    print(f"wsfast.uvicorn {what} [{wsfast.IMPLEMENTATION}], {load}, {args.batch} frames per read"
          f": {best * 1e6:.2f} µs per message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
