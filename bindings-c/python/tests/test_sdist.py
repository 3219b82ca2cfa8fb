"""The sdist builds a wheel on its own: it carries the C header (which lives in
the repository's top-level include/, outside this package's directory), the
cffi build script, and the Rust crates of the library as rust/ (a workspace of
core and bindings-c), which setup.py builds with cargo when no library is
given. `python -m build` makes the sdist, then the wheel from it (here with
BANGUI_STATE_LIB, so without cargo; make test-dist builds one with cargo)."""
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
    for name in ("Cargo.toml", "Cargo.lock"):
        shutil.copyfile(REPO / name, checkout / name)
    for crate in ("core", "bindings-c"):
        shutil.copytree(REPO / crate, checkout / crate, ignore=shutil.ignore_patterns("python", "target"))
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
        assert {f"{root}/rust/Cargo.lock", f"{root}/rust/core/src/lib.rs", f"{root}/rust/bindings-c/src/lib.rs"} <= names
        manifest = archive.extractfile(f"{root}/rust/Cargo.toml")
        assert manifest is not None and b'members = ["core", "bindings-c"]' in manifest.read()

    (wheel,) = tmp_path.glob("*.whl")
    assert "-cp311-abi3-" in wheel.name  # both extensions use only the limited API
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("bangui_state/bangui_state.h") == header
        assert {"bangui_state/_bangui_state_cffi.abi3.so", "bangui_state/_speedups.abi3.so"} <= set(archive.namelist())
