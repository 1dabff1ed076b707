"""The table of SIMD levels (src/wsfast/_csrc/wsf_levels.h) and what reads it.

setup.py's reader decides which kernel files a module compiles; the C
dispatch picks each unit's kernel per level, borrowing where a unit has no
file of its own; the compiled modules report the same levels.  The last test
adds a level to a copy of the sources, as a new row and one kernel file, and
checks that the dispatch offers it with nothing else changed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT, build_script, compiled_available

CSRC = ROOT / "src" / "wsfast" / "_csrc"
UNITS = ("mask", "utf8")


def test_the_modules_report_the_table() -> None:
    setup_py = build_script()
    if not compiled_available():
        pytest.skip("the compiled implementation is not built")
    from wsfast import _simd

    names = [level.name for level in setup_py.read_levels(CSRC)]
    assert list(_simd.levels()) == names
    # Best first: the table's order reversed, keeping what this CPU runs.
    assert list(_simd.available()) == [n for n in reversed(names) if n in _simd.available()]
    assert _simd.available()[-1] == "portable"


def test_every_kernel_file_names_a_row() -> None:
    setup_py = build_script()
    names = {level.name for level in setup_py.read_levels(CSRC)}
    for unit in UNITS:
        levels = {path.stem[len(unit) + 1 :] for path in CSRC.glob(f"{unit}_*.c")}
        assert "portable" in levels and levels <= names, unit


@pytest.mark.parametrize("arch", ["ANY", "X86", "ARM64"])
def test_files_and_macros_per_target(arch: str) -> None:
    setup_py = build_script()
    levels = setup_py.read_levels(CSRC)
    for unit in UNITS:
        files, macros = setup_py.unit_kernels(unit, arch, CSRC)
        compiled = {level.name for _, level in files}
        assert compiled == {
            lv.name for lv in levels if lv.arch in ("ANY", arch) and (CSRC / f"{unit}_{lv.name}.c").is_file()
        }
        have = {name[len(f"WSF_HAVE_{unit}_") :]: value for name, value in macros if name.startswith("WSF_HAVE_")}
        assert have == {lv.name: "1" if lv.name in compiled else "0" for lv in levels}
        # A portable-only (universal2 or unknown CPU) build also tells the C so.
        assert (("WSF_NO_ISA_KERNELS", "1") in macros) == (arch == "ANY")


def test_a_malformed_row_is_refused(tmp_path: Path) -> None:
    setup_py = build_script()
    shutil.copytree(CSRC, tmp_path / "csrc")
    header = tmp_path / "csrc" / "wsf_levels.h"
    header.write_text(header.read_text().replace("#undef WSF_LEVEL", 'WSF_LEVEL(bad, X86, -mbad, "", 0, portable)\n'))
    with pytest.raises(ValueError, match="form"):
        setup_py.read_levels(tmp_path / "csrc")


def _expected_kernel(setup_py: ModuleType, csrc: Path, unit: str, arch: str, name: str) -> str:
    """The level whose kernel `unit` runs at level `name`: the table's borrow rule, spelled out."""
    levels = {level.name: level for level in setup_py.read_levels(csrc)}
    while not (csrc / f"{unit}_{name}.c").is_file():
        name = levels[name].borrows
    return name


def _dispatch(setup_py: ModuleType, csrc: Path, tmp_path: Path) -> dict[tuple[str, str], str]:
    """Compile every unit's kernels as setup.py would for this machine and ask
    the C dispatch which kernel each unit runs at each level the CPU runs."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    arch = setup_py._target_arch()
    portable = setup_py.read_levels(csrc)[0]
    sources, defines, lines = [(str(csrc / "wsf_cpu.c"), portable)], set(), []
    for unit in UNITS:
        files, macros = setup_py.unit_kernels(unit, arch, csrc)
        sources += files
        defines |= {f"-D{name}={value}" for name, value in macros}
        lines.append(f'#include "{unit}.h"')
    lines.append("#include <stdio.h>\nint main(void) {\n    int lv;\n    for (lv = 0; lv < WSF_LEVEL_COUNT; lv++) {")
    for unit in UNITS:
        files, _ = setup_py.unit_kernels(unit, arch, csrc)
        lines.append(f"        if (wsf_{unit}_kernel(lv) == NULL) continue;")
        for _, level in files:
            lines.append(
                f"        if (wsf_{unit}_kernel(lv) == wsf_{unit}_{level.name})"
                f' printf("{unit} %s {level.name}\\n", wsf_level_name(lv));'
            )
    lines.append("    }\n    return 0;\n}\n")
    (tmp_path / "harness.c").write_text("\n".join(lines))
    objects = []
    for i, (source, level) in enumerate(sources):
        obj = str(tmp_path / f"{i}.o")
        subprocess.run([cc, "-O1", "-I", str(csrc), *sorted(defines), *level.cc_flags, "-c", source, "-o", obj],
                       check=True)
        objects.append(obj)
    exe = str(tmp_path / "harness")
    subprocess.run([cc, "-I", str(csrc), *sorted(defines), str(tmp_path / "harness.c"), *objects, "-o", exe],
                   check=True)
    out = subprocess.run([exe], capture_output=True, text=True, check=True, timeout=60).stdout
    return {(unit, level): kernel for unit, level, kernel in (line.split() for line in out.splitlines())}


def test_dispatch_borrows_as_the_table_says(tmp_path: Path) -> None:
    setup_py = build_script()
    got = _dispatch(setup_py, CSRC, tmp_path)
    arch = setup_py._target_arch()
    runnable = {level for _, level in got}
    assert "portable" in runnable
    assert got == {(u, lv): _expected_kernel(setup_py, CSRC, u, arch, lv) for u in UNITS for lv in runnable}
    if compiled_available():
        from wsfast import _simd

        assert runnable == set(_simd.available())


def test_a_new_level_is_a_row_and_a_kernel_file(tmp_path: Path) -> None:
    # A level every CPU runs, most preferred, with a masking kernel of its own
    # and none for UTF-8 (which borrows portable's).
    setup_py = build_script()
    csrc = tmp_path / "csrc"
    shutil.copytree(CSRC, csrc)
    header = csrc / "wsf_levels.h"
    row = 'WSF_LEVEL(extra,    ANY,   "",        "",           0,                                          portable)\n'
    header.write_text(header.read_text().replace("\n#undef WSF_LEVEL", row + "\n#undef WSF_LEVEL"))
    (csrc / "mask_extra.c").write_text(
        '#include "mask.h"\n'
        "void wsf_mask_extra(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {\n"
        "    wsf_mask_portable(dst, src, n, key);\n"
        "}\n"
    )
    assert setup_py.read_levels(csrc)[-1].name == "extra"
    work = tmp_path / "build"
    work.mkdir()
    got = _dispatch(setup_py, csrc, work)
    assert got["mask", "extra"] == "extra"
    assert got["utf8", "extra"] == "portable"
    # The levels that were there run what they ran before.
    before = _dispatch(setup_py, CSRC, tmp_path)
    assert {key: value for key, value in got.items() if key[1] != "extra"} == before
