"""``python -m wsfast``: it names what runs, benchmarks both sides, shows
progress and a table.  Run as a real subprocess, once per implementation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

import wsfast
from conftest import EXPECT
from wsfast import _impl, _selfbench

SRC = str(Path(wsfast.__file__).resolve().parent.parent)
VALUE = re.compile(r"\d[\d,]*(\.\d+)? (ns|ns/frame|GB/s)")


def wsfast_main(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    for name in ("WSFAST_NO_EXTENSIONS", "WSFAST_SIMD"):
        full.pop(name, None)
    full.update(env)
    # The subprocess imports the same wsfast tree as this test-suite.
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, full.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "wsfast", *args], env=full,
                          capture_output=True, text=True, timeout=300)


def env_for(impl: _impl.Implementation) -> Dict[str, str]:
    """Environment that makes ``python -m wsfast`` run ``impl``."""
    if impl.IMPLEMENTATION == "python":
        return {"WSFAST_NO_EXTENSIONS": "1"}
    try:
        _impl.load("cython")  # every compiled module, as the real selection needs
    except ImportError as exc:
        if EXPECT == "cython":
            pytest.fail(f"WSFAST_EXPECT_IMPL=cython but a compiled module is missing: {exc}")
        pytest.skip(f"the compiled implementation is only partly built: {exc}")
    return {}


def table_rows(stdout: str) -> Dict[str, List[str]]:
    """The table's rows by label: the cells after the label."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("work "))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip():
            break
        label = next(it.label for it in _selfbench.items(quick=True) if line.startswith(it.label + " "))
        rows[label] = re.split(r"\s{2,}", line[len(label):].strip())
    return rows


def test_quick_run_names_implementation_and_benchmarks_everything(impl: _impl.Implementation) -> None:
    proc = wsfast_main("--quick", **env_for(impl))
    assert proc.returncode == 0, proc.stderr
    out, err = proc.stdout, proc.stderr

    first = out.splitlines()[0]
    if impl.IMPLEMENTATION == "python":
        assert "implementation python, SIMD none" in first
        assert "pure Python because: WSFAST_NO_EXTENSIONS is set" in out
    else:
        from wsfast import _simd

        # No WSFAST_SIMD: the best variant this CPU runs is chosen.
        assert f"implementation cython, SIMD {_simd.available()[0]}" in first
        assert "SIMD variants this CPU and build can run: " + ", ".join(_simd.available()) in out
    assert "CPU: " in out and "Python: " in out

    # A progress line per item, in order, on stderr.
    todo = _selfbench.items(quick=True)
    for n, item in enumerate(todo, 1):
        assert f"[{n}/{len(todo)}] {item.label}: " in err
    assert "done in " in err

    # The table: every item has a figure for each side, and a speedup.
    header = next(line for line in out.splitlines() if line.startswith("work "))
    rows = table_rows(out)
    assert list(rows) == [item.label for item in todo]
    for label, cells in rows.items():
        if impl.IMPLEMENTATION == "python":
            assert header.split() == ["work", "pure", "Python"]
            assert len(cells) == 1 and VALUE.fullmatch(cells[0]), (label, cells)
        else:
            assert header.split() == ["work", "compiled", "pure", "Python", "speedup"]
            assert len(cells) == 3, (label, cells)
            assert VALUE.fullmatch(cells[0]) and VALUE.fullmatch(cells[1]), (label, cells)
            assert re.fullmatch(r"[\d,]+\.\dx", cells[2]), (label, cells)
    assert "RESULTS DIFFER" not in out + err
    assert "n/a" not in out + err


def test_info_only_describes(impl: _impl.Implementation) -> None:
    proc = wsfast_main("--info", **env_for(impl))
    assert proc.returncode == 0, proc.stderr
    assert f"implementation {impl.IMPLEMENTATION}" in proc.stdout
    assert "work " not in proc.stdout and proc.stderr == ""


def test_help() -> None:
    proc = wsfast_main("--help")
    assert proc.returncode == 0
    for option in ("--quick", "--time", "--simd", "--info"):
        assert option in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--time", "0"], "--time must be positive"),
    (["--simd", "no-such-isa"], "--simd no-such-isa"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_arguments_exit_2_with_reason(impl: _impl.Implementation, args: List[str], message: str) -> None:
    proc = wsfast_main(*args, "--info", **env_for(impl))
    assert proc.returncode == 2
    if impl.IMPLEMENTATION == "python" and args[0] == "--simd":
        message = "--simd needs the compiled implementation"
    assert message in proc.stderr
    assert proc.stdout == ""


def test_simd_option_selects_each_variant(c_impl: _impl.Implementation) -> None:
    env_for(c_impl)
    from wsfast import _simd

    for variant in _simd.available():
        proc = wsfast_main("--simd", variant, "--info")
        assert proc.returncode == 0, proc.stderr
        assert f"SIMD {variant}" in proc.stdout.splitlines()[0]
        assert "(--simd)" in proc.stdout


def test_simd_option_is_what_wsfast_simd_says(c_impl: _impl.Implementation, capsys: pytest.CaptureFixture[str]) -> None:
    # In the process that runs `python -m wsfast --simd X`, wsfast.SIMD names
    # the level whose kernels run, not the one chosen at import.
    if wsfast.IMPLEMENTATION != "cython":
        pytest.skip("WSFAST_NO_EXTENSIONS: --simd needs the compiled implementation")
    from wsfast import __main__, _simd

    before = _simd.current()
    try:
        for variant in _simd.available():
            assert __main__.main(["--simd", variant, "--info"]) == 0
            assert wsfast.SIMD == _simd.current() == variant
            assert f"SIMD {variant}" in capsys.readouterr().out
    finally:
        _simd.force(before)


def test_figures_are_shown_per_unit() -> None:
    big = _selfbench.Item("apply_mask 1 MiB", 1 << 20, lambda impl: (len, (b"",), {}))
    small = _selfbench.Item("apply_mask 125 B", 125, lambda impl: (len, (b"",), {}))
    frames = _selfbench.Item("Decoder 16 B frames", 16, lambda impl: (len, (b"",), {}), frames=1000)
    assert _selfbench.show_time(big, 1e-4) == "10.49 GB/s"
    assert _selfbench.show_time(small, 52e-9) == "52 ns"
    assert _selfbench.show_time(frames, 2e-4) == "200 ns/frame"
    assert _selfbench.show_time(small, None) == "-"


def test_utf8_inputs_have_the_exact_size_and_are_valid() -> None:
    for kind in ("ascii", "mixed"):
        for size in (0, 1, 63, 64, 1000):
            data = _selfbench.text(kind, size)
            assert len(data) == size
            data.decode("utf-8")
    assert max(_selfbench.text("mixed", 64)) >= 0xF0  # 4-byte sequences are in it
