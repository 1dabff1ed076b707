"""Type stubs for the compiled Decoder (the same API as _decoder_py.Decoder)."""

from typing import List, Optional, SupportsIndex, Union, final

from typing_extensions import Buffer

from ._permessage_deflate import PerMessageDeflate
from ._types import Close, Message, Ping, Pong

__all__ = ["Decoder"]

@final
class Decoder:
    def __init__(
        self,
        *,
        client: bool = False,
        max_message_size: Optional[SupportsIndex] = 1048576,
        max_frame_size: Optional[SupportsIndex] = None,
        decode_text: bool = True,
        deflate: Optional[PerMessageDeflate] = None,
    ) -> None: ...
    @property
    def closed(self) -> bool: ...
    def feed(self, data: Buffer) -> List[Union[Message, Ping, Pong, Close]]: ...
