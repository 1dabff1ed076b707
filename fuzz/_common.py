"""Shared plumbing of the differential fuzz targets.

Every target gets raw bytes, derives from them an input *and* the way it is
presented (buffer type, chunking, offsets), runs the compiled and the pure
implementation on it and raises AssertionError when they differ.  Any other
exception escaping a target is a finding too: the implementations may only
raise the exception types the target allows.

A target runs in one of two modes:

* under atheris (the default): ``python fuzz/fuzz_mask.py [libFuzzer flags] [corpus dirs]``;
* replay, without atheris or libFuzzer: ``python fuzz/fuzz_mask.py --replay FILE_OR_DIR...``
  runs every input once.  The sanitizer build replays the seed corpus and the
  saved regressions this way, and tests/test_regressions.py imports the
  targets' ``check`` functions directly.
"""

from __future__ import annotations

import array
import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path and not os.environ.get("WSFAST_FUZZ_INSTALLED"):
    # Fuzz the source tree unless told to fuzz an installed wsfast.
    sys.path.insert(0, str(ROOT / "src"))


class Reader:
    """Consumes a fuzz input from the front; reads past the end give zeros.

    Giving zeros rather than failing keeps every input meaningful, so the
    fuzzer never wastes time on inputs that a length check throws away.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out.ljust(n, b"\0")

    def lengths(self) -> list[int]:
        """A short list of chunk lengths: a count byte (0..7), then one byte each."""
        return [self.byte() for _ in range(self.byte() % 8)]

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out


def chunks(data: bytes, lengths: Sequence[int]) -> Iterator[bytes]:
    """Split ``data`` cycling through ``lengths`` (a 0 yields an empty chunk)."""
    if not any(lengths):
        if lengths:
            yield b""  # still exercise an empty feed
        yield data
        return
    if not data:
        yield data
        return
    pos = 0
    i = 0
    while pos < len(data):
        n = lengths[i % len(lengths)]
        i += 1
        yield data[pos : pos + n]
        pos += n


# Buffer kinds: how the same bytes are handed over.  The contract accepts any
# object with the buffer protocol, non-contiguous memoryviews included.
READONLY_KINDS = ("bytes", "memoryview", "memoryview-strided", "memoryview-odd")
WRITABLE_KINDS = (
    "bytearray",
    "memoryview-bytearray",
    "memoryview-bytearray-strided",
    "memoryview-bytearray-odd",
    "array",
)
KINDS = READONLY_KINDS + WRITABLE_KINDS


INVERT = bytes(range(255, -1, -1))


def as_buffer(data: bytes, kind: str) -> Any:
    """``data`` presented as buffer kind ``kind`` (a fresh object each call)."""
    if kind == "bytes":
        return bytes(data)
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(bytes(data))
    if kind == "memoryview-bytearray":
        return memoryview(bytearray(data))
    if kind in ("memoryview-strided", "memoryview-bytearray-strided"):
        # Every other byte of a buffer twice as long: a non-contiguous view.
        spread = bytearray(2 * len(data))
        spread[::2] = data
        spread[1::2] = data.translate(INVERT)
        base = spread if "bytearray" in kind else bytes(spread)
        return memoryview(base)[::2]
    if kind in ("memoryview-odd", "memoryview-bytearray-odd"):
        # Starts one byte into its buffer, so never word-aligned.
        base = bytearray(b"\xaa" + data + b"\x55")
        return memoryview(base if "bytearray" in kind else bytes(base))[1:-1]
    if kind == "array":
        return array.array("B", data)
    raise ValueError(kind)


def contents(buf: Any) -> bytes:
    return memoryview(buf).tobytes()


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """("ok", result) or ("raise", exception type name, close code, events).

    ``events`` is what a ProtocolError from Decoder.feed carries: the events
    completed in the same call before the error (None for other exceptions).
    """
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        events = getattr(exc, "events", None)
        return ("raise", type(exc).__name__, getattr(exc, "close_code", None),
                None if events is None else list(events))


def same(compiled: Any, pure: Any, what: str) -> None:
    if compiled != pure:
        raise AssertionError(f"{what}: compiled gave {compiled!r}, pure gave {pure!r}")


def expect(got: Any, want: Any, what: str) -> None:
    """An implementation-independent property."""
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, expected {want!r}")


def allowed(result: tuple[Any, ...], names: Sequence[str], what: str) -> None:
    """A raised exception must be one the contract names for this call."""
    if result[0] == "raise" and result[1] not in names:
        raise AssertionError(f"{what}: unexpected {result[1]} (allowed: {', '.join(names)})")


@functools.cache
def implementations() -> tuple[Any, Any]:
    """(compiled, pure); the compiled one must be built: fuzzing one side is pointless."""
    from wsfast import _impl

    return _impl.load("cython"), _impl.load("python")


def _replay(check: Callable[[bytes], None], paths: Sequence[str]) -> int:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    failed = 0
    for path in files:
        try:
            check(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - report every failing input
            failed += 1
            print(f"FAIL {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"replayed {len(files)} inputs, {failed} failed")
    return 1 if failed else 0


def main(check: Callable[[bytes], None], instrumented: Sequence[str]) -> None:
    """Run ``check`` under atheris, or over files with ``--replay``.

    ``instrumented`` names the modules whose Python code atheris instruments
    for coverage feedback: the pure twin, whose branches mirror the compiled
    code's (the compiled code itself is not instrumented; see docs/hardening.md).
    """
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":
        sys.exit(_replay(check, sys.argv[2:]))
    import importlib

    import atheris

    with atheris.instrument_imports():
        for name in instrumented:
            importlib.import_module(name)
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
