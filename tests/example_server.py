"""Runs examples/echo_server.py in a subprocess for the tests that need a live server.

The implementation is chosen the way users choose it: WSFAST_NO_EXTENSIONS in
the child's environment.  The server reports which one it runs, so a compiled
run that silently fell back to Python is noticed.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

import wsfast

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
START_TIMEOUT = 30.0


def child_env(impl: str) -> Dict[str, str]:
    """The environment of a child that runs ``impl`` with the wsfast this test imports."""
    env = dict(os.environ)
    env.pop("WSFAST_NO_EXTENSIONS", None)
    if impl == "python":
        env["WSFAST_NO_EXTENSIONS"] = "1"
    package_parent = str(Path(wsfast.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def check_implementation(wanted: str, running: str) -> None:
    """Skip (or fail, under WSFAST_EXPECT_IMPL=cython) when the compiled side is absent."""
    if wanted == running:
        return
    if wanted == "cython" and os.environ.get("WSFAST_EXPECT_IMPL", "").strip() != "cython":
        pytest.skip("the compiled implementation is not built")
    pytest.fail(f"the child runs the {running} implementation, not {wanted}")


class EchoServer:
    """examples/echo_server.py on 127.0.0.1 and a free port; a context manager."""

    def __init__(self, impl: str, args: Sequence[str] = ()) -> None:
        self.impl = impl
        self.env = child_env(impl)
        self.args = list(args)
        self.proc: Optional[subprocess.Popen[str]] = None
        self._reader: Optional[threading.Thread] = None
        self.port = 0
        # A file, not a pipe: a pipe nobody reads could fill and stall the server.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")

    def __enter__(self) -> EchoServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "echo_server.py"), "--host", "127.0.0.1", "--port", "0", *self.args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        try:
            line = self._first_line()
            match = re.match(r"listening on 127\.0\.0\.1:(\d+) \(implementation (\w+)", line)
            if match is None:
                raise RuntimeError(f"echo server did not start: {line!r}\n{self.errors()[-3000:]}")
            self.port = int(match.group(1))
            check_implementation(self.impl, match.group(2))
        except BaseException:
            self.__exit__()
            raise
        return self

    def _first_line(self) -> str:
        """The server's first line, or "" if none came within START_TIMEOUT.

        Read in a daemon thread: a server that hangs before printing must fail
        the test, not block it (and pytest's exit) forever.
        """
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True)
        self._reader.start()
        try:
            return lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            return ""

    @property
    def uri(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def __exit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(5)  # it sees end of file once the server is gone
        if proc.stdout:
            proc.stdout.close()

    def errors(self) -> str:
        """What the server wrote to stderr so far (tracebacks, asyncio complaints)."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()


def run_client(impl: str, argv: List[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """examples/client.py with ``argv``, running ``impl``."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "client.py"), *argv],
        env=child_env(impl),
        capture_output=True,
        text=True,
        timeout=timeout,
        encoding="utf-8",
    )
