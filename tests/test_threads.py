"""Threads: shared stateless calls give right answers; shared stateful objects never crash.

* Eight threads run the stateless entry points at once, on small inputs and
  on inputs large enough for the compiled code to release the GIL, and
  check every result against the answer computed before the threads start.
* Stateful objects (Masker, Utf8Validator, Decoder) belong to one owner at a
  time (docs/hardening.md); here two threads misuse one deliberately.  That
  may raise, but must not crash or corrupt memory: it runs in a subprocess so
  that a crash fails the test instead of killing pytest, and afterwards
  reset() must bring each object back to exact answers.
* The compiled kernels really release the GIL on large payloads: a main
  thread makes progress in pure Python while another sits in one call.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from _hardening import (BAD_UTF8, KEY, LARGE, SMALL, TEXT, client_stream, echo, frame, open_server,
                        skip_pure_when_sanitized)

THREADS = 8
BIG = LARGE * 16  # 1 MiB


def reference_mask(data: bytes, key: bytes, offset: int = 0) -> bytes:
    n = len(data)
    stream = (key[offset % 4 :] + key[: offset % 4]) * (n // 4 + 1)
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big")


def stateless_jobs(impl: Any) -> list[tuple[str, Callable[[], Any], Any]]:
    """(name, call, expected result) for every stateless entry point."""
    from wsfast import ProtocolError

    def inplace(data: bytes, offset: int) -> Callable[[], bytes]:
        def run() -> bytes:
            buf = bytearray(data)  # each call its own buffer
            impl.apply_mask_inplace(buf, KEY, offset)
            return bytes(buf)

        return run

    def header_error() -> str:
        try:
            impl.parse_header(bytes([0x82, 0x7F, 0x80]) + b"\0" * 7)
        except ProtocolError as exc:
            return type(exc).__name__
        return "no error"

    def roundtrip_masked() -> bytes:
        wire = impl.encode_frame(2, BIG, mask=True)
        head = impl.parse_header(wire)
        return impl.apply_mask(memoryview(wire)[head.header_length :], head.mask)

    def decode() -> list[Any]:
        return impl.Decoder().feed(client_stream())

    non_ascii = TEXT * 4096  # ~200 KiB of mixed-width UTF-8
    return [
        ("apply_mask small", lambda: impl.apply_mask(SMALL, KEY), reference_mask(SMALL, KEY)),
        ("apply_mask 1MiB", lambda: impl.apply_mask(BIG, KEY), reference_mask(BIG, KEY)),
        ("apply_mask_inplace small", inplace(SMALL, 1), reference_mask(SMALL, KEY, 1)),
        ("apply_mask_inplace 1MiB", inplace(BIG, 3), reference_mask(BIG, KEY, 3)),
        ("validate_utf8 ascii 1MiB", lambda: impl.validate_utf8(b"a" * len(BIG)), True),
        ("validate_utf8 non-ascii", lambda: impl.validate_utf8(non_ascii), True),
        ("validate_utf8 invalid", lambda: impl.validate_utf8(non_ascii + BAD_UTF8), False),
        ("validate_utf8 small", lambda: impl.validate_utf8(TEXT), True),
        ("parse_header", lambda: tuple(impl.parse_header(frame(2, SMALL * 3, key=KEY))),
         (True, False, False, False, 2, KEY, 375, 8)),
        ("parse_header error", header_error, "ProtocolError"),
        ("encode_frame", lambda: impl.encode_frame(2, SMALL), frame(2, SMALL)),
        ("encode_frame masked", lambda: impl.encode_frame(1, TEXT, mask=KEY), frame(1, TEXT, key=KEY)),
        ("encode_frame mask=True roundtrip", roundtrip_masked, BIG),
        ("Decoder per thread", decode, None),
        ("ServerConnection per thread", lambda: echo(open_server(impl), client_stream()), None),
    ]


def test_stateless_calls_from_many_threads(impl: Any) -> None:
    skip_pure_when_sanitized(impl)
    jobs = stateless_jobs(impl)
    jobs = [(n, fn, fn() if expected is None else expected) for n, fn, expected in jobs]
    for name, fn, expected in jobs:
        assert fn() == expected, f"{name} is wrong before any thread starts"
    rounds = 30 if impl.IMPLEMENTATION == "cython" else 3
    barrier = threading.Barrier(THREADS)
    errors: list[str] = []
    checked = [0] * THREADS

    def worker(index: int) -> None:
        barrier.wait()
        for r in range(rounds):
            # Each thread walks the jobs from its own start, so that
            # different calls overlap.
            for k in range(len(jobs)):
                name, fn, expected = jobs[(k + index + r) % len(jobs)]
                try:
                    got = fn()
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(f"thread {index}: {name} raised {exc!r}")
                    return
                if got != expected:
                    errors.append(f"thread {index}: {name} gave a wrong result")
                    return
                checked[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, "\n".join(errors)
    assert checked == [rounds * len(jobs)] * THREADS


SHARED_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from wsfast import _impl
    from wsfast._types import Message, Ping, Pong, Close
    from wsfast._errors import ProtocolError
    sys.path.insert(0, {tests!r})
    from _hardening import KEY, LARGE, TEXT, BAD_UTF8, client_stream, echo, open_server, UPGRADE, frame as test_frame

    impl = _impl.load({kind!r}, lazy=True)
    ROUNDS = {rounds}
    big = LARGE * 4
    masker = impl.Masker(KEY)
    validator = impl.Utf8Validator()
    decoder = impl.Decoder(max_message_size=1 << 22, max_frame_size=1 << 22)
    conn = open_server(impl, max_message_size=1 << 22)
    stream = client_stream()
    raised = []
    problems = []

    def hammer(seed):
        for i in range(ROUNDS):
            try:
                out = masker.process(big if (i + seed) % 3 else TEXT)
                if len(out) != (len(big) if (i + seed) % 3 else len(TEXT)):
                    problems.append("Masker.process returned a wrong length")
                buf = bytearray(big)
                masker.process_inplace(buf)
                if len(buf) != len(big):
                    problems.append("Masker.process_inplace changed the length")
                if i % 5 == seed:
                    masker.reset()
                ok = validator.feed(big if i % 2 else BAD_UTF8)
                if ok not in (True, False):
                    problems.append("Utf8Validator.feed returned a non-bool")
                validator.at_boundary, validator.error_offset
                if i % 4 == seed:
                    validator.finish()
                    validator.reset()
                for event in decoder.feed(stream[: 1 + (i * 37 + seed) % len(stream)]):
                    if type(event) not in (Message, Ping, Pong, Close):
                        problems.append("Decoder produced " + repr(type(event)))
                # Two threads echoing through one connection: it may fail the
                # interleaved stream, then refuse to send; never crash.
                echo(conn, stream[: 1 + (i * 41 + seed) % len(stream)])
            except Exception as exc:
                raised.append(type(exc).__name__)

    # A buffer resized by one thread while another works on it without the
    # GIL: the buffer export must pin it (BufferError for the resizer).
    shared = bytearray(big)
    wire = bytearray(test_frame(2, bytes(200000), key=KEY))
    feeder = impl.Decoder(max_message_size=1 << 20, max_frame_size=1 << 20)

    def worker():
        for i in range(ROUNDS):
            try:
                impl.apply_mask_inplace(shared, KEY, i)
                masker.process_inplace(shared)
                validator.feed(shared)
                impl.apply_mask(shared, KEY)
                for event in feeder.feed(wire):
                    if len(event.data) != 200000:
                        problems.append("Decoder message of the wrong size")
            except Exception as exc:
                raised.append(type(exc).__name__)

    def resizer():
        for i in range(ROUNDS * 20):
            try:
                if i % 2:
                    shared.extend(b"x" * 4096)
                else:
                    del shared[-4096:]
            except BufferError:
                pass

    threads = [threading.Thread(target=hammer, args=(s,)) for s in range(2)]
    threads += [threading.Thread(target=worker), threading.Thread(target=resizer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not problems, problems

    # Misuse may leave the objects confused, never broken: reset() repairs them.
    masker.reset()
    assert masker.position == 0
    assert masker.process(TEXT) == impl.apply_mask(TEXT, KEY)
    assert masker.position == len(TEXT)
    validator.reset()
    assert validator.feed(TEXT) is True and validator.finish() is True
    validator.reset()
    assert validator.feed(BAD_UTF8) is False
    try:
        decoder.feed(stream)
    except ProtocolError:
        pass
    conn.__init__()
    conn.receive_data(UPGRADE)
    conn.accept()
    conn.data_to_send()
    assert echo(conn, stream) == echo(open_server(impl), stream)
    print("OK", sorted(set(raised)))
    """
)


def test_stateful_objects_shared_by_two_threads_never_crash(impl: Any) -> None:
    skip_pure_when_sanitized(impl)
    rounds = 200 if impl.IMPLEMENTATION == "cython" else 20
    script = SHARED_SCRIPT.format(tests=str(Path(__file__).parent), kind=impl.IMPLEMENTATION, rounds=rounds)
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), src) if p)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"
    assert proc.stdout.startswith("OK"), proc.stdout


def progress_during(fn: Callable[[], Any], max_rounds: int = 50) -> list[int]:
    """How far a pure-Python loop in this thread got during each call of ``fn`` in another.

    The switch interval is made huge, so a thread holding the GIL keeps it
    until it blocks or releases it itself: a call that holds the GIL shows
    exactly zero progress, whatever the machine's load.  A call that releases
    it lets this thread run; it stops at the first call that shows progress.
    """
    counter = [0]
    deltas: list[int] = []
    done = [False]
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(max_rounds):
                before = counter[0]
                fn()
                deltas.append(counter[0] - before)
                if deltas[-1]:
                    break
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)
        finally:
            done[0] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        while not done[0]:
            counter[0] += 1
            time.sleep(0)  # lets the worker take the GIL back when its call returns
        thread.join()
    finally:
        sys.setswitchinterval(old)
    if errors:
        raise errors[0]
    return deltas


HUGE = 64 << 20
TRANSLATE = bytes(range(256))[::-1]


@pytest.mark.skipif(
    sys.implementation.name != "cpython",
    reason="the probe needs CPython's switch interval to keep the GIL for a whole call; PyPy's GIL "
    "hands over on its own schedule (and PyPy has no compiled wsfast for this control to serve)",
)
def test_the_gil_probe_sees_a_call_that_holds_the_gil() -> None:
    # The probe's control: bytes.translate never releases the GIL.
    data = bytes(HUGE)
    deltas = progress_during(lambda: data.translate(TRANSLATE), max_rounds=3)
    assert deltas == [0, 0, 0]


@pytest.mark.parametrize("call", ["apply_mask", "apply_mask_inplace", "Masker.process", "validate_utf8"])
def test_large_payloads_release_the_gil(c_impl: Any, call: str) -> None:
    data = bytearray(HUGE)
    data[::4096] = b"\x01" * (HUGE // 4096)
    key = KEY
    if call == "apply_mask":
        fn: Callable[[], Any] = lambda: c_impl.apply_mask(data, key)
    elif call == "apply_mask_inplace":
        fn = lambda: c_impl.apply_mask_inplace(data, key)
    elif call == "Masker.process":
        masker = c_impl.Masker(key)
        fn = lambda: masker.process(data)
    else:
        fn = lambda: c_impl.validate_utf8(data)
    deltas = progress_during(fn)
    assert deltas[-1] > 0, f"no progress in {len(deltas)} calls of {call} on 64 MiB: the GIL was held"
