"""The server and the client of docs/connection.md, run as written, over loopback.

The page's two ``python`` blocks after "## A server" and "## A client" are
run in subprocesses (each implementation in turn, chosen as users choose it),
on a free port instead of the page's 8765: the client must print the echo and
the server's Close.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from example_server import check_implementation, child_env
from wsfast import _impl

DOC = Path(__file__).resolve().parent.parent / "docs" / "connection.md"


def block_after(heading: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, f"no python block after {heading!r}"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_documented_server_and_client(impl: _impl.Implementation, tmp_path: Path) -> None:
    port = free_port()
    server_py = tmp_path / "server.py"
    client_py = tmp_path / "client.py"
    probe = "import wsfast, sys; print(wsfast.IMPLEMENTATION, file=sys.stderr)\n"
    server_py.write_text(probe + block_after("## A server").replace("8765", str(port)))
    client_py.write_text(probe + block_after("## A client").replace("8765", str(port)))
    env = child_env(impl.IMPLEMENTATION)
    server = subprocess.Popen([sys.executable, str(server_py)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        check_implementation(impl.IMPLEMENTATION, server.stderr.readline().strip())
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the documented server did not start")
                time.sleep(0.05)
        done = subprocess.run([sys.executable, str(client_py)], env=env, capture_output=True, text=True, timeout=60)
    finally:
        server.terminate()
        server.wait(10)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == impl.IMPLEMENTATION
    assert done.stdout.splitlines() == ["echo: hello", "closed: 1000 "]
