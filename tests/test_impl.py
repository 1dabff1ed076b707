"""Which implementation loaded, and whether that is what was expected."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import wsfast
from conftest import EXPECT, compiled_available
from wsfast import _impl


def test_expected_implementation_loaded() -> None:
    # Wheels are tested with WSFAST_EXPECT_IMPL=cython: a wheel that silently
    # fell back to pure Python fails here.
    if not EXPECT:
        pytest.skip("WSFAST_EXPECT_IMPL is not set")
    assert wsfast.IMPLEMENTATION == EXPECT, _impl.FALLBACK_REASON


def test_implementation_and_simd_are_consistent() -> None:
    assert wsfast.IMPLEMENTATION in ("python", "cython")
    if wsfast.IMPLEMENTATION == "python":
        assert wsfast.SIMD == "none"
    else:
        from wsfast import _simd

        assert wsfast.SIMD == _simd.current()
        assert wsfast.SIMD in _simd.available()
        assert set(_simd.available()) <= set(_simd.levels())


def test_simd_follows_force() -> None:
    if not compiled_available():
        pytest.skip("the compiled implementation is not built")
    from wsfast import _simd

    before = _simd.current()
    try:
        for level in _simd.available():
            _simd.force(level)
            assert _impl.load("cython").SIMD == level
            assert wsfast.SIMD == _impl.SIMD == (level if wsfast.IMPLEMENTATION == "cython" else "none")
    finally:
        _simd.force(before)
    assert _simd.current() == before


def test_simd_of_the_pure_twin_is_none() -> None:
    assert _impl.load("python").SIMD == "none"
    with pytest.raises(AttributeError):
        wsfast.NO_SUCH_NAME  # noqa: B018 - the module __getattr__ must not invent names


def test_compiled_selected_when_built() -> None:
    if not compiled_available():
        pytest.skip("the compiled implementation is not built")
    if os.environ.get("WSFAST_NO_EXTENSIONS"):
        assert wsfast.IMPLEMENTATION == "python"
    else:
        assert wsfast.IMPLEMENTATION == "cython", _impl.FALLBACK_REASON


def _run(code: str, **env: str) -> str:
    full = dict(os.environ)
    full.pop("WSFAST_NO_EXTENSIONS", None)
    full.pop("WSFAST_SIMD", None)
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_no_extensions_switch_forces_python() -> None:
    out = _run("import wsfast; print(wsfast.IMPLEMENTATION, wsfast.SIMD)", WSFAST_NO_EXTENSIONS="1")
    assert out == "python none"


def test_simd_env_var_forces_variant_at_import() -> None:
    if not compiled_available():
        pytest.skip("the compiled implementation is not built")
    from wsfast import _simd

    for variant in _simd.available():
        out = _run("import wsfast; print(wsfast.SIMD)", WSFAST_SIMD=variant)
        assert out == variant


def test_simd_env_var_unsupported_variant_warns_and_uses_best() -> None:
    if not compiled_available():
        pytest.skip("the compiled implementation is not built")
    from wsfast import _simd

    best = _simd.available()[0]
    # A level of the table that this CPU cannot run, else a name it lacks.
    bogus = next((lv for lv in _simd.levels() if lv not in _simd.available()), "no-such-level")
    code = (
        "import warnings; warnings.simplefilter('always');"
        "import wsfast; print(wsfast.SIMD)"
    )
    full = dict(os.environ, WSFAST_SIMD=bogus)
    full.pop("WSFAST_NO_EXTENSIONS", None)
    proc = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == best
    assert "WSFAST_SIMD" in proc.stderr


def test_force_rejects_unknown_variant() -> None:
    if not compiled_available():
        pytest.skip("the compiled implementation is not built")
    from wsfast import _simd

    with pytest.raises(ValueError):
        _simd.force("mmx")
