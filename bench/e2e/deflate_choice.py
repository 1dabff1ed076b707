"""Which permessage-deflate options wsfast.uvicorn should agree to: the figures.

    python bench/e2e/deflate_choice.py                 # every candidate, 3 rounds (~4 min)
    python bench/e2e/deflate_choice.py --rounds 1 --only "both keep,server resets"

For each candidate set of DeflateOptions, uvicorn serves the echo app with
WSFastProtocol given those options (bench/e2e/servers.py, WSFAST_E2E_DEFLATE)
and run.py's load generator measures, on the same 1 KiB JSON messages and
Chromium's offer as the end-to-end benchmark:

* memory per idle connection, after the handshake and after one compressed
  message each (RSS growth over 1000 connections, as run.py measures it);
* server CPU time per message in the "1 KiB JSON deflate" cell;
* bytes on the wire per message, each way (frames as sent: the client's
  compressed with Chromium's zlib settings and context takeover unless the
  server asked for client_no_context_takeover).

The candidates run in turns, ``--rounds`` times: the lowest CPU per message
of its rounds is each one's figure (CPU time is what other jobs on the
machine inflate, never deflate); memory, which moves by under 1 KiB between
rounds, is the median of them; bytes do not vary.  Writes deflate_choice.json
and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402  (bench/e2e/run.py: the load generator, servers and probes)

CELL = "1 KiB JSON deflate"
# name -> (DeflateOptions as servers.py reads them, what it means on the wire)
CANDIDATES: dict[str, tuple[str, str]] = {
    # Not "": servers.py would serve the class's own options for an empty spec.
    "both keep": ("no_context_takeover=0", "DeflateOptions(): context takeover both ways, windows 12"),
    "server resets": ("no_context_takeover=1",
                      "server_no_context_takeover; the client keeps its context, window 12 (the class's choice)"),
    "server resets, client 9": ("no_context_takeover=1,peer_max_window_bits=9",
                                "server_no_context_takeover; client window 9"),
    "server resets, client 15": ("no_context_takeover=1,peer_max_window_bits=15",
                                 "server_no_context_takeover; client window not limited (15)"),
    "both reset": ("no_context_takeover=1,peer_no_context_takeover=1",
                   "server_ and client_no_context_takeover"),
    "both keep, window 10": ("window_bits=10,mem_level=3", "context takeover, server window 10, memLevel 3"),
}


def measure(name: str, loadgen: Path, args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", WSFAST_E2E_DEFLATE=CANDIDATES[name][0])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(run.ROOT / "src"), env.get("PYTHONPATH")]))
    server = run.Server("wsfast", loadgen, env, logdir)
    try:
        got: dict[str, Any] = {"memory": run.memory(loadgen, server)}
        got["cell"] = run.cell(loadgen, server, run.CELLS[CELL], args)
    finally:
        server.stop()
    return got


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated candidates (default all: {', '.join(CANDIDATES)})")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--inflight", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    # Names hold ", ": only a comma without a space after it separates two.
    names = [name.strip() for name in re.split(r",(?! )", args.only)] if args.only else list(CANDIDATES)
    for name in names:
        if name not in CANDIDATES:
            parser.error(f"unknown candidate {name!r}")
    loadgen = run.build_loadgen()
    logdir = Path(tempfile.mkdtemp(prefix="wsfast-deflate-choice-"))
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for i in range(args.rounds):
        for name in names:
            got = measure(name, loadgen, args, logdir)
            rounds[name].append(got)
            cell = got["cell"]
            run.log(f"round {i + 1} {name}: " + (cell.get("error") or
                    f"{cell['server_cpu_us_per_msg']:.1f} µs CPU/msg, {cell['msgs_per_s']:.0f} msgs/s"))
    out = {"machine": run.machine(), "versions": run.versions(), "candidates": CANDIDATES, "rounds": rounds}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "deflate_choice.json").write_text(json.dumps(out, indent=1))
    print("| candidate | on the wire | idle after handshake | after one message | server CPU/msg "
          "| bytes to server | bytes to client |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in names:
        cells = [r["cell"] for r in rounds[name] if "error" not in r["cell"]]
        mems = sorted((r["memory"] for r in rounds[name] if "error" not in r["memory"]),
                      key=lambda m: m["exchanged_bytes_per_conn"])
        if not cells or not mems:
            error = rounds[name][0]["memory"].get("error", "") if not mems else ""
            print(f"| {name} | {CANDIDATES[name][1]} | {error} | | {'' if cells else 'error'} | | |")
            continue
        mem = mems[len(mems) // 2]
        best = min(cells, key=lambda c: c["server_cpu_us_per_msg"])
        print(f"| {name} | {CANDIDATES[name][1]} | {mem['handshake_bytes_per_conn'] / 1024:.1f} KiB | "
              f"{mem['exchanged_bytes_per_conn'] / 1024:.1f} KiB | {best['server_cpu_us_per_msg']:.1f} µs | "
              f"{best['frame_bytes_to_server']:.0f} B | {best['frame_bytes_to_client']:.0f} B |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
