"""autobahn: XOR maskers and the incremental UTF-8 validator.

autobahn.websocket.protocol binds ``create_xor_masker`` and ``Utf8Validator``
with ``from ... import``; both the defining modules and the protocol module
are patched.  Which originals sit there depends on autobahn's NVX switch
(``AUTOBAHN_USE_NVX``): the CFFI classes of autobahn.nvx, or the pure-Python
ones.  The adapters reproduce the pure-Python classes' documented contract,
which the NVX ones share on every input that the protocol gives them
(see docs/patch.md for where the NVX validator differs after an error).
"""

from __future__ import annotations

from typing import Any

from ._core import Binding, dist_version, lookup, probe, require_params

DISTRIBUTION = "autobahn"
MASKER = ("autobahn.websocket.xormasker", "create_xor_masker")
VALIDATOR = ("autobahn.websocket.utf8validator", "Utf8Validator")
PROTOCOL = "autobahn.websocket.protocol"
# autobahn's factory picks its "shifted" masker from this payload length on.
SHIFTED_FROM = 128


def version() -> str:
    return dist_version(DISTRIBUTION)


def make_classes(k: Any) -> tuple[type, type, Any, type]:
    Masker = k.Masker
    KValidator = k.Utf8Validator

    class _XorMasker:
        """An autobahn masker: ``process`` returns masked bytes, the key phase runs on."""

        __slots__ = ("_masker",)

        def __init__(self, mask: Any) -> None:
            # autobahn's own maskers only assert this, which `python -O` drops.
            if len(mask) != 4:
                raise ValueError(f"autobahn's maskers take a 4-byte mask, not {len(mask)} bytes")
            try:
                self._masker = Masker(mask)
            except TypeError:
                self._masker = Masker(bytes(mask))  # a list of ints, as array('B') takes

        def pointer(self) -> int:
            return int(self._masker.position)

        def reset(self) -> None:
            self._masker.reset()

        def process(self, data: Any) -> bytes:
            try:
                return bytes(self._masker.process(data))
            except TypeError:
                if isinstance(data, str):
                    raise
                return bytes(self._masker.process(bytes(data)))

    class XorMaskerSimple(_XorMasker):
        __slots__ = ()

    class XorMaskerShifted1(_XorMasker):
        __slots__ = ()

    def create_xor_masker(mask: Any, length: Any = None) -> _XorMasker:
        if length is None or length < SHIFTED_FROM:
            return XorMaskerSimple(mask)
        return XorMaskerShifted1(mask)

    class Utf8Validator:
        """autobahn's incremental validator on wsfast's.

        ``validate(chunk)`` returns ``(valid, ends_on_code_point,
        current_index, total_index)``: on the first impossible byte, its index
        in the chunk and from the last reset; after that, every non-empty
        chunk fails at its index 0 and an empty one reports valid, as
        autobahn's own pure-Python validator does.
        """

        __slots__ = ("_v", "_index", "_failed")

        def __init__(self) -> None:
            self._v = KValidator()
            self._index = 0
            self._failed = False

        def reset(self) -> None:
            self._v.reset()
            self._index = 0
            self._failed = False

        def validate(self, ba: Any) -> tuple[bool, bool, int, int]:
            n = len(ba)
            if self._failed:
                return (n == 0, False, 0, self._index)
            if self._v.feed(ba):
                self._index += n
                return (True, bool(self._v.at_boundary), n, self._index)
            offset = int(self._v.error_offset)
            current = offset - self._index
            self._index = offset
            self._failed = True
            return (False, False, current, offset)

    return XorMaskerSimple, XorMaskerShifted1, create_xor_masker, Utf8Validator


def plan(k: Any) -> list[Binding]:
    factory = lookup(*MASKER)
    require_params("create_xor_masker", factory, ("mask", "length"))

    def masker_ok() -> bool:
        m = factory(b"\x01\x02\x03\x04", 10)
        first = m.process(b"\x00" * 3)
        second = m.process(b"\x00" * 3)
        ok = first == b"\x01\x02\x03" and second == b"\x04\x01\x02" and m.pointer() == 6
        m.reset()
        return bool(ok and m.pointer() == 0 and m.process(b"\x00") == b"\x01")

    probe("create_xor_masker", masker_ok)
    validator = lookup(*VALIDATOR)

    def validator_ok() -> bool:
        v = validator()
        ok = v.validate(b"a\xe2\x82") == (True, False, 3, 3) and v.validate(b"\xac") == (True, True, 1, 4)
        v.reset()
        return bool(ok and v.validate(b"ab\xff")[:1] == (False,))

    probe("Utf8Validator", validator_ok)
    _, _, new_factory, new_validator = make_classes(k)
    return [
        Binding(MASKER[0], MASKER[1], new_factory),
        Binding(VALIDATOR[0], VALIDATOR[1], new_validator),
        Binding(PROTOCOL, MASKER[1], new_factory, lazy=True, original=factory),
        Binding(PROTOCOL, VALIDATOR[1], new_validator, lazy=True, original=validator),
    ]
