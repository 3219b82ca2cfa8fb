#!/usr/bin/env python3
"""Instruction counts per call (repeatable, unlike wall time on a shared
machine): each piece of the Python fast path and step, run under
`valgrind --tool=callgrind` N times and 0 times; the difference / N.

usage: bench/python/callgrind.py [N] [PIECE ...]     (needs valgrind; the installed package)
"""
from __future__ import annotations

import os
import re
import subprocess
import sys


PIECES = {
    "noop": "lambda: None",
    "cffi_call_no_args": "lambda: lib.bangui_version()",
    "raw_probe_7_args": "lambda: lib.bangui_machine_health_probe(h, True, b'1.1.0', 2, MICROS, r, e)",
    "glue_probe_5_args": "lambda: lib.bangui_py_health_probe(h, True, b'1.1.0', 2, MICROS)",
    "now_datetime_to_micros": "lambda: cv.micros(NOW)",
    "read_2_report_fields": "lambda: (r.logs, r.revision)",
    "probe_report_object": "lambda: PR((16, None, 5, None, True, '1.1.0', 2))",
    "health_probe_int_now": "lambda: m.health_probe(True, '1.1.0', 2, MICROS)",
    "health_probe_datetime": "lambda: m.health_probe(True, '1.1.0', 2, NOW)",
    "datetime_to_micros": "lambda: mm.to_unix_micros(NOW)",
    "json_encode_event": "lambda: cv.dumps(EVENT, 'event')",
    "json_decode_effects": "lambda: mm._loads(EFFECTS)",
    "step_json_bytes_in_str_out": "lambda: m._step(EVENT_JSON, MICROS)",
    "step": "lambda: m.step(EVENT, NOW)",
    "step_int_now": "lambda: m.step(EVENT, MICROS)",
    "step_new_dict": "lambda: m.step({'type': 'health_probe_completed', "
                     "'status': {'online': True, 'version': '1.1.0', 'active_jails': 2}}, NOW)",
    "step_other_event": "lambda: m.step(OTHER, NOW)",
    "steady_effects_copy": "lambda: mm._steady_copy(STEADY)",
    "baseline_plain_python": "lambda: B.baseline_probe(st, True, '1.1.0', 2, NOW)",
}

SETUP = """
import sys

import bangui_state
from bangui_state import _convert as cv
from bangui_state import machine as mm
from bangui_state._ffi import ffi, lib
sys.path.insert(0, {here!r})
import bench as B
m = bangui_state.Machine(B.BOOTSTRAP)
m.health_probe(True, '1.1.0', 2, now=B.T0)
h = m._handle
r, e = ffi.new('bangui_probe_report *'), ffi.new('char **')
NOW, MICROS, EVENT, PR = B.T0, B.T0_MICROS, B.PROBE, mm.ProbeReport
EVENT_JSON = cv.dumps(EVENT, 'event')
OTHER = {{"type": "setup_completion_cached", "complete": True}}
EFFECTS = m.step_json(EVENT_JSON, NOW)
STEADY = mm._probe_entry(True, '1.1.0', 2)
st = B.RuntimeState()
B.baseline_probe(st, True, '1.1.0', 2, NOW)
f = {stmt}
for _ in range({n}):
    f()
"""


def instructions(stmt: str, n: int) -> int:
    code = SETUP.format(here=os.path.dirname(os.path.abspath(__file__)), stmt=stmt, n=n)
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code],
        capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"), cwd="/", check=True)
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main() -> int:
    args = sys.argv[1:]
    n = int(args.pop(0)) if args and args[0].isdigit() else 3000
    for name in args or list(PIECES):
        stmt = PIECES[name]
        per_call = (instructions(stmt, n) - instructions(stmt, 0)) / n
        print(f"{name:30s} {per_call:9.0f} instructions/call (incl. ~850 of loop + lambda)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
