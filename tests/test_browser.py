"""A real browser against the example echo server, for both implementations.

Headless Chromium (Debian's ``chromium`` package) loads tests/browser/page.html
from a loopback HTTP server run here, opens ``ws://127.0.0.1:PORT`` to
examples/echo_server.py, exchanges text (non-ASCII included) and binary
messages of several sizes, closes, and POSTs what came back; the test checks
every echo.  Skipped when Chromium is not installed, unless
WSFAST_REQUIRE_BROWSER=1 (then that is a failure).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from example_server import EchoServer
from wsfast import _impl

PAGE = Path(__file__).resolve().parent / "browser" / "page.html"
RESULT_TIMEOUT = 120.0
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

TEXTS = [
    "hello",
    "",
    "日本語のテキストと中文",
    "emoji 🙂🚀👩‍💻 and ünïcödé",
    "mixed " + "ñ漢🙂" * 20000,  # about 180 KB of UTF-8, echoed as one 64-bit-length frame
]
BINARY_SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


def find_chromium() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        reason = "Chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("WSFAST_REQUIRE_BROWSER", "").strip() == "1":
            pytest.fail(reason + " and WSFAST_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    return path


class PageServer(http.server.ThreadingHTTPServer):
    """Serves the page and its plan, and takes the page's report."""

    def __init__(self, plan: Dict[str, object]) -> None:
        super().__init__(("127.0.0.1", 0), PageHandler)
        self.plan = json.dumps(plan).encode("utf-8")
        self.result: Optional[Dict[str, object]] = None
        self.reported = threading.Event()


class PageHandler(http.server.BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        if self.path == "/page.html":
            self._send(200, "text/html; charset=utf-8", PAGE.read_bytes())
        elif self.path == "/plan.json":
            self._send(200, "application/json", self.server.plan)
        else:
            self._send(404, "text/plain", b"not found")

    def do_POST(self) -> None:
        if self.path != "/result":
            self._send(404, "text/plain", b"not found")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.result = json.loads(body)
        self._send(204, "text/plain", b"")
        self.server.reported.set()

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    # The plan's URL is filled in by the test, once the echo server has a port.
    server = PageServer({})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def pattern(size: int) -> bytes:
    return bytes(range(251)) * (size // 251) + bytes(range(size % 251))


def run_chromium(chromium: str, url: str, page_server: PageServer) -> str:
    """Run the page until it reports; return Chromium's output (for failure messages)."""
    with tempfile.TemporaryDirectory(prefix="wsfast-chromium-") as profile, tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            page_server.reported.wait(RESULT_TIMEOUT)
        finally:
            # Chromium's helpers share its session: end them all, and only them.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                proc.wait()
        log.seek(0)
        return log.read().decode("utf-8", "replace")[-4000:]


def test_browser_echo(impl: _impl.Implementation, chromium: str, page_server: PageServer) -> None:
    with EchoServer(impl.IMPLEMENTATION, ["--subprotocol", "superchat"]) as echo:
        page_server.plan = json.dumps(
            {"url": echo.uri, "subprotocols": ["chat", "superchat"], "texts": TEXTS, "binary_sizes": BINARY_SIZES}
        ).encode("utf-8")
        host, port = page_server.server_address[:2]
        output = run_chromium(chromium, f"http://{host}:{port}/page.html", page_server)
        assert page_server.result is not None, f"the page never reported; Chromium said:\n{output}"
        assert echo.errors() == ""
    assert page_server.result == {
        "protocol": "superchat",
        # Chromium offers permessage-deflate with a bare client_max_window_bits;
        # the server accepts, with its window and the one it imposes (12).
        "extensions": "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        "texts": TEXTS,
        "binary": [{"length": n, "sha256": hashlib.sha256(pattern(n)).hexdigest()} for n in BINARY_SIZES],
        "close": {"code": 1000, "reason": "", "wasClean": True},
    }
