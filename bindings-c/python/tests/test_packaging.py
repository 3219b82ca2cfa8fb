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
    committed = (REPO / "include" / "bangui_state.h").read_text(encoding="utf-8")
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


def test_the_compiled_extension_is_used_unless_bangui_state_lib_is_set() -> None:
    """API mode (the extension compiled at install time) by default; ABI mode
    (dlopen) when BANGUI_STATE_LIB names a library."""
    import os

    assert _ffi.MODE == ("abi" if os.environ.get("BANGUI_STATE_LIB") else "api")


def test_bangui_state_lib_switches_to_abi_mode_with_the_same_interface() -> None:
    import os
    import subprocess
    import sys

    library = Path(bangui_state.__file__).resolve().parent / _ffi.LIB_NAME
    script = (
        "import bangui_state; from bangui_state import _ffi; assert _ffi.MODE == 'abi', _ffi.MODE; "
        "m = bangui_state.Machine({'session_cache_enabled': True, 'session_cache_ttl_seconds': 1}); "
        "r = m.health_probe(True, '1.1.0', 2, now=1_777_308_120_000_000); "
        "r = m.health_probe(True, '1.1.0', 2, now=1_777_308_121_000_000); "
        "assert r.steady and r.revision == 2 and r.effects[0]['event'] == 'health_check_complete', r; print('ok')"
    )
    env = dict(os.environ, BANGUI_STATE_LIB=str(library))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd="/")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
