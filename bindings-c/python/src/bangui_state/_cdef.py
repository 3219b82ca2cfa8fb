"""The C declarations for cffi, taken from the committed header.

Side-effect free (no library is loaded): `setup.py`'s build step (API mode,
`build_ffi.py`) and the run-time ABI-mode fallback (`_ffi.py`) both use it,
so the declarations exist once, in `bangui_state.h`.
"""
from __future__ import annotations

import re
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_DEFINE = re.compile(r"#\s*define\s+(\w+)\s+(-?\d+|0[xX][0-9a-fA-F]+)\s*$")


def header_path() -> Path:
    """The header: the package's copy, else the source tree's (an uninstalled checkout)."""
    for candidate in (_HERE / "bangui_state.h", _HERE.parents[3] / "include" / "bangui_state.h"):
        if candidate.exists():
            return candidate
    raise ImportError("bangui_state: bangui_state.h not found in the package or the source tree")


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
