"""cffi API-mode build of `bangui_state._bangui_state_cffi` (used by setup.py).

The declarations are the committed header's (`src/bangui_state/_cdef.py`
turns it into a cdef); the extension includes that header and links against
`libbangui_state.so` found by setup.py, with an `$ORIGIN` rpath so it loads
the copy shipped beside it in the package.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
INCLUDE = HERE.parent / "include"


def _cdef_module():
    spec = importlib.util.spec_from_file_location("_bangui_state_cdef", HERE / "src" / "bangui_state" / "_cdef.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_builder(link_dir: Path) -> FFI:
    """An FFI builder linking against `link_dir/libbangui_state.so`."""
    builder = FFI()
    builder.cdef(_cdef_module().cdef_from_header((INCLUDE / "bangui_state.h").read_text(encoding="utf-8")))
    builder.set_source(
        "bangui_state._bangui_state_cffi",
        '#include "bangui_state.h"',
        include_dirs=[str(INCLUDE)],
        library_dirs=[str(link_dir)],
        libraries=["bangui_state"],
        extra_compile_args=["-O2"],
        extra_link_args=["-Wl,-rpath,$ORIGIN"],
    )
    return builder
