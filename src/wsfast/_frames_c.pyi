"""Type stubs for the compiled frame module (the same API as _frames_py)."""

from typing import Optional, SupportsIndex, Tuple, Union

from typing_extensions import Buffer

from ._types import FrameHeader

__all__ = ["parse_header", "encode_frame", "encode_close", "parse_close"]

def parse_header(data: Buffer, offset: SupportsIndex = 0) -> Optional[FrameHeader]: ...
def encode_frame(
    opcode: SupportsIndex,
    payload: Union[Buffer, str],
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: Union[None, bool, Buffer] = None,
) -> bytes: ...
def encode_close(code: Optional[SupportsIndex] = None, reason: str = "") -> bytes: ...
def parse_close(payload: Buffer) -> Tuple[Optional[int], str]: ...
