"""Selects the UTF-8 validation implementation (see _impl)."""

from ._impl import IMPLEMENTATION

if IMPLEMENTATION == "cython":
    from ._utf8_c import Utf8Validator, validate_utf8
else:
    from ._utf8_py import Utf8Validator, validate_utf8  # type: ignore[assignment]

__all__ = ["validate_utf8", "Utf8Validator"]
