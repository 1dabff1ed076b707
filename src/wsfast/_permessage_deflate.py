"""permessage-deflate (RFC 7692): negotiation, and the rules both compression twins share.

One pure-Python implementation, like ``handshake``: negotiation runs once per
connection.  ``PerMessageDeflate`` is what both sides agreed; ``DeflateOptions``
is what one side is willing to do and how it compresses, with ``offer()``
(client), ``accept()`` (server) and ``finalize()`` (client, on the server's
answer).  The argument checks, defaults and error builders used by
``_deflate_py`` and ``_deflate_c`` live here too, so both raise the same
exceptions with the same messages.  docs/deflate.md has the reasons.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, NoReturn, Optional, Tuple, Union

from . import _args
from .handshake import HandshakeError

if TYPE_CHECKING:
    from ._deflate_c import Deflater

__all__ = ["PerMessageDeflate", "DeflateOptions"]

EXTENSION = "permessage-deflate"

MIN_WINDOW_BITS = 8
MAX_WINDOW_BITS = 15
# zlib's deflate refuses a raw 8-bit window, but its 9-bit window never
# emits a distance beyond 512 - 262 = 250 bytes (MAX_DIST: matches stop
# MIN_LOOKAHEAD short of the window), which fits a 256-byte window: so an
# agreed window of 8 is honoured by compressing with 9.  docs/deflate.md.
MIN_ZLIB_DEFLATE_BITS = 9

# Defaults chosen from bench/deflate_tuning.py's figures (docs/deflate.md):
# level 1 costs half to a third of level 6's CPU per message for 4 to 7
# points of size on JSON; window 12 / memLevel 5 holds 38 KiB per compressor
# instead of 262 KiB for 15 / 8, for about one point of size.
DEFAULT_LEVEL = 1
DEFAULT_MEM_LEVEL = 5
DEFAULT_WINDOW_BITS = 12
# What a server imposes on clients that let it (client_max_window_bits in
# their offer, as browsers send): an inflater of 11 KiB instead of 39 KiB.
# A client asks nothing by default: a server that cannot honour a window
# request must decline the whole offer.
DEFAULT_SERVER_PEER_MAX_WINDOW_BITS = 12

# The Decoders inflate a compressed payload this many input bytes at a time
# (the compiled one unmasks each chunk into a scratch area on its stack, so
# that unmasking, inflating and validating run over data still in cache),
# and validate each chunk's output before checking the size limit.  One
# value for both, so that a message breaking two rules meets the same one
# first in both.
INFLATE_CHUNK = 16384

# The 4 bytes a sync flush ends with; RFC 7692 §7.2.1 removes them on the
# wire and §7.2.2 puts them back before inflating.
TAIL = b"\x00\x00\xff\xff"
# An empty compressed message: an empty stored block's header bits (§7.2.3.6).
EMPTY_PAYLOAD = b"\x00"


# ---------------------------------------------------------------- arguments


def check_int(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an int in [low, high]: TypeError for non-integers, ValueError out of range."""
    try:
        number = _args.integer(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {number}")
    return number


def check_window_bits(name: str, value: object) -> int:
    return check_int(name, value, MIN_WINDOW_BITS, MAX_WINDOW_BITS)


def check_level(value: object) -> int:
    # -1 is zlib's Z_DEFAULT_COMPRESSION (level 6).  Level 0 only stores, and
    # zlib then cuts its blocks by the room of each output buffer, so the
    # same message would come out differently from the two implementations:
    # a message not worth compressing is better sent without RSV1.
    level = check_int("level", value, -1, 9)
    if level == 0:
        raise ValueError("level 0 stores without compressing: send such messages uncompressed instead")
    return level


def check_mem_level(value: object) -> int:
    return check_int("mem_level", value, 1, 9)


def check_max_length(value: object) -> int:
    """An inflate() bound: None means none (-1 here), else a non-negative int."""
    if value is None:
        return -1
    if not isinstance(value, int):
        raise TypeError(f"max_length must be an integer or None, not {type(value).__name__}")
    if value < 0:
        raise ValueError("max_length must not be negative")
    return value


def check_params(value: object) -> PerMessageDeflate:
    if not isinstance(value, PerMessageDeflate):
        raise TypeError(f"params must be a PerMessageDeflate, not {type(value).__name__}")
    return value


def deflater_args(
    params: object, client: object, level: object, mem_level: object, window_bits: object,
    no_context_takeover: object,
) -> Tuple[int, int, int, bool]:
    """A Deflater's arguments checked in signature order: (level, mem_level,
    zlib window bits, no context takeover)."""
    agreed = check_params(params)
    is_client = bool(client)
    lvl = check_level(level)
    mem = check_mem_level(mem_level)
    cap = None if window_bits is None else check_window_bits("window_bits", window_bits)
    no_takeover = bool(no_context_takeover)
    if is_client:
        bits, no_takeover = agreed.client_max_window_bits, no_takeover or agreed.client_no_context_takeover
    else:
        bits, no_takeover = agreed.server_max_window_bits, no_takeover or agreed.server_no_context_takeover
    if cap is not None:
        bits = min(bits, cap)
    return lvl, mem, max(bits, MIN_ZLIB_DEFLATE_BITS), no_takeover


def inflater_args(params: object, client: object) -> Tuple[int, bool]:
    """An Inflater's arguments: (the PEER's window bits, the peer resets each message)."""
    agreed = check_params(params)
    if bool(client):
        return agreed.server_max_window_bits, agreed.server_no_context_takeover
    return agreed.client_max_window_bits, agreed.client_no_context_takeover


def no_copy(obj: object) -> NoReturn:
    raise TypeError(f"cannot copy or pickle a {type(obj).__name__}: it holds a zlib stream")


def final_class(cls: type) -> NoReturn:
    raise TypeError(f"type '{cls.__mro__[1].__name__}' is not an acceptable base type")


def busy_error(obj: object) -> RuntimeError:
    return RuntimeError(f"{type(obj).__name__} used from two threads at once")


# ----------------------------------------------------------- zlib back ends

# Where the deflate work is done, in both implementations alike:
#   "zlib"     the standard library's module (pure twin) or the system zlib
#              that the compiled unit links: always there;
#   "zlib-ng"  zlib-ng, through its Python module (PyPI `zlib-ng`); at the
#              same level it compresses JSON 2 to 7 times and inflates 1.5
#              to 2 times faster, but its streams are larger: a compressor
#              160 KiB at window 12 / memLevel 5 (zlib: 38), an inflater
#              41 KiB whatever the window (zlib: 11 at window 12);
#   "auto"     zlib-ng unless it would make a connection hold more than a
#              third more memory than zlib: streams shared through the pool
#              (no context takeover: nothing per connection), inflaters
#              with a 15-bit window (41 KiB against 39), compressors with
#              window 15 and memLevel 8 or 9 (342 KiB against 262 at 8);
#              zlib for the smaller settings, wsfast's defaults included.
#              The default when zlib-ng is installed.
# docs/deflate.md has the measurements.
BACKENDS = ("auto", "zlib", "zlib-ng")


def unknown_backend(name: object) -> ValueError:
    return ValueError(f"unknown zlib back end {name!r}: 'auto', 'zlib' or 'zlib-ng'")


def choose_backend(use: Callable[[str], object]) -> None:
    """Call ``use`` with the back end to start with: WSFAST_ZLIB's, or
    "auto" when zlib-ng is installed and the variable is unset or "auto".
    ``use`` raises ImportError when zlib-ng cannot be used; when WSFAST_ZLIB
    asked for it by name, that is a RuntimeError, which no import fallback
    swallows (a compiled unit that cannot honour the request must not
    quietly hand the whole library over to the pure twin)."""
    wanted = os.environ.get("WSFAST_ZLIB", "").strip().lower() or "auto"
    if wanted not in BACKENDS:
        raise unknown_backend(wanted)
    try:
        use(wanted)
    except ImportError as exc:
        if wanted == "zlib-ng":
            raise RuntimeError(f"WSFAST_ZLIB=zlib-ng, but zlib-ng cannot be used: {exc} "
                              "(pip install 'wsfast[zlib-ng]', or unset WSFAST_ZLIB)") from exc
        use("zlib")


def takes_zlib_ng(backend: str, no_takeover: bool, wbits: int, mem_level: Optional[int] = None) -> bool:
    """Whether a new Deflater (its ``mem_level``) or Inflater (None) works on
    zlib-ng under ``backend``, given its side's context takeover and window."""
    if backend == "auto":
        return no_takeover or (wbits == MAX_WINDOW_BITS and (mem_level is None or mem_level >= 8))
    return backend == "zlib-ng"


# ------------------------------------------------------- agreed parameters


class _Value:
    """An immutable value: fields set once by ``_make``, compared, hashed,
    shown and pickled by value; its subclasses here are final."""

    __slots__: Tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.__bases__ != (_Value,):
            final_class(cls)

    @classmethod
    def _make(cls, values: Tuple[Any, ...]) -> Any:
        self = object.__new__(cls)
        for name, value in zip(cls.__slots__, values):
            object.__setattr__(self, name, value)
        return self

    def _fields(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._fields()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(self.__slots__, self._fields()))
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild, (type(self), self._fields()))

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: object) -> Any:
        return self


def _rebuild(cls: Any, fields: Tuple[Any, ...]) -> Any:
    return cls(**dict(zip(cls.__slots__, fields)))


class PerMessageDeflate(_Value):
    """The parameters both sides agreed (RFC 7692 §7.1), immutable.

    ``server_no_context_takeover``: the server starts every message with an
    empty window; ``client_no_context_takeover`` the same for the client;
    ``server_max_window_bits`` and ``client_max_window_bits`` (8 to 15): the
    largest LZ77 window each side compresses with, so the other side's
    inflater needs no more.  Absent parameters mean False and 15.
    """

    __slots__ = (
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    )

    server_no_context_takeover: bool
    client_no_context_takeover: bool
    server_max_window_bits: int
    client_max_window_bits: int

    def __new__(
        cls,
        *,
        server_no_context_takeover: object = False,
        client_no_context_takeover: object = False,
        server_max_window_bits: object = MAX_WINDOW_BITS,
        client_max_window_bits: object = MAX_WINDOW_BITS,
    ) -> PerMessageDeflate:
        values = (
            bool(server_no_context_takeover),
            bool(client_no_context_takeover),
            check_window_bits("server_max_window_bits", server_max_window_bits),
            check_window_bits("client_max_window_bits", client_max_window_bits),
        )
        return cls._make(values)  # type: ignore[no-any-return]


# ----------------------------------------------------------- header syntax

# RFC 6455 §9.1 over RFC 7230: extension = token *( ";" param ),
# param = token [ "=" ( token / quoted-string ) ], optional whitespace
# around the separators.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_OWS = r"[ \t]*"
# Each run of whitespace can be matched at one place only, so a failing
# match backtracks linearly, not quadratically, over a 16 KiB head.
_PARAM = re.compile(rf"{_OWS};{_OWS}({_TOKEN})(?:{_OWS}={_OWS}({_TOKEN}|{_QUOTED}))?")
_ELEMENT = re.compile(rf"{_OWS}({_TOKEN})((?:{_PARAM.pattern})*){_OWS}")
_IS_TOKEN = re.compile(_TOKEN)
# 8 to 15 in decimal, no sign, no leading zero (RFC 7692 §7.1.2.1).
_WINDOW_BITS = re.compile(r"[89]|1[0-5]")

Params = List[Tuple[str, Optional[str]]]
# An element: (extension name, its parameters), or None when it is malformed.
Element = Optional[Tuple[str, Params]]


def _split_elements(value: str) -> List[str]:
    """Split a header value at the commas outside quoted strings."""
    parts: List[str] = []
    start = 0
    quoted = escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ",":
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return parts


def _unquote(value: str) -> Optional[str]:
    """A parameter value as it means: quoted strings unescaped, which must then
    be a token (RFC 6455 §9.1); None when it is not one."""
    if value.startswith('"'):
        value = re.sub(r"\\(.)", r"\1", value[1:-1], flags=re.DOTALL)
        if not _IS_TOKEN.fullmatch(value):
            return None
    return value


def _parse_element(text: str) -> Element:
    match = _ELEMENT.fullmatch(text)
    if match is None:
        return None
    params: Params = []
    for param in _PARAM.finditer(match.group(2)):
        raw = param.group(2)
        if raw is None:
            params.append((param.group(1), None))
            continue
        value = _unquote(raw)
        if value is None:
            return None
        params.append((param.group(1), value))
    return match.group(1), params


def _values(values: object) -> List[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    if isinstance(values, (bytes, bytearray, memoryview)):
        raise TypeError("header values must be str (decoded as ISO-8859-1), not bytes")
    out: List[str] = []
    for item in values:  # type: ignore[attr-defined]
        if not isinstance(item, str):
            raise TypeError(f"header values must be str, not {type(item).__name__}")
        out.append(item)
    return out


def parse_extensions(values: object) -> List[Element]:
    """Every element of one or more Sec-WebSocket-Extensions values, in order.

    Empty list elements are dropped (RFC 7230 §7); a malformed element is
    kept as None, so that a server can decline it and still read the rest.
    """
    elements: List[Element] = []
    for value in _values(values):
        for text in _split_elements(value):
            if text.strip(" \t"):
                elements.append(_parse_element(text))
    return elements


class _Offer:
    """One permessage-deflate offer's parameters, checked (RFC 7692 §7.1)."""

    __slots__ = ("server_nct", "client_nct", "server_bits", "client_bits", "client_bits_offered")

    def __init__(self) -> None:
        self.server_nct = False
        self.client_nct = False
        self.server_bits: Optional[int] = None
        self.client_bits: Optional[int] = None
        self.client_bits_offered = False


def _read_params(params: Params, *, response: bool) -> Union[_Offer, str]:
    """The parameters of one element, or why they break §7.1's rules."""
    out = _Offer()
    seen = set()
    for name, value in params:
        if name in seen:
            return f"parameter {name} appears twice"
        seen.add(name)
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return f"parameter {name} takes no value"
            if name == "server_no_context_takeover":
                out.server_nct = True
            else:
                out.client_nct = True
        elif name in ("server_max_window_bits", "client_max_window_bits"):
            if value is None:
                # Only an offer's client_max_window_bits may come without a value.
                if response or name == "server_max_window_bits":
                    return f"parameter {name} needs a value"
                out.client_bits_offered = True
                continue
            if not _WINDOW_BITS.fullmatch(value):
                return f"invalid value {value!r} for {name}: 8 to 15 without leading zeros"
            if name == "server_max_window_bits":
                out.server_bits = int(value)
            else:
                out.client_bits_offered = True
                out.client_bits = int(value)
        else:
            return f"unknown parameter {name}"
    return out


def _format(agreed: PerMessageDeflate, *, server_bits: bool, client_bits: bool) -> str:
    parts = [EXTENSION]
    if agreed.server_no_context_takeover:
        parts.append("server_no_context_takeover")
    if agreed.client_no_context_takeover:
        parts.append("client_no_context_takeover")
    if server_bits:
        parts.append(f"server_max_window_bits={agreed.server_max_window_bits}")
    if client_bits:
        parts.append(f"client_max_window_bits={agreed.client_max_window_bits}")
    return "; ".join(parts)


# ------------------------------------------------------------------ options


class DeflateOptions(_Value):
    """What one endpoint is willing to do with permessage-deflate, and how it compresses.

    The options speak for *this* side, whichever role it plays:

    - ``window_bits`` (8 to 15): the LZ77 window this side compresses with
      at most; its compressor holds ``2 ** (window_bits + 2)`` bytes plus the
      ``mem_level`` tables.  Announced to the peer, so the peer's inflater
      needs no more.
    - ``no_context_takeover``: this side starts every message with an empty
      window (worse ratio on small messages, but the compressor is then
      shared between connections instead of held by each).
    - ``peer_max_window_bits`` (8 to 15, or None): the largest window this
      side lets the peer use, which bounds this side's inflater memory.  A
      server imposes it when the client's offer allows it
      (``client_max_window_bits``, which browsers send); None means 12 there.
      A client asks for it in its offer (a server that cannot honour it
      declines the offer); None means it asks nothing.
    - ``peer_no_context_takeover``: ask the peer to start every message with
      an empty window, so that this side's inflater holds no window between
      messages.  A server imposes it; a client asks, and a server that cannot
      honour it declines the offer.
    - ``level`` (-1 to 9) and ``mem_level`` (1 to 9): zlib's compression
      level and memory level for this side's compressor.

    ``offer()`` and ``finalize()`` are the client's, ``accept()`` the server's.
    """

    __slots__ = ("window_bits", "no_context_takeover", "peer_max_window_bits",
                 "peer_no_context_takeover", "level", "mem_level")

    window_bits: int
    no_context_takeover: bool
    peer_max_window_bits: Optional[int]
    peer_no_context_takeover: bool
    level: int
    mem_level: int

    def __new__(
        cls,
        *,
        window_bits: object = DEFAULT_WINDOW_BITS,
        no_context_takeover: object = False,
        peer_max_window_bits: object = None,
        peer_no_context_takeover: object = False,
        level: object = DEFAULT_LEVEL,
        mem_level: object = DEFAULT_MEM_LEVEL,
    ) -> DeflateOptions:
        values = (
            check_window_bits("window_bits", window_bits),
            bool(no_context_takeover),
            None if peer_max_window_bits is None else check_window_bits("peer_max_window_bits", peer_max_window_bits),
            bool(peer_no_context_takeover),
            check_level(level),
            check_mem_level(mem_level),
        )
        return cls._make(values)  # type: ignore[no-any-return]

    # ---------------------------------------------------------------- client

    def offer(self) -> str:
        """The client's ``Sec-WebSocket-Extensions`` value: one offer.

        It always carries ``client_max_window_bits`` (with this side's window
        when below 15), which lets the server shrink our window and so its
        own inflater memory; browsers send it too.
        """
        parts = [EXTENSION]
        if self.no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.peer_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.peer_max_window_bits is not None and self.peer_max_window_bits < MAX_WINDOW_BITS:
            parts.append(f"server_max_window_bits={self.peer_max_window_bits}")
        if self.window_bits < MAX_WINDOW_BITS:
            parts.append(f"client_max_window_bits={self.window_bits}")
        else:
            parts.append("client_max_window_bits")
        return "; ".join(parts)

    def finalize(self, values: Union[str, Iterable[str], None]) -> Optional[PerMessageDeflate]:
        """Check the server's ``Sec-WebSocket-Extensions`` answer to ``offer()``.

        ``values``: the header's value, or all of them in order (None or an
        empty list when the server sent none).  Returns the agreed parameters,
        or None when the server declined.  Raises ``HandshakeError`` (status
        None) for every answer RFC 7692 forbids: another extension, two
        permessage-deflate elements, a malformed, unknown, repeated or
        out-of-range parameter, a ``server_max_window_bits`` or ``server_no_context_takeover``
        request not honoured.
        """
        elements = parse_extensions(values)
        if not elements:
            return None
        if len(elements) > 1:
            raise HandshakeError(
                f"server answered {len(elements)} extensions; one permessage-deflate was offered", None)
        element = elements[0]
        if element is None:
            raise HandshakeError("malformed Sec-WebSocket-Extensions in the response", None)
        name, params = element
        if name != EXTENSION:
            raise HandshakeError(f"server named extension {name!r}, which was not offered", None)
        got = _read_params(params, response=True)
        if isinstance(got, str):
            raise HandshakeError(f"permessage-deflate response: {got}", None)
        asked_bits = self.peer_max_window_bits
        if asked_bits == MAX_WINDOW_BITS:
            asked_bits = None
        if asked_bits is not None:
            # §7.1.2.1: accepting the offer means answering with the same or a smaller value.
            if got.server_bits is None:
                raise HandshakeError(
                    f"permessage-deflate response: server_max_window_bits={asked_bits} was asked, not answered", None)
            if got.server_bits > asked_bits:
                raise HandshakeError(
                    f"permessage-deflate response: server_max_window_bits={got.server_bits} is larger than "
                    f"the {asked_bits} asked", None)
        if self.peer_no_context_takeover and not got.server_nct:
            # §7.1.1.1: a server accepting it must include it in the response.
            raise HandshakeError(
                "permessage-deflate response: server_no_context_takeover was asked, not answered", None)
        # A client_max_window_bits larger than the one offered is accepted:
        # §7.1.2.2 lets the server ignore the offered value, which only says
        # what this side uses at most, and this side still compresses with
        # no more than that (the Deflater takes the smaller of the two).
        return PerMessageDeflate(
            server_no_context_takeover=got.server_nct,
            client_no_context_takeover=got.client_nct,
            server_max_window_bits=MAX_WINDOW_BITS if got.server_bits is None else got.server_bits,
            client_max_window_bits=MAX_WINDOW_BITS if got.client_bits is None else got.client_bits,
        )

    # ---------------------------------------------------------------- server

    def accept(self, values: Union[str, Iterable[str], None]) -> Optional[Tuple[str, PerMessageDeflate]]:
        """The server's answer to a client's ``Sec-WebSocket-Extensions`` value(s).

        Returns ``(value for the response header, agreed parameters)`` for the
        first permessage-deflate offer, in the client's order of preference,
        whose parameters are valid (RFC 7692 §7: no unknown, repeated or
        malformed parameter), or None to decline them all.  Never raises for
        what a client sent; other extensions are skipped.  The agreed
        parameters are exactly those of the returned answer.
        """
        for element in parse_extensions(values):
            if element is None or element[0] != EXTENSION:
                continue
            offer = _read_params(element[1], response=False)
            if isinstance(offer, str):
                continue  # §7: decline an offer with a bad parameter, try the next
            return self._answer(offer)
        return None

    def _answer(self, offer: _Offer) -> Tuple[str, PerMessageDeflate]:
        # Our window: ours, or smaller when the client asks (§7.1.2.1); named
        # whenever it was asked for or is below 15.
        server_bits = self.window_bits
        if offer.server_bits is not None:
            server_bits = min(server_bits, offer.server_bits)
        name_server_bits = offer.server_bits is not None or server_bits < MAX_WINDOW_BITS
        # The client's window can only be limited when it offered
        # client_max_window_bits (§7.1.2.2); its own value, a hint of what it
        # uses anyway, is made binding so that our inflater can be smaller.
        client_bits = MAX_WINDOW_BITS
        if offer.client_bits_offered:
            peer_bits = self.peer_max_window_bits
            if peer_bits is None:
                peer_bits = DEFAULT_SERVER_PEER_MAX_WINDOW_BITS
            client_bits = min(peer_bits,
                              MAX_WINDOW_BITS if offer.client_bits is None else offer.client_bits)
        agreed = PerMessageDeflate(
            # §7.1.1.1: echoed when asked for; announced when we reset anyway.
            server_no_context_takeover=offer.server_nct or self.no_context_takeover,
            # §7.1.1.2: the client's own hint is echoed so that our inflater
            # may drop its window between messages.
            client_no_context_takeover=offer.client_nct or self.peer_no_context_takeover,
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
        )
        value = _format(agreed, server_bits=name_server_bits, client_bits=client_bits < MAX_WINDOW_BITS)
        return value, agreed

    # ------------------------------------------------------------- compressor

    def deflater(self, params: PerMessageDeflate, *, client: bool = False) -> Deflater:
        """A ``wsfast.Deflater`` for this side of a connection that agreed ``params``,
        with this side's level, memory level, window and context-takeover choice."""
        from ._deflate import Deflater

        return Deflater(params, client=client, level=self.level, mem_level=self.mem_level,
                        window_bits=self.window_bits, no_context_takeover=self.no_context_takeover)

