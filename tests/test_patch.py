"""wsfast.patch: install/uninstall, errors, refusal of unexpected internals."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest

import wsfast
import wsfast.patch as patch
from wsfast.patch import _core

ROOT = Path(__file__).resolve().parent.parent

# Every hook point per library: (module, dotted path), as the adapters name them.
HOOKS = {
    "wsproto": [
        ("wsproto.frame_protocol", "XorMaskerSimple"),
        ("wsproto.frame_protocol", "FrameDecoder.parse_header"),
        ("wsproto.frame_protocol", "FrameDecoder.process_buffer"),
    ],
    "websocket-client": [
        ("websocket._abnf", "ABNF.mask"),
        ("websocket._abnf", "_mask"),
        ("websocket._utils", "_validate_utf8"),
    ],
    "tornado": [
        ("tornado.util", "_websocket_mask"),
        ("tornado.websocket", "_websocket_mask"),
        ("tornado.web", "_websocket_mask"),
    ],
    "autobahn": [
        ("autobahn.websocket.xormasker", "create_xor_masker"),
        ("autobahn.websocket.utf8validator", "Utf8Validator"),
        ("autobahn.websocket.protocol", "create_xor_masker"),
        ("autobahn.websocket.protocol", "Utf8Validator"),
    ],
    "websockets": [
        ("websockets.utils", "apply_mask"),
        ("websockets.speedups", "apply_mask"),
        ("websockets.frames", "apply_mask"),
    ],
}
AVAILABLE = [n for n in patch.LIBRARIES if patch._is_installed(n)]


def raw(module: str, path: str) -> Any:
    """The raw value at a hook point (class __dict__ entries, not descriptors' results)."""
    owner: Any = importlib.import_module(module)
    *parents, attr = path.split(".")
    for name in parents:
        owner = getattr(owner, name)
    return vars(owner)[attr]


def snapshot(name: str) -> dict[str, Any]:
    out = {}
    for module, path in HOOKS[name]:
        try:
            out[f"{module}.{path}"] = raw(module, path)
        except (ImportError, KeyError):
            pass
    return out


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    patch.uninstall()
    yield
    patch.uninstall()


def require(name: str) -> None:
    if name not in AVAILABLE:
        pytest.skip(f"{name} is not installed")


def test_library_names() -> None:
    assert patch.LIBRARIES == ("wsproto", "websocket-client", "tornado", "autobahn", "websockets")


@pytest.mark.parametrize("name", patch.LIBRARIES)
def test_install_uninstall_round_trip(name: str) -> None:
    require(name)
    before = snapshot(name)
    assert before
    assert patch.install(name) == [name]
    during = snapshot(name)
    for key, value in before.items():
        assert during[key] is not value, key
    assert patch.install(name) == [name]  # idempotent: nothing rebound twice
    assert snapshot(name) == during
    assert patch.installed() == [name]
    assert patch.uninstall() == [name]
    after = snapshot(name)
    for key, value in before.items():
        assert after[key] is value, key
    assert patch.uninstall() == []
    assert snapshot(name) == after


def test_install_all_returns_installed_libraries_in_order() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", patch.PatchWarning)
        assert patch.install() == AVAILABLE
        assert patch.install() == AVAILABLE
    assert patch.installed() == AVAILABLE
    assert patch.uninstall() == AVAILABLE
    assert patch.installed() == []


def test_install_repeated_name_once() -> None:
    require("tornado")
    assert patch.install("tornado", "tornado") == ["tornado"]


def test_unknown_name() -> None:
    with pytest.raises(patch.UnknownLibrary, match="no-such-lib") as info:
        patch.install("no-such-lib")
    assert isinstance(info.value, LookupError)
    # Import names are not distribution names.
    with pytest.raises(patch.UnknownLibrary):
        patch.install("websocket")


def test_absent_library_by_name_is_an_error_and_nothing_is_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    require("tornado")
    require("autobahn")
    before = snapshot("tornado")
    # find_spec() answers None for a name whose sys.modules entry is None.
    for module in [m for m in sys.modules if m == "autobahn" or m.startswith("autobahn.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "autobahn", None)
    with pytest.raises(patch.LibraryNotInstalled, match="autobahn") as info:
        patch.install("tornado", "autobahn")
    assert isinstance(info.value, ModuleNotFoundError)
    assert snapshot("tornado") == before
    assert patch.installed() == []
    # With no names, an absent library is simply not in the result.
    assert "autobahn" not in patch.install()


def refused(name: str) -> None:
    """install(name) warns, returns [] and changes no hook point."""
    before = snapshot(name)
    with pytest.warns(patch.PatchWarning, match=name):
        assert patch.install(name) == []
    assert patch.installed() == []
    after = snapshot(name)
    for key, value in before.items():
        assert after.get(key) is value, key


def test_refused_when_a_hook_point_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    require("websocket-client")
    import websocket._utils

    # The last hook checked: the ones before it must not have been applied.
    monkeypatch.delattr(websocket._utils, "_validate_utf8")
    refused("websocket-client")


def test_refused_when_a_signature_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    require("websocket-client")
    import websocket._abnf

    monkeypatch.setattr(websocket._abnf, "_mask", lambda data_value, mask_value: b"")
    refused("websocket-client")


def test_refused_when_behaviour_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    require("tornado")
    import tornado.util

    original = tornado.util._websocket_mask
    monkeypatch.setattr(tornado.util, "_websocket_mask", lambda mask, data: original(data[:4], mask + data[4:]))
    refused("tornado")


def test_refused_when_wsproto_source_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    require("wsproto")
    from wsproto import frame_protocol as fp

    original = fp.Buffer.commit

    def commit(self: Any) -> None:  # same behaviour, different code
        original(self)

    monkeypatch.setattr(fp.Buffer, "commit", commit)
    refused("wsproto")


def test_refused_when_autobahn_validator_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    require("autobahn")
    import autobahn.websocket.utf8validator as u

    class Validator:
        def reset(self) -> None:
            pass

        def validate(self, ba: bytes) -> tuple[bool, bool]:
            return True, True

    monkeypatch.setattr(u, "Utf8Validator", Validator)
    refused("autobahn")


def test_refusal_leaves_other_libraries_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    require("tornado")
    require("websockets")
    import tornado.util

    monkeypatch.delattr(tornado.util, "_websocket_mask_python")
    with pytest.warns(patch.PatchWarning, match="tornado"):
        assert patch.install("tornado", "websockets") == ["websockets"]


def test_module_imported_after_install_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lazy binding site copied from the patched source is undone by uninstall."""
    require("tornado")
    import tornado.util

    original = tornado.util._websocket_mask
    for module in ("tornado.websocket", "tornado.web"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    patch.install("tornado")
    import tornado.websocket

    assert tornado.websocket._websocket_mask is tornado.util._websocket_mask is not original
    patch.uninstall()
    assert tornado.websocket._websocket_mask is original


def test_rebound_hook_point_left_alone_with_a_warning() -> None:
    require("tornado")
    import tornado.util

    original = tornado.util._websocket_mask
    patch.install("tornado")

    def mine(mask: bytes, data: bytes) -> bytes:
        return original(mask, data)

    tornado.util._websocket_mask = mine
    try:
        with pytest.warns(patch.PatchWarning, match="tornado.util._websocket_mask"):
            patch.uninstall()
        assert tornado.util._websocket_mask is mine
    finally:
        tornado.util._websocket_mask = original


def test_fingerprint_ignores_comments_and_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fp_sample.py").write_text(
        textwrap.dedent(
            """
            class A:
                def f(self, x):
                    return x + 1

            class B:
                def f(self,x):
                    # a comment

                    return x+1  # trailing

            class C:
                def f(self, x):
                    return x + 2
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import fp_sample

    a, b, c = (_core.fingerprint(cls.f) for cls in (fp_sample.A, fp_sample.B, fp_sample.C))
    assert a == b != c
    assert len(a) == 16


@pytest.mark.parametrize("implementation", ["python", "default"])
def test_install_in_a_fresh_interpreter(implementation: str) -> None:
    """install() binds the active implementation's kernels; WSFAST_NO_EXTENSIONS=1 selects the pure ones."""
    if not AVAILABLE:
        pytest.skip("none of the libraries wsfast.patch supports is installed")
    env = dict(os.environ)
    if wsfast.__file__.startswith(str(ROOT / "src")):
        # A source-tree run; an installed wsfast is found without help.
        env["PYTHONPATH"] = str(ROOT / "src")
    env.pop("WSFAST_NO_EXTENSIONS", None)
    if implementation == "python":
        env["WSFAST_NO_EXTENSIONS"] = "1"
    script = textwrap.dedent(
        """
        import os, random, warnings
        warnings.simplefilter("error")
        import wsfast, wsfast.patch
        names = wsfast.patch.install()
        assert names, names
        if os.environ.get("WSFAST_NO_EXTENSIONS"):
            assert wsfast.IMPLEMENTATION == "python"
        rng = random.Random(7)
        if "tornado" in names:
            import tornado.util
            for n in (0, 1, 5, 125, 4099):
                data, mask = rng.randbytes(n), rng.randbytes(4)
                assert tornado.util._websocket_mask(mask, data) == tornado.util._websocket_mask_python(mask, data)
        if "wsproto" in names:
            from wsproto.frame_protocol import FrameProtocol
            server, client = FrameProtocol(False, []), FrameProtocol(True, [])
            payload = rng.randbytes(70000)
            server.receive_bytes(bytes(client.send_data(payload)))
            (frame,) = server.received_frames()
            assert frame.payload == payload
        print(wsfast.IMPLEMENTATION, ",".join(names))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    impl, names = out.stdout.split()
    if implementation == "python":
        assert impl == "python"
    assert names.split(",") == AVAILABLE
