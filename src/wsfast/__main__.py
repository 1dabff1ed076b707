"""``python -m wsfast``: what runs here, and the compiled kernels against the
pure-Python ones on this machine (see ``--help``)."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wsfast",
        description="Say which wsfast implementation and SIMD variant are active, then "
                    "benchmark the compiled kernels against the pure-Python twin on this "
                    "machine (masking, UTF-8 validation, Decoder, encode_frame). Progress "
                    "goes to stderr, the table to stdout. For the comparison with other "
                    "libraries, run bench/ (docs/benchmarks.md).",
    )
    parser.add_argument("--quick", action="store_true",
                        help="fewer sizes and short timings (a few seconds; for smoke tests)")
    parser.add_argument("--time", type=float, metavar="SECONDS", default=None,
                        help="time budget per item and implementation (default 0.6, quick 0.04)")
    parser.add_argument("--simd", metavar="NAME", default=None,
                        help="run the compiled kernels with this SIMD variant, like "
                             "WSFAST_SIMD (--info lists those this CPU runs)")
    parser.add_argument("--info", action="store_true",
                        help="only say what is active; no benchmark")
    args = parser.parse_args(argv)
    if args.time is not None and args.time <= 0:
        parser.error("--time must be positive")

    from . import _impl, _selfbench

    if args.simd:
        if _impl.IMPLEMENTATION != "cython":
            parser.error(f"--simd needs the compiled implementation ({_impl.FALLBACK_REASON})")
        from . import _simd

        try:
            _simd.force(args.simd)
        except ValueError as exc:
            parser.error(f"--simd {args.simd}: {exc}")
    if args.info:
        print("\n".join(_selfbench.describe(forced=args.simd)))
        return 0
    _selfbench.run(quick=args.quick, budget=args.time, forced=args.simd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
