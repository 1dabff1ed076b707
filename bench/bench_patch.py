"""wsfast.patch: each library's own hot path, unpatched then patched, in one run.

    python bench/bench_patch.py            # runs the benchmarks, prints the markdown table
    python bench/bench_patch.py --from bench-patch.json   # the table of an earlier run
    python -m pytest bench/bench_patch.py --benchmark-json=bench-patch.json

Rows of one case run back to back ("before" then "after"), so load on the
machine drifts less between the two figures that are divided.  Libraries that
are not installed are skipped.  Ratios are before/after: above 1 is a gain.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wsfast.patch as patch
from conftest import record, run

MASK = b"\x37\xfa\x21\x3d"
RNG = random.Random(1)


def masked_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n <= 125:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    stream = (MASK * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")
    return head + MASK + masked


def text(size: int) -> bytes:
    """Mixed-script UTF-8 of exactly ``size`` bytes, ending on a whole code point."""
    unit = "wsfast \u00e9t\u00e9 \u20ac \u4e2d\u6587 \U0001f600 ".encode()
    data = (unit * (size // len(unit) + 1))[:size]
    while True:
        try:
            data.decode()
            return data
        except UnicodeDecodeError:
            data = data[:-1] + b"a"


# Each case: (library, label, size, frames per call, setup -> zero-argument callable).
Case = tuple[str, str, int, int, Callable[[], Callable[[], Any]]]


def wsproto_receive(size: int, count: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        from wsproto import Connection, ConnectionType

        conn = Connection(ConnectionType.SERVER)
        stream = masked_frame(2, RNG.randbytes(size)) * count

        def call() -> Any:
            conn.receive_data(stream)
            return list(conn.events())

        return call

    return setup


def wsproto_send(size: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        from wsproto import Connection, ConnectionType
        from wsproto.events import BytesMessage

        conn = Connection(ConnectionType.CLIENT)
        event = BytesMessage(RNG.randbytes(size))
        return lambda: conn.send(event)

    return setup


def wsclient_mask(size: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        from websocket import ABNF

        data = RNG.randbytes(size)
        return lambda: ABNF.mask(MASK, data)

    return setup


def wsclient_format(size: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        from websocket import ABNF

        data = RNG.randbytes(size)
        return lambda: ABNF.create_frame(data, ABNF.OPCODE_BINARY).format()

    return setup


def wsclient_utf8(size: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        from websocket._abnf import validate_utf8

        data = text(size)
        return lambda: validate_utf8(data)

    return setup


def tornado_mask(size: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        import tornado.websocket

        data = RNG.randbytes(size)
        mask = tornado.websocket._websocket_mask
        return lambda: mask(MASK, data)

    return setup


def autobahn_mask(size: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        from autobahn.websocket import protocol

        data = RNG.randbytes(size)
        factory = protocol.create_xor_masker
        return lambda: factory(MASK, size).process(data)

    return setup


def autobahn_utf8(size: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        from autobahn.websocket import protocol

        data = text(size)
        validator = protocol.Utf8Validator()

        def call() -> Any:
            validator.reset()
            return validator.validate(data)

        return call

    return setup


def websockets_mask(size: int) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        from websockets import frames

        data = RNG.randbytes(size)
        apply_mask = frames.apply_mask
        return lambda: apply_mask(data, MASK)

    return setup


CASES: list[Case] = [
    ("wsproto", "Connection.receive_data, 100 masked frames of 16 B", 16, 100, wsproto_receive(16, 100)),
    ("wsproto", "Connection.receive_data, 100 masked frames of 1 KiB", 1024, 100, wsproto_receive(1024, 100)),
    ("wsproto", "Connection.receive_data, one masked frame of 64 KiB", 65536, 1, wsproto_receive(65536, 1)),
    ("wsproto", "Connection.receive_data, one masked frame of 1 MiB", 1 << 20, 1, wsproto_receive(1 << 20, 1)),
    ("wsproto", "Connection.send (client, masked), 16 B", 16, 1, wsproto_send(16)),
    ("wsproto", "Connection.send (client, masked), 64 KiB", 65536, 1, wsproto_send(65536)),
    ("websocket-client", "ABNF.mask, 125 B", 125, 1, wsclient_mask(125)),
    ("websocket-client", "ABNF.mask, 64 KiB", 65536, 1, wsclient_mask(65536)),
    ("websocket-client", "ABNF.create_frame().format() (masked), 125 B", 125, 1, wsclient_format(125)),
    ("websocket-client", "ABNF.create_frame().format() (masked), 64 KiB", 65536, 1, wsclient_format(65536)),
    ("websocket-client", "validate_utf8, 64 KiB mixed text", 65536, 1, wsclient_utf8(65536)),
    ("tornado", "_websocket_mask, 125 B", 125, 1, tornado_mask(125)),
    ("tornado", "_websocket_mask, 64 KiB", 65536, 1, tornado_mask(65536)),
    ("autobahn", "create_xor_masker().process, 125 B", 125, 1, autobahn_mask(125)),
    ("autobahn", "create_xor_masker().process, 64 KiB", 65536, 1, autobahn_mask(65536)),
    ("autobahn", "Utf8Validator.validate, 125 B mixed text", 125, 1, autobahn_utf8(125)),
    ("autobahn", "Utf8Validator.validate, 64 KiB mixed text", 65536, 1, autobahn_utf8(65536)),
    ("websockets", "frames.apply_mask, 125 B", 125, 1, websockets_mask(125)),
    ("websockets", "frames.apply_mask, 64 KiB", 65536, 1, websockets_mask(65536)),
]
PARAMS = [(i, state) for i in range(len(CASES)) for state in ("before", "after")]


@pytest.fixture
def state(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


@pytest.mark.parametrize(
    "case, state",
    PARAMS,
    ids=[f"{CASES[i][0]}:{CASES[i][1]}:{s}" for i, s in PARAMS],
    indirect=["state"],
)
def test_patch(benchmark: Any, case: int, state: str) -> None:
    library, label, size, frames, setup = CASES[case]
    if not patch._is_installed(library):
        pytest.skip(f"{library} is not installed")
    patch.uninstall()
    try:
        if state == "after" and patch.install(library) != [library]:
            pytest.skip(f"wsfast.patch refused {library}")
        record(benchmark, op=f"patch {library}", variant=label, size=size, contender=state,
               kind="patched" if state == "after" else "original", nbytes=size * frames, frames=frames)
        benchmark.group = f"{library}: {label}"
        run(benchmark, setup())
    finally:
        patch.uninstall()


def seconds(bench: dict[str, Any], stat: str) -> float:
    calls = bench["extra_info"].get("calls", 1)
    return float(bench["stats"][stat]) / calls


def fmt(t: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def table(path: Path, stat: str = "median") -> str:
    data = json.loads(path.read_text())
    rows: dict[str, dict[str, float]] = {}
    meta: dict[str, tuple[str, int]] = {}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        key = f"{info['op'].removeprefix('patch ')}|{info['variant']}"
        rows.setdefault(key, {})[info["contender"]] = seconds(bench, stat) / max(1, info.get("frames", 1))
        meta[key] = (info["op"], info.get("frames", 1))
    wsfast = data.get("machine_info", {}).get("wsfast", {})
    peers = data.get("machine_info", {}).get("peers", {})
    out = [
        f"wsfast {wsfast.get('implementation', '?')}, SIMD {wsfast.get('simd', '?')}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(peers.items())) + f"; {stat} per call"
        + " (per frame for receive_data)",
        "",
        "| library | hot path | before | after | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for key, values in rows.items():
        library, label = key.split("|", 1)
        before, after = values.get("before"), values.get("after")
        if before is None or after is None:
            continue
        out.append(f"| {library} | {label} | {fmt(before)} | {fmt(after)} | {before / after:.2f}x |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description="wsfast.patch before/after benchmarks")
    parser.add_argument("--from", dest="source", help="print the table of this pytest-benchmark JSON")
    parser.add_argument("--json", help="keep the JSON here")
    parser.add_argument("--stat", default="median", choices=["min", "median", "mean"])
    args, rest = parser.parse_known_args()
    if args.source:
        print(table(Path(args.source), args.stat))
        return 0
    target = Path(args.json) if args.json else Path(tempfile.mkdtemp()) / "bench-patch.json"
    code = pytest.main([__file__, "-q", "-p", "no:cacheprovider", f"--benchmark-json={target}",
                        "--benchmark-disable-gc", *rest])
    if target.exists():
        print()
        print(table(target, args.stat))
    return int(code)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
