"""Reading any buffer's bytes in logical (C) order, for the pure twin.

``memoryview.tobytes()`` does this everywhere but on PyPy 7.3, whose
tobytes() gets a non-contiguous view of more than one dimension wrong:
bytes repeated and missing, quadratic time, or an interpreter abort for
negative strides.  Every pure module reads strided buffers through here.
"""

from __future__ import annotations

import itertools
import struct
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["gather", "as_bytes", "EXACT_CODES"]

# The struct codes whose items survive unpacking and packing again exactly:
# integers and chars; not floats, whose NaN payloads may change, nor bools,
# which collapse to 0/1.
EXACT_CODES = "bBhHiIlLqQnNPc"


if sys.implementation.name == "pypy":
    _BYTE_ORDERS = ("@", "=", "<", ">", "!")

    def gather(view: memoryview) -> bytes:
        """The bytes of a non-contiguous view in logical (C) order.

        PyPy 7.3's tobytes() gets a non-contiguous view of more than one
        dimension wrong: bytes repeated and missing, quadratic time, or an
        interpreter abort for negative strides.  tolist() walks the strides
        right, so the items are packed again from it: only for formats whose
        items survive that exactly (EXACT_CODES).
        """
        if view.ndim <= 1:
            return view.tobytes()
        fmt = view.format
        order, code = (fmt[0], fmt[1:]) if fmt[:1] in _BYTE_ORDERS else ("", fmt)
        if len(code) != 1 or code not in EXACT_CODES:
            raise TypeError(
                f"the pure-Python implementation cannot read a non-contiguous "
                f"multi-dimensional buffer of format {fmt!r} on PyPy; pass a contiguous one"
            )
        items: list[Any] = view.tolist()  # nested lists, one level per dimension
        for _ in range(view.ndim - 1):
            items = list(itertools.chain.from_iterable(items))
        if code == "B":
            return bytes(items)
        return struct.pack(f"{order}{len(items)}{code}", *items)

else:

    def gather(view: memoryview) -> bytes:
        """The bytes of a non-contiguous view in logical (C) order."""
        return view.tobytes()


def as_bytes(data: Buffer) -> bytes:
    """The bytes of any buffer (TypeError for a non-buffer), copied once."""
    if type(data) is bytes:
        return data
    with memoryview(data) as view:
        return view.tobytes() if view.c_contiguous else gather(view)
