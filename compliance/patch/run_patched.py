"""Run a module as __main__ with wsfast.patch installed first.

    python compliance/patch/run_patched.py tornado -m tornado.test.runtests tornado.test.websocket_test
    python compliance/patch/run_patched.py - -m tornado.test.runtests ...     # same run, unpatched

For test runners that are not pytest (tornado's runtests, Twisted's trial).
The first argument is a comma-separated list of libraries to patch, or "-"
for none (the baseline run).  A library the patch refuses stops the run.
"""

from __future__ import annotations

import runpy
import sys
import warnings


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "-m":
        raise SystemExit(__doc__)
    names = [] if argv[0] == "-" else argv[0].split(",")
    if names:
        import wsfast
        import wsfast.patch

        with warnings.catch_warnings():
            warnings.simplefilter("error", wsfast.patch.PatchWarning)
            got = wsfast.patch.install(*names)
        if got != names:
            raise SystemExit(f"wsfast.patch.install({names}) patched only {got}")
        print(f"wsfast.patch: {', '.join(got)} patched ({wsfast.IMPLEMENTATION}, simd {wsfast.SIMD})", file=sys.stderr)
    module = argv[2]
    sys.argv = [module, *argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
