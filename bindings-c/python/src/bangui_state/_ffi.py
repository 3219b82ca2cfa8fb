"""Loads libbangui_state with cffi (ABI mode), declared from the committed header.

The declarations are the header's own: `bangui_state.h` is read, its
preprocessor lines are dropped (cffi's cdef takes plain C declarations and
integer #defines), and the rest goes to `ffi.cdef` unchanged.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI  # type: ignore[import-untyped]

_HERE = Path(__file__).resolve().parent
LIB_NAME = "libbangui_state.so"
_DEFINE = re.compile(r"#\s*define\s+(\w+)\s+(-?\d+|0[xX][0-9a-fA-F]+)\s*$")


def header_path() -> Path:
    """The header: the package's copy, else the source tree's (an uninstalled checkout)."""
    for candidate in (_HERE / "bangui_state.h", _HERE.parents[2] / "include" / "bangui_state.h"):
        if candidate.exists():
            return candidate
    raise ImportError("bangui_state: bangui_state.h not found in the package or the source tree")


def library_path() -> str:
    """`BANGUI_STATE_LIB` if set, else the library shipped in the package."""
    explicit = os.environ.get("BANGUI_STATE_LIB")
    if explicit:
        return explicit
    shipped = _HERE / LIB_NAME
    if shipped.exists():
        return str(shipped)
    raise ImportError(
        f"bangui_state: {LIB_NAME} is not in the package; build it with "
        "`cargo build --release -p bangui-state-c` and set BANGUI_STATE_LIB to its path"
    )


def cdef_from_header(text: str) -> str:
    """The header's declarations for `FFI.cdef`: preprocessor lines dropped,
    except integer `#define`s, and the `__cplusplus` blocks skipped."""
    out: list[str] = []
    in_cplusplus = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if re.match(r"#\s*ifdef\s+__cplusplus\b", stripped):
                in_cplusplus = True
            elif in_cplusplus and re.match(r"#\s*endif\b", stripped):
                in_cplusplus = False
            else:
                define = _DEFINE.match(stripped)
                if define:
                    out.append(f"#define {define[1]} {define[2]}")
            continue
        if not in_cplusplus:
            out.append(line)
    return "\n".join(out)


ffi = FFI()
ffi.cdef(cdef_from_header(header_path().read_text(encoding="utf-8")))
lib = ffi.dlopen(library_path())
