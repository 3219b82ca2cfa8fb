"""The C library behind the package: one `ffi` / `lib` pair, in one of two modes.

- API mode (the default): `bangui_state._bangui_state_cffi`, a CPython
  extension compiled by cffi at `pip install` time from the committed header
  (`build_ffi.py`) and linked against the `libbangui_state.so` shipped in the
  package (found through an `$ORIGIN` rpath). Calls are plain C calls.
- ABI mode: when `BANGUI_STATE_LIB` is set at run time, that library is
  loaded with `ffi.dlopen`, declared from the same header; also the fallback
  when the package was built without the extension.

Both expose the same `ffi` and `lib` interface; `MODE` says which one is in use.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from cffi import FFI  # type: ignore[import-untyped]

from ._cdef import _HERE, cdef_from_header, header_path

LIB_NAME = "libbangui_state.so"

__all__ = ["LIB_NAME", "MODE", "cdef_from_header", "ffi", "header_path", "lib", "library_path"]


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


def _abi_mode(path: str) -> tuple[Any, Any]:
    abi_ffi = FFI()
    abi_ffi.cdef(cdef_from_header(header_path().read_text(encoding="utf-8")))
    return abi_ffi, abi_ffi.dlopen(path)


def _load() -> tuple[Any, Any, str]:
    if not os.environ.get("BANGUI_STATE_LIB"):
        try:
            compiled = importlib.import_module(f"{__package__}._bangui_state_cffi")
        except ImportError:
            pass  # built without the extension: ABI mode on the shipped library
        else:
            return compiled.ffi, compiled.lib, "api"
    abi_ffi, abi_lib = _abi_mode(library_path())
    return abi_ffi, abi_lib, "abi"


ffi, lib, MODE = _load()
