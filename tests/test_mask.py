"""RFC 6455 masking: apply_mask, apply_mask_inplace and Masker.

Every test runs over the pure-Python twin and over each SIMD variant of the
compiled module this CPU can run (the ``simd_impl`` fixture); the Hypothesis
tests compare the two implementations on random inputs.
"""

from __future__ import annotations

import array
import functools
import mmap
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, build_script, compiled_available

MASK = b"\x37\xfa\x21\x3d"  # the key of RFC 6455 section 5.7's examples
SIZES_BIG = [1023, 1024, 4099, 65535, 65536, 65537, (1 << 20) + 5]


def reference(data: bytes, mask: bytes, offset: int = 0) -> bytes:
    """Masking spelled out byte by byte, independent of both implementations."""
    return bytes(b ^ mask[(i + offset) % 4] for i, b in enumerate(data))


@functools.cache
def sample(n: int, seed: int = 0) -> bytes:
    return random.Random(n * 7919 + seed).randbytes(n)


@functools.cache
def masked_sample(n: int, offset: int) -> bytes:
    return reference(sample(n), MASK, offset)


# ------------------------------------------------------------ known answers

def test_rfc6455_example(simd_impl: Any) -> None:
    # RFC 6455 section 5.7: a masked "Hello" from a client.
    masked = bytes.fromhex("7f9f4d5158")
    assert simd_impl.apply_mask(masked, MASK) == b"Hello"
    buf = bytearray(b"Hello")
    simd_impl.apply_mask_inplace(buf, MASK)
    assert bytes(buf) == masked


def test_masking_twice_restores(simd_impl: Any) -> None:
    data = sample(1000)
    assert simd_impl.apply_mask(simd_impl.apply_mask(data, MASK), MASK) == data


# -------------------------------------------------- every length and offset

def test_apply_mask_every_length(simd_impl: Any) -> None:
    for n in range(301):
        assert simd_impl.apply_mask(sample(n), MASK) == masked_sample(n, 0), n


def test_apply_mask_inplace_every_length_and_offset(simd_impl: Any) -> None:
    for n in range(301):
        for offset in range(8):
            buf = bytearray(sample(n))
            simd_impl.apply_mask_inplace(buf, MASK, offset)
            assert bytes(buf) == masked_sample(n, offset), (n, offset)


@pytest.mark.parametrize("n", SIZES_BIG)
def test_big_sizes(simd_impl: Any, n: int) -> None:
    data = sample(n)
    assert simd_impl.apply_mask(data, MASK) == masked_sample(n, 0)
    for offset in (0, 3):
        buf = bytearray(data)
        simd_impl.apply_mask_inplace(buf, MASK, offset)
        assert bytes(buf) == masked_sample(n, offset)


@pytest.mark.parametrize("offset", [4, 5, 6, 7, 1001, 2**31 + 2, 2**62 + 3, sys.maxsize])
def test_large_offsets_only_phase_matters(simd_impl: Any, offset: int) -> None:
    data = sample(77)
    buf = bytearray(data)
    simd_impl.apply_mask_inplace(buf, MASK, offset)
    assert bytes(buf) == reference(data, MASK, offset % 4)


def test_unaligned_slices(simd_impl: Any) -> None:
    # Views starting at every address modulo 32 (the AVX2 width), at lengths
    # around the vector and unrolled-loop boundaries and past the size from
    # which the AVX2 kernel aligns its stores.
    lengths = [0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 511, 512, 600, 2047, 2048,
               4101]
    for start in range(33):
        for n in lengths:
            data = sample(n, seed=start)
            backing = bytearray(b"\xaa" * start + data + b"\x55" * 40)
            view = memoryview(backing)[start : start + n]
            assert simd_impl.apply_mask(view, MASK) == reference(data, MASK), (start, n)
            simd_impl.apply_mask_inplace(view, MASK, start)
            assert bytes(backing[start : start + n]) == reference(data, MASK, start), (start, n)
            # Nothing outside the view was touched.
            assert backing[:start] == b"\xaa" * start
            assert backing[start + n :] == b"\x55" * 40


# ---------------------------------------------------------- buffer types

def _readable_buffers(data: bytes) -> List[Any]:
    """Objects whose bytes, in C order, are ``data``."""
    n = len(data)
    spread = bytearray(2 * n)
    spread[::2] = data
    reversed_backing = bytearray(data[::-1])
    out: List[Any] = [
        data,
        bytearray(data),
        memoryview(data),
        memoryview(bytearray(data)),
        memoryview(spread)[::2],  # non-contiguous
        memoryview(reversed_backing)[::-1],  # negative stride
        array.array("B", data),
    ]
    if n % 4 == 0:
        out.append(array.array("I", data))  # a 4-byte item size
    if n and n % 2 == 0:
        out.append(memoryview(bytearray(data)).cast("B", [2, n // 2]))  # 2-D
    return out


@pytest.mark.parametrize("n", [0, 1, 7, 64, 125, 1000])
def test_apply_mask_accepts_any_buffer(simd_impl: Any, n: int) -> None:
    data = sample(n)
    for obj in _readable_buffers(data):
        result = simd_impl.apply_mask(obj, MASK)
        assert type(result) is bytes
        assert result == masked_sample(n, 0), type(obj)


@pytest.mark.parametrize("n", [0, 1, 7, 64, 125, 1000])
def test_apply_mask_inplace_accepts_any_writable_buffer(simd_impl: Any, n: int) -> None:
    data = sample(n)
    for offset in (0, 1):
        expect = masked_sample(n, offset)
        # (target, read back its bytes in C order)
        targets: List[Any] = [bytearray(data), memoryview(bytearray(data)), array.array("B", data)]
        if n % 4 == 0:
            targets.append(array.array("I", data))
        if n and n % 2 == 0:
            targets.append(memoryview(bytearray(data)).cast("B", [2, n // 2]))
        for target in targets:
            simd_impl.apply_mask_inplace(target, MASK, offset)
            assert memoryview(target).tobytes() == expect, type(target)


@pytest.mark.parametrize("n", [0, 1, 5, 64, 333, 70000])
def test_inplace_non_contiguous_writes_back(simd_impl: Any, n: int) -> None:
    data, other = sample(n), sample(n, seed=1)
    backing = bytearray(2 * n)
    backing[::2] = data
    backing[1::2] = other
    simd_impl.apply_mask_inplace(memoryview(backing)[::2], MASK, 2)
    assert bytes(backing[::2]) == reference(data, MASK, 2)
    assert bytes(backing[1::2]) == other  # the skipped bytes are untouched


def test_inplace_negative_stride(simd_impl: Any) -> None:
    data = sample(50)
    backing = bytearray(data)
    # The stream order of a reversed view is its own (C) order.
    simd_impl.apply_mask_inplace(memoryview(backing)[::-1], MASK)
    assert bytes(backing) == reference(data[::-1], MASK)[::-1]


def test_inplace_strided_array_of_words(simd_impl: Any) -> None:
    words = array.array("I", range(16))
    before = words.tobytes()
    view = memoryview(words)[::2]
    picked = view.tobytes()
    simd_impl.apply_mask_inplace(view, MASK, 1)
    assert view.tobytes() == reference(picked, MASK, 1)
    assert memoryview(words)[1::2].tobytes() == memoryview(array.array("I", before))[1::2].tobytes()


def test_mmap(simd_impl: Any) -> None:
    data = sample(10000)
    with mmap.mmap(-1, len(data)) as mm:
        mm[:] = data
        assert simd_impl.apply_mask(mm, MASK) == masked_sample(len(data), 0)
        simd_impl.apply_mask_inplace(mm, MASK, 3)
        assert mm[:] == masked_sample(len(data), 3)


def test_numpy_multidimensional(simd_impl: Any) -> None:
    np = pytest.importorskip("numpy")
    grid = np.arange(48, dtype=np.uint32).reshape(6, 8)
    untouched = grid[:, 1::2].copy()
    view = grid[:, ::2]  # 2-D, non-contiguous
    before = view.tobytes()
    assert simd_impl.apply_mask(view, MASK) == reference(before, MASK)
    simd_impl.apply_mask_inplace(view, MASK, 1)
    assert view.tobytes() == reference(before, MASK, 1)
    assert (grid[:, 1::2] == untouched).all()
    fortran = np.asfortranarray(np.arange(12, dtype=np.uint8).reshape(3, 4))
    before = fortran.tobytes()  # C order: the order of the masked stream
    simd_impl.apply_mask_inplace(fortran, MASK)
    assert fortran.tobytes() == reference(before, MASK)


def test_numpy_non_native_format_non_contiguous(simd_impl: Any) -> None:
    # The one documented gap of the pure twin (docs/masking.md): memoryview
    # cannot write such items back.  It must refuse before writing anything.
    np = pytest.importorskip("numpy")
    words = np.arange(16, dtype=">i4")
    before = words.tobytes()
    view = words[::2]
    picked = view.tobytes()
    assert simd_impl.apply_mask(view, MASK) == reference(picked, MASK)
    if simd_impl.IMPLEMENTATION == "python":
        with pytest.raises(TypeError, match="non-contiguous"):
            simd_impl.apply_mask_inplace(view, MASK)
        assert words.tobytes() == before
    else:
        simd_impl.apply_mask_inplace(view, MASK)
        assert view.tobytes() == reference(picked, MASK)
        assert words[1::2].tobytes() == np.frombuffer(before, dtype=">i4")[1::2].tobytes()
    contiguous = np.arange(16, dtype=">i4")
    simd_impl.apply_mask_inplace(contiguous, MASK)  # contiguous works in both
    assert contiguous.tobytes() == reference(before, MASK)


def test_mask_from_any_buffer(simd_impl: Any) -> None:
    data = sample(99)
    expect = masked_sample(99, 0)
    spread = bytearray(8)
    spread[::2] = MASK
    for mask in (bytearray(MASK), memoryview(MASK), array.array("B", MASK), array.array("I", MASK),
                 memoryview(spread)[::2]):
        assert simd_impl.apply_mask(data, mask) == expect, type(mask)
        masker = simd_impl.Masker(mask)
        assert masker.process(data) == expect


def test_result_is_a_new_object(simd_impl: Any) -> None:
    data = sample(64)
    result = simd_impl.apply_mask(data, b"\0\0\0\0")
    assert result == data
    buf = bytearray(data)
    assert simd_impl.apply_mask(buf, MASK) is not buf
    assert buf == data  # apply_mask never writes to its input


# ------------------------------------------------------------------- Masker

def test_masker_streaming_equals_one_shot(simd_impl: Any) -> None:
    rng = random.Random(5)
    for n in (0, 1, 13, 130, 1300, 70001):
        data = sample(n)
        for _ in range(6):
            cuts = sorted(rng.randrange(n + 1) for _ in range(rng.randrange(6)))
            pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [n])]
            masker = simd_impl.Masker(MASK)
            out = b"".join(masker.process(p) for p in pieces)
            assert out == masked_sample(n, 0), (n, cuts)
            assert masker.position == n


def test_masker_process_inplace_and_mixed(simd_impl: Any) -> None:
    data = sample(1000)
    masker = simd_impl.Masker(MASK)
    out = []
    for i, (a, b) in enumerate([(0, 3), (3, 3), (3, 10), (10, 511), (511, 1000)]):
        if i % 2:
            buf = bytearray(data[a:b])
            masker.process_inplace(buf)
            out.append(bytes(buf))
        else:
            out.append(masker.process(memoryview(data)[a:b]))
        assert masker.position == b
    assert b"".join(out) == masked_sample(1000, 0)


def test_masker_position_counts_bytes_not_items(simd_impl: Any) -> None:
    masker = simd_impl.Masker(MASK)
    masker.process(array.array("I", [1, 2, 3]))
    assert masker.position == 12
    masker.process_inplace(array.array("H", [1]))
    assert masker.position == 14


def test_masker_reset(simd_impl: Any) -> None:
    masker = simd_impl.Masker(MASK)
    assert masker.position == 0
    first = masker.process(b"abcdefg")
    assert masker.position == 7
    masker.reset()
    assert masker.position == 0
    assert masker.process(b"abcdefg") == first
    masker.process(b"")
    assert masker.position == 7


def test_masker_keeps_its_own_copy_of_the_mask(simd_impl: Any) -> None:
    key = bytearray(MASK)
    masker = simd_impl.Masker(key)
    key[:] = b"\0\0\0\0"
    assert masker.process(b"Hello") == reference(b"Hello", MASK)


# ---------------------------------------------------------------- bad input

BAD_MASKS_VALUE = [b"", b"abc", b"abcde", bytearray(3), memoryview(b"12345678")]
BAD_MASKS_TYPE = ["abcd", 1234, None, [1, 2, 3, 4], 1.5]
NOT_BUFFERS = ["text", 42, None, [1, 2, 3], object()]


@pytest.mark.parametrize("mask", BAD_MASKS_VALUE)
def test_mask_of_wrong_size_is_value_error(simd_impl: Any, mask: Any) -> None:
    buf = bytearray(sample(20))
    with pytest.raises(ValueError, match="4 bytes"):
        simd_impl.apply_mask(bytes(buf), mask)
    with pytest.raises(ValueError, match="4 bytes"):
        simd_impl.apply_mask_inplace(buf, mask)
    with pytest.raises(ValueError, match="4 bytes"):
        simd_impl.Masker(mask)
    assert buf == sample(20)


@pytest.mark.parametrize("mask", BAD_MASKS_TYPE)
def test_mask_not_a_buffer_is_type_error(simd_impl: Any, mask: Any) -> None:
    buf = bytearray(sample(20))
    with pytest.raises(TypeError, match="mask"):
        simd_impl.apply_mask(bytes(buf), mask)
    with pytest.raises(TypeError, match="mask"):
        simd_impl.apply_mask_inplace(buf, mask)
    with pytest.raises(TypeError, match="mask"):
        simd_impl.Masker(mask)
    assert buf == sample(20)


@pytest.mark.parametrize("data", NOT_BUFFERS)
def test_data_not_a_buffer_is_type_error(simd_impl: Any, data: Any) -> None:
    masker = simd_impl.Masker(MASK)
    with pytest.raises(TypeError):
        simd_impl.apply_mask(data, MASK)
    with pytest.raises(TypeError):
        simd_impl.apply_mask_inplace(data, MASK)
    with pytest.raises(TypeError):
        masker.process(data)
    with pytest.raises(TypeError):
        masker.process_inplace(data)
    assert masker.position == 0


def _read_only_buffers(data: bytes) -> List[Any]:
    spread = bytes(2 * len(data))
    out: List[Any] = [data, memoryview(data), memoryview(bytearray(data)).toreadonly(), memoryview(spread)[::2]]
    return out


@pytest.mark.parametrize("n", [0, 5, 100, 70000])
def test_read_only_buffer_in_place_is_type_error(simd_impl: Any, n: int) -> None:
    masker = simd_impl.Masker(MASK)
    backing = bytearray(sample(n))
    for obj in _read_only_buffers(bytes(backing)) + [memoryview(backing).toreadonly()]:
        with pytest.raises(TypeError, match="read-only"):
            simd_impl.apply_mask_inplace(obj, MASK)
        with pytest.raises(TypeError, match="read-only"):
            masker.process_inplace(obj)
    assert backing == sample(n)
    assert masker.position == 0


def test_read_only_mmap_in_place_is_type_error(simd_impl: Any, tmp_path: Any) -> None:
    path = tmp_path / "payload"
    path.write_bytes(sample(100))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        with pytest.raises(TypeError, match="read-only"):
            simd_impl.apply_mask_inplace(mm, MASK)
        assert simd_impl.apply_mask(mm, MASK) == masked_sample(100, 0)  # reading is fine
    assert path.read_bytes() == sample(100)


def test_offset_checks(simd_impl: Any) -> None:
    buf = bytearray(sample(30))
    with pytest.raises(ValueError, match="offset"):
        simd_impl.apply_mask_inplace(buf, MASK, -1)
    with pytest.raises(ValueError, match="offset"):
        simd_impl.apply_mask_inplace(buf, MASK, -(2**40))
    with pytest.raises(TypeError):
        simd_impl.apply_mask_inplace(buf, MASK, 1.0)
    with pytest.raises(TypeError):
        simd_impl.apply_mask_inplace(buf, MASK, "1")
    with pytest.raises(OverflowError):
        simd_impl.apply_mask_inplace(buf, MASK, sys.maxsize + 1)
    assert buf == sample(30)
    # Keyword use, and bool being an int.
    simd_impl.apply_mask_inplace(buf, MASK, offset=True)
    assert bytes(buf) == masked_sample(30, 1)


def test_offset_checked_before_mask(simd_impl: Any) -> None:
    # Both implementations agree on which error a doubly bad call raises.
    with pytest.raises(ValueError, match="offset"):
        simd_impl.apply_mask_inplace(bytearray(4), b"abc", -1)
    with pytest.raises(ValueError, match="4 bytes"):
        simd_impl.apply_mask_inplace("not a buffer", b"abc")


def test_empty_input_everywhere(simd_impl: Any) -> None:
    assert simd_impl.apply_mask(b"", MASK) == b""
    assert simd_impl.apply_mask(bytearray(), MASK) == b""
    assert simd_impl.apply_mask(memoryview(b""), MASK) == b""
    buf = bytearray()
    simd_impl.apply_mask_inplace(buf, MASK)
    simd_impl.apply_mask_inplace(buf, MASK, 3)
    simd_impl.apply_mask_inplace(memoryview(bytearray(10))[5:5], MASK)
    assert buf == b""
    masker = simd_impl.Masker(MASK)
    assert masker.process(b"") == b""
    masker.process_inplace(bytearray())
    assert masker.position == 0


def test_repr(simd_impl: Any) -> None:
    masker = simd_impl.Masker(MASK)
    masker.process(b"abc")
    assert "position=3" in repr(masker)


# ------------------------------------------------------- the compiled side

def test_simd_selection_api(c_impl: Any) -> None:
    module = c_impl.module("mask")
    available = module._simd_available()
    assert available and available[-1] == "portable"
    assert module._simd_current() in available
    with pytest.raises(ValueError):
        module._simd_select("no-such-isa")
    with pytest.raises(TypeError):
        module._simd_select(3)
    assert set(available) <= set(module._simd_levels())
    for name in module._simd_levels():
        if name not in available:
            with pytest.raises(ValueError):
                module._simd_select(name)


def test_threads_with_large_payloads(c_impl: Any) -> None:
    # Large payloads are masked without the GIL: results must not mix up.
    payloads = [sample(200000, seed=s) for s in range(4)]
    expected = [reference(p, MASK) for p in payloads]
    errors: List[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                assert c_impl.apply_mask(payloads[i], MASK) == expected[i]
                buf = bytearray(payloads[i])
                c_impl.apply_mask_inplace(buf, MASK)
                assert buf == expected[i]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_large_bytearray_cannot_be_resized_while_exported(c_impl: Any) -> None:
    # The large in-place path holds a buffer export (so that the array cannot
    # move while the GIL is released); it must let go of it afterwards.
    buf = bytearray(sample(100000))
    c_impl.apply_mask_inplace(buf, MASK)
    buf.extend(b"more")  # would raise BufferError if the export leaked
    assert len(buf) == 100004


# --------------------------------------------- differential (Hypothesis)

# The implementation fixtures hold no state, so sharing them between the
# examples of one test is what we want.
differential = settings(
    suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.function_scoped_fixture]
)
masks = st.binary(min_size=4, max_size=4)
payloads = st.binary(max_size=3000)


@differential
@given(data=payloads, mask=masks, offset=st.integers(min_value=0, max_value=2**40))
def test_differential_apply(py_impl: Any, c_impl: Any, data: bytes, mask: bytes, offset: int) -> None:
    assert c_impl.apply_mask(data, mask) == py_impl.apply_mask(data, mask)
    a, b = bytearray(data), bytearray(data)
    c_impl.apply_mask_inplace(a, mask, offset)
    py_impl.apply_mask_inplace(b, mask, offset)
    assert a == b


@differential
@given(data=payloads, mask=masks, cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=8),
       inplace=st.lists(st.booleans(), min_size=9, max_size=9))
def test_differential_chunking(py_impl: Any, c_impl: Any, data: bytes, mask: bytes, cuts: List[int],
                               inplace: List[bool]) -> None:
    bounds = sorted(min(c, len(data)) for c in cuts)
    pieces = [data[a:b] for a, b in zip([0] + bounds, bounds + [len(data)])]
    results = []
    for impl in (py_impl, c_impl):
        masker = impl.Masker(mask)
        out = []
        for piece, in_place in zip(pieces, inplace):
            if in_place:
                buf = bytearray(piece)
                masker.process_inplace(buf)
                out.append(bytes(buf))
            else:
                out.append(masker.process(piece))
        assert masker.position == len(data)
        results.append(b"".join(out))
    assert results[0] == results[1] == c_impl.apply_mask(data, mask)


@differential
@given(data=st.binary(max_size=600), mask=masks, start=st.integers(0, 40), step=st.integers(1, 5),
       offset=st.integers(0, 7))
def test_differential_views(py_impl: Any, c_impl: Any, data: bytes, mask: bytes, start: int, step: int,
                            offset: int) -> None:
    outs = []
    for impl in (py_impl, c_impl):
        backing = bytearray(data)
        view = memoryview(backing)[start::step]
        impl.apply_mask_inplace(view, mask, offset)
        outs.append(bytes(backing))
    assert outs[0] == outs[1]


@differential
@given(mask=st.one_of(st.binary(max_size=8), st.text(max_size=4), st.integers(), st.none()),
       data=st.one_of(st.binary(max_size=20), st.text(max_size=4), st.none()),
       offset=st.one_of(st.integers(-5, 5), st.floats(allow_nan=False)))
def test_differential_errors(py_impl: Any, c_impl: Any, mask: Any, data: Any, offset: Any) -> None:
    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the exception type is the result
            return type(exc)

    assert outcome(lambda: py_impl.apply_mask(data, mask)) == outcome(lambda: c_impl.apply_mask(data, mask))
    py_buf = bytearray(data) if isinstance(data, bytes) else data
    c_buf = bytearray(data) if isinstance(data, bytes) else data
    assert outcome(lambda: py_impl.apply_mask_inplace(py_buf, mask, offset)) == outcome(
        lambda: c_impl.apply_mask_inplace(c_buf, mask, offset)
    )
    assert py_buf == c_buf


# ------------------------------------------------ the C kernels, directly

_C_HARNESS = r"""
#include "mask.h"
#include <stdio.h>

/* Every length to 300 and some past the unrolled loops and the AVX2
 * alignment threshold, at many source and destination alignments and every
 * phase, copying and in place, with guard bytes around what may be written. */
static int check(wsf_mask_fn f) {
    static uint8_t src[4608], dst[4608], ref[4608];
    static const size_t big[] = {511, 512, 513, 1000, 2047, 2048, 2049, 4100};
    const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t k, n, so, d, ph, i;
    for (k = 0; k < 301 + sizeof big / sizeof big[0]; k++) {
        n = k < 301 ? k : big[k - 301];
        for (so = 0; so < 36; so += (n < 80 ? 1 : 7))
            for (d = 0; d < 40; d += 13)
                for (ph = 0; ph < 4; ph++) {
                    for (i = 0; i < n + 120; i++) {
                        src[i] = (uint8_t)(i * 131 + n + so);
                        dst[i] = 0xEE;
                    }
                    for (i = 0; i < n; i++)
                        ref[i] = src[so + i] ^ mask[(ph + i) & 3];
                    f(dst + 40 + d, src + so, n, wsf_mask_key(mask, ph));
                    for (i = 0; i < n + 120; i++)
                        if (dst[i] != ((i >= 40 + d && i < 40 + d + n) ? ref[i - 40 - d] : 0xEE)) {
                            printf("copy n=%zu so=%zu d=%zu ph=%zu at %zu\n", n, so, d, ph, i);
                            return 1;
                        }
                    f(src + so, src + so, n, wsf_mask_key(mask, ph));
                    for (i = 0; i < n + 120; i++)
                        if (src[i] != ((i >= so && i < so + n) ? ref[i - so] : (uint8_t)(i * 131 + n + so))) {
                            printf("in place n=%zu so=%zu ph=%zu at %zu\n", n, so, ph, i);
                            return 1;
                        }
                }
    }
    return 0;
}

int main(void) {
    int level, bad = 0;
    for (level = 0; level < WSF_LEVEL_COUNT; level++) {
        wsf_mask_fn f = wsf_mask_kernel(level);
        if (f == NULL)
            continue;
        if (check(f)) {
            printf("%s FAILED\n", wsf_level_name(level));
            bad = 1;
        } else {
            printf("%s ok\n", wsf_level_name(level));
        }
    }
    return bad;
}
"""


@pytest.mark.parametrize("target", ["native", "aarch64"])
def test_c_kernels_directly(tmp_path: Any, target: str) -> None:
    # Built the way setup.py builds them: the files, flags and dispatch macros
    # its reader of wsf_levels.h gives for the target.
    setup_py = build_script()
    csrc = ROOT / "src" / "wsfast" / "_csrc"
    if target == "native":
        cc, runner, arch = shutil.which("cc") or shutil.which("gcc"), [], setup_py._target_arch()
    else:
        cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64-static")
        if not cc or not qemu:
            pytest.skip("no aarch64 cross compiler or qemu-aarch64-static")
        runner, arch = [qemu, "-L", "/usr/aarch64-linux-gnu"], "ARM64"
    if not cc:
        pytest.skip("no C compiler")
    kernels, macros = setup_py.unit_kernels("mask", arch, csrc)
    defines = [f"-D{name}={value}" for name, value in macros]
    harness = tmp_path / "harness.c"
    harness.write_text(_C_HARNESS)
    objects = []
    for source, level in [(str(csrc / "wsf_cpu.c"), setup_py.read_levels(csrc)[0]), *kernels]:
        obj = str(tmp_path / (Path(source).stem + ".o"))
        subprocess.run([cc, "-O2", "-I", str(csrc), *defines, *level.cc_flags, "-c", source, "-o", obj], check=True)
        objects.append(obj)
    exe = str(tmp_path / "harness")
    subprocess.run([cc, "-O1", "-I", str(csrc), *defines, str(harness), *objects, "-o", exe], check=True)
    proc = subprocess.run(runner + [exe], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = {line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" ok")}
    if target == "native" and compiled_available():
        from wsfast import _simd

        # The harness and the compiled module run the same levels.
        assert ran == set(_simd.available()), proc.stdout
    else:
        # Under qemu every arm64 feature is there, so every arm64 level runs.
        expected = {lv.name for lv in setup_py.read_levels(csrc) if lv.arch in ("ANY", arch)}
        assert ran == expected, proc.stdout
