"""End-to-end WebSocket echo benchmark: the servers people run, in one run.

    python bench/e2e/run.py                        # every contender, every cell (~4 min)
    python bench/e2e/run.py --only wsfast,websockets-sansio,aiohttp --duration 2
    python bench/e2e/run.py --from bench/e2e/results/e2e.json   # redo table and chart

Each contender is an echo server on 127.0.0.1, pinned to CPU 0 with taskset;
the load generator (loadgen.c, compiled here with gcc and cached) is pinned to
CPU 1.  For each contender this measures, on one fresh server process:

* memory per idle connection: the server's RSS growth over 1000 connections
  after their handshakes, and again after each has exchanged one 1 KiB JSON
  message with permessage-deflate offered (Chromium's offer);
* then each cell (message size, kind, compression): messages/s, p50 and p99
  round-trip latency, and the server's CPU time per message
  (/proc/PID/stat over the measured window, all threads).

The cells run with a fixed load (--conns connections, --inflight messages in
flight on each).  Writes e2e.json (everything, with versions and machine),
e2e.md (the tables, with ratios from this run) and e2e.png (the chart) into
--out.  See docs/benchmarks.md for the method and what limits each figure.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCE = HERE / "loadgen.c"
SERVER_CPU, CLIENT_CPU = "0", "1"

# name -> (label, how to start it)
CONTENDERS: dict[str, tuple[str, list[str]]] = {
    "wsfast": ("uvicorn --ws wsfast.uvicorn:WSFastProtocol", ["uvicorn", "--ws", "wsfast.uvicorn:WSFastProtocol"]),
    "websockets-sansio": ("uvicorn --ws websockets-sansio", ["uvicorn", "--ws", "websockets-sansio"]),
    "websockets-sansio+patch": ("same, with wsfast.patch",
                                ["uvicorn", "--ws", "websockets-sansio", "--patch", "websockets"]),
    "websockets": ("uvicorn --ws websockets", ["uvicorn", "--ws", "websockets"]),
    "websockets+patch": ("same, with wsfast.patch", ["uvicorn", "--ws", "websockets", "--patch", "websockets"]),
    "wsproto": ("uvicorn --ws wsproto", ["uvicorn", "--ws", "wsproto"]),
    "wsproto+patch": ("same, with wsfast.patch", ["uvicorn", "--ws", "wsproto", "--patch", "wsproto"]),
    "aiohttp": ("aiohttp web server", ["aiohttp"]),
    "picows": ("picows server", ["picows"]),
    "c-echo": ("C echo in loadgen.c (the client's ceiling)", []),
}
# name -> loadgen options
CELLS: dict[str, list[str]] = {
    "32 B": ["--size", "32"],
    "1 KiB": ["--size", "1024"],
    "64 KiB": ["--size", "65536"],
    "1 KiB JSON": ["--size", "1024", "--json"],
    "1 KiB JSON deflate": ["--size", "1024", "--json", "--deflate"],
}
REFERENCE = "websockets-sansio"  # the ratio column divides by this one
IDLE_CONNS = 1000


def log(message: str) -> None:
    print(f"e2e: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ set-up
def build_loadgen() -> Path:
    """gcc -O2 loadgen.c, cached by the source's hash (and the compiler's)."""
    gcc = shutil.which(os.environ.get("CC", "gcc"))
    if not gcc:
        raise SystemExit("e2e: a C compiler is needed for the load generator (set CC or install gcc)")
    version = subprocess.run([gcc, "--version"], check=False, capture_output=True, text=True).stdout
    digest = hashlib.sha256(SOURCE.read_bytes() + version.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wsfast-bench"
    binary = cache / f"loadgen-{digest}"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_suffix(".tmp")
        subprocess.run([gcc, "-O2", "-Wall", "-o", str(tmp), str(SOURCE), "-lz"], check=True)
        tmp.replace(binary)
        log(f"compiled {binary}")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv]


def available(name: str, env: dict[str, str]) -> str | None:
    """None when the contender can run here, else the reason."""
    spec = CONTENDERS[name][1]
    if not spec:
        return None
    module = {"uvicorn": "uvicorn", "aiohttp": "aiohttp", "picows": "picows"}[spec[0]]
    probe = [f"import {module}"]
    if "--ws" in spec and ":" in spec[spec.index("--ws") + 1]:
        probe.append(f"import {spec[spec.index('--ws') + 1].split(':')[0]}")
    if "--patch" in spec:
        probe.append("import wsproto, websockets, wsfast.patch")
    result = subprocess.run([sys.executable, "-c", "; ".join(probe)], check=False, env=env, capture_output=True,
                            text=True)
    if result.returncode:
        return (result.stderr.strip().splitlines() or ["import failed"])[-1]
    return None


class Server:
    def __init__(self, name: str, loadgen: Path, env: dict[str, str], logdir: Path) -> None:
        self.port = free_port()
        spec = CONTENDERS[name][1]
        if spec:
            argv = [sys.executable, str(HERE / "servers.py"), spec[0], str(self.port), *spec[1:]]
        else:
            argv = [str(loadgen), "echo", str(self.port)]
        self.logfile = open(logdir / f"server-{name}.log", "w")
        self.proc = subprocess.Popen(pinned(SERVER_CPU, argv), env=env, stdout=self.logfile,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode} (see {self.logfile.name})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} is not listening after 30 s")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        # taskset execs the command: the pid is the server's own.
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()


# ------------------------------------------------------------- measurement
def idle_probe(loadgen: Path, server: Server, conns: int, deflate: bool) -> dict[str, Any]:
    """RSS growth per connection after the handshakes and after one exchange each."""
    argv = [str(loadgen), "idle", str(server.port), "--conns", str(conns), "--size", "1024", "--json"]
    if deflate:
        argv.append("--deflate")
    proc = subprocess.Popen(pinned(CLIENT_CPU, argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdin and proc.stdout
    readings = {}
    try:
        for step in ("handshaken", "exchanged"):
            line = proc.stdout.readline()
            if not line.startswith(step):
                proc.wait(10)
                return {"error": line.strip() or f"load generator exited with {proc.returncode}"}
            time.sleep(0.3)  # let the server finish what the last reply started
            readings[step] = rss_kib(server.pid)
            proc.stdin.write("go\n")
            proc.stdin.flush()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return readings


def memory(loadgen: Path, server: Server) -> dict[str, Any]:
    # A first small round imports and allocates whatever a server sets up on
    # its first connections (lazy imports, zlib tables), outside the figure.
    deflate = True
    warm = idle_probe(loadgen, server, 20, True)
    if "error" in warm:
        if "not negotiated" not in warm["error"]:
            return warm
        deflate = False
        warm = idle_probe(loadgen, server, 20, False)
        if "error" in warm:
            return warm
    time.sleep(0.5)
    base = rss_kib(server.pid)
    got = idle_probe(loadgen, server, IDLE_CONNS, deflate)
    if "error" in got:
        return got
    return {
        "connections": IDLE_CONNS,
        "deflate": deflate,
        "base_rss_kib": base,
        "handshake_bytes_per_conn": (got["handshaken"] - base) * 1024 / IDLE_CONNS,
        "exchanged_bytes_per_conn": (got["exchanged"] - base) * 1024 / IDLE_CONNS,
    }


def cell(loadgen: Path, server: Server, options: list[str], args: argparse.Namespace) -> dict[str, Any]:
    argv = [str(loadgen), "run", str(server.port), "--conns", str(args.conns), "--inflight", str(args.inflight),
            "--warmup", str(args.warmup), "--duration", str(args.duration), "--server-pid", str(server.pid), *options]
    load0 = os.getloadavg()[0]
    try:
        done = subprocess.run(pinned(CLIENT_CPU, argv), check=False, capture_output=True, text=True,
                              timeout=args.warmup + args.duration + 60)
    except subprocess.TimeoutExpired:
        return {"error": "load generator timed out"}
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"error": f"load generator exited with {done.returncode}: {done.stderr.strip()}"}
    result: dict[str, Any] = json.loads(lines[-1])
    if "error" not in result:
        result["server_cpu_share"] = result["server_cpu_s"] / result["seconds"]
        result["loadavg_before"] = load0
    return result


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("uvicorn", "websockets", "wsproto", "aiohttp", "picows", "uvloop", "httptools", "wsfast"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


# ----------------------------------------------------------------- report
def fmt_rate(value: float) -> str:
    return f"{value / 1000:,.1f}k" if value < 1e6 else f"{value / 1e6:,.2f}M"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def rate_of(data: dict[str, Any], name: str, cellname: str) -> float | None:
    got = data["results"].get(name, {}).get("cells", {}).get(cellname, {})
    value = got.get("msgs_per_s")
    return float(value) if value else None


def targets(data: dict[str, Any]) -> list[tuple[str, float | None, float]]:
    """(what, measured ratio, at least) for the goals of WSFastProtocol."""
    rows: list[tuple[str, float | None, float]] = []
    for cellname in ("32 B", "1 KiB", "1 KiB JSON deflate"):
        rows.append((f"{cellname}: wsfast / websockets-sansio",
                     ratio(rate_of(data, "wsfast", cellname), rate_of(data, REFERENCE, cellname)), 2.0))
    for cellname in CELLS:
        rows.append((f"{cellname}: wsfast / aiohttp",
                     ratio(rate_of(data, "wsfast", cellname), rate_of(data, "aiohttp", cellname)), 1.0))
    mem = {name: data["results"].get(name, {}).get("memory", {}) for name in ("wsfast", REFERENCE)}
    for key, what in (("handshake_bytes_per_conn", "after handshake"), ("exchanged_bytes_per_conn", "after a message")):
        a, b = mem["wsfast"].get(key), mem[REFERENCE].get(key)
        rows.append((f"idle memory {what}: websockets-sansio / wsfast", ratio(b, a), 2.0))
    return rows


def client_check(data: dict[str, Any], names: list[str]) -> list[str]:
    """Whether the load generator limited any cell, from its own CPU figures."""
    res = data["results"]
    cells = [(n, c, r) for n in names for c, r in res[n].get("cells", {}).items() if "error" not in r]
    if not cells:
        return []
    busiest = max(r["client_cpu_share"] for _, _, r in cells)
    line = f"The load generator used at most {busiest:.0%} of its core's time in any cell."
    echo = res.get("c-echo", {}).get("cells", {}).get("32 B", {})
    if echo.get("client_cpu_s"):
        # CPU per message does not depend on how much of its core the client
        # was given, so this holds on a busy machine too.
        capacity = echo["messages"] / echo["client_cpu_s"]
        fastest = max((rate_of(data, n, "32 B") or 0, n) for n in names if n != "c-echo")
        line += (f" Against the C echo it spent {echo['client_cpu_s'] * 1e6 / echo['messages']:.2f} µs of CPU"
                 f" per 32 B message: {fmt_rate(capacity)} messages per second of its core,"
                 f" {capacity / fastest[0]:.1f}x the fastest server here ({fastest[1]}, {fmt_rate(fastest[0])}/s)")
        line += ": the client is not what limits these servers." if capacity > 1.5 * fastest[0] else "."
    lines = [line]
    return ["", lines[0]]


def markdown(data: dict[str, Any]) -> str:
    res = data["results"]
    names = [n for n in data["contenders"] if n in res and "cells" in res[n]]
    missing = [n for n in data["contenders"] if n in res and "cells" not in res[n]]
    cells = list(data["cells"])
    cfg = data["config"]
    out = [
        "# End-to-end echo benchmark",
        "",
        f"{data['machine']['date']}, {data['machine']['cpu']} ({data['machine']['cpus']} CPUs), "
        f"Linux {data['machine']['kernel']}; "
        + ", ".join(f"{k} {v}" for k, v in data["versions"].items()) + ".",
        "",
        (
            f"Server on CPU {SERVER_CPU}, load generator (C, epoll) on CPU {CLIENT_CPU}, loopback; "
            f"{cfg['conns']} connections x {cfg['inflight']} messages in flight; "
            f"{cfg['warmup']} s warm-up, {cfg['duration']} s measured per cell. "
            "Binary messages for the sizes; 1 KiB JSON as text, with and without permessage-deflate. "
            f"Ratios divide by {REFERENCE} in this same run."
        ),
        "",
        "## Messages per second (ratio to websockets-sansio)",
        "",
        "| server | " + " | ".join(cells) + " |",
        "|---|" + "---:|" * len(cells),
    ]

    def show(name: str, cellname: str) -> dict[str, Any] | None:
        got: dict[str, Any] | None = res[name].get("cells", {}).get(cellname)
        return got if got and "error" not in got else None

    for name in names:
        row = [f"{name}"]
        for cellname in cells:
            got = show(name, cellname)
            if not got:
                err = res[name].get("cells", {}).get(cellname, {}).get("error") or res[name].get("error", "not run")
                row.append("n/a" if "not negotiated" in err else "error")
                continue
            r = ratio(got["msgs_per_s"], rate_of(data, REFERENCE, cellname))
            row.append(fmt_rate(got["msgs_per_s"]) + (f" ({r:.2f}x)" if r else ""))
        out.append("| " + " | ".join(row) + " |")
    out += ["", "n/a: the server does not offer permessage-deflate."]

    def table(title: str, shown: Callable[[dict[str, Any]], str]) -> None:
        out.extend(["", f"## {title}", "", "| server | " + " | ".join(cells) + " |", "|---|" + "---:|" * len(cells)])
        for name in names:
            values = [show(name, cellname) for cellname in cells]
            out.append("| " + " | ".join([name] + [shown(got) if got else "" for got in values]) + " |")

    table("Latency p50 / p99 (µs) under that load", lambda got: f"{got['p50_us']:,.0f} / {got['p99_us']:,.0f}")
    table("Server CPU per message (µs), and the share of its core it had",
          lambda got: f"{got['server_cpu_us_per_msg']:.1f} ({got['server_cpu_share']:.0%})")
    out += ["", f"## Server memory per idle connection ({IDLE_CONNS} connections, RSS growth / connection)", "",
            "| server | after handshake | after one 1 KiB JSON message each | permessage-deflate |",
            "|---|---:|---:|---|"]
    for name in names:
        mem = res[name].get("memory", {})
        if "handshake_bytes_per_conn" not in mem:
            out.append(f"| {name} | {mem.get('error', 'not measured')} | | |")
            continue
        out.append(f"| {name} | {mem['handshake_bytes_per_conn'] / 1024:.1f} KiB | "
                   f"{mem['exchanged_bytes_per_conn'] / 1024:.1f} KiB | "
                   f"{'on' if mem['deflate'] else 'not offered by the server'} |")
    deflated = [(name, got) for name in names
                for got in [show(name, "1 KiB JSON deflate")] if got and got.get("deflate")]
    if deflated:
        out += ["", "## permessage-deflate as agreed, and frame bytes per 1 KiB JSON message", "",
                "| server | server's context | client's context, window | to the server | to the client |",
                "|---|---|---|---:|---:|"]
        for name, got in deflated:
            out.append(f"| {name} | {'reset per message' if got['server_no_context_takeover'] else 'kept'} | "
                       f"{'reset per message' if got['client_no_context_takeover'] else 'kept'}, "
                       f"{got['client_max_window_bits']} | {got['frame_bytes_to_server']:.0f} B | "
                       f"{got['frame_bytes_to_client']:.0f} B |")
    busy = sorted({f"{name} {cellname}" for name in names for cellname in cells
                   if (show(name, cellname) or {}).get("server_cpu_share", 1.0) < 0.9})
    if busy:
        out += ["", (f"In {len(busy)} cells the server had less than 90% of its core (other work on the machine): "
                     "there messages/s understate it, and CPU per message is the figure to compare.")]
    out += client_check(data, names)
    for name in missing:
        out += ["", f"{name} ({data['labels'][name]}): {res[name]['error']}"]
    if "wsfast" in res and res["wsfast"].get("cells"):
        out += ["", "## Targets for wsfast.uvicorn", "", "| what | measured | goal | |", "|---|---:|---:|---|"]
        for what, value, goal in targets(data):
            shown = f"{value:.2f}x" if value else "n/a"
            verdict = "" if value is None else ("met" if value >= goal else "not met")
            out.append(f"| {what} | {shown} | {goal:.1f}x | {verdict} |")
    return "\n".join(out) + "\n"


def chart(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = data["results"]
    names = [n for n in data["contenders"] if n in res and res[n].get("cells")]
    cells = list(data["cells"])
    fig, (ax, mx) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [3, 1.2]})
    width = 0.8 / max(1, len(names))
    colours = plt.get_cmap("tab10")
    for i, name in enumerate(names):
        values = [rate_of(data, name, c) or 0 for c in cells]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(cells))]
        ax.bar(xs, values, width, label=name, color=colours(i % 10))
    ax.set_xticks(range(len(cells)))
    ax.set_xticklabels(cells)
    ax.set_yscale("log")
    ax.set_ylabel("messages/s (log scale)")
    ax.set_title("Echo throughput, server on one core")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", which="both", alpha=0.3)
    mem_names = [n for n in names if "handshake_bytes_per_conn" in res[n].get("memory", {})]
    ys = range(len(mem_names))
    hs = [res[n]["memory"]["handshake_bytes_per_conn"] / 1024 for n in mem_names]
    ex = [res[n]["memory"]["exchanged_bytes_per_conn"] / 1024 for n in mem_names]
    mx.barh([y - 0.2 for y in ys], hs, 0.4, label="after handshake")
    mx.barh([y + 0.2 for y in ys], ex, 0.4, label="after one message (deflated where agreed)")
    mx.set_yticks(list(ys))
    mx.set_yticklabels(mem_names, fontsize=8)
    mx.invert_yaxis()
    mx.set_xlabel("KiB per idle connection")
    mx.set_title(f"Server memory, {IDLE_CONNS} connections")
    mx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(data: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "e2e.json").write_text(json.dumps(data, indent=1))
    (out / "e2e.md").write_text(markdown(data))
    try:
        chart(data, out / "e2e.png")
    except ImportError as exc:
        log(f"no chart: {exc}")
    log(f"wrote {out / 'e2e.json'}, e2e.md, e2e.png")


# ------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated contenders (default all: {', '.join(CONTENDERS)})")
    parser.add_argument("--cells", help=f"comma-separated cells (default all: {', '.join(CELLS)})")
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--inflight", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--no-memory", action="store_true", help="skip the idle-connection memory probe")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--installed", action="store_true", help="the installed wsfast, not the tree's src/")
    parser.add_argument("--from", dest="source", type=Path, help="only rewrite table and chart from this JSON")
    args = parser.parse_args(argv)

    if args.source:
        write_outputs(json.loads(args.source.read_text()), args.out)
        return 0
    if not sys.platform.startswith("linux") or not shutil.which("taskset"):
        raise SystemExit("e2e: needs Linux with taskset (util-linux): the server and the client are pinned")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("e2e: needs two CPUs, one for the server and one for the load generator")
    names = args.only.split(",") if args.only else list(CONTENDERS)
    cells = args.cells.split(",") if args.cells else list(CELLS)
    for name in names:
        if name not in CONTENDERS:
            raise SystemExit(f"e2e: unknown contender {name!r}")
    for cellname in cells:
        if cellname not in CELLS:
            raise SystemExit(f"e2e: unknown cell {cellname!r}")

    loadgen = build_loadgen()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if not args.installed:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    per = len(cells) * (args.warmup + args.duration + 0.5) + (0 if args.no_memory else 8) + 2
    log(f"{len(names)} contenders x {len(cells)} cells: about {len(names) * per / 60:.0f} min")
    args.out.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "machine": machine(), "versions": versions(), "contenders": names, "cells": cells,
        "config": {"conns": args.conns, "inflight": args.inflight, "warmup": args.warmup,
                   "duration": args.duration, "idle_conns": IDLE_CONNS,
                   "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU},
        "labels": {n: CONTENDERS[n][0] for n in names},
        "results": {},
    }
    logdir = Path(tempfile.mkdtemp(prefix="wsfast-e2e-"))  # servers' output, for when one fails
    for name in names:
        reason = available(name, env)
        if reason:
            log(f"{name}: not available ({reason})")
            data["results"][name] = {"error": f"not available: {reason}"}
            continue
        entry: dict[str, Any] = {"cells": {}}
        data["results"][name] = entry
        try:
            server = Server(name, loadgen, env, logdir)
        except RuntimeError as exc:
            log(f"{name}: {exc}")
            entry["error"] = str(exc)
            continue
        try:
            if not args.no_memory:
                entry["memory"] = memory(loadgen, server)
                mem = entry["memory"]
                if "error" in mem:
                    log(f"{name}: memory probe: {mem['error']}")
                else:
                    log(f"{name}: idle {mem['handshake_bytes_per_conn'] / 1024:.1f} KiB/conn, "
                        f"{mem['exchanged_bytes_per_conn'] / 1024:.1f} KiB after a message")
            for cellname in cells:
                got = cell(loadgen, server, CELLS[cellname], args)
                entry["cells"][cellname] = got
                if "error" in got:
                    log(f"{name} {cellname}: {got['error']}")
                else:
                    log(f"{name} {cellname}: {fmt_rate(got['msgs_per_s'])} msgs/s, p99 {got['p99_us']:.0f} µs, "
                        f"{got['server_cpu_us_per_msg']:.1f} µs CPU/msg ({got['server_cpu_share']:.0%} of its core), "
                        f"client {got['client_cpu_share']:.0%}")
                if server.proc.poll() is not None:
                    entry["error"] = f"server exited with {server.proc.returncode}"
                    log(f"{name}: {entry['error']}")
                    break
        finally:
            server.stop()
    write_outputs(data, args.out)
    sys.stdout.write(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
