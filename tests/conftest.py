"""One suite, two implementations.

``impl`` runs a test over the pure-Python and the compiled implementation;
``simd_impl`` runs it over the pure one and over every SIMD variant of the
compiled one that this CPU can run.  The compiled side is skipped only when
it is really absent, and never when WSFAST_EXPECT_IMPL=cython asks for it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import types
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, settings

from wsfast import _impl

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# For slow environments (qemu emulation, sanitizers): same tests, fewer examples.
settings.register_profile(
    "quick", max_examples=15, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("WSFAST_HYPOTHESIS_PROFILE", "default"))


def examples(n: int) -> int:
    """``max_examples`` for a test that wants ``n`` under the default profile.

    A count written in ``@settings`` overrides the loaded profile, so without
    this the quick profile would leave the longest hypothesis tests at full
    length; scaled by the profile's count over the default's (100), they
    shrink and grow with the profile like every other test."""
    return max(1, n * settings.default.max_examples // 100)


EXPECT = os.environ.get("WSFAST_EXPECT_IMPL", "").strip()
# WSFAST_COMPILED_ONLY=1 (the sanitizer run, CI's long leak run): only the
# tests that reach compiled code.  The pure modules never import the compiled
# ones, so a case run on the pure twin alone reaches none: the "python" cases
# of ``impl`` and ``simd_impl``, and tests that take ``py_impl`` without
# ``c_impl``, are deselected (the normal run has them).
COMPILED_ONLY = os.environ.get("WSFAST_COMPILED_ONLY", "").strip() == "1"
ROOT = Path(__file__).resolve().parent.parent


def build_script() -> types.ModuleType:
    """setup.py as a module, for its readers of the SIMD level table
    (``read_levels``, ``unit_kernels``); skips where the suite runs from a copy
    against an installed wheel, without the checkout."""
    path = ROOT / "setup.py"
    if not (path.is_file() and (ROOT / "src" / "wsfast" / "_csrc" / "wsf_levels.h").is_file()):
        pytest.skip("needs the source checkout (setup.py, src/wsfast/_csrc)")
    spec = importlib.util.spec_from_file_location("wsfast_setup", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compiled_available() -> bool:
    try:
        importlib.import_module("wsfast._mask_c")
    except ImportError:
        return False
    return True


def _require_compiled() -> None:
    if not compiled_available():
        if EXPECT == "cython":
            pytest.fail("WSFAST_EXPECT_IMPL=cython but the compiled modules did not load")
        pytest.skip("the compiled implementation is not built")


def _simd_variants() -> list[str]:
    if not compiled_available():
        return []
    from wsfast import _simd

    return list(_simd.available())


@pytest.fixture(params=_impl.KINDS)
def impl(request: pytest.FixtureRequest) -> _impl.Implementation:
    """Each implementation's public names (``impl.apply_mask`` ...)."""
    if request.param == "cython":
        _require_compiled()
    return _impl.load(request.param, lazy=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "simd_impl" in metafunc.fixturenames:
        params = ["python"] + [f"cython-{v}" for v in _simd_variants()]
        if len(params) == 1:
            params.append("cython-absent")
        metafunc.parametrize("simd_impl", params, indirect=True)


@pytest.fixture
def simd_impl(request: pytest.FixtureRequest) -> Iterator[_impl.Implementation]:
    """Like ``impl``, with the compiled side run once per SIMD variant."""
    param: str = request.param
    if param == "python":
        yield _impl.load("python", lazy=True)
        return
    _require_compiled()
    from wsfast import _simd

    variant = param.split("-", 1)[1]
    before = _simd.current()
    _simd.force(variant)
    try:
        yield _impl.load("cython", lazy=True)
    finally:
        _simd.force(before)


@contextlib.contextmanager
def zlib_backend(name: str) -> Iterator[None]:
    """Both implementations' permessage-deflate back end set to ``name``
    ("auto", "zlib", "zlib-ng") for new Deflaters and Inflaters inside the
    block; skips the test when zlib-ng is asked for and not there."""
    from wsfast import _deflate_py

    modules = [_deflate_py]
    if compiled_available():
        modules.append(importlib.import_module("wsfast._deflate_c"))
    before = [m.BACKEND for m in modules]
    try:
        try:
            for m in modules:
                m.use_backend(name)
        except ImportError as exc:
            pytest.skip(f"zlib-ng is not available: {exc}")
        yield
    finally:
        for m, name_before in zip(modules, before):
            m.use_backend(name_before)


@pytest.fixture(params=["zlib", "zlib-ng"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs a test with each back end in turn, in both implementations."""
    with zlib_backend(request.param):
        yield request.param


@pytest.fixture
def py_impl() -> _impl.Implementation:
    return _impl.load("python", lazy=True)


@pytest.fixture
def c_impl() -> _impl.Implementation:
    _require_compiled()
    return _impl.load("cython", lazy=True)


def pure_only(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    if "python" in (params.get("impl"), params.get("simd_impl")):
        return True
    names = getattr(item, "fixturenames", ())
    return "py_impl" in names and "c_impl" not in names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not COMPILED_ONLY:
        return
    dropped = [item for item in items if pure_only(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not pure_only(item)]
