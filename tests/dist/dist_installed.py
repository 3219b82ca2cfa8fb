"""pytest plugin for make test-dist (`-p dist_installed`): the suite is about to
test the wheel installed in this venv, with no Rust toolchain or C compiler
reachable; otherwise the session stops before the first test."""
from __future__ import annotations

import os
import shutil
import sys
from importlib import metadata
from pathlib import Path

import pytest

TOOLCHAIN = ("cargo", "rustc", "rustup", "cc", "gcc", "c++", "g++", "clang", "ld")


def pytest_configure(config: pytest.Config) -> None:
    import bangui_state
    from bangui_state import _ffi

    installed = Path(bangui_state.__file__).resolve()
    problems = []
    if not installed.is_relative_to(Path(sys.prefix).resolve()) or sys.prefix == sys.base_prefix:
        problems.append(f"bangui_state comes from {installed}, not from this venv ({sys.prefix})")
    if _ffi.MODE != "api":
        problems.append(f"the compiled extension is not in use (mode {_ffi.MODE!r})")
    on_path = {tool: shutil.which(tool) for tool in TOOLCHAIN if shutil.which(tool) is not None}
    if on_path:
        problems.append(f"a toolchain is reachable on PATH: {on_path}")
    wheel = os.environ.get("BANGUI_DIST_WHEEL", "")
    version = metadata.version("bangui_state")
    if version not in Path(wheel).name:
        problems.append(f"the installed distribution is version {version}, not that of {wheel!r}")
    if problems:
        raise pytest.UsageError("test-dist: " + "; ".join(problems))
    print(pytest_report_header(config), flush=True)  # -q leaves the header out


def pytest_report_header(config: pytest.Config) -> str:
    import bangui_state

    return (f"test-dist: bangui_state {metadata.version('bangui_state')} installed from "
            f"{Path(os.environ.get('BANGUI_DIST_WHEEL', '?')).name} at {Path(bangui_state.__file__).parent}; "
            f"none of {', '.join(TOOLCHAIN)} on PATH")
