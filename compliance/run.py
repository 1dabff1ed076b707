"""Run the Autobahn|Testsuite against wsfast's example server and client.

    compliance/install.sh            # once: wstest into compliance/.venv27
    python compliance/run.py         # both implementations, both roles

For each implementation (pure Python: WSFAST_NO_EXTENSIONS=1; compiled:
unset, and it must really load) this runs

* ``wstest -m fuzzingclient`` against examples/echo_server.py, and
* ``wstest -m fuzzingserver`` with examples/client.py as its client,

then reads each run's index.json and fails on a case whose ``behavior`` or
``behaviorClose`` is not OK or INFORMATIONAL, on a missing or empty report,
and on a report with fewer cases than expected (wstest exits 0 when it could
not reach the server at all, so its exit status proves nothing).  Every
listener is on 127.0.0.1.  See docs/compliance.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv27"
WSTEST = [str(VENV / "bin" / "python"), str(HERE / "wstest_loopback.py")]
EXAMPLES = ROOT / "examples"

# Named case sets, with the number of cases each holds in autobahntestsuite
# 25.10.1.  core: cases 1 to 10 (framing, pings, reserved bits, opcodes,
# fragmentation, UTF-8, closing, limits, performance).  deflate-all: 12 and 13,
# permessage-deflate with every offer the suite makes (15 to 18 minutes a run,
# most of it in the Python 2 fuzzer).  deflate: of each of their twelve
# groups, the 16-byte, the 1 KiB and the 8 KiB-in-256-byte-fragments case,
# which together cover every offer and both fragmented and whole messages.
CASE_SETS: Dict[str, Tuple[List[str], int]] = {
    "core": ([f"{n}.*" for n in range(1, 11)], 301),
    # wstest matches a pattern at the start of an id only ("12.*.1" would take
    # 12.1.10 too), so the subset is spelled out.
    "deflate": ([f"{g}.{s}.{c}" for g, groups in ((12, 5), (13, 7)) for s in range(1, groups + 1)
                 for c in (1, 4, 11)], 36),
    "deflate-all": (["12.*", "13.*"], 216),
}
GOOD = {"OK", "INFORMATIONAL"}
IMPLS = ("python", "cython")
ROLES = ("server", "client")
# A run of core or deflate takes 40 to 80 s here; a hung wstest must not eat
# the CI budget.  deflate-all takes 15 to 18 minutes unloaded, so naming it
# raises the bound (main(); --timeout sets it).
RUN_TIMEOUT = 600.0
LONG_RUN_TIMEOUT = 3600.0


def log(message: str) -> None:
    print(f"compliance: {message}", flush=True)


def impl_env(impl: str, use_src: bool) -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("WSFAST_NO_EXTENSIONS", None)
    if impl == "python":
        env["WSFAST_NO_EXTENSIONS"] = "1"
    if use_src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wstest exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_echo_server(impl: str, env: Dict[str, str]) -> Tuple[subprocess.Popen[bytes], int]:
    """The example server on a free loopback port; checks it runs ``impl``."""
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "echo_server.py"), "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    match = re.match(r"listening on 127\.0\.0\.1:(\d+) \(implementation (\w+)", line)
    if not match:
        stop(proc)
        raise RuntimeError(f"echo server did not start: {line!r}")
    if match.group(2) != impl:
        stop(proc)
        raise RuntimeError(f"echo server runs the {match.group(2)} implementation, not {impl}: is wsfast built?")
    return proc, int(match.group(1))


def write_spec(workdir: Path, spec: Dict[str, object]) -> Path:
    path = workdir / "spec.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


def run_as_server(impl: str, env: Dict[str, str], cases: List[str], outdir: Path, workdir: Path) -> str:
    """wstest's fuzzing client against the example server; returns the agent name."""
    agent = f"wsfast-{impl}"
    server, port = start_echo_server(impl, env)
    try:
        spec = write_spec(
            workdir,
            {
                "outdir": str(outdir),
                "servers": [{"agent": agent, "url": f"ws://127.0.0.1:{port}"}],
                "cases": cases,
                "exclude-cases": [],
                "exclude-agent-cases": {},
            },
        )
        subprocess.run(WSTEST + ["-m", "fuzzingclient", "-s", str(spec)], cwd=workdir, check=True,
                       timeout=RUN_TIMEOUT, stdout=subprocess.DEVNULL)
        if server.poll() is not None:
            raise RuntimeError(f"echo server died during the run (exit {server.returncode})")
    finally:
        stop(server)
    return agent


def run_as_client(impl: str, env: Dict[str, str], cases: List[str], outdir: Path, workdir: Path) -> str:
    """The example client against wstest's fuzzing server; returns the agent name."""
    agent = f"wsfast-{impl}"
    port = free_port()
    spec = write_spec(
        workdir,
        {
            "url": f"ws://127.0.0.1:{port}",
            "outdir": str(outdir),
            "cases": cases,
            "exclude-cases": [],
            "exclude-agent-cases": {},
        },
    )
    # -u 0: no web server for the reports (it would listen on every interface).
    fuzzer = subprocess.Popen(WSTEST + ["-m", "fuzzingserver", "-s", str(spec), "-u", "0"], cwd=workdir,
                              stdout=subprocess.DEVNULL)
    try:
        wait_listening(port, fuzzer)
        client = subprocess.run(
            [sys.executable, str(EXAMPLES / "client.py"), "autobahn", f"ws://127.0.0.1:{port}", "--agent", agent],
            env=env, timeout=RUN_TIMEOUT, stdout=subprocess.PIPE, text=True,
        )
        sys.stdout.write(client.stdout)
        if client.returncode != 0:
            raise RuntimeError(f"example client exited with {client.returncode}")
        if f"(implementation {impl})" not in client.stdout:
            raise RuntimeError(f"example client did not run the {impl} implementation: {client.stdout!r}")
    finally:
        stop(fuzzer)
    return agent


def fuzz_server(start: Callable[[int], List[str]], env: Dict[str, str], agent: str, cases: List[str],
                outdir: Path, server_log: Path) -> Dict[str, Any]:
    """wstest's fuzzing client against the server ``start(port)`` runs; the report's results for ``agent``.

    The server's output goes to ``server_log``.  RuntimeError when the server
    does not listen, dies during the run, or leaves no results.
    """
    port = free_port()
    with open(server_log, "wb") as log_file:
        server = subprocess.Popen(start(port), env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_listening(port, server)
            with tempfile.TemporaryDirectory(prefix="wsfast-autobahn-") as tmp:
                spec = write_spec(Path(tmp), {
                    "outdir": str(outdir), "servers": [{"agent": agent, "url": f"ws://127.0.0.1:{port}"}],
                    "cases": cases, "exclude-cases": [], "exclude-agent-cases": {},
                })
                subprocess.run(WSTEST + ["-m", "fuzzingclient", "-s", str(spec)], cwd=tmp, check=True,
                               timeout=RUN_TIMEOUT, stdout=subprocess.DEVNULL)
            if server.poll() is not None:
                raise RuntimeError(f"the server died during the run (exit {server.returncode}); see {server_log}")
        finally:
            stop(server)
    index = outdir / "index.json"
    if not index.is_file():
        raise RuntimeError(f"no report at {index}")
    results: Dict[str, Any] = json.loads(index.read_text()).get(agent) or {}
    if not results:
        raise RuntimeError(f"empty report for {agent}: was the server reachable?")
    return results


def check_report(outdir: Path, agent: str, expected: Optional[int]) -> Tuple[collections.Counter[str], List[str]]:
    """(count of each behavior, problems) from a run's index.json."""
    index = outdir / "index.json"
    if not index.is_file():
        return collections.Counter(), [f"no report at {index}"]
    data = json.loads(index.read_text())
    results = data.get(agent)
    if not results:
        return collections.Counter(), [f"report {index} has no results for {agent} (agents: {sorted(data)})"]
    counts: collections.Counter[str] = collections.Counter()
    problems = []
    for case_id in sorted(results, key=lambda c: [int(p) for p in c.split(".")]):
        result = results[case_id]
        behavior, close = result.get("behavior"), result.get("behaviorClose")
        counts[behavior] += 1
        if behavior not in GOOD or close not in GOOD:
            problems.append(f"case {case_id}: behavior {behavior}, behaviorClose {close}"
                            f" (remote close code {result.get('remoteCloseCode')})")
    if expected is not None and len(results) != expected:
        problems.append(f"{len(results)} cases in the report, {expected} expected")
    return counts, problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    global RUN_TIMEOUT
    parser = argparse.ArgumentParser(description="Autobahn|Testsuite runs for wsfast (see docs/compliance.md)")
    parser.add_argument("--impl", choices=IMPLS + ("both",), default="both")
    parser.add_argument("--role", choices=ROLES + ("both",), default="both",
                        help="server: wstest's fuzzing client tests echo_server.py; client: the reverse")
    parser.add_argument("--cases", default="core",
                        help=f"comma-separated case sets ({', '.join(CASE_SETS)}) or case patterns "
                             "such as 6.4.* (default: core, cases 1.* to 10.*)")
    parser.add_argument("--expect", type=int, default=None,
                        help="number of cases each report must hold (default: the sets' own counts "
                             "when only sets are named)")
    parser.add_argument("--reports", type=Path, default=HERE / "reports")
    parser.add_argument("--installed", action="store_true",
                        help="use the installed wsfast instead of the in-place build under src/")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds one wstest run may take (default {RUN_TIMEOUT:.0f}, "
                             f"{LONG_RUN_TIMEOUT:.0f} with deflate-all)")
    args = parser.parse_args(argv)

    if not (VENV / "bin" / "wstest").exists():
        log(f"wstest is not installed: run {HERE / 'install.sh'} first")
        return 2
    items = [c.strip() for c in args.cases.split(",") if c.strip()]
    cases = [pattern for item in items for pattern in CASE_SETS.get(item, ([item], 0))[0]]
    expected = args.expect
    if expected is None and items and all(item in CASE_SETS for item in items):
        expected = sum(CASE_SETS[item][1] for item in set(items))
    impls = IMPLS if args.impl == "both" else (args.impl,)
    roles = ROLES if args.role == "both" else (args.role,)
    if args.timeout is not None:
        RUN_TIMEOUT = args.timeout
    elif "deflate-all" in items:
        RUN_TIMEOUT = LONG_RUN_TIMEOUT

    failed = False
    summary = []
    for impl in impls:
        env = impl_env(impl, not args.installed)
        for role in roles:
            outdir = (args.reports / f"{role}-{impl}").resolve()
            # A report left by an earlier run must never pass for this one's.
            shutil.rmtree(outdir, ignore_errors=True)
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="wsfast-autobahn-") as tmp:
                try:
                    runner = run_as_server if role == "server" else run_as_client
                    agent = runner(impl, env, cases, outdir, Path(tmp))
                    counts, problems = check_report(outdir, agent, expected)
                except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                    counts, problems = collections.Counter(), [f"run failed: {exc}"]
            seconds = time.monotonic() - started
            total = sum(counts.values())
            tally = ", ".join(f"{name} {counts[name]}" for name in sorted(counts))
            verdict = "FAIL" if problems else "PASS"
            log(f"{role:6} {impl:6}: {total} cases ({tally or 'none'}) in {seconds:.0f} s: {verdict}")
            for problem in problems[:50]:
                log(f"    {problem}")
            failed = failed or bool(problems)
            summary.append({"role": role, "impl": impl, "cases": total, "counts": dict(counts),
                            "seconds": round(seconds, 1), "problems": problems})
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / "summary.json").write_text(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
