"""Every compiled entry point, valid and invalid input: what scripts/valgrind.sh
runs under memcheck and scripts/sanitize.sh under ASan/UBSan.

The calls are those of tests/_hardening.py (the leak test's catalogue), each
made a few times, on every SIMD variant this CPU runs, then, when
WSFAST_VALGRIND_SEEDS names a seed corpus (valgrind.sh's run), the corpus
replayed through the differential targets (a sample: memcheck runs Python
some 50 times slower).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "fuzz"))

from _hardening import calls, run_once  # noqa: E402
from wsfast import _impl, _simd  # noqa: E402


def backends() -> list[str]:
    """The deflate back ends to run the catalogue on: zlib, and zlib-ng when
    its module is installed (the scripts install it)."""
    from wsfast import _deflate_c

    try:
        _deflate_c.use_backend("zlib-ng")
    except ImportError as exc:
        print(f"valgrind exercise: zlib only ({exc})")
        return ["zlib"]
    return ["zlib", "zlib-ng"]


def main() -> int:
    from wsfast import _deflate_c, _deflate_py

    impl = _impl.load("cython")  # ImportError if the compiled modules are missing: that fails the run
    made = 0
    names = backends()
    for backend in names:
        _deflate_c.use_backend(backend)
        _deflate_py.use_backend(backend)
        for variant in _simd.available():
            _simd.force(variant)
            for call in calls(impl):
                for _ in range(3):
                    run_once(call)
                    made += 1
    print(f"valgrind exercise: {made} calls over SIMD variants {', '.join(_simd.available())} "
          f"and deflate back ends {', '.join(names)}")
    seeds = os.environ.get("WSFAST_VALGRIND_SEEDS")
    if seeds:
        import importlib

        sample = int(os.environ.get("WSFAST_VALGRIND_SAMPLE", "60"))
        rng = random.Random(0)
        for target in ("fuzz_mask", "fuzz_utf8", "fuzz_parse_header", "fuzz_decoder", "fuzz_inflate", "fuzz_api"):
            check = importlib.import_module(target).check
            files = sorted(Path(seeds, target).glob("*"))
            for path in rng.sample(files, min(sample, len(files))):
                check(path.read_bytes())
            print(f"valgrind exercise: {target}: {min(sample, len(files))} seeds replayed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
