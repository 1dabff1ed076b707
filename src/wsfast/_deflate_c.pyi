"""Type stubs for the compiled permessage-deflate unit (the same API as _deflate_py)."""

from typing import Optional, Union

from typing_extensions import Buffer

from ._permessage_deflate import PerMessageDeflate

__all__ = ["Deflater", "Inflater"]

ZLIB_VERSION: str
ZLIB_NG_VERSION: Optional[str]
BACKEND: str

def use_backend(name: str) -> None: ...
def _zlib_bytes() -> int: ...

class Deflater:
    def __init__(
        self,
        params: PerMessageDeflate,
        *,
        client: bool = False,
        level: int = ...,
        mem_level: int = ...,
        window_bits: Optional[int] = None,
        no_context_takeover: bool = False,
    ) -> None: ...
    def compress(self, data: Union[Buffer, str]) -> bytes: ...

class Inflater:
    def __init__(self, params: PerMessageDeflate, *, client: bool = False) -> None: ...
    def inflate(self, data: Buffer, max_length: Optional[int] = None) -> bytes: ...
    def finish(self) -> None: ...
