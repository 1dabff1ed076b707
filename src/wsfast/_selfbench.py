"""The work behind ``python -m wsfast``: which implementation runs, and how
much faster the compiled kernels are than the pure-Python twin here.

Standard library only (wsfast has no runtime dependencies): timeit with the
call's arguments bound as locals, the best of a few repeats per item.
The full comparison with other libraries lives in bench/ (pytest-benchmark).
"""

from __future__ import annotations

import os
import platform
import sys
import time
import timeit
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from . import _impl

Call = Tuple[Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]
MASK = b"\x37\xfa\x21\x3d"
MIXED = "日本語のテキスト Größe текст ñandú 中文 😀 "


def cpu_model() -> str:
    """The CPU's marketing name where the OS tells it cheaply, else the arch."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("model name", "Model", "Hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe(forced: Optional[str] = None) -> List[str]:
    """What is running: implementation, SIMD variant and why, CPU, Python.

    ``forced``: the variant ``--simd`` switched to after import.
    """
    from . import __version__

    lines = [f"wsfast {__version__}: implementation {_impl.IMPLEMENTATION}, SIMD {_impl.SIMD}"]
    if _impl.FALLBACK_REASON:
        lines.append(f"  pure Python because: {_impl.FALLBACK_REASON}")
    else:
        from . import _simd

        if forced:
            how = " (--simd)"
        elif os.environ.get("WSFAST_SIMD"):
            how = f" (WSFAST_SIMD={os.environ['WSFAST_SIMD']})"
        else:
            how = " (best chosen at import)"
        lines.append(f"  SIMD variants this CPU and build can run: {', '.join(_simd.available())}{how}")
    lines.append(f"  CPU: {cpu_model()} ({platform.machine()}, {os.cpu_count()} logical CPUs)")
    lines.append(f"  Python: {platform.python_implementation()} {platform.python_version()}"
                 f" on {platform.system()}")
    return lines


def text(kind: str, size: int) -> bytes:
    """``size`` bytes of valid UTF-8: ASCII prose, or CJK/Cyrillic/Latin/emoji."""
    unit = "The quick brown fox jumps over the lazy dog. " if kind == "ascii" else MIXED
    out = bytearray()
    for ch in unit * (size // len(unit.encode()) + 1):
        enc = ch.encode()
        if len(out) + len(enc) > size:
            break
        out += enc
    return bytes(out + b" " * (size - len(out)))


@dataclass
class Item:
    """One line of the table: what is timed and how to prepare it."""

    label: str
    size: int  # payload bytes per call, or per frame for the Decoder
    make: Callable[[_impl.Implementation], Call]
    frames: int = 0  # Decoder: frames per call; the table shows time per frame
    deterministic: bool = True  # False where the bytes differ by design (fresh mask keys)

    @property
    def bandwidth(self) -> bool:
        return not self.frames and self.size >= 1024 and "encode" not in self.label


def human(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def public(impl: _impl.Implementation, name: str) -> Callable[..., Any]:
    """A public callable of ``impl`` (typed: Implementation resolves names lazily)."""
    fn: Callable[..., Any] = getattr(impl, name)
    return fn


def payload(size: int) -> bytes:
    """The same bytes for both implementations, so their results compare."""
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def _mask_inplace(size: int) -> Callable[[_impl.Implementation], Call]:
    def make(impl: _impl.Implementation) -> Call:
        # Masking twice restores the buffer, so repeats keep working on it.
        return (public(impl, "apply_mask_inplace"), (bytearray(payload(size)), MASK), {})
    return make


def _apply_mask(size: int) -> Callable[[_impl.Implementation], Call]:
    def make(impl: _impl.Implementation) -> Call:
        return (public(impl, "apply_mask"), (payload(size), MASK), {})
    return make


def _utf8(kind: str, size: int) -> Callable[[_impl.Implementation], Call]:
    def make(impl: _impl.Implementation) -> Call:
        return (public(impl, "validate_utf8"), (text(kind, size),), {})
    return make


STREAM_BYTES = 64 * 1024


def frames_per_read(size: int, masked: bool) -> int:
    head = 2 + (0 if size < 126 else 2 if size < 65536 else 8) + (4 if masked else 0)
    return STREAM_BYTES // (head + size)


def _decoder(size: int, masked: bool) -> Callable[[_impl.Implementation], Call]:
    def make(impl: _impl.Implementation) -> Call:
        from ._types import Opcode

        # The stream is built by the pure encoder so both sides read the same bytes.
        encode = public(_impl.load("python", lazy=True), "encode_frame")
        frame = encode(Opcode.BINARY, payload(size), mask=MASK if masked else None)
        stream = frame * frames_per_read(size, masked)
        decoder = public(impl, "Decoder")(client=not masked)
        return (decoder.feed, (stream,), {})
    return make


def _encode(size: int, masked: bool) -> Callable[[_impl.Implementation], Call]:
    def make(impl: _impl.Implementation) -> Call:
        from ._types import Opcode

        return (public(impl, "encode_frame"), (Opcode.BINARY, payload(size)), {"mask": True} if masked else {})
    return make


def items(quick: bool) -> List[Item]:
    mask_sizes = [16, 64 << 10] if quick else [16, 125, 1 << 10, 64 << 10, 1 << 20]
    utf8_sizes = [64, 64 << 10] if quick else [64, 1 << 20]
    frame_sizes = [16] if quick else [16, 125, 1 << 10]
    out = [Item(f"mask in place {human(s)}", s, _mask_inplace(s)) for s in mask_sizes]
    out += [Item(f"apply_mask {human(s)}", s, _apply_mask(s))
            for s in ([125] if quick else [125, 64 << 10])]
    out += [Item(f"validate_utf8 {name} {human(s)}", s, _utf8(kind, s))
            for kind, name in (("ascii", "ASCII"), ("mixed", "non-ASCII")) for s in utf8_sizes]
    for masked in (False, True):
        tag = "masked" if masked else "unmasked"
        out += [Item(f"Decoder {human(s)} frames, {tag}", s, _decoder(s, masked),
                     frames=frames_per_read(s, masked)) for s in frame_sizes]
    out += [Item(f"encode_frame 16 B, {tag}", 16, _encode(16, masked), deterministic=not masked)
            for masked, tag in ((False, "unmasked"), (True, "masked"))]
    return out


def time_call(call: Call, budget: float, repeats: int) -> float:
    """Best seconds per call over ``repeats`` timings of about budget/repeats each."""
    fn, args, kwargs = call
    names = [f"_a{i}" for i in range(len(args))]
    keys = [f"_k{i}" for i in range(len(kwargs))]
    stmt = "_fn(" + ", ".join(names + [f"{k}={v}" for k, v in zip(kwargs, keys)]) + ")"
    setup = ", ".join(["_fn"] + names + keys) + ", = _values"
    timer = timeit.Timer(stmt, setup, globals={"_values": (fn, *args, *kwargs.values())})
    number, elapsed = 1, timer.timeit(1)
    per_run = budget / repeats
    while elapsed < per_run / 4 and number < 1 << 24:
        number *= 4 if elapsed < per_run / 40 else 2
        elapsed = timer.timeit(number)
    number = max(1, int(number * per_run / max(elapsed, 1e-9)))
    return min(timer.repeat(repeats, number)) / number


@dataclass
class Row:
    item: Item
    compiled: Optional[float]  # seconds per call
    pure: Optional[float]
    note: str = ""


def measure(item: Item, impl: Optional[_impl.Implementation], budget: float,
            repeats: int) -> Tuple[Optional[float], Any, str]:
    """(seconds per call, one result for the cross-check, why it was skipped)."""
    if impl is None:
        return None, None, ""
    try:
        call = item.make(impl)
        fn, args, kwargs = call
        result = fn(*args, **kwargs)
    except (ImportError, AttributeError, NotImplementedError) as exc:
        return None, None, f"{impl.IMPLEMENTATION} n/a: {type(exc).__name__}"
    if isinstance(result, (bytearray, memoryview)):
        result = bytes(result)
    return time_call(call, budget, repeats), result, ""


def show_time(item: Item, seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if item.bandwidth:
        return f"{item.size / seconds / 1e9:.2f} GB/s"
    per = seconds / item.frames if item.frames else seconds
    return f"{per * 1e9:,.0f} ns" + ("/frame" if item.frames else "")


def run(quick: bool = False, budget: Optional[float] = None, forced: Optional[str] = None,
        out: TextIO = sys.stdout, progress: TextIO = sys.stderr) -> List[Row]:
    for line in describe(forced):
        print(line, file=out)
    out.flush()
    compiled: Optional[_impl.Implementation] = None
    if _impl.IMPLEMENTATION == "cython":
        compiled = _impl.load("cython", lazy=True)
    pure = _impl.load("python", lazy=True)
    todo = items(quick)
    budget = budget if budget is not None else (0.04 if quick else 0.6)
    repeats = 3 if quick else 5
    what = "compiled vs pure Python" if compiled else "pure Python only"
    print(f"\nBenchmarking {len(todo)} items, {what} "
          f"(best of {repeats} timings, ~{budget:g} s each side)...", file=progress)
    rows: List[Row] = []
    started = time.perf_counter()
    for n, item in enumerate(todo, 1):
        c_time, c_result, c_note = measure(item, compiled, budget, repeats)
        p_time, p_result, p_note = measure(item, pure, budget, repeats)
        notes = [note for note in (c_note, p_note) if note]
        if c_time is not None and p_time is not None and item.deterministic:
            if c_result != p_result:
                notes.append("RESULTS DIFFER")
        row = Row(item, c_time, p_time, "; ".join(notes))
        rows.append(row)
        times = f"pure {show_time(item, p_time)}"
        if compiled is not None:
            times = f"compiled {show_time(item, c_time)}, " + times
        print(f"[{n}/{len(todo)}] {item.label}: {times}" + (f" ({row.note})" if row.note else ""),
              file=progress)
        progress.flush()
    print(f"done in {time.perf_counter() - started:.1f} s\n", file=progress)
    print("\n" + "\n".join(table(rows, compiled is not None)), file=out)
    return rows


def table(rows: Sequence[Row], with_compiled: bool) -> List[str]:
    head = ["work", "compiled", "pure Python", "speedup"] if with_compiled else ["work", "pure Python"]
    body = []
    for row in rows:
        cells = [row.item.label]
        if with_compiled:
            speed = (f"{row.pure / row.compiled:,.1f}x"
                     if row.compiled and row.pure else "-")
            cells += [show_time(row.item, row.compiled), show_time(row.item, row.pure), speed]
        else:
            cells += [show_time(row.item, row.pure)]
        if row.note:
            cells[-1] += f"  ({row.note})"
        body.append(cells)
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

    def line(cells: List[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in body]
