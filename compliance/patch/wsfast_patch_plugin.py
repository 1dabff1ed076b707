"""pytest plugin: run a library's own test suite with wsfast.patch installed.

    WSFAST_PATCH=wsproto python -m pytest -p wsfast_patch_plugin ...

(with compliance/patch/ on PYTHONPATH).  The patch goes in at configure time,
before any test module is imported, so names that test modules copy with
``from x import y`` are the patched ones too.  A library that the patch
refuses fails the run instead of silently testing the original.
"""

from __future__ import annotations

import os
import warnings

import pytest

_names: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    import wsfast
    import wsfast.patch

    wanted = [n for n in os.environ.get("WSFAST_PATCH", "").split(",") if n]
    with warnings.catch_warnings():
        warnings.simplefilter("error", wsfast.patch.PatchWarning)
        got = wsfast.patch.install(*wanted)
    if wanted and got != wanted:
        raise pytest.UsageError(f"wsfast.patch.install({wanted}) patched only {got}")
    _names[:] = got
    config.stash[_key] = f"wsfast.patch: {', '.join(got)} patched ({wsfast.IMPLEMENTATION}, simd {wsfast.SIMD})"


_key = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str:
    return config.stash.get(_key, "wsfast.patch: not installed")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    import wsfast.patch

    still = wsfast.patch.installed()
    line = terminalreporter.config.stash.get(_key, "")
    if still != _names:
        line += f"; WARNING: patched at the end: {still}"
    terminalreporter.write_line(line)
