"""Copied by compliance/uvicorn_suite.py into uvicorn's tests/protocols/ as conftest.py.

A conftest deeper in the tree overrides the fixtures of the ones above it, so
every test of tests/protocols/test_websocket.py that takes ``ws_protocol_cls``
gets the class under test (``WSFAST_UVICORN_SUITE_WS``, a ``module:Class``)
instead of uvicorn's own, while ``http_protocol_cls`` keeps uvicorn's
parametrization.  The tests named in ``WSFAST_UVICORN_SUITE_EXCLUDE`` (a file
of ``pattern | reason`` lines, where ``*`` matches anything) are marked strict xfail with their reason: each
must still fail, so the list cannot silently go stale.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from uvicorn.importer import import_from_string

WS = os.environ["WSFAST_UVICORN_SUITE_WS"]


def _glob(pattern: str) -> re.Pattern[str]:
    """Only ``*`` is special: test ids are full of brackets, which fnmatch reads as sets."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")) + r"\Z")


def _exclusions() -> list[tuple[re.Pattern[str], str]]:
    path = os.environ.get("WSFAST_UVICORN_SUITE_EXCLUDE")
    if not path:
        return []
    rules = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pattern, _, reason = line.partition("|")
            rules.append((_glob(pattern.strip()), reason.strip()))
    return rules


@pytest.fixture(params=[pytest.param(WS, id=WS.rpartition(":")[2])])
def ws_protocol_cls(request: pytest.FixtureRequest) -> type:
    cls: type = import_from_string(request.param)
    return cls


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rules = _exclusions()
    for item in items:
        for pattern, reason in rules:
            if pattern.match(item.name):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
                break
