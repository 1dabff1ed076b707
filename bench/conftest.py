"""pytest-benchmark setup for bench/: wsfast vs its pure twin vs peers vs a copy.

Run:  python -m pytest bench/ --benchmark-json=bench.json
then: python bench/report.py bench.json

Files here are named bench_*.py so that the test-suite (testpaths = tests)
never collects them; the hook below collects them when bench/ is named.
Every benchmark records what it measured in ``extra_info`` (operation, size,
contender, kind, bytes or frames per call), which is all report.py reads.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

# Short rounds keep a whole run near five minutes on a 2-core machine; a
# command-line --benchmark-max-time / --benchmark-min-rounds still wins.
DEFAULTS = {"benchmark_max_time": 0.08, "benchmark_min_rounds": 3}
# A timed round of a fast call repeats it for about this long, so that the
# timer and pytest-benchmark's own call cost vanish from the result.
BATCH_SECONDS = 20e-6


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Module]:
    # A file named on the command line is collected by pytest itself.
    if parent.session.isinitpath(file_path):
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: pytest-benchmark reads these options in its own configure hook.
    for name, value in DEFAULTS.items():
        flag = "--" + name.replace("_", "-")
        if not any(arg.startswith(flag) for arg in config.invocation_params.args):
            setattr(config.option, name, value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The rows of one group (operation, variant, size) run back to back, so
    # the figures report.py divides were measured seconds apart, not minutes:
    # load from elsewhere on the machine drifts less between them.
    def key(item: pytest.Item) -> tuple[str, str, int, str]:
        params = getattr(getattr(item, "callspec", None), "params", {})
        variant = str(params.get("variant", params.get("masked", "")))
        return (getattr(item, "originalname", item.name), variant,
                int(params.get("size", 0)), str(params.get("name", "")))

    items.sort(key=key)


def record(benchmark: Any, *, op: str, size: int, variant: str, contender: str,
           kind: str, nbytes: int = 0, frames: int = 0) -> None:
    """Name the group (operation + size) and store what report.py needs."""
    label = f"{op} {variant} {human(size)}".replace("  ", " ")
    benchmark.group = label
    benchmark.extra_info.update(
        op=op, variant=variant, size=size, contender=contender, kind=kind,
        bytes=nbytes, frames=frames,
    )


def human(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def batched(fn: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any],
            calls: int) -> Callable[[], None]:
    """``calls`` back-to-back calls of ``fn(*args, **kwargs)``, in a loop as
    lean as timeit's: arguments are bound as locals, so a call costs what a
    user's call costs, not pytest-benchmark's ``fn(*args, **kwargs)``."""
    params = [f"_a{i}" for i in range(len(args))] + [f"_k{i}" for i in range(len(kwargs))]
    call = ", ".join([f"_a{i}" for i in range(len(args))]
                     + [f"{key}=_k{i}" for i, key in enumerate(kwargs)])
    source = (f"def loop({''.join(p + ', ' for p in params)}_fn=_fn, _repeat=_repeat):\n"
              f"    for _ in _repeat(None, {calls}):\n"
              f"        _fn({call})\n")
    namespace: dict[str, Any] = {"_fn": fn, "_repeat": itertools.repeat}
    exec(source, namespace)
    bound = dict(zip(params, list(args) + list(kwargs.values())))
    return functools.partial(namespace["loop"], **bound)


def run(benchmark: Any, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Time ``fn(*args, **kwargs)``; fast calls are batched (see ``batched``)
    and ``extra_info["calls"]`` says how many calls one timed round made."""
    start = time.perf_counter()
    fn(*args, **kwargs)
    once = time.perf_counter() - start
    if once < 1e-3:  # the first call may pay for caches and lazy imports
        start = time.perf_counter()
        for _ in range(10):
            fn(*args, **kwargs)
        once = (time.perf_counter() - start) / 10
    calls = max(1, min(10_000, int(BATCH_SECONDS / max(once, 1e-9))))
    benchmark.extra_info["calls"] = calls
    benchmark(batched(fn, args, kwargs, calls))


def run_fresh(benchmark: Any, setup: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]],
              target: Callable[..., object]) -> None:
    """Time ``target`` on fresh, untimed ``setup()`` state each round.

    pedantic() does no calibration, so the round count comes from one timed
    call and the configured max time, as the calibrated path would choose.
    """
    args, kwargs = setup()
    start = time.perf_counter()
    target(*args, **kwargs)
    once = max(time.perf_counter() - start, 1e-7)
    max_time = float(getattr(benchmark, "_max_time", DEFAULTS["benchmark_max_time"]))
    min_rounds = int(getattr(benchmark, "_min_rounds", DEFAULTS["benchmark_min_rounds"]))
    rounds = max(min_rounds, min(500, int(max_time / once)))
    benchmark.extra_info["calls"] = 1
    benchmark.pedantic(target, setup=setup, rounds=rounds, iterations=1)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    try:
        from wsfast import _impl

        reason = _impl.FALLBACK_REASON or "all compiled modules loaded"
        lines.append(f"wsfast: {_impl.IMPLEMENTATION}, SIMD {_impl.SIMD} ({reason})")
    except Exception as exc:  # noqa: BLE001 - a broken tree must still show why rows are missing
        lines.append(f"wsfast: not importable ({exc})")
    if os.environ.get("WSFAST_SIMD"):
        lines.append(f"WSFAST_SIMD={os.environ['WSFAST_SIMD']}")
    return lines


PEERS = ("websockets", "aiohttp", "wsaccel", "wsproto", "autobahn", "picows")


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Record what ran, so a JSON can be read without this machine."""
    from importlib import metadata

    try:
        from wsfast import _impl

        machine_info["wsfast"] = {
            "implementation": _impl.IMPLEMENTATION,
            "simd": _impl.SIMD,
            "fallback_reason": _impl.FALLBACK_REASON,
        }
    except Exception as exc:  # noqa: BLE001 - the JSON still records why
        machine_info["wsfast"] = {"implementation": "unavailable", "simd": "none",
                                  "fallback_reason": str(exc)}
    peers = {}
    for name in PEERS:
        try:
            peers[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    machine_info["peers"] = peers
