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


def _cdef_module():
    spec = importlib.util.spec_from_file_location("_bangui_state_cdef", HERE / "src" / "bangui_state" / "_cdef.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Binding glue, no rule: the fast path's steady state as one call with scalar
# arguments and a scalar result, because cffi's per-argument conversion and
# struct field reads cost more than the probe itself (see bench/python). Any
# other outcome (a transition, an error, a revision too large to pack) is kept
# in this thread's slot and read at once with bangui_py_health_probe_last().
GLUE_CDEF = """
int64_t bangui_py_health_probe(const bangui_machine *machine, bool online, const char *version,
                               uint64_t active_jails, int64_t now);
bangui_result bangui_py_health_probe_last(bangui_probe_report *report_out, char **effects_json_out);
"""

GLUE_SOURCE = r"""
#include <stdint.h>
#include "bangui_state.h"

static _Thread_local bangui_result py_probe_code;
static _Thread_local bangui_probe_report py_probe_report;
static _Thread_local char *py_probe_effects;

/* revision * 32 + BANGUI_LOG_HEALTH_CHECK_COMPLETE for a steady probe, else -1. */
static int64_t bangui_py_health_probe(const bangui_machine *machine, bool online, const char *version,
                                      uint64_t active_jails, int64_t now) {
  bangui_probe_report report = {0, 0.0, 0};
  char *effects = NULL;
  bangui_result code = bangui_machine_health_probe(machine, online, version, active_jails, now, &report, &effects);
  if (code == BANGUI_RESULT_OK && report.logs == BANGUI_LOG_HEALTH_CHECK_COMPLETE && effects == NULL &&
      report.revision < (UINT64_C(1) << 58)) {
    return (int64_t)((report.revision << 5) | report.logs);
  }
  bangui_string_free(py_probe_effects); /* never left unread in practice */
  py_probe_code = code;
  py_probe_report = report;
  py_probe_effects = effects;
  return -1;
}

/* The outcome kept by the last bangui_py_health_probe() that returned -1 on
   this thread: its result code; on success, the report and the effects JSON
   (NULL in the steady state), which the caller now owns. */
static bangui_result bangui_py_health_probe_last(bangui_probe_report *report_out, char **effects_json_out) {
  *report_out = py_probe_report;
  *effects_json_out = py_probe_effects;
  py_probe_effects = NULL;
  return py_probe_code;
}
"""


def make_builder(link_dir: Path, header: Path) -> FFI:
    """An FFI builder declared from `header` (bangui_state.h, found by
    setup.py) and linking against `link_dir/libbangui_state.so`."""
    builder = FFI()
    builder.cdef(_cdef_module().cdef_from_header(header.read_text(encoding="utf-8")))
    builder.cdef(GLUE_CDEF)
    builder.set_source(
        "bangui_state._bangui_state_cffi",
        GLUE_SOURCE,
        include_dirs=[str(header.parent)],
        library_dirs=[str(link_dir)],
        libraries=["bangui_state"],
        extra_compile_args=["-O2"],
        extra_link_args=["-Wl,-rpath,$ORIGIN"],
    )
    return builder
