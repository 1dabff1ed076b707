"""Differential fuzz target: every public entry point, with odd argument shapes.

Input layout: the bytes are a stream of choices (fuzz/_oddargs.py,
``ByteSource``): which entry point, how many arguments and which keywords,
each argument's shape (a buffer of some kind and layout, an int of some
magnitude, an ``__index__`` object, a str subclass, ...) and content, and for
a class what is done with the object afterwards (method calls, re-init,
copy, pickle, subclassing).

Both implementations must give the same log: results with their types, the
same exception classes, close codes and protocol messages, the same bytes
written into buffers, the same state after every step.  An exception that
no rule allows (OverflowError, AttributeError, SystemError, ...) is a
finding even when both raise it.
"""

from __future__ import annotations

import _oddargs

from _common import implementations, main, same


def check(raw: bytes) -> None:
    compiled, pure = implementations()
    case = _oddargs.case_of(_oddargs.ByteSource(raw))
    logs = [_oddargs.run(impl, case) for impl in (compiled, pure)]
    same(logs[0], logs[1], f"{case.entry}: {case!r}")
    bad = _oddargs.unexpected(logs[0])
    if bad:
        raise AssertionError(f"{case.entry}: an exception no rule allows: {bad!r} ({case!r})")


if __name__ == "__main__":
    main(check, ["wsfast._mask_py", "wsfast._utf8_py", "wsfast._frames_py", "wsfast._decoder_py",
                 "wsfast._args", "wsfast._protocol"])
