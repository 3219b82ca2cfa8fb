"""The sdist builds a wheel on its own: it carries the C header (which lives in
the repository's top-level include/, outside this package's directory) and the
cffi build script. `python -m build` makes the sdist, then the wheel from it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from bangui_state import _ffi

PACKAGE = Path(__file__).resolve().parents[1]
REPO = PACKAGE.parents[1]


def test_a_wheel_builds_from_the_sdist_alone(tmp_path: Path) -> None:
    # A copy of what a fresh clone has (no egg-info from an earlier build,
    # whose file list setuptools would reuse), in the repository's layout.
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "include", checkout / "include")
    package = checkout / "bindings-c" / "python"
    shutil.copytree(PACKAGE, package,
                    ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__", ".pytest_cache"))
    env = dict(os.environ, BANGUI_STATE_LIB=_ffi.library_path())
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(tmp_path), str(package)],
                           env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    header = (REPO / "include" / "bangui_state.h").read_bytes()

    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        root = archive.getnames()[0].split("/")[0]
        names = set(archive.getnames())
        assert f"{root}/build_ffi.py" in names
        shipped = archive.extractfile(f"{root}/include/bangui_state.h")
        assert shipped is not None and shipped.read() == header

    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("bangui_state/bangui_state.h") == header
        assert any(n.startswith("bangui_state/_bangui_state_cffi") and n.endswith(".so") for n in archive.namelist())
