"""The Autobahn|Testsuite through uvicorn: a raw ASGI echo app behind a chosen WebSocket class.

    compliance/install.sh                        # once: wstest (compliance/run.py's install)
    python compliance/uvicorn_autobahn.py        # wsfast.uvicorn:WSFastProtocol, both implementations
    python compliance/uvicorn_autobahn.py --ws websockets-sansio,wsproto   # uvicorn's own, for comparison
    python compliance/uvicorn_autobahn.py --cases '1.*,5.*'

For each class this starts ``uvicorn asgi_echo:app --ws CLASS`` (the app of
examples/asgi_echo.py) on 127.0.0.1 with uvicorn's defaults, permessage-deflate
included, and runs wstest's fuzzing client against it: compliance/run.py's
"core" case set (cases 1 to 10), then its "deflate" subset.  A class of ours passes when every case's
behavior and close behavior are OK or INFORMATIONAL and the reports hold
every case.  uvicorn's own classes (a name uvicorn knows, or a class in the
uvicorn package) are measured, not judged: the run lists what they get
(some NON-STRICT in cases 1 to 10) and exits 0 for them.

    python compliance/uvicorn_autobahn.py --serve CLASS PORT [--http h11]

runs one such server (what the driver starts).  Reports go to
compliance/reports/uvicorn-<class>[-<impl>]-<set>/, with uvicorn-summary.json
beside them.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_WS = "wsfast.uvicorn:WSFastProtocol"
sys.path.insert(0, str(HERE))
import run as harness  # noqa: E402  (compliance/run.py: wstest, its case sets and helpers)

# compliance/run.py's sets: "core" is cases 1 to 10, "deflate" one case of
# each size class from every permessage-deflate group (every offer, whole and
# fragmented messages).
SETS = ("core", "deflate")
GOOD = harness.GOOD


def log(message: str) -> None:
    print(f"uvicorn-autobahn: {message}", flush=True)


def uvicorn_owns(ws: str) -> bool:
    return ":" not in ws or ws.startswith("uvicorn.")


def serve(ws: str, port: int, http: str) -> None:
    import uvicorn

    sys.path.insert(0, str(ROOT / "examples"))
    from asgi_echo import app

    # lifespan off: the app is WebSocket-only; info logs show each
    # connection's failures in the server log that the driver keeps.
    uvicorn.run(app, host="127.0.0.1", port=port, ws=ws, http=http, lifespan="off", log_level="info",
                access_log=False)


def fuzz(ws: str, impl: str | None, http: str, cases: list[str], outdir: Path) -> dict[str, Any]:
    env = harness.impl_env(impl or "cython", use_src=True)
    if impl is None:
        env.pop("WSFAST_NO_EXTENSIONS", None)
    agent = f"uvicorn-{ws.rpartition(':')[2]}" + (f"-{impl}" if impl else "")
    shutil.rmtree(outdir, ignore_errors=True)  # a report left by an earlier run must never pass for this one's
    outdir.mkdir(parents=True)

    def start(port: int) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--serve", ws, str(port), "--http", http]

    results: dict[str, Any] = harness.fuzz_server(start, env, agent, cases, outdir, outdir / "server.log")
    return results


def case_key(case_id: str) -> list[int]:
    return [int(part) for part in case_id.split(".")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", nargs=2, metavar=("CLASS", "PORT"))
    parser.add_argument("--ws", default=DEFAULT_WS,
                        help="comma-separated: uvicorn's names (websockets-sansio, ...) or module:Class")
    parser.add_argument("--http", default="httptools", help="uvicorn's --http (default httptools)")
    parser.add_argument("--impl", default="python,cython", help="wsfast implementations, for a wsfast class")
    parser.add_argument("--cases", help="comma-separated case patterns instead of the sets (e.g. 6.4.*)")
    parser.add_argument("--no-deflate", action="store_true", help="the core set only (cases 1 to 10)")
    parser.add_argument("--reports", type=Path, default=HERE / "reports")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.http)
        return 0
    if not (harness.VENV / "bin" / "wstest").exists():
        log(f"wstest is not installed: run {HERE / 'install.sh'} first")
        return 2
    groups: list[tuple[str, list[str], int | None]]
    if args.cases:
        groups = [("cases", [c for c in args.cases.split(",") if c], None)]
    else:
        groups = [(name, *harness.CASE_SETS[name]) for name in SETS[:1 if args.no_deflate else 2]]
    failed = False
    summary = []
    for ws in [w for w in args.ws.split(",") if w]:
        judged = not uvicorn_owns(ws)
        impls: list[str | None] = [None]
        if ws.startswith("wsfast."):
            impls = [i for i in args.impl.split(",") if i]  # type: ignore[misc]
        for impl in impls:
            for group, cases, want in groups:
                name = f"uvicorn-{ws.rpartition(':')[2]}" + (f"-{impl}" if impl else "") + f"-{group}"
                started = time.monotonic()
                problems: list[str] = []
                counts: collections.Counter[str] = collections.Counter()
                try:
                    results = fuzz(ws, impl, args.http, cases, (args.reports / name).resolve())
                except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                    results, problems = {}, [f"run failed: {exc}"]
                off = []
                for case_id in sorted(results, key=case_key):
                    result = results[case_id]
                    counts[result.get("behavior")] += 1
                    if result.get("behavior") not in GOOD or result.get("behaviorClose") not in GOOD:
                        off.append(f"{case_id} {result.get('behavior')}/{result.get('behaviorClose')}")
                if want is not None and results and len(results) != want:
                    problems.append(f"{len(results)} cases in the report, {want} expected")
                if judged:
                    problems += [f"case {o}" for o in off]
                tally = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                verdict = ("FAIL" if problems else "PASS") if judged else "measured"
                log(f"{name}: {sum(counts.values())} cases ({tally or 'none'}) in "
                    f"{time.monotonic() - started:.0f} s: {verdict}")
                if off and not judged:
                    log(f"    not OK: {', '.join(off)}")
                for problem in problems[:40]:
                    log(f"    {problem}")
                failed = failed or (judged and bool(problems)) or any(p.startswith("run failed") for p in problems)
                summary.append({"name": name, "ws": ws, "impl": impl, "group": group, "counts": dict(counts),
                                "not_ok": off, "judged": judged, "problems": problems})
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / "uvicorn-summary.json").write_text(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
