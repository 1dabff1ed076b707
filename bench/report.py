"""Turn a pytest-benchmark JSON of bench/ into the README's markdown tables.

    python bench/report.py bench.json [more.json ...] [--stat min|median|mean]

Prints two tables: every operation and size with wsfast (compiled), its pure
twin, the best peer and the reference (a plain copy for masking,
bytes.decode for UTF-8); then the project's performance targets (TARGETS
below; docs/benchmarks.md lists them), each as a ratio, and whether it is
met.  Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

Key = Tuple[str, str, int]  # (operation, variant, size)
OPS = ["mask_inplace", "apply_mask", "utf8", "decoder", "encode_frame", "deflate_encode", "deflate_decode",
       "deflate_frame_decode", "echo"]
OP_LABEL = {
    "mask_inplace": "in-place mask",
    "apply_mask": "apply_mask",
    "utf8": "UTF-8 validate",
    "decoder": "Decoder, 64 KiB reads",
    "encode_frame": "encode_frame",
    "deflate_encode": "permessage-deflate compress, 1 message",
    "deflate_decode": "permessage-deflate inflate, 1 message",
    "deflate_frame_decode": "compressed masked text frame to text (Decoder.feed)",
    "echo": "connection, one echoed message",
}
# Operations shown against each peer in turn (every peer must be beaten).
PER_PEER_OPS = ["deflate_encode", "deflate_decode", "deflate_frame_decode"]


@dataclass
class Result:
    contender: str
    kind: str
    seconds: float  # per call, the chosen statistic
    nbytes: int
    frames: int

    @property
    def unit_seconds(self) -> float:
        """Per frame for the Decoder, else per call."""
        return self.seconds / self.frames if self.frames else self.seconds

    @property
    def gbps(self) -> float:
        return self.nbytes / self.seconds / 1e9 if self.seconds else float("inf")


def load(paths: List[str], stat: str) -> Tuple[Dict[Key, Dict[str, Result]], dict]:
    """Every row of every file; a row found in several runs keeps its fastest."""
    table: Dict[Key, Dict[str, Result]] = {}
    machine: dict = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        machine = machine or doc.get("machine_info", {})
        for bench in doc.get("benchmarks", []):
            info = bench.get("extra_info") or {}
            if "op" not in info:
                continue
            key = (info["op"], info.get("variant", ""), int(info["size"]))
            value = float(bench["stats"][stat])
            if not value > 0:
                # No call takes no time: the thread clock did not tick over a
                # round (on this shared VM, about one round in 15,000).  The
                # minimum is then that of the other rounds; any other
                # statistic is left out.
                others = [x for x in bench["stats"].get("data", []) if x > 0]
                if stat != "min" or not others:
                    print(f"{path}: {bench['name']}: {stat} is 0, left out", file=sys.stderr)
                    continue
                value = min(others)
                print(f"{path}: {bench['name']}: a round read 0; the minimum of the others is used",
                      file=sys.stderr)
            result = Result(
                info["contender"], info["kind"],
                value / int(info.get("calls", 1)),
                int(info.get("bytes", 0)), int(info.get("frames", 0)))
            row = table.setdefault(key, {})
            seen = row.get(result.contender)
            if seen is None or result.seconds < seen.seconds:
                row[result.contender] = result
    return table, machine


def human(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def shows_bandwidth(op: str, size: int) -> bool:
    return op in ("mask_inplace", "apply_mask", "utf8") and size >= 1024


def fmt(result: Optional[Result], op: str, size: int, name: bool = False) -> str:
    if result is None:
        return "–"
    if shows_bandwidth(op, size):
        text = f"{result.gbps:.2f} GB/s"
    else:
        text = f"{result.unit_seconds * 1e9:,.0f} ns"
    return f"{text} ({result.contender})" if name else text


def best(results: Dict[str, Result], kinds: Iterable[str]) -> Optional[Result]:
    pool = [r for r in results.values() if r.kind in kinds]
    return min(pool, key=lambda r: r.seconds) if pool else None


def results_table(table: Dict[Key, Dict[str, Result]]) -> List[str]:
    lines = [
        "| operation | size | wsfast (compiled) | pure twin | best peer | reference | wsfast vs best peer |",
        "|---|---|---|---|---|---|---|",
    ]
    # Other files in bench/ (bench_patch.py) record rows of their own; their
    # own report shows them.
    known = [k for k in table if k[0] in OPS]
    for key in sorted(known, key=lambda k: (OPS.index(k[0]), k[1], k[2])):
        op, variant, size = key
        res = table[key]
        unit = " / frame" if op == "decoder" else ""
        label = OP_LABEL.get(op, op) + (f", {variant}" if variant else "")
        wsfast, pure = res.get("wsfast"), res.get("wsfast-pure")
        peer = best(res, ("peer", "peer-pure"))
        ref = best(res, ("ref",)) if op != "apply_mask" else res.get("copy")
        if op == "mask_inplace":
            ref = res.get("copy")
        speedup = f"{peer.seconds / wsfast.seconds:.2f}x" if (wsfast and peer) else "–"
        lines.append(
            f"| {label} | {human(size)}{unit} | {fmt(wsfast, op, size)} | {fmt(pure, op, size)} "
            f"| {fmt(peer, op, size, name=True)} | {fmt(ref, op, size, name=True)} | {speedup} |")
    return lines


@dataclass
class Target:
    """One performance target: wsfast's ``who`` against ``against``."""

    label: str
    op: str
    cases: List[Tuple[str, int]]  # (variant, size)
    against: Tuple[str, ...]  # contenders; the fastest present is used
    measure: str  # "speed" (their time / ours), "time" (ours / theirs), "ns" (ours)
    goal: float
    who: str = "wsfast"
    summarize: bool = False  # one line: the worst case

    def met(self, value: float) -> bool:
        return value >= self.goal if self.measure == "speed" else value <= self.goal

    def goal_text(self) -> str:
        return {"speed": f">= {self.goal:g}x", "time": f"<= {self.goal:g}x",
                "ns": f"< {self.goal:g} ns"}[self.measure]


SMALL = [8, 16, 64, 125]
BIG = [1 << 10, 4 << 10, 64 << 10, 1 << 20, 16 << 20]
ALL_MASK = SMALL + BIG
FRAMES = [(v, s) for v in ("unmasked", "masked") for s in (0, 16, 125)]
ALL_FRAMES = [(v, s) for v in ("unmasked", "masked") for s in (0, 16, 125, 1024)]

TARGETS = [
    Target("in-place mask, 8 to 125 B: speed vs aiohttp", "mask_inplace",
           [("", s) for s in SMALL], ("aiohttp",), "speed", 1.0),
    Target("in-place mask, 64 KiB: GB/s vs aiohttp", "mask_inplace",
           [("", 64 << 10)], ("aiohttp",), "speed", 1.5),
    Target("apply_mask, 125 B: time vs websockets", "apply_mask",
           [("", 125)], ("websockets",), "time", 0.6),
    Target("apply_mask, 1 KiB and up: time vs a copy", "apply_mask",
           [("", s) for s in BIG], ("copy",), "time", 1.2),
    Target("UTF-8, 1 MiB non-ASCII: speed vs bytes.decode", "utf8",
           [("mixed", 1 << 20)], ("bytes.decode",), "speed", 8.0),
    Target("UTF-8, 1 MiB ASCII: speed vs bytes.decode", "utf8",
           [("ascii", 1 << 20)], ("bytes.decode",), "speed", 1.0),
    Target("UTF-8, 64 B: time per call", "utf8",
           [("ascii", 64), ("mixed", 64)], (), "ns", 40.0),
    Target("Decoder, 0 to 125 B frames: frame rate vs picows", "decoder",
           FRAMES, ("picows",), "speed", 1.3),
    Target("encode_frame, 16 B: time vs picows", "encode_frame",
           [("unmasked", 16), ("masked", 16)], ("picows",), "time", 0.75),
    Target("connection echo: time vs the bare codec (Decoder + encode_frame)", "echo",
           [("", s) for s in (32, 1 << 10, 64 << 10)], ("codec",), "time", 1.5),
    Target("connection echo, 32 B: speed vs websockets' ServerProtocol", "echo",
           [("", 32)], ("websockets",), "speed", 5.0),
    Target("connection echo, 32 B: speed vs wsproto's Connection", "echo",
           [("", 32)], ("wsproto",), "speed", 10.0),
    Target("pure twin, in-place mask: speed vs translate table (worst size)", "mask_inplace",
           [("", s) for s in ALL_MASK], ("translate", "aiohttp-pure"), "speed", 1.0,
           who="wsfast-pure", summarize=True),
    Target("pure twin, apply_mask: speed vs translate table (worst size)", "apply_mask",
           [("", s) for s in ALL_MASK], ("translate",), "speed", 1.0,
           who="wsfast-pure", summarize=True),
    Target("pure twin, Decoder: frame rate vs aiohttp's pure reader (worst case)", "decoder",
           ALL_FRAMES, ("aiohttp-pure",), "speed", 1.0, who="wsfast-pure", summarize=True),
]


def evaluate(target: Target, table: Dict[Key, Dict[str, Result]]) -> List[Tuple[str, str, Optional[float]]]:
    """[(case label, what it was compared with, value or None)]."""
    rows: List[Tuple[str, str, Optional[float]]] = []
    for variant, size in target.cases:
        res = table.get((target.op, variant, size), {})
        ours = res.get(target.who)
        theirs = min((res[c] for c in target.against if c in res),
                     key=lambda r: r.seconds, default=None)
        case = f"{variant + ' ' if variant else ''}{human(size)}"
        if ours is None or (target.against and theirs is None):
            rows.append((case, theirs.contender if theirs else "/".join(target.against), None))
            continue
        if target.measure == "ns":
            value = ours.unit_seconds * 1e9
        elif target.measure == "speed":
            value = theirs.seconds / ours.seconds
        else:
            value = ours.seconds / theirs.seconds
        rows.append((case, theirs.contender if theirs else "", value))
    if target.summarize:
        known = [r for r in rows if r[2] is not None]
        if not known:
            return [("all sizes", "/".join(target.against), None)]
        def worst(r: Tuple[str, str, Optional[float]]) -> float:
            return r[2] or 0.0

        pick = min(known, key=worst) if target.measure == "speed" else max(known, key=worst)
        missing = len(rows) - len(known)
        return [(f"worst: {pick[0]}" + (f" ({missing} missing)" if missing else ""), pick[1], pick[2])]
    return rows


def targets_table(table: Dict[Key, Dict[str, Result]]) -> List[str]:
    lines = [
        "| target | case | against | measured | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for target in TARGETS:
        for case, against, value in evaluate(target, table):
            if value is None:
                shown, met = "not measured", "–"
            else:
                shown = f"{value:.1f} ns" if target.measure == "ns" else f"{value:.2f}x"
                met = "yes" if target.met(value) else "**no**"
            lines.append(f"| {target.label} | {case} | {against or '–'} | {shown} "
                         f"| {target.goal_text()} | {met} |")
    return lines


def header(machine: dict, stat: str) -> List[str]:
    cpu = machine.get("cpu", {}) or {}
    ws = machine.get("wsfast", {}) or {}
    peers = machine.get("peers", {}) or {}
    lines = [
        (f"Machine: {cpu.get('brand_raw') or machine.get('processor') or '?'}, "
         f"{machine.get('python_implementation', '')} {machine.get('python_version', '')}; "
         f"wsfast {ws.get('implementation', '?')}, SIMD {ws.get('simd', '?')}; statistic: {stat}."),
    ]
    if peers:
        lines.append("Peers: " + ", ".join(f"{k} {v}" for k, v in sorted(peers.items())) + ".")
    return lines


def per_peer_table(table: Dict[Key, Dict[str, Result]]) -> List[str]:
    """wsfast's speed over each peer (their time / ours), per operation and size."""
    keys = sorted((k for k in table if k[0] in PER_PEER_OPS), key=lambda k: (PER_PEER_OPS.index(k[0]), k[1], k[2]))
    peers = sorted({r.contender for k in keys for r in table[k].values() if r.kind.startswith("peer")})
    if not keys:
        return []
    # The compiled unit on the system zlib, the library the peers run on,
    # when the run has it (its default back end may be zlib-ng).
    on_zlib = any("wsfast-zlib" in table[k] for k in keys)
    lines = ["| operation | size | wsfast | " + ("on zlib | " if on_zlib else "") + "pure twin | "
             + " | ".join(f"vs {p}" for p in peers) + " |",
             "|---|---|---|---|" + ("---|" if on_zlib else "") + "---|" * len(peers)]
    for key in keys:
        op, variant, size = key
        res = table[key]
        wsfast = res.get("wsfast")
        cells = []
        for peer in peers:
            theirs = res.get(peer)
            cells.append(f"{theirs.seconds / wsfast.seconds:.2f}x" if wsfast and theirs else "–")
        label = OP_LABEL.get(op, op) + (f", {variant}" if variant else "")
        zlib_cell = f"{fmt(res.get('wsfast-zlib'), op, size)} | " if on_zlib else ""
        lines.append(f"| {label} | {human(size)} | {fmt(wsfast, op, size)} | {zlib_cell}"
                     f"{fmt(res.get('wsfast-pure'), op, size)} | " + " | ".join(cells) + " |")
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+",
                        help="files written by pytest --benchmark-json; with several "
                             "(runs of the same machine), each row keeps its fastest")
    parser.add_argument("--stat", default="min", choices=["min", "median", "mean"],
                        help="which per-call statistic to compare (default: min, the "
                             "least disturbed by other load on the machine)")
    args = parser.parse_args(argv)
    table, machine = load(args.json, args.stat)
    if not table:
        print(f"{', '.join(args.json)}: no bench/ results in it", file=sys.stderr)
        return 1
    out = header(machine, args.stat)
    if len(args.json) > 1:
        out[0] += f" Best of {len(args.json)} runs per row."
    out += ["", "### Results", ""] + results_table(table)
    per_peer = per_peer_table(table)
    if per_peer:
        out += ["", "### wsfast against each peer (their time / wsfast's)", ""] + per_peer
    out += ["", "### Performance targets", ""] + targets_table(table)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
