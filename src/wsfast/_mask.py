"""Selects the masking implementation (see _impl)."""

from ._impl import IMPLEMENTATION

if IMPLEMENTATION == "cython":
    from ._mask_c import Masker, apply_mask, apply_mask_inplace
else:
    from ._mask_py import Masker, apply_mask, apply_mask_inplace  # type: ignore[assignment]

__all__ = ["apply_mask", "apply_mask_inplace", "Masker"]
