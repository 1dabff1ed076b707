"""uvicorn's own WebSocket test suite against a WebSocket class of our choosing.

    python compliance/uvicorn_suite.py                  # wsfast.uvicorn:WSFastProtocol, both implementations
    python compliance/uvicorn_suite.py --ws uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol

Takes tests/ from the sdist of the INSTALLED uvicorn (``pip download
--no-binary`` of that exact version, cached under build/uvicorn-suite/) and
runs tests/protocols/test_websocket.py with uvicorn's own pytest settings
(warnings are errors, strict xfail) except its xdist option.  A conftest.py
dropped into tests/protocols/ (compliance/uvicorn_suite_conftest.py)
overrides the ``ws_protocol_cls`` fixture with the class under test, so every
test runs it on every HTTP protocol that uvicorn's ``http_protocol_cls``
fixture parametrizes (httptools, h11 and zttp in uvicorn 0.54).

The tests listed in compliance/uvicorn_suite_exclusions.txt, each with its
reason, are expected to fail for a class that is not uvicorn's own (strict
xfail: if one passes, the list is stale and the run fails).  For uvicorn's own
classes nothing is excluded: that run proves the harness.

The run fails on any other failure, on an HTTP protocol whose tests were
skipped (its parser not installed), and when no test ran the class under
test.  The test dependencies (requirements/uvicorn-suite.txt: the ones
uvicorn's pyproject names that test_websocket.py needs) are installed when
missing, unless --no-install.  With wsfast's class the suite runs once per
wsfast implementation (WSFAST_NO_EXTENSIONS=1 for the pure one).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_WS = "wsfast.uvicorn:WSFastProtocol"
EXCLUSIONS = HERE / "uvicorn_suite_exclusions.txt"
REQUIREMENTS = ROOT / "requirements" / "uvicorn-suite.txt"
TEST_FILE = "tests/protocols/test_websocket.py"
# The parsers uvicorn's http_protocol_cls fixture parametrizes (0.54); each
# must really run, not be skipped for a missing module.
HTTP_IDS = ("httptools", "h11", "zttp")
TIMEOUT = 600


def log(message: str) -> None:
    print(f"uvicorn-suite: {message}", flush=True)


def ensure_requirements() -> None:
    missing = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        try:
            if metadata.version(name) == version:
                continue
        except metadata.PackageNotFoundError:
            pass
        missing.append(line)
    if missing:
        log(f"installing {' '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)


def sdist_tests(work: Path) -> tuple[str, Path]:
    """tests/ (and pyproject.toml, for uvicorn's pytest settings) of the installed uvicorn's sdist.

    Only those are copied out, not the sdist's uvicorn/ package: the rootdir
    goes on sys.path, and the tests must import the installed uvicorn.
    """
    version = metadata.version("uvicorn")
    tree = work / f"uvicorn-{version}-tests"
    if not (tree / TEST_FILE).is_file():
        archive = work / f"uvicorn-{version}.tar.gz"
        if not archive.is_file():
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            "-d", str(work), f"uvicorn=={version}"], check=True)
        shutil.rmtree(tree, ignore_errors=True)
        staging = work / f"uvicorn-{version}-staging"
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, filter="data")
            else:  # Pythons before the extraction filters; the archive is PyPI's sdist
                tar.extractall(staging)
        top = staging / f"uvicorn-{version}"
        tree.mkdir(parents=True)
        shutil.copytree(top / "tests", tree / "tests")
        shutil.copy2(top / "pyproject.toml", tree / "pyproject.toml")
        shutil.rmtree(staging)
    return version, tree


def junit(path: Path) -> dict[str, tuple[str, str]]:
    """test name -> (outcome, message) from pytest's JUnit XML."""
    out: dict[str, tuple[str, str]] = {}
    if not path.is_file():
        return out
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "")
        out[str(case.get("name"))] = (outcome, message)
    return out


def run(ws: str, impl: str | None, tree: Path, work: Path, exclusions: Path | None, extra: list[str]) -> bool:
    label = impl or "as-installed"
    cls_name = ws.rpartition(":")[2]
    shutil.copy2(HERE / "uvicorn_suite_conftest.py", tree / "tests" / "protocols" / "conftest.py")
    xml = work / f"junit-{cls_name}-{label}.xml"
    xml.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env["WSFAST_UVICORN_SUITE_WS"] = ws
    env["WSFAST_UVICORN_SUITE_EXCLUDE"] = str(exclusions) if exclusions else ""
    env.pop("WSFAST_NO_EXTENSIONS", None)
    if impl == "python":
        env["WSFAST_NO_EXTENSIONS"] = "1"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
            # uvicorn's addopts without "-n 8" (pytest-xdist: one process on a
            # small machine), with failures and errors in the short summary.
            "-o", "addopts=-rfExXs --strict-config --strict-markers",
            "--junitxml", str(xml), "-q", TEST_FILE, *extra]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=TIMEOUT, check=False)
        status, text = done.returncode, done.stdout
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        # TimeoutExpired keeps the bytes read so far even when text=True.
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        status, text = -1, text + f"\nTIMEOUT after {TIMEOUT} s"
    seconds = time.monotonic() - started
    (work / f"log-{cls_name}-{label}.txt").write_text(text)
    summary = next((line.strip("= ") for line in reversed(text.splitlines())
                    if re.search(r"\d+ (passed|failed|error|xfailed)", line)), "no summary")
    problems = []
    if status != 0:
        problems.append(f"pytest exited with {status}")
    results = junit(xml)
    if not extra:  # a selection (-k, a node id) need not cover every parser
        ran = [name for name in results if f"-{cls_name}]" in name or f"[{cls_name}-" in name]
        if not ran:
            problems.append(f"no test ran {cls_name}: the fixture override did not take")
        for http in HTTP_IDS:
            mine = [name for name in ran if f"[{http}-" in name or f"-{http}-" in name or f"-{http}]" in name]
            skipped = [name for name in mine if results[name][0] == "skipped"
                       and "not installed" in results[name][1]]
            if not mine or skipped:
                problems.append(f"the {http} parametrization did not run ({len(skipped)} skipped as not installed)")
    verdict = "FAIL" if problems else "PASS"
    log(f"{cls_name} [{label}]: {summary} in {seconds:.0f} s: {verdict}")
    for problem in problems:
        log(f"    {problem}")
    if status != 0:
        for line in text.splitlines():
            if line.startswith(("FAILED", "ERROR", "XPASS")):
                log(f"    {line}")
    return not problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ws", default=DEFAULT_WS, help=f"the class under test, module:Class (default {DEFAULT_WS})")
    parser.add_argument("--impl", default="python,cython",
                        help="wsfast implementations to run a wsfast class under (default both)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "uvicorn-suite")
    parser.add_argument("--no-install", action="store_true", help="use the test dependencies installed as they are")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k accept)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.no_install:
        ensure_requirements()
    version, tree = sdist_tests(args.work)
    own = args.ws.startswith("uvicorn.")
    log(f"uvicorn {version}: {TEST_FILE} against {args.ws}"
        + ("" if own else f", {EXCLUSIONS.name} expected to fail"))
    impls: list[str | None] = [None]
    if args.ws.startswith("wsfast."):
        impls = [i for i in args.impl.split(",") if i]  # type: ignore[misc]
    ok = True
    for impl in impls:
        ok = run(args.ws, impl, tree, args.work, None if own else EXCLUSIONS, args.pytest_args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
