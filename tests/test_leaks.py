"""No leaks: every public entry point, valid and invalid input, called many times.

Three measurements, each blind to something the others see:
* the reference counts of the arguments (a missing DECREF or PyBuffer_Release
  shows after one call, and a leaked buffer export also blocks resizing a
  bytearray);
* ``sys.getallocatedblocks()``: live objects from Python's allocator (a result,
  an exception or a tuple leaked per call);
* the resident set size from /proc/self/statm: memory the C code takes from
  malloc directly, which neither of the above sees.

WSFAST_LEAK_ITERATIONS sets how many calls a cheap entry point gets (default
100000; .ci/run's hardening stage asks for 500000, compiled cases only).  A
call that costs more than half a microsecond (an error path, a 64 KiB
payload, a whole stream, anything in the pure twin) gets as many calls as fit
in ITERATIONS x 0.5 us, at least 2000: the checks below catch one leaked
object or buffer export per call long before that.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

import pytest

from _hardening import SANITIZED, UNITS, Call, calls, run_once, skip_pure_when_sanitized
from conftest import EXPECT

ITERATIONS = int(os.environ.get("WSFAST_LEAK_ITERATIONS", "100000"))
# Allocator noise after a warm-up stays far below these; a leak of one small
# object per call over the least number of calls made (2000) does not.
BLOCKS_BOUND = 1000
RSS_BOUND = 2 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
# Under AddressSanitizer (SANITIZED) freed memory sits in a quarantine, so RSS
# grows by design; the reference-count checks still hold there.


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def catalogue(impl: Any, units: tuple[str, ...] = UNITS) -> list[Call]:
    for unit in units:
        try:
            impl.module(unit)
        except ImportError:
            if EXPECT == "cython":
                raise
            pytest.skip(f"the {impl.IMPLEMENTATION} {unit} module is not built")
    return calls(impl, units)


def iterations(cost: float) -> int:
    """ITERATIONS calls, or as many as fit in ITERATIONS x 0.5 us (an error path or
    a whole stream costs microseconds), but never fewer than 2000."""
    return max(2000, min(ITERATIONS, int(ITERATIONS * 0.5e-6 / max(cost, 1e-9))))


def loop(call: Call, n: int) -> None:
    fn, args, raises = call.fn, call.args, call.raises
    if raises is None:
        for _ in range(n):
            fn(*args)
    else:
        for _ in range(n):
            try:
                fn(*args)
            except raises:
                pass


def check_no_leak(call: Call) -> int:
    """Check one entry point; the number of calls made."""
    run_once(call)
    start = time.perf_counter()
    loop(call, 2000)  # warm-up (caches, free lists, arenas), and the cost of a call
    n = iterations((time.perf_counter() - start) / 2000)
    gc.collect()
    # Shared immutable objects (small ints, None) are referenced all over the
    # interpreter: only the buffers handed to the call are watched.
    watched = [a for a in call.args if not isinstance(a, (int, float, str, type(None)))]
    refs = [sys.getrefcount(a) for a in watched]
    blocks = sys.getallocatedblocks()
    before = rss()
    loop(call, n)
    gc.collect()
    grown = rss() - before
    blocks_grown = sys.getallocatedblocks() - blocks
    assert [sys.getrefcount(a) for a in watched] == refs, f"{call.name}: argument references leaked"
    for arg in call.args:
        if isinstance(arg, bytearray):
            arg.append(0)  # BufferError if a buffer export was never released
            del arg[-1]
    assert blocks_grown < BLOCKS_BOUND, f"{call.name}: {blocks_grown} objects more after {n} calls"
    assert SANITIZED or grown < RSS_BOUND, f"{call.name}: RSS grew by {grown} bytes over {n} calls"
    return n


@pytest.mark.skipif(
    not hasattr(sys, "getallocatedblocks"),
    reason="reference counts and allocated blocks are CPython's (PyPy has neither sys.getrefcount nor "
    "sys.getallocatedblocks); the pure decoder's memory on PyPy is bounded in test_limits",
)
@pytest.mark.parametrize("unit", UNITS)
def test_every_entry_point_leaks_nothing(impl: Any, unit: str) -> None:
    skip_pure_when_sanitized(impl)
    failures = []
    made = {}
    for call in catalogue(impl, (unit,)):
        try:
            made[call.name] = check_no_leak(call)
        except AssertionError as exc:
            failures.append(str(exc))
    print(f"calls made: {made}")  # shown with -s or on failure
    assert not failures, "\n".join(failures)


def test_the_catalogue_covers_every_public_name(py_impl: Any) -> None:
    from wsfast import _impl

    covered = " ".join(c.name for c in catalogue(py_impl))
    for name in _impl.PUBLIC:
        assert name in covered, f"{name} is not exercised by the leak test"
