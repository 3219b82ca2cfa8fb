#!/usr/bin/env python3
"""The installable files' sizes (what `make dist` wrote to dist/) and the time
of `import bangui_state` from the installed wheel, for BENCHMARKS.md.

- each file in dist/, in bytes (compressed, as downloaded); the wheel and
  the C SDK also unpacked (what they take on disk once installed)
- `import bangui_state` in a fresh interpreter of a venv with the wheel
  installed: the median of N runs, timed inside the process around the
  import alone (cffi, the extension, libbangui_state.so, _speedups); and the
  whole `python -c "import bangui_state"` process against `python -c pass`

usage: bench.py [--quick] [--out PATH] [--dist DIR] [--python VENV_PYTHON]
  (--quick: 3 runs, no output file; without --python a venv is made in
   target/dist-bench and the wheel installed into it)
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMED_IMPORT = ("import time; t = time.perf_counter_ns(); import bangui_state; "
                "print(time.perf_counter_ns() - t)")


def one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"bench/dist: expected one {pattern} in {directory} (make dist), found {len(found)}")
    return found[0]


def venv_with_wheel(wheel: Path) -> Path:
    venv = ROOT / "target" / "dist-bench" / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel], check=True)
    return python


def median_ns(command: list[str | Path], runs: int, *, inside: bool) -> float:
    """Median over `runs` fresh processes: the time the process prints (inside) or its wall time."""
    times = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        done = subprocess.run(command, check=True, capture_output=True, text=True, cwd="/")
        elapsed = time.perf_counter_ns() - started
        times.append(int(done.stdout) if inside else elapsed)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 runs, no output file")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--python", type=Path, help="a venv's python with the wheel installed")
    args = parser.parse_args()
    runs = 3 if args.quick else 31

    wheel = one(args.dist, "bangui_state-*.whl")
    sdk = one(args.dist, "bangui-state-c-*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        wheel_unpacked = sum(info.file_size for info in archive.infolist())
    with tarfile.open(sdk) as archive:
        sdk_unpacked = sum(member.size for member in archive.getmembers())
        static = sum(m.size for m in archive.getmembers() if m.name.endswith("/libbangui_state.a"))
    rows: list[dict[str, object]] = [
        {"name": wheel.name, "bytes": wheel.stat().st_size,
         "note": f"the Python wheel; {wheel_unpacked:,} B installed (libbangui_state.so is most of it)"},
        {"name": one(args.dist, "bangui_state-*.tar.gz").name, "bytes": one(args.dist, "bangui_state-*.tar.gz").stat().st_size,
         "note": "the Python sdist (the package, the header, the Rust crates)"},
        {"name": one(args.dist, "bangui-state-*.tgz").name, "bytes": one(args.dist, "bangui-state-*.tgz").stat().st_size,
         "note": "the npm package (three builds of the .wasm: bundler, web, node)"},
        {"name": sdk.name, "bytes": sdk.stat().st_size,
         "note": f"the C SDK; {sdk_unpacked:,} B unpacked, {static:,} B of it the static library"},
    ]

    python = args.python or venv_with_wheel(wheel)
    median_ns([python, "-c", "import bangui_state"], 1, inside=False)  # warm the page cache
    imported = median_ns([python, "-c", TIMED_IMPORT], runs, inside=True)
    process = median_ns([python, "-c", "import bangui_state"], runs, inside=False)
    bare = median_ns([python, "-c", "pass"], runs, inside=False)
    rows += [
        {"name": "import bangui_state", "median_ns": round(imported),
         "note": f"timed in a fresh interpreter around the import alone; median of {runs} processes"},
        {"name": 'python -c "import bangui_state"', "median_ns": round(process),
         "note": f"the whole process, wall time (`python -c pass`: {bare / 1e6:.1f} ms)"},
    ]
    for r in rows:
        value = f"{r['bytes']:>12,} B" if "bytes" in r else f"{float(r['median_ns']) / 1e6:>10.1f} ms"  # type: ignore[arg-type]
        print(f"{r['name']:58s} {value}")
    if args.quick or not args.out:
        return 0
    title = (f"Installable files (make dist) and import time (Python {platform.python_version()}, "
             f"the wheel installed in a venv)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"title": title, "rows": rows}, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
