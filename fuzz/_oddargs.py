"""Odd but legal-looking arguments for every public entry point, run on both
implementations side by side.

Shared by fuzz/fuzz_api.py (libFuzzer's bytes pick the cases) and
tests/test_differential.py (hypothesis picks them, plus hand-written ones).

A case is built from a ``Source`` of choices.  An argument is a *spec*,
``(kind, content)``: a shape (bytes, a strided memoryview of another format,
a released memoryview, an ``__index__`` object, a huge int, a str subclass
that overrides ``encode()``, ...) and the bytes it carries.  ``make(spec)``
builds a fresh object for every call, because calls may write into their
arguments.  ``run(impl, case)`` gives what happened, normalised so that the
two implementations' logs compare with ``==``: results with their types,
exceptions as (class, close code, message for the protocol's errors, events),
buffers written in place, and the state of the objects after every step.
"""

from __future__ import annotations

import array
import copy
import ctypes
import enum
import mmap
import pickle
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

try:
    import _testbuffer
except ImportError:  # not every build ships CPython's test modules
    _testbuffer = None

Spec = Tuple[str, bytes]


class Source:
    """Where the choices come from: libFuzzer's bytes here, hypothesis in the tests."""

    def choice(self, n: int) -> int:
        raise NotImplementedError

    def blob(self, max_size: int) -> bytes:
        raise NotImplementedError


class ByteSource(Source):
    """Choices read from the front of a byte string; past its end, zeros."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def choice(self, n: int) -> int:
        return self._byte() % n if n > 1 else 0

    def blob(self, max_size: int) -> bytes:
        size = self._byte() % (max_size + 1)
        out = self.data[self.pos : self.pos + size]
        self.pos += len(out)
        return out


# ------------------------------------------------------------------ shapes

INTS = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 15, 16, 125, 126, 127, 1000, 1004, 1005, 1015, 2999, 3000,
        4999, 5000, 65535, 65536, -1, -2, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, 2**64 + 1,
        2**100, -(2**31), -(2**63), -(2**63) - 1, -(2**64)]


def _int(content: bytes) -> int:
    return INTS[content[0] % len(INTS)] if content else 0


class BytesSub(bytes):
    pass


class ByteArraySub(bytearray):
    pass


class StrSub(str):
    """A str whose encode() lies: both implementations must send its real text."""

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        return b"not the text"


class IntSub(int):
    def __index__(self) -> int:  # never called for an int subclass
        raise AssertionError("__index__ of an int subclass was called")


class Index:
    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


class Oops(Exception):
    """Raised by the odd objects' dunders; it must come out unchanged."""


class IndexRaises:
    def __index__(self) -> int:
        raise Oops("__index__")


class BoolRaises:
    def __bool__(self) -> bool:
        raise Oops("__bool__")


class BoolNotBool:
    def __bool__(self) -> int:
        return 2  # noqa: PLE0304 - the odd argument under test  # type: ignore[return-value]


class BytesOnly:
    """Converts with bytes() but has no buffer."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def __bytes__(self) -> bytes:
        return self.content


class EqRaises:
    """Any comparison fails: an argument must be read, not compared."""

    def __eq__(self, other: object) -> bool:
        raise Oops("__eq__")

    __hash__ = object.__hash__


class Color(enum.IntEnum):
    RED = 1
    BIG = 2**40


def _deflate_params(content: bytes) -> Any:
    """Agreed permessage-deflate parameters drawn from the content's first byte."""
    from wsfast import PerMessageDeflate

    b = content[0] if content else 0
    return PerMessageDeflate(server_no_context_takeover=bool(b & 1), client_no_context_takeover=bool(b & 2),
                             server_max_window_bits=8 + (b >> 2) % 8, client_max_window_bits=15 - (b >> 5))


def _released(content: bytes) -> memoryview:
    view = memoryview(bytearray(content))
    view.release()
    return view


def _strided(content: bytes, writable: bool) -> memoryview:
    spread = bytearray(2 * len(content))
    spread[::2] = content
    spread[1::2] = bytes(255 - b for b in content)
    return memoryview(spread if writable else bytes(spread))[::2]


def _grid(content: bytes) -> memoryview:
    """A 2-D non-contiguous view of the content: n rows of 1 byte, every other row."""
    base = bytearray(2 * len(content))
    base[::2] = content
    return memoryview(base).cast("B", (2 * len(content), 1))[::2] if content else memoryview(base)


def _cast(content: bytes, fmt: str, size: int) -> memoryview:
    view = memoryview(bytearray(content))
    return view.cast(fmt) if len(content) % size == 0 else view.cast("c")


def _mmap(content: bytes) -> Any:
    if not content:
        return bytearray()
    m = mmap.mmap(-1, len(content))
    m.write(content)
    m.seek(0)
    return m


def _ctypes_chars(content: bytes) -> Any:
    """A buffer of format '<c': not a native format, which memoryview cannot cast."""
    return (ctypes.c_char * len(content)).from_buffer_copy(content)


def _ctypes_ints_strided(content: bytes) -> Any:
    """A strided 1-D view of format '<i' (or '<c' when the length is not a multiple of 4)."""
    if len(content) % 4:
        return memoryview(_ctypes_chars(content))
    n = len(content) // 4
    arr = (ctypes.c_int * (2 * n))()
    view = memoryview(arr)[::2]
    ints = memoryview(content).cast("i")
    for i in range(n):
        arr[2 * i] = ints[i]
    return view


def _pil(content: bytes) -> Any:
    """A PIL-style buffer (suboffsets), one or two dimensions."""
    if _testbuffer is None or not content:
        return bytearray(content)
    flags = _testbuffer.ND_WRITABLE | _testbuffer.ND_PIL
    if len(content) % 2:
        return _testbuffer.ndarray(list(content), shape=[len(content)], format="B", flags=flags)
    return _testbuffer.ndarray(list(content), shape=[2, len(content) // 2], format="B", flags=flags)


def _exotic_grid(content: bytes) -> Any:
    """2-D, non-contiguous, format '<i': in place, both implementations refuse it."""
    if _testbuffer is None or not content or len(content) % 8:
        return _ctypes_chars(content)
    ints = list(memoryview(content).cast("i"))
    full = _testbuffer.ndarray(ints + ints, shape=[len(ints), 2], format="<i", flags=_testbuffer.ND_WRITABLE)
    return full[::2]


MAKERS: Dict[str, Callable[[bytes], Any]] = {
    # buffers
    "bytes": bytes,
    "bytes-subclass": BytesSub,
    "bytearray": bytearray,
    "bytearray-subclass": ByteArraySub,
    "memoryview": lambda c: memoryview(bytes(c)),
    "memoryview-writable": lambda c: memoryview(bytearray(c)),
    "memoryview-readonly": lambda c: memoryview(bytearray(c)).toreadonly(),
    "memoryview-strided": lambda c: _strided(c, True),
    "memoryview-strided-readonly": lambda c: _strided(c, False),
    "memoryview-reversed": lambda c: memoryview(bytearray(c[::-1]))[::-1],
    "memoryview-2d": lambda c: memoryview(bytearray(c)).cast("B", (1, len(c))) if c else memoryview(bytearray()),
    "memoryview-2d-strided": _grid,
    "memoryview-0d": lambda c: memoryview(bytearray(c[:1] or b"\0")).cast("B", ()),
    "memoryview-c": lambda c: memoryview(bytearray(c)).cast("c"),
    "memoryview-i": lambda c: _cast(c, "i", 4),
    "memoryview-d": lambda c: _cast(c, "d", 8),
    "memoryview-bool": lambda c: _cast(c, "?", 1),
    "memoryview-released": _released,
    "array-B": lambda c: array.array("B", c),
    "array-i": lambda c: array.array("i", c) if len(c) % 4 == 0 else array.array("b", c),
    "mmap": _mmap,
    "ctypes-chars": _ctypes_chars,
    "ctypes-ints-strided": _ctypes_ints_strided,
    "pil": _pil,
    "exotic-grid": _exotic_grid,
    # text
    "str": lambda c: c.decode("latin-1"),
    "str-utf8": lambda c: c.decode("utf-8", "replace"),
    "str-subclass": lambda c: StrSub(c.decode("latin-1")),
    "str-surrogate": lambda c: "a\ud800" + c.decode("latin-1"),
    # integers and what is not one
    "int": _int,
    "int-subclass": lambda c: IntSub(_int(c)),
    "index": lambda c: Index(_int(c)),
    "index-raises": lambda c: IndexRaises(),
    "intenum": lambda c: Color.BIG if c[:1] == b"\xff" else Color.RED,
    "bool": lambda c: bool(c and c[0] & 1),
    "float": lambda c: float(_int(c)) + (0.5 if c[1:2] == b"\x01" else 0.0),
    "none": lambda c: None,
    # other objects
    "bool-raises": lambda c: BoolRaises(),
    "bool-not-bool": lambda c: BoolNotBool(),
    "eq-raises": lambda c: EqRaises(),
    "bytes-only": BytesOnly,
    "list": list,
    "tuple": tuple,
    "range": lambda c: range(len(c)),
    "dict": lambda c: {},
    "object": lambda c: object(),
    "permessage-deflate": _deflate_params,
}
KINDS = sorted(MAKERS)
BUFFER_KINDS = [k for k in KINDS if k.startswith(("bytes", "memoryview", "array", "mmap", "ctypes", "pil", "exotic"))
                and k != "bytes-only"]


def make(spec: Spec) -> Any:
    kind, content = spec
    return MAKERS[kind](content)


# -------------------------------------------------------------- contents


def frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, key: Optional[bytes] = None) -> bytes:
    """One frame as RFC 6455 §5.2 lays it out, minimal length, no rule enforced."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if key is not None else 0
    if n < 126:
        head = bytes((b0, mbit | n))
    elif n < 65536:
        head = bytes((b0, mbit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + n.to_bytes(8, "big")
    if key is None:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


OPCODES = [0, 1, 2, 8, 9, 10, 3, 11]
PAYLOADS = [b"", b"hi", "héllo".encode(), b"\xff", b"\xed\xa0\x80", b"\xe2\x82", b"\x03\xe8bye",
            b"\x03\xed", b"\x03", b"\x03\xe8\xff", b"p" * 126, b"x" * 300]


def content(src: Source, hint: str = "") -> bytes:
    """Raw bytes, or a few frames (valid or breaking one rule), for any
    argument; a masking key is mostly 4 bytes, a stream mostly frames."""
    if hint == "key" and src.choice(5):
        return src.blob(4).ljust(4, b"\x5a")
    mode = src.choice(4)
    if mode < (1 if hint == "stream" else 3):
        return src.blob(48)
    out = b""
    for _ in range(src.choice(4) + 1):
        flags = src.choice(256)
        key = None if flags & 1 else bytes((flags, 0x21, 0x5A, 0xFE))
        payload = PAYLOADS[src.choice(len(PAYLOADS))]
        out += frame(OPCODES[src.choice(len(OPCODES))], payload, fin=not flags & 2,
                     rsv=4 if flags & 0xF0 == 0xF0 else 0, key=key)
    cut = src.choice(8)
    return out[: len(out) - cut] if cut < 3 else out


def spec(src: Source, kinds: Sequence[str] = KINDS, hint: str = "") -> Spec:
    return (kinds[src.choice(len(kinds))], content(src, hint))


# The content to favour for a parameter, by its name.
HINTS = {"mask": "key", "data": "stream", "payload": "stream", "buffer": "stream"}


# ------------------------------------------------------------ entry points


class Params(NamedTuple):
    positional: Tuple[str, ...]  # may be passed by position, in this order
    keyword: Tuple[str, ...]  # may be passed by name
    likely: Tuple[Sequence[str], ...] = ()  # per positional parameter: the kinds to favour


BUF = BUFFER_KINDS
FUNCTIONS: Dict[str, Params] = {
    "apply_mask": Params(("data", "mask"), ("data", "mask"), (BUF, BUF)),
    "apply_mask_inplace": Params(("buffer", "mask", "offset"), ("buffer", "mask", "offset"),
                                 (BUF, BUF, ("int", "index", "int-subclass", "bool"))),
    "validate_utf8": Params(("data",), (), (BUF,)),
    "parse_header": Params(("data", "offset"), ("data", "offset"), (BUF, ("int", "index", "bool"))),
    "encode_frame": Params(("opcode", "payload"), ("fin", "rsv1", "mask"),
                           (("int", "index", "intenum", "bool"), BUF + ["str", "str-subclass"])),
    "encode_close": Params(("code", "reason"), ("code", "reason"), (("int", "index", "none"), ("str", "str-utf8"))),
    "parse_close": Params(("payload",), ("payload",), (BUF,)),
}


class Method(NamedTuple):
    params: Optional[Params]  # None for a property


CLASSES: Dict[str, Tuple[Params, Dict[str, Method]]] = {
    "Masker": (
        Params(("mask",), ("mask",), (BUF,)),
        {
            "process": Method(Params(("data",), ("data",), (BUF,))),
            "process_inplace": Method(Params(("buffer",), ("buffer",), (BUF,))),
            "reset": Method(Params((), ())),
            "position": Method(None),
        },
    ),
    "Utf8Validator": (
        Params((), ()),
        {
            "feed": Method(Params(("data",), (), (BUF,))),
            "finish": Method(Params((), ())),
            "reset": Method(Params((), ())),
            "at_boundary": Method(None),
            "error_offset": Method(None),
        },
    ),
    "Decoder": (
        Params((), ("client", "max_message_size", "max_frame_size", "decode_text", "deflate")),
        {
            "feed": Method(Params(("data",), ("data",), (BUF,))),
            "closed": Method(None),
        },
    ),
}

ENTRIES = sorted(FUNCTIONS) + sorted(CLASSES)
KEYWORD_KINDS = {
    "fin": ("bool", "bool-raises", "bool-not-bool", "int", "none"),
    "rsv1": ("bool", "bool-raises", "int", "none"),
    "mask": ("bool", "none", "bytes", "bytearray", "memoryview-strided", "int", "list", "tuple", "range",
             "bytes-only", "str", "memoryview-released", "memoryview-i", "ctypes-chars"),
    "client": ("bool", "bool-raises", "none", "int"),
    "max_message_size": ("int", "index", "none", "float", "bool", "str", "index-raises"),
    "max_frame_size": ("int", "index", "none", "float", "bool", "str"),
    "decode_text": ("bool", "bool-raises", "none", "int"),
    "deflate": ("permessage-deflate", "none", "str", "bool", "dict"),
}


class Call(NamedTuple):
    args: Tuple[Spec, ...]
    kwargs: Tuple[Tuple[str, Spec], ...]


def call_of(src: Source, params: Params) -> Call:
    """Arguments for one call: mostly well-formed in number, sometimes one too
    many or too few, or a keyword that does not exist or repeats a positional."""
    n = len(params.positional)
    shape = src.choice(8)
    count = n if shape < 5 else max(0, n - 1) if shape == 5 else n + 1
    args = []
    for i in range(count):
        likely = params.likely[i] if i < len(params.likely) else KINDS
        hint = HINTS.get(params.positional[i], "") if i < n else ""
        args.append(spec(src, likely if src.choice(4) else KINDS, hint))
    kwargs: List[Tuple[str, Spec]] = []
    names = [p for p in params.keyword if p not in params.positional[:count]]
    for name in names:
        if src.choice(3) == 0:
            kinds = KEYWORD_KINDS.get(name, KINDS) if src.choice(4) else KINDS
            kwargs.append((name, spec(src, kinds, HINTS.get(name, ""))))
    if src.choice(12) == 0:
        kwargs.append((["bogus", *params.keyword, *params.positional][src.choice(len(params.keyword) + len(params.positional) + 1)],
                       spec(src)))
    return Call(tuple(args), tuple(kwargs))


class Case(NamedTuple):
    entry: str
    first: Call  # the function call, or the constructor call
    steps: Tuple[Tuple[str, Any], ...]  # for a class: what is done with the object


OPS = ("method", "method", "method", "method", "init", "copy", "deepcopy", "pickle", "subclass")


def case_of(src: Source, entry: Optional[str] = None) -> Case:
    if entry is None:
        entry = ENTRIES[src.choice(len(ENTRIES))]
    if entry in FUNCTIONS:
        return Case(entry, call_of(src, FUNCTIONS[entry]), ())
    ctor, methods = CLASSES[entry]
    names = sorted(methods)
    steps: List[Tuple[str, Any]] = []
    for _ in range(src.choice(8) + 1):
        op = OPS[src.choice(len(OPS))]
        if op == "method":
            name = names[src.choice(len(names))]
            params = methods[name].params
            steps.append(("get", name) if params is None else ("call", (name, call_of(src, params))))
        elif op == "init":
            steps.append(("init", call_of(src, ctor)))
        elif op == "pickle":
            steps.append(("pickle", src.choice(pickle.HIGHEST_PROTOCOL + 1)))
        else:
            steps.append((op, None))
    return Case(entry, call_of(src, ctor), tuple(steps))


# -------------------------------------------------------------- outcomes

PROTOCOL_ERRORS = ("ProtocolError", "InvalidUTF8", "MessageTooBig")


def norm(value: Any) -> Any:
    """A value as both implementations' logs can hold it: its type's name and contents."""
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__name__, value.name)
    if value is None or isinstance(value, (bool, int, float, str, bytes, bytearray)):
        return (type(value).__name__, value)
    if isinstance(value, tuple):
        return (type(value).__name__, tuple(norm(v) for v in value))
    if isinstance(value, list):
        return ("list", [norm(v) for v in value])
    if type(value).__name__ in CLASSES:
        return ("object", type(value).__name__, snapshot(value))
    return ("other", type(value).__name__)


def raised(exc: BaseException) -> Tuple[Any, ...]:
    name = type(exc).__name__
    message = str(exc) if name in PROTOCOL_ERRORS else None
    events = getattr(exc, "events", None)
    return ("raise", name, getattr(exc, "close_code", None), message,
            None if events is None else norm(list(events)))


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Tuple[Any, ...]:
    try:
        return ("ok", norm(fn(*args, **kwargs)))
    except Exception as exc:  # noqa: BLE001 - what is raised is what is compared
        return raised(exc)


STATE = {
    "Masker": ("position",),
    "Utf8Validator": ("at_boundary", "error_offset"),
    "Decoder": ("closed",),
}


def snapshot(obj: Any) -> Tuple[Any, ...]:
    name = type(obj).__name__
    out = [attempt(getattr, obj, attr) for attr in STATE[name]]
    if name == "Utf8Validator":
        out.append(attempt(obj.finish))
    if name != "Decoder":
        out.append(attempt(repr, obj))
    return tuple(out)


def written(obj: Any) -> Any:
    """The bytes a buffer argument holds after the call (None when not a live buffer)."""
    try:
        with memoryview(obj) as view:
            return view.tobytes()
    except (TypeError, ValueError):
        return None


def unmasked(wire: bytes) -> bytes:
    """A masked frame with its key blanked and its payload unmasked: what two
    frames masked with fresh random keys must agree on."""
    n = wire[1] & 0x7F
    start = 2 + (2 if n == 126 else 8 if n == 127 else 0)
    key = wire[start : start + 4]
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(wire[start + 4 :]))
    return wire[:start] + b"????" + payload


def invoke(fn: Callable[..., Any], call: Call) -> Tuple[Any, ...]:
    """Call ``fn`` with fresh objects made from ``call``; the outcome and what
    the buffers passed hold afterwards."""
    args = [make(s) for s in call.args]
    kwargs = {name: make(s) for name, s in call.kwargs}
    result = attempt(fn, *args, **kwargs)
    if kwargs.get("mask") is True and result[0] == "ok" and result[1][0] == "bytes":
        result = ("ok", ("bytes", unmasked(result[1][1])))  # encode_frame(..., mask=True)
    return result + (tuple(written(a) for a in args), tuple(written(v) for v in kwargs.values()))


def run(impl: Any, case: Case) -> List[Any]:
    """Everything one implementation does with ``case``, step by step."""
    target = getattr(impl, case.entry)
    if case.entry in FUNCTIONS:
        return [invoke(target, case.first)]
    made: Dict[str, Any] = {}

    def construct(*args: Any, **kwargs: Any) -> Any:
        made["obj"] = target(*args, **kwargs)
        return made["obj"]

    log: List[Any] = [invoke(construct, case.first)]
    obj = made.get("obj")
    if obj is None:
        return log
    for op, arg in case.steps:
        if op == "get":
            log.append(attempt(getattr, obj, arg))
        elif op == "call":
            name, call = arg
            log.append(invoke(getattr(obj, name), call))
        elif op == "init":
            log.append(invoke(obj.__init__, arg))
        elif op in ("copy", "deepcopy"):
            res = attempt(getattr(copy, op), obj)
            log.append(res)
            if res[0] == "ok":
                obj = getattr(copy, op)(obj)
        elif op == "pickle":
            log.append(attempt(lambda: pickle.loads(pickle.dumps(obj, arg))))  # noqa: B023 - called at once
        elif op == "subclass":
            log.append(attempt(type, "Sub", (target,), {}))
        log.append(("state", snapshot(obj)))
    return log


# Anything else escaping a call is a finding: an implementation may raise
# only these (Oops comes from the odd objects' own dunders).
ALLOWED = frozenset(("TypeError", "ValueError", "UnicodeEncodeError", "Oops") + PROTOCOL_ERRORS)


def unexpected(log: List[Any]) -> List[Any]:
    """The exceptions in a log that no rule allows."""
    return [step for step in log if step[0] == "raise" and step[1] not in ALLOWED]
