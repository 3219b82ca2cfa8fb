"""The package declares its C functions from the committed header, ships a
py.typed marker, and finds the library as documented."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import bangui_state
from bangui_state import _ffi

REPO = Path(__file__).resolve().parents[3]


def test_the_declarations_come_from_the_committed_header() -> None:
    shipped = _ffi.header_path().read_text(encoding="utf-8")
    committed = (REPO / "bindings-c" / "include" / "bangui_state.h").read_text(encoding="utf-8")
    assert shipped == committed
    cdef = _ffi.cdef_from_header(committed)
    assert "bangui_machine_health_probe" in cdef and "#include" not in cdef and 'extern "C"' not in cdef


def test_the_package_is_typed() -> None:
    assert resources.files("bangui_state").joinpath("py.typed").is_file()


def test_every_result_code_has_its_error_class() -> None:
    codes = {name: getattr(_ffi.lib, name) for name in dir(_ffi.lib) if name.startswith("BANGUI_RESULT_")}
    classes = {cls.code for cls in vars(bangui_state).values()
               if isinstance(cls, type) and issubclass(cls, bangui_state.Error) and cls is not bangui_state.Error}
    assert set(codes.values()) - {codes["BANGUI_RESULT_OK"]} == classes
