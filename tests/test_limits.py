"""Memory stays bounded under hostile streams, in both implementations.

Each scenario feeds a Decoder a stream an attacker might send (garbage,
lengths up to 2^63, endless fragments, endless control frames between
fragments, floods of tiny frames, a frame at the limit trickled one byte at
a time) and measures memory with tracemalloc, which sees every allocation
that goes through Python's allocators: the pure decoder's, and the compiled
one's bytes, bytearrays and lists.  Two figures are bounded:

* held: what the decoder keeps between two feeds (the events handed out are
  dropped at once).  A slow attacker can pin this much per connection, so it
  must stay within max_message_size plus a constant;
* peak: the high-water mark inside any feed, which may also hold the events
  of that feed and a copy of the message being completed.

For the compiled decoder a subprocess also bounds the growth of the process's
RSS between feeds, which would see memory taken from malloc directly.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from _hardening import KEY, SANITIZED, frame, gc_live_bytes, skip_pure_when_sanitized

try:
    import tracemalloc
except ImportError:  # PyPy has no _tracemalloc: see gc_held() instead
    tracemalloc = None  # type: ignore[assignment]

LIMIT = 100_000  # max_message_size and max_frame_size here; not a power of two, on purpose
CHUNK = 16 << 10  # the size of one read from the socket
HELD_BOUND = LIMIT + (16 << 10)
PEAK_BOUND = 3 * LIMIT + 16 * CHUNK + (64 << 10)


def in_chunks(data: bytes, size: int = CHUNK) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def garbage() -> Iterator[bytes]:
    rng = random.Random(6455)
    for _ in range(64):
        yield rng.randbytes(CHUNK)


def huge_length(top: int) -> Callable[[], Iterator[bytes]]:
    def stream() -> Iterator[bytes]:
        yield bytes([0x82, 0xFF]) + struct.pack("!Q", top) + KEY
        yield b"\0" * CHUNK

    return stream


def trickle(opcode: int) -> Callable[[], Iterator[bytes]]:
    """A frame of exactly LIMIT bytes, one byte per feed."""

    def stream() -> Iterator[bytes]:
        payload = ("é" * (LIMIT // 2)).encode() if opcode == 1 else bytes(range(256)) * (LIMIT // 256)
        wire = frame(opcode, payload, key=KEY)
        for i in range(len(wire)):
            yield wire[i : i + 1]

    return stream


def endless_fragments(size: int) -> Callable[[], Iterator[bytes]]:
    """A message that never ends: fragments of ``size`` bytes until the limit (or forever if empty)."""

    def stream() -> Iterator[bytes]:
        yield frame(2, b"a" * size, fin=False, key=KEY)
        piece = frame(0, b"b" * size, fin=False, key=KEY)
        total = LIMIT * 2 if size else LIMIT * 4
        yield from in_chunks(piece * (total // max(size, 1) if size else total // len(piece)))

    return stream


def controls_between_fragments() -> Iterator[bytes]:
    yield frame(1, b"start", fin=False, key=KEY)
    pings = (frame(9, b"p" * 125, key=KEY) + frame(10, b"", key=KEY)) * 2000
    yield from in_chunks(pings * 4)


def tiny_frames() -> Iterator[bytes]:
    flood = b"".join(frame(2, bytes([i % 251])[: i % 2], key=KEY) for i in range(4000))
    for _ in range(16):
        yield from in_chunks(flood)


def one_byte_fragments_trickled() -> Iterator[bytes]:
    """Fragments of one byte each, each fragment arriving in its own feed."""
    yield frame(2, b"a", fin=False, key=KEY)
    piece = frame(0, b"b", fin=False, key=KEY)
    for _ in range(LIMIT + 10):
        yield piece


SCENARIOS: dict[str, tuple[Callable[[], Iterator[bytes]], Optional[str]]] = {
    # name: (stream, the error it must end in, None if it is valid)
    "garbage": (garbage, "ProtocolError"),
    "length 2^63": (huge_length(1 << 63), "ProtocolError"),
    "length 2^63-1": (huge_length((1 << 63) - 1), "MessageTooBig"),
    "length limit+1": (huge_length(LIMIT + 1), "MessageTooBig"),
    "binary frame trickled": (trickle(2), None),
    "text frame trickled": (trickle(1), None),
    "endless empty fragments": (endless_fragments(0), None),
    "endless 1 KiB fragments": (endless_fragments(1024), "MessageTooBig"),
    "endless 1-byte fragments, one per feed": (one_byte_fragments_trickled, "MessageTooBig"),
    "endless control frames between fragments": (controls_between_fragments, None),
    "many tiny frames": (tiny_frames, None),
}


def run_scenario(impl: Any, name: str) -> tuple[int, int, Optional[str]]:
    """(held, peak, error) in bytes above the baseline, for one scenario."""
    from wsfast import ProtocolError

    stream, _ = SCENARIOS[name]
    chunks = list(stream())  # built before measuring
    decoder = impl.Decoder(max_message_size=LIMIT, max_frame_size=LIMIT)
    error: Optional[str] = None
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        held = 0
        for i, chunk in enumerate(chunks):
            try:
                events = decoder.feed(chunk)
            except ProtocolError as exc:
                error = type(exc).__name__
                # It must keep refusing, at no cost.
                with pytest.raises(ProtocolError):
                    decoder.feed(chunk)
                break
            del events
            if i % 64 == 0 or i == len(chunks) - 1:
                held = max(held, tracemalloc.get_traced_memory()[0] - base)
        held = max(held, tracemalloc.get_traced_memory()[0] - base)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return held, peak, error


def gc_held(impl: Any, name: str) -> tuple[int, Optional[str]]:
    """(held, error) on PyPy, from its GC's count of live memory after full collections.

    Only ``held`` is observable this way (a peak inside a feed is not).  The
    figures of a first, identical pass are dropped: it lets the JIT compile,
    and its traces are GC objects too, which would otherwise count as held.
    """
    from wsfast import ProtocolError

    chunks = list(SCENARIOS[name][0]())
    step = max(1, len(chunks) // 16)
    for _ in range(2):
        decoder = impl.Decoder(max_message_size=LIMIT, max_frame_size=LIMIT)
        error: Optional[str] = None
        base = gc_live_bytes()
        held = 0
        for i, chunk in enumerate(chunks):
            try:
                decoder.feed(chunk)
            except ProtocolError as exc:
                error = type(exc).__name__
                break
            if i % step == 0 or i == len(chunks) - 1:
                held = max(held, gc_live_bytes() - base)
    return held, error


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_hostile_stream_memory_is_bounded(impl: Any, name: str) -> None:
    skip_pure_when_sanitized(impl)
    if tracemalloc is None:
        if not hasattr(__import__("gc"), "_get_stats"):
            pytest.skip("neither tracemalloc nor PyPy's gc._get_stats() to measure memory with")
        held, error = gc_held(impl, name)
        assert error == SCENARIOS[name][1]
        assert held <= HELD_BOUND, f"{name}: the decoder holds {held} bytes between feeds (bound {HELD_BOUND})"
        return
    held, peak, error = run_scenario(impl, name)
    assert error == SCENARIOS[name][1]
    assert held <= HELD_BOUND, f"{name}: the decoder holds {held} bytes between feeds (bound {HELD_BOUND})"
    assert peak <= PEAK_BOUND, f"{name}: peak {peak} bytes inside a feed (bound {PEAK_BOUND})"


RSS_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    import test_limits
    from wsfast import _impl, ProtocolError
    PAGE = os.sysconf("SC_PAGE_SIZE")

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE

    impl = _impl.load("cython", lazy=True)
    chunks = list(test_limits.SCENARIOS[{name!r}][0]())
    # Warm up on a harmless stream so that the first allocations of the
    # decoder's machinery are not counted.
    impl.Decoder().feed(test_limits.frame(2, b"x" * 1000, key=test_limits.KEY))
    before = rss()
    held = 0
    decoder = impl.Decoder(max_message_size=test_limits.LIMIT, max_frame_size=test_limits.LIMIT)
    for i, chunk in enumerate(chunks):
        try:
            decoder.feed(chunk)
        except ProtocolError:
            break
        if i % 16 == 0:
            held = max(held, rss() - before)
    print(max(held, rss() - before))
    """
)


@pytest.mark.skipif(SANITIZED, reason="RSS under AddressSanitizer measures its quarantine, not wsfast")
@pytest.mark.parametrize("name", ["length 2^63-1", "binary frame trickled", "endless 1-byte fragments, one per feed",
                                  "endless control frames between fragments", "many tiny frames"])
def test_compiled_decoder_rss_is_bounded(c_impl: Any, name: str) -> None:
    script = RSS_SCRIPT.format(tests=str(Path(__file__).parent), name=name)
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), src) if p)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    held = int(proc.stdout.split()[-1])
    # RSS counts whole pages and the allocator's own slack: a wider margin.
    assert held <= HELD_BOUND + (2 << 20), f"{name}: RSS grew by {held} bytes between feeds"
