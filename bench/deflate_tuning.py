"""The figures behind wsfast's permessage-deflate defaults (docs/deflate.md).

    PYTHONPATH=src taskset -c 1 python bench/deflate_tuning.py [--quick] [--json out.json] [--backend zlib]

Prints markdown tables (1 to 3 on the compiled unit's back end --backend,
"zlib" unless told, whatever the installed default is):

1. CPU per message and compressed size, per zlib level and window/memLevel,
   on streams of distinct JSON-like messages (bench/deflate_workload.py)
   of 100 B, 1 KiB and 64 KiB, with context takeover, and without it;
2. memory per connection: bytes zlib holds for one compressor and one
   inflater after one message (counted by the compiled unit's allocator),
   checked against RSS over 1,000 of them;
3. no context takeover: resetting a stream (deflateReset, as wsfast does)
   against recreating it per message, in C and through the zlib module;
4. back ends through their Python ``compressobj``: zlib, zlib-ng and ISA-L;
5. the compiled unit on zlib and on zlib-ng, window 15 / memLevel 8, at
   levels 1, 2, 3 and 6, with and without context takeover.

Times are the minimum over repeats of whole passes over the stream, in CPU
time of the measuring thread, so one figure is one message's cost on a warm
compressor, and a busy machine does not inflate it much.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from deflate_workload import stream  # noqa: E402

from wsfast import (  # noqa: E402
    PerMessageDeflate,
    _deflate_c,
)

SIZES = [100, 1 << 10, 64 << 10]
LEVELS = [1, 6, 9]
SHAPES = [(15, 8), (14, 7), (13, 6), (12, 5), (11, 4), (10, 3), (9, 2)]


def human(n: int) -> str:
    return f"{n >> 10} KiB" if n >= 1024 else f"{n} B"


def per_message(run: Callable[[], int], count: int, repeats: int, budget: float) -> Tuple[float, int]:
    """(seconds per message, output bytes of one pass): min over repeats."""
    out = run()  # warm: the context is full of earlier messages from here on
    best = float("inf")
    deadline = time.perf_counter() + budget
    for i in range(repeats):
        # CPU time of this thread: on a shared machine, time spent waiting
        # for a core is not the compressor's.
        start = time.thread_time()
        run()
        best = min(best, time.thread_time() - start)
        if i >= 2 and time.perf_counter() > deadline:
            break
    return best / count, out


def deflater_pass(deflater: Any, messages: List[bytes]) -> Callable[[], int]:
    compress = deflater.compress

    def run() -> int:
        return sum(len(compress(m)) for m in messages)

    return run


def params(bits: int, no_takeover: bool) -> PerMessageDeflate:
    return PerMessageDeflate(server_max_window_bits=bits, server_no_context_takeover=no_takeover)


# ------------------------------------------------------------ 1. CPU and ratio

def cpu_and_ratio(sizes: List[int], repeats: int, budget: float) -> List[Dict[str, Any]]:
    rows = []
    for size in sizes:
        messages = stream(size)
        total = sum(map(len, messages))
        for level in LEVELS:
            for bits, mem in SHAPES:
                for no_takeover in (False, True):
                    if no_takeover and (bits, mem) not in ((15, 8), (12, 5)):
                        continue
                    d = _deflate_c.Deflater(params(bits, no_takeover), level=level, mem_level=mem)
                    secs, out = per_message(deflater_pass(d, messages), len(messages), repeats, budget)
                    rows.append(dict(size=size, level=level, window_bits=bits, mem_level=mem,
                                     takeover=not no_takeover, us=secs * 1e6, ratio=out / total))
                    print(f"  {human(size):>6} level {level} w{bits}/m{mem} "
                          f"{'takeover' if not no_takeover else 'no takeover'}: "
                          f"{secs * 1e6:9.2f} us  ratio {out / total:.3f}", file=sys.stderr, flush=True)
    return rows


# ------------------------------------------------------------- 2. memory

_MEMORY_PROBE = """
import gc, json, os, sys
sys.path.insert(0, {here!r})
from deflate_workload import stream
from wsfast import PerMessageDeflate, _deflate_c

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

bits, mem, kind, count = {bits}, {mem}, {kind!r}, {count}
msg = stream(1 << 10, 2)[0]
p = PerMessageDeflate(server_max_window_bits=bits, client_max_window_bits=bits)
payload = _deflate_c.Deflater(p, client=True).compress(msg)
gc.collect()
zlib0, rss0 = _deflate_c._zlib_bytes(), rss()
keep = []
for _ in range(count):
    if kind == "deflater":
        obj = _deflate_c.Deflater(p, mem_level=mem)
        obj.compress(msg)
    else:
        obj = _deflate_c.Inflater(p)
        obj.inflate(payload)
        obj.finish()
    keep.append(obj)
print(json.dumps([(_deflate_c._zlib_bytes() - zlib0) / count, (rss() - rss0) / count]))
"""


def memory(count: int) -> List[Dict[str, Any]]:
    """Each figure in a fresh process, so that no freed memory is reused."""
    import subprocess

    rows = []
    for bits, mem in SHAPES + [(15, 9)]:
        row: Dict[str, Any] = dict(window_bits=bits, mem_level=mem)
        for kind in ("deflater", "inflater"):
            code = _MEMORY_PROBE.format(here=HERE, bits=bits, mem=mem, kind=kind, count=count)
            env = dict(os.environ, WSFAST_ZLIB=_deflate_c.BACKEND)
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
            row[kind + "_zlib"], row[kind + "_rss"] = json.loads(out.stdout)
        rows.append(row)
        print(f"  w{bits}/m{mem}: deflater {row['deflater_zlib']:.0f} B (RSS {row['deflater_rss']:.0f}), "
              f"inflater {row['inflater_zlib']:.0f} B (RSS {row['inflater_rss']:.0f})", file=sys.stderr, flush=True)
    return rows


# ------------------------------------------------------ 3. reset vs recreate

def reset_vs_recreate(repeats: int, budget: float) -> List[Dict[str, Any]]:
    rows = []
    for size in (100, 1 << 10):
        messages = stream(size)
        for bits, mem in ((15, 8), (12, 5)):
            p_reset = params(bits, True)

            pooled = _deflate_c.Deflater(p_reset, mem_level=mem)
            reset_c, _ = per_message(deflater_pass(pooled, messages), len(messages), repeats, budget)

            p_own = params(bits, False)  # a Deflater of its own: deflateInit2 on first use, freed with it

            def recreate_c(p_own: Any = p_own, mem: int = mem, messages: List[bytes] = messages) -> int:
                return sum(len(_deflate_c.Deflater(p_own, mem_level=mem).compress(m)) for m in messages)

            new_c, _ = per_message(recreate_c, len(messages), repeats, budget)

            obj = zlib.compressobj(1, zlib.DEFLATED, -bits, mem)

            def full_flush_py(obj: Any = obj, messages: List[bytes] = messages) -> int:
                return sum(len(obj.compress(m) + obj.flush(zlib.Z_FULL_FLUSH)) for m in messages)

            reset_py, _ = per_message(full_flush_py, len(messages), repeats, budget)

            def recreate_py(messages: List[bytes] = messages, bits: int = bits, mem: int = mem) -> int:
                n = 0
                for m in messages:
                    c = zlib.compressobj(1, zlib.DEFLATED, -bits, mem)
                    n += len(c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH))
                return n

            new_py, _ = per_message(recreate_py, len(messages), repeats, budget)
            rows.append(dict(size=size, window_bits=bits, mem_level=mem, reset_c_us=reset_c * 1e6,
                             recreate_c_us=new_c * 1e6, reset_py_us=reset_py * 1e6,
                             recreate_py_us=new_py * 1e6))
            print(f"  {human(size)} w{bits}/m{mem}: C reset {reset_c * 1e6:.2f} us, recreate {new_c * 1e6:.2f} us; "
                  f"zlib module full flush {reset_py * 1e6:.2f} us, recreate {new_py * 1e6:.2f} us",
                  file=sys.stderr, flush=True)
    return rows


# ------------------------------------------------------------- 4. back ends

def backends(sizes: List[int], repeats: int, budget: float) -> List[Dict[str, Any]]:
    mods: Dict[str, Tuple[Any, List[int]]] = {"zlib": (zlib, LEVELS)}
    for name, modname, levels in (("zlib-ng", "zlib_ng.zlib_ng", LEVELS), ("isal", "isal.isal_zlib", [0, 1, 2, 3])):
        try:
            mods[name] = (importlib.import_module(modname), levels)
        except ImportError:
            print(f"  {name}: not installed", file=sys.stderr)
    rows = []
    for size in sizes:
        messages = stream(size)
        total = sum(map(len, messages))
        for name, (mod, levels) in mods.items():
            for level in levels:
                obj = mod.compressobj(level, mod.DEFLATED, -15, 8)
                sync = mod.Z_SYNC_FLUSH

                def run(obj: Any = obj, sync: int = sync, messages: List[bytes] = messages) -> int:
                    return sum(len(obj.compress(m) + obj.flush(sync)) - 4 for m in messages)

                secs, out = per_message(run, len(messages), repeats, budget)
                payloads = []
                enc = mod.compressobj(level, mod.DEFLATED, -15, 8)
                for m in messages:
                    payloads.append(enc.compress(m) + enc.flush(sync))
                dec = mod.decompressobj(-15)

                def inflate(dec: Any = dec, payloads: List[bytes] = payloads) -> int:
                    return sum(len(dec.decompress(p)) for p in payloads)

                dsecs, _ = per_message(inflate, len(messages), repeats, budget)
                rows.append(dict(size=size, backend=name, level=level, us=secs * 1e6, ratio=out / total,
                                 inflate_us=dsecs * 1e6))
                print(f"  {human(size):>6} {name:8} level {level}: {secs * 1e6:9.2f} us ratio {out / total:.3f}; "
                      f"inflate {dsecs * 1e6:8.2f} us", file=sys.stderr, flush=True)
    return rows


# ---------------------------------------------------------------- report

# ------------------------------------------- 5. the compiled unit's back ends

def compiled_backends(sizes: List[int], repeats: int, budget: float) -> List[Dict[str, Any]]:
    rows = []
    before = _deflate_c.BACKEND
    try:
        for size in sizes:
            messages = stream(size)
            total = sum(map(len, messages))
            for backend in ("zlib", "zlib-ng"):
                try:
                    _deflate_c.use_backend(backend)
                except ImportError as exc:
                    print(f"  {backend}: {exc}", file=sys.stderr)
                    continue
                for level in (1, 2, 3, 6):
                    for no_takeover in (False, True):
                        d = _deflate_c.Deflater(params(15, no_takeover), level=level, mem_level=8)
                        secs, out = per_message(deflater_pass(d, messages), len(messages), repeats, budget)
                        rows.append(dict(size=size, backend=backend, level=level, takeover=not no_takeover,
                                         us=secs * 1e6, ratio=out / total))
    finally:
        _deflate_c.use_backend(before)
    return rows


def table(header: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(data: Dict[str, Any]) -> str:
    out = []
    if data.get("cpu"):
        out.append("### CPU per message and size after compression (compiled Deflater)\n")
        out.append("Time per message, and the compressed size as a share of the original.\n")
        rows = []
        for r in data["cpu"]:
            rows.append([human(r["size"]), str(r["level"]), f"{r['window_bits']}/{r['mem_level']}",
                         "yes" if r["takeover"] else "no", f"{r['us']:.2f}", f"{r['ratio'] * 100:.1f}%"])
        out.append(table(["message", "level", "window/memLevel", "context takeover", "µs/message", "size"], rows))
    if data.get("memory"):
        out.append("\n### Memory per connection (bytes zlib holds after one message; RSS per object in brackets)\n")
        rows = [[f"{r['window_bits']}/{r['mem_level']}", f"{r['deflater_zlib'] / 1024:.1f} KiB",
                 f"({r['deflater_rss'] / 1024:.1f} KiB)", f"{r['inflater_zlib'] / 1024:.1f} KiB",
                 f"({r['inflater_rss'] / 1024:.1f} KiB)"] for r in data["memory"]]
        out.append(table(["window/memLevel", "compressor", "RSS", "inflater (window only)", "RSS"], rows))
    if data.get("reset"):
        out.append("\n### No context takeover: reset against recreate, level 1\n")
        rows = [[human(r["size"]), f"{r['window_bits']}/{r['mem_level']}", f"{r['reset_c_us']:.2f}",
                 f"{r['recreate_c_us']:.2f}", f"{r['recreate_c_us'] / r['reset_c_us']:.1f}x",
                 f"{r['reset_py_us']:.2f}", f"{r['recreate_py_us']:.2f}",
                 f"{r['recreate_py_us'] / r['reset_py_us']:.1f}x"] for r in data["reset"]]
        out.append(table(["message", "window/memLevel", "C reset µs", "C recreate µs", "ratio",
                          "zlib module full flush µs", "zlib module recreate µs", "ratio"], rows))
    if data.get("backends"):
        out.append("\n### Back ends through their Python compressobj (window 15, memLevel 8, context takeover)\n")
        rows = [[human(r["size"]), r["backend"], str(r["level"]), f"{r['us']:.2f}", f"{r['ratio'] * 100:.1f}%",
                 f"{r['inflate_us']:.2f}"] for r in data["backends"]]
        out.append(table(["message", "back end", "level", "deflate µs/message", "size", "inflate µs/message"], rows))
    if data.get("compiled"):
        out.append("\n### The compiled unit on each back end (window 15, memLevel 8)\n")
        rows = [[human(r["size"]), r["backend"], str(r["level"]), "yes" if r["takeover"] else "no",
                 f"{r['us']:.2f}", f"{r['ratio'] * 100:.1f}%"] for r in data["compiled"]]
        out.append(table(["message", "back end", "level", "context takeover", "µs/message", "size"], rows))
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--only", default="cpu,memory,reset,backends,compiled")
    parser.add_argument("--backend", default="zlib", choices=["zlib", "zlib-ng", "auto"],
                        help="the compiled unit's back end for tables 1 to 3 (default zlib)")
    args = parser.parse_args(argv)
    _deflate_c.use_backend(args.backend)
    repeats, budget = (3, 0.2) if args.quick else (15, 2.0)
    only = set(args.only.split(","))
    data: Dict[str, Any] = {"zlib": _deflate_c.ZLIB_VERSION, "python": sys.version.split()[0],
                            "backend": args.backend}
    if "cpu" in only:
        data["cpu"] = cpu_and_ratio(SIZES, repeats, budget)
    if "memory" in only:
        data["memory"] = memory(200 if args.quick else 1000)
    if "reset" in only:
        data["reset"] = reset_vs_recreate(repeats, budget)
    if "backends" in only:
        data["backends"] = backends(SIZES, repeats, budget)
    if "compiled" in only:
        data["compiled"] = compiled_backends(SIZES, repeats, budget)
        data["zlib-ng"] = _deflate_c.ZLIB_NG_VERSION
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
    print(f"zlib {data['zlib']}, zlib-ng {data.get('zlib-ng')}, Python {data['python']}; "
          f"tables 1 to 3 on {args.backend}\n")
    print(report(data))


if __name__ == "__main__":
    main()
