"""The build story: which wheels cibuildwheel makes, what an install without a
compiler does, and free-threading.

The tests that need the source checkout (setup.py beside tests/) skip when the
suite runs from a copy against an installed wheel, as cibuildwheel and
scripts/build_wheels.sh run it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CHECKOUT = (ROOT / "setup.py").is_file() and (ROOT / "src" / "wsfast").is_dir()
IN_CI = bool(os.environ.get("CI"))

needs_checkout = pytest.mark.skipif(
    not IN_CHECKOUT, reason="needs the source checkout (setup.py), not an installed wheel"
)

# The CPythons every binary wheel job builds, 3.14t being free-threaded.
CPYTHONS = ["cp39", "cp310", "cp311", "cp312", "cp313", "cp314", "cp314t"]


# cibuildwheel --platform, --archs -> the platform tags of its identifiers.
PLATFORM_TAGS = {
    ("linux", "x86_64"): ["manylinux_x86_64", "musllinux_x86_64"],
    ("linux", "aarch64"): ["manylinux_aarch64", "musllinux_aarch64"],
    ("macos", "x86_64"): ["macosx_x86_64"],
    ("macos", "arm64"): ["macosx_arm64"],
    ("windows", "AMD64"): ["win_amd64"],
    ("windows", "ARM64"): ["win_arm64"],
}


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment minus every wsfast switch the outer run may have set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSFAST_")}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


# --- the cibuildwheel matrix ---------------------------------------------------


def _workflow() -> str:
    return (ROOT / ".github" / "workflows" / "wheels.yml").read_text()


def _pinned_cibuildwheel() -> tuple[str, tuple[int, int]]:
    """The pinned version, and the oldest Python it installs on (its marker)."""
    text = (ROOT / "requirements" / "cibuildwheel.txt").read_text()
    match = re.search(r'^cibuildwheel==([0-9][0-9.]*); python_version >= "3\.(\d+)"$', text, re.MULTILINE)
    assert match, "requirements/cibuildwheel.txt must pin cibuildwheel with == and a python_version marker"
    return match.group(1), (3, int(match.group(2)))


def _require_cibuildwheel() -> None:
    """Skip without the pinned cibuildwheel, except in CI, where it must be there
    (on the Pythons it installs on)."""
    pinned, min_python = _pinned_cibuildwheel()
    try:
        from importlib.metadata import PackageNotFoundError, version

        installed = version("cibuildwheel")
    except PackageNotFoundError:
        installed = None
    if installed != pinned:
        why = f"cibuildwheel=={pinned} is needed, found {installed}"
        if IN_CI and sys.version_info >= min_python:
            pytest.fail(f"{why}: `python -m pip install -r requirements/cibuildwheel.txt`")
        pytest.skip(why)


def _identifiers(platform: str, archs: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "cibuildwheel", "--platform", platform, "--print-build-identifiers"]
    if archs:
        cmd += ["--archs", archs]
    proc = subprocess.run(
        cmd + [str(ROOT)],
        env=_clean_env(),  # CIBW_* from the outer shell would change the answer
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@needs_checkout
@pytest.mark.parametrize("platform,archs", sorted(PLATFORM_TAGS))
def test_cibuildwheel_builds_exactly_the_supported_matrix(platform: str, archs: str) -> None:
    _require_cibuildwheel()
    expected = {f"{cp}-{tag}" for cp in CPYTHONS for tag in PLATFORM_TAGS[platform, archs]}
    got = _identifiers(platform, archs)
    assert len(got) == len(set(got))
    assert set(got) == expected


@needs_checkout
@pytest.mark.skipif(sysconfig.get_platform() != "linux-x86_64", reason="needs an x86_64 Linux host")
def test_cibuildwheel_default_archs_are_the_runners_own() -> None:
    # Without --archs, an x86_64 runner builds x86_64 only: no 32-bit wheels
    # and no emulated aarch64 build sneaking in.
    _require_cibuildwheel()
    got = _identifiers("linux", None)
    assert got and all(i.endswith("_x86_64") for i in got)


@needs_checkout
def test_workflow_has_a_native_runner_for_every_platform_and_arch() -> None:
    runners = re.findall(r"\{\s*os:\s*([\w.-]+),\s*archs:\s*(\w+)\s*\}", _workflow())
    platform_of = {"ubuntu": "linux", "macos": "macos", "windows": "windows"}
    covered = {(platform_of[os_.split("-")[0]], arch) for os_, arch in runners}
    assert covered == set(PLATFORM_TAGS)


@needs_checkout
@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_cibuildwheel_makes_compile_failures_fatal_and_tests_the_compiled_code() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    assert config["environment"]["WSFAST_REQUIRE_EXTENSIONS"] == "1"
    assert config["test-environment"]["WSFAST_EXPECT_IMPL"] == "cython"
    for var in ("PIP_CONSTRAINT", "PIP_BUILD_CONSTRAINT"):
        assert (ROOT / config["environment"][var]).is_file()


# --- version pins ------------------------------------------------------------------

# A requirement with a version, as pip reads it: `name==1.2`, `name>=1`, `name<2`...
PIN = re.compile(r"(?<![\w.-])([A-Za-z][A-Za-z0-9._-]*)(?:\[[\w,]+\])?(==|>=|<=|~=|<|>)\d")
# Where pins get written: requirement files, the project and tool settings, the
# workflows, the shell scripts and the docs.  Not the Python 2.7 environment of
# the Autobahn|Testsuite (compliance/requirements27.txt: its own interpreter,
# its own releases of autobahn and Twisted).
PIN_SOURCES = ["requirements", "pyproject.toml", ".pre-commit-config.yaml", ".github", ".ci", "scripts",
               "compliance", "docs", "bench", "README.md"]
PIN_SUFFIXES = {".txt", ".toml", ".yaml", ".yml", ".sh", ".md", ""}


@needs_checkout
def test_each_version_pin_is_written_once() -> None:
    # An exact pin (what CI builds and tests with) and a range (what works:
    # pyproject.toml's build floors) are different statements; each is
    # written once.
    places: dict[tuple[str, str], list[str]] = {}
    for name in PIN_SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if file.name == "requirements27.txt" or file.suffix not in PIN_SUFFIXES:
                continue
            # Virtual environments and build trees (git-ignored) hold other projects' pins.
            if any(part.startswith(".") or part == "build" for part in file.relative_to(path).parts):
                continue
            try:
                text = file.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for match in PIN.finditer(text):
                key = (match.group(1).lower().replace("_", "-"), "pin" if match.group(2) == "==" else "range")
                places.setdefault(key, []).append(str(file.relative_to(ROOT)))
    twice = {name: where for name, where in places.items() if len(where) > 1}
    assert not twice, twice


# --- installing without a compiler ----------------------------------------------------


def _build_pins() -> list[str]:
    lines = (ROOT / "requirements" / "build-constraints.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _copy_project(dest: Path) -> Path:
    """The project's sources alone: no build products of the shared tree."""
    dest.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "src",
        dest / "src",
        ignore=shutil.ignore_patterns(
            "__pycache__", "*.so", "*.pyd", "*.o", "_*_c.c", "*.html", "*.egg-info"
        ),
    )
    return dest


class Venv:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = str(path / ("Scripts" if os.name == "nt" else "bin") / "python")

    def run(self, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, *args],
            cwd=cwd,
            env=_clean_env(**env),
            capture_output=True,
            text=True,
            timeout=600,
        )

    def pip_install_project(self, project: Path, **env: str) -> subprocess.CompletedProcess[str]:
        # --no-build-isolation: the pinned setuptools and Cython are already in
        # the venv, so nothing is downloaded and each install takes seconds.
        return self.run(
            "-m", "pip", "install", "-v", "--no-build-isolation", "--no-deps", str(project),
            cwd=project.parent, **env,
        )

    def wsfast_state(self, cwd: Path) -> str:
        proc = self.run("-c", "import wsfast; print(wsfast.IMPLEMENTATION, wsfast.SIMD)", cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()


@pytest.fixture(scope="module")
def build_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    if not IN_CHECKOUT:
        pytest.skip("needs the source checkout (setup.py)")
    path = tmp_path_factory.mktemp("nocc") / "venv"
    venv.create(path, with_pip=True)
    env = Venv(path)
    proc = env.run("-m", "pip", "install", "-q", *_build_pins(), cwd=path.parent)
    if proc.returncode != 0:
        pytest.fail(f"could not install the build pins {_build_pins()}:\n{proc.stderr}")
    yield env


NO_COMPILER = {"CC": "false", "CXX": "false", "LDSHARED": "false"}
# setup.py compiles nothing off CPython (on PyPy it installs pure Python and
# says so), so a missing compiler has nothing to break there.
cpython_only = pytest.mark.skipif(
    sys.implementation.name != "cpython", reason="setup.py builds extensions only on CPython"
)


@pytest.mark.slow
@cpython_only
def test_install_without_compiler_is_pure_python_and_says_so(build_venv: Venv) -> None:
    project = _copy_project(build_venv.path.parent / "project-nocc")
    proc = build_venv.pip_install_project(project, **NO_COMPILER)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "wsfast is installed as PURE PYTHON" in output
    assert "WSFAST_REQUIRE_EXTENSIONS=1" in output
    # The fallback came from the compiler, after Cython had done its part.
    reasons = [line for line in output.splitlines() if line.strip().startswith("Reason:")]
    assert reasons and all("Cython" not in line for line in reasons), reasons
    assert build_venv.wsfast_state(cwd=build_venv.path.parent) == "python none"


@pytest.mark.slow
@cpython_only
def test_install_without_compiler_fails_when_extensions_are_required(build_venv: Venv) -> None:
    project = _copy_project(build_venv.path.parent / "project-required")
    proc = build_venv.run("-m", "pip", "uninstall", "-y", "wsfast", cwd=project.parent)
    proc = build_venv.pip_install_project(project, WSFAST_REQUIRE_EXTENSIONS="1", **NO_COMPILER)
    assert proc.returncode != 0, (proc.stdout + proc.stderr)[-4000:]
    check = build_venv.run("-c", "import wsfast", cwd=build_venv.path.parent)
    assert check.returncode != 0, "a failed install must not leave wsfast installed"


@pytest.mark.slow
def test_no_extensions_builds_a_pure_py3_none_any_wheel(build_venv: Venv) -> None:
    project = _copy_project(build_venv.path.parent / "project-pure")
    out = build_venv.path.parent / "pure-wheel"
    proc = build_venv.run(
        "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", str(out), str(project),
        cwd=project.parent, WSFAST_NO_EXTENSIONS="1",
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    wheels = [p.name for p in out.glob("*.whl")]
    assert len(wheels) == 1 and wheels[0].endswith("-py3-none-any.whl"), wheels


# --- free-threading ---------------------------------------------------------------


def _generated_c_files() -> list[Path]:
    """Cython's output for each module (an in-place build, or an sdist's tree)."""
    where = Path(os.environ.get("WSFAST_GENERATED_C_DIR") or ROOT / "src" / "wsfast")
    return sorted(p.with_suffix(".c") for p in where.glob("_*_c.pyx") if p.with_suffix(".c").exists())


def test_modules_declare_free_threading_support() -> None:
    files = _generated_c_files()
    if not files:
        pytest.skip("no Cython-generated C here (build in place, or set WSFAST_GENERATED_C_DIR)")
    for path in files:
        text = path.read_text()
        # Cython writes the module's Py_mod_gil slot from this macro; its last
        # definition is the one the freethreading_compatible directive chose.
        chosen = re.findall(r"#define __Pyx_FREETHREADING_COMPATIBLE (\w+)", text)
        assert chosen and chosen[-1] == "Py_MOD_GIL_NOT_USED", path.name
        assert "{Py_mod_gil, __Pyx_FREETHREADING_COMPATIBLE}" in text, path.name


@pytest.mark.skipif(
    not sysconfig.get_config_var("Py_GIL_DISABLED"), reason="needs a free-threaded CPython"
)
def test_import_leaves_the_gil_disabled() -> None:
    # A fresh interpreter: one module without the declaration, imported
    # anywhere in this process, would already have turned the GIL back on.
    code = (
        "import sys, wsfast\n"
        "from wsfast import _impl\n"
        "if wsfast.IMPLEMENTATION == 'cython':\n"
        "    _impl.load('cython')\n"
        "print(wsfast.IMPLEMENTATION, sys._is_gil_enabled())\n"
    )
    env = dict(os.environ)
    env.pop("PYTHON_GIL", None)
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    impl, gil = proc.stdout.split()
    assert gil == "False", proc.stderr
    if os.environ.get("WSFAST_EXPECT_IMPL") == "cython":
        assert impl == "cython"
