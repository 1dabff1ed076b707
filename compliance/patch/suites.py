"""Proof of sameness: each library's own test suite, unpatched and patched.

    python compliance/patch/suites.py [--impl python,cython] [--only wsproto,...]

Every suite runs once without the patch (the baseline) and once per wsfast
implementation with ``wsfast.patch`` installed for that library; a patched
run passes when its outcome is the baseline's (same exit status, same
per-test results where the runner reports them, same counts otherwise).
Loopback only: websocket-client's tests that need the internet stay skipped
(they are gated on TEST_WITH_INTERNET), and its local-server tests talk to an
echo server on 127.0.0.1 that runs on websockets, patched in the patched
runs, so that library is exercised end to end as well.

The pinned releases are the ones the adapters were verified against
(docs/patch.md), read from requirements/patch-suites.txt; the script installs
them when the interpreter has others.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUIREMENTS = ROOT / "requirements" / "patch-suites.txt"
TIMEOUT = 300


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """Distribution -> pinned version, from a requirements file and those it includes (-r)."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(read_pins(path.parent / line[3:].strip()))
        elif match := re.match(r"([A-Za-z0-9._-]+)==([^;\s]+)", line):
            pins[match.group(1).lower()] = match.group(2)
    return pins


PINS = read_pins()


def site_dir(package: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not importable: install {REQUIREMENTS.relative_to(ROOT)}, or drop --no-install")
    return Path(spec.origin).parent


@dataclass
class Suite:
    name: str  # the library patched
    argv: list[str]  # after "python"
    cwd: Path
    kind: str  # pytest | unittest | trial
    env: dict[str, str] = field(default_factory=dict)
    echo_server: bool = False
    note: str = ""


@dataclass
class Outcome:
    status: int
    summary: str
    tests: dict[str, str]
    seconds: float
    log: Path


def ensure_pins() -> None:
    wrong = []
    for dist, version in PINS.items():
        try:
            have = metadata.version(dist)
        except metadata.PackageNotFoundError:
            have = None
        if have != version:
            wrong.append(f"{dist}=={version}")
    if wrong:
        print(f"installing {' '.join(wrong)}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)


def wsproto_tests(work: Path) -> Path:
    version = PINS["wsproto"]
    tree = work / f"wsproto-{version}"
    if not (tree / "tests").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             "-d", str(work), f"wsproto=={version}"],
            check=True,
        )
        with tarfile.open(work / f"wsproto-{version}.tar.gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(work, filter="data")
            else:  # Pythons before the extraction filters; the archive is PyPI's sdist
                tar.extractall(work)
    return tree


def suites(work: Path) -> list[Suite]:
    pytest_base = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "wsfast_patch_plugin"]
    autobahn = site_dir("autobahn")
    return [
        Suite("wsproto", [*pytest_base, "tests"], wsproto_tests(work), "pytest", note="sdist tests/, all"),
        Suite(
            "websocket-client",
            [*pytest_base, str(site_dir("websocket") / "tests")],
            work,
            "pytest",
            echo_server=True,
            note="installed websocket/tests, all; internet tests skipped by the suite itself",
        ),
        Suite(
            "tornado",
            ["-m", "tornado.test.runtests", "tornado.test.websocket_test", "tornado.test.util_test",
             "tornado.test.web_test"],
            work,
            "unittest",
            note="websocket_test, util_test, web_test (the modules that use _websocket_mask)",
        ),
        Suite(
            "autobahn",
            ["-m", "twisted.trial", "--temp-directory", str(work / "_trial_temp"), "--no-recurse",
             "autobahn.websocket.test", "autobahn.nvx.test", "autobahn.twisted.test.test_tx_protocol",
             "autobahn.twisted.test.test_tx_websocket_agent"],
            work,
            "trial",
            env={"USE_TWISTED": "1"},
            note="websocket, nvx and Twisted websocket tests under trial (USE_TWISTED=1)",
        ),
        Suite(
            "autobahn",
            [*pytest_base, str(autobahn / "websocket" / "test")],
            work,
            "pytest",
            env={"USE_ASYNCIO": "1", "AUTOBAHN_USE_NVX": "0"},
            note="websocket tests under asyncio, pure-Python originals (AUTOBAHN_USE_NVX=0)",
        ),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_echo(env: dict[str, str], patched: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [sys.executable, str(HERE / "echo_server.py"), str(port)]
    if patched:
        argv.append("--patch")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("echo server did not start")


def junit_tests(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        result = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                result = child.tag
        out[name] = result
    return out


def summarize(kind: str, text: str) -> str:
    lines = text.strip().splitlines()
    if kind == "pytest":
        for line in reversed(lines):
            if re.search(r"\d+ (passed|failed|error)", line):
                return re.sub(r" in [\d.]+s.*$", "", line.strip("= "))
    if kind in ("unittest", "trial"):
        ran = next((line for line in reversed(lines) if line.startswith("Ran ")), "")
        ran = re.sub(r" in [\d.]+s$", "", ran)
        final = next((line for line in reversed(lines) if re.match(r"(OK|FAILED|PASSED)\b", line)), "")
        return f"{ran}; {final}".strip("; ")
    return lines[-1] if lines else ""


def run(suite: Suite, impl: str | None, work: Path, index: int) -> Outcome:
    label = impl or "baseline"
    log = work / f"{index}-{suite.name}-{label}.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(HERE), env.get("PYTHONPATH", "")])
    env.update(suite.env)
    env.pop("WSFAST_PATCH", None)
    if impl == "python":
        env["WSFAST_NO_EXTENSIONS"] = "1"
    argv = list(suite.argv)
    junit = work / f"{index}-{suite.name}-{label}.xml"
    if suite.kind == "pytest":
        argv += ["--junitxml", str(junit)]
        if impl is None:
            i = argv.index("wsfast_patch_plugin")
            del argv[i - 1 : i + 1]
        else:
            env["WSFAST_PATCH"] = suite.name
    elif impl is not None:
        argv = [str(HERE / "run_patched.py"), suite.name, *argv]
    echo = None
    if suite.echo_server:
        echo, port = start_echo(env, patched=impl is not None)
        env["LOCAL_WS_SERVER_PORT"] = str(port)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, *argv], cwd=suite.cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT)
        status, text = proc.returncode, proc.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as exc:
        status, text = -1, (exc.stdout or b"").decode(errors="replace") + "\nTIMEOUT"
    finally:
        if echo is not None:
            echo.terminate()
            echo.wait(10)
    seconds = time.monotonic() - start
    log.write_text(text)
    return Outcome(status, summarize(suite.kind, text), junit_tests(junit), seconds, log)


def compiled_available() -> bool:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("WSFAST_NO_EXTENSIONS", None)
    out = subprocess.run([sys.executable, "-c", "import wsfast; print(wsfast.IMPLEMENTATION)"],
                         env=env, capture_output=True, text=True)
    return out.stdout.strip() == "cython"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", default="python,cython")
    parser.add_argument("--only", default="")
    parser.add_argument("--work", default=str(ROOT / "build" / "patch-suites"))
    parser.add_argument("--no-install", action="store_true", help="use the libraries installed as they are")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if not args.no_install:
        ensure_pins()
    impls = [i for i in args.impl.split(",") if i]
    if "cython" in impls and not compiled_available():
        print("compiled wsfast not built: patched runs use the Python implementation only", flush=True)
        impls = [i for i in impls if i != "cython"]
    only = set(filter(None, args.only.split(",")))
    failures = 0
    rows = []
    began = time.monotonic()
    for index, suite in enumerate(suites(work)):
        if only and suite.name not in only:
            continue
        base = run(suite, None, work, index)
        print(f"[{suite.name}] {suite.note}\n  baseline: {base.summary} (exit {base.status}, {base.seconds:.1f}s)",
              flush=True)
        for impl in impls:
            got = run(suite, impl, work, index)
            problems = []
            if got.status != base.status:
                problems.append(f"exit {got.status} != {base.status}")
            if got.summary != base.summary:
                problems.append("summary differs")
            changed = sorted(t for t in set(base.tests) | set(got.tests) if base.tests.get(t) != got.tests.get(t))
            if changed:
                problems.append(f"{len(changed)} tests differ: " + ", ".join(
                    f"{t} {base.tests.get(t)}->{got.tests.get(t)}" for t in changed[:5]))
            verdict = "same" if not problems else "DIFFERENT: " + "; ".join(problems)
            print(f"  patched ({impl}): {got.summary} (exit {got.status}, {got.seconds:.1f}s): {verdict}"
                  + ("" if not problems else f" [log {got.log}]"), flush=True)
            failures += bool(problems)
            rows.append((suite.name, impl, base.summary, got.summary, verdict))
    print(f"\npatched runs the same as unpatched, in {time.monotonic() - began:.0f}s:")
    print(f"suites: {len(rows) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
