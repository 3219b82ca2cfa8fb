"""What `make dist` wrote (run by tests/dist/run.py, step `artifacts`):
the expected files, one version everywhere (the workspace's Cargo.toml),
SHA256SUMS, a manylinux abi3 wheel whose native code auditwheel and abi3audit
accept, an sdist that carries the Rust sources (and no prebuilt library), and
a C SDK whose pkg-config file holds no absolute path.

BANGUI_DIST (default dist/) and BANGUI_DIST_TOOLS (default target/dist-tools,
the venv with auditwheel and abi3audit) say where to look."""
from __future__ import annotations

import email.parser
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
from versions import changelog_version, declared_versions, mismatches, workspace_version  # noqa: E402

DIST = Path(os.environ.get("BANGUI_DIST") or ROOT / "dist")
TOOLS = Path(os.environ.get("BANGUI_DIST_TOOLS") or ROOT / "target" / "dist-tools") / "bin"
VERSION = workspace_version()
WHEEL_NAME = re.compile(rf"bangui_state-{re.escape(VERSION)}-cp311-abi3-manylinux_(\d+)_(\d+)_x86_64\.whl")


def one(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    assert len(found) == 1, f"{pattern} in {DIST}: {[p.name for p in found]}"
    return found[0]


@pytest.fixture(scope="module")
def wheel() -> Path:
    return one("bangui_state-*.whl")


@pytest.fixture(scope="module")
def sdk() -> tarfile.TarFile:
    return tarfile.open(one("bangui-state-c-*.tar.gz"))


def test_dist_holds_the_five_files_of_this_version() -> None:
    names = sorted(p.name for p in DIST.iterdir())
    assert len(names) == 5, names
    assert "SHA256SUMS" in names
    assert f"bangui_state-{VERSION}.tar.gz" in names
    assert f"bangui-state-{VERSION}.tgz" in names
    assert f"bangui-state-c-{VERSION}-linux-x86_64.tar.gz" in names
    assert any(WHEEL_NAME.fullmatch(n) for n in names), names


def test_sha256sums_lists_every_other_file_with_its_hash() -> None:
    listed = {}
    for line in (DIST / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {p.name for p in DIST.iterdir()} - {"SHA256SUMS"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((DIST / name).read_bytes()).hexdigest() == digest, name
    done = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=DIST, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# --- one version ------------------------------------------------------------------------------------


def test_the_tree_says_the_workspace_version_everywhere() -> None:
    assert mismatches() == [], declared_versions()
    assert changelog_version() == VERSION


def test_the_files_say_the_workspace_version(wheel: Path, sdk: tarfile.TarFile) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.parser.Parser().parsestr(archive.read(f"bangui_state-{VERSION}.dist-info/METADATA").decode())
        init = archive.read("bangui_state/__init__.py").decode()
    assert metadata["Version"] == VERSION
    assert f'__version__ = "{VERSION}"' in init
    with tarfile.open(one("bangui_state-*.tar.gz")) as sdist:
        pkg_info = sdist.extractfile(f"bangui_state-{VERSION}/PKG-INFO")
        assert pkg_info is not None
        assert email.parser.Parser().parsestr(pkg_info.read().decode())["Version"] == VERSION
        cargo = sdist.extractfile(f"bangui_state-{VERSION}/rust/Cargo.toml")
        assert cargo is not None
        assert tomllib.loads(cargo.read().decode())["workspace"]["package"]["version"] == VERSION
    with tarfile.open(one("bangui-state-*.tgz")) as npm:
        manifest = npm.extractfile("package/package.json")
        assert manifest is not None
        assert json.load(manifest)["version"] == VERSION
    pc = sdk.extractfile(f"bangui-state-c-{VERSION}-linux-x86_64/lib/pkgconfig/bangui_state.pc")
    assert pc is not None
    assert re.search(rf"(?m)^Version: {re.escape(VERSION)}$", pc.read().decode())


# --- the wheel --------------------------------------------------------------------------------------


def test_the_wheel_is_one_manylinux_abi3_wheel_for_cpython_3_11_on(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = email.parser.Parser().parsestr(archive.read(f"bangui_state-{VERSION}.dist-info/WHEEL").decode())
        metadata = email.parser.Parser().parsestr(archive.read(f"bangui_state-{VERSION}.dist-info/METADATA").decode())
        names = archive.namelist()
    match = WHEEL_NAME.fullmatch(wheel.name)
    assert match, wheel.name
    assert info.get_all("Tag") == [f"cp311-abi3-manylinux_{match[1]}_{match[2]}_x86_64"]
    assert info["Root-Is-Purelib"] == "false"
    assert metadata["Requires-Python"] == ">=3.11"  # the cp311 of the tag
    for name in ("libbangui_state.so", "_bangui_state_cffi.abi3.so", "_speedups.abi3.so", "bangui_state.h",
                 "py.typed", "shared/__init__.py"):
        assert f"bangui_state/{name}" in names, name
    assert not any(".cpython-" in n for n in names), "a version-specific extension in an abi3 wheel"
    assert not any(n.startswith("bangui_state.libs/") for n in names), "auditwheel had to graft a library"


def test_the_extras_the_readme_names_are_declared(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.parser.Parser().parsestr(archive.read(f"bangui_state-{VERSION}.dist-info/METADATA").decode())
    requires = metadata.get_all("Requires-Dist")
    for extra, packages in {"redis": ["redis"], "structlog": ["structlog"], "fastapi": ["fastapi", "uvicorn"],
                            "runtime-state": ["starlette", "structlog"],
                            "test": ["pytest", "hypothesis", "pydantic", "fastapi", "mypy", "redis"]}.items():
        assert extra in metadata.get_all("Provides-Extra"), extra
        marker = extra.replace("-", "_")  # the metadata's normalised name
        for package in packages:
            assert any(re.match(rf"{package}\b", r) and (f'extra == "{extra}"' in r or f'extra == "{marker}"' in r)
                       for r in requires), (extra, package, requires)


def test_auditwheel_finds_the_wheel_consistent_with_its_manylinux_tag(wheel: Path) -> None:
    done = subprocess.run([TOOLS / "auditwheel", "show", wheel], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    tag = WHEEL_NAME.fullmatch(wheel.name)
    assert tag
    text = " ".join(done.stdout.split())
    assert f'consistent with the following platform tag: "manylinux_{tag[1]}_{tag[2]}_x86_64"' in text, text
    # Only the C library and the system libraries every manylinux system has.
    assert "system-provided shared libraries: libc.so.6" in text, text


def test_abi3audit_finds_only_limited_api_calls(wheel: Path) -> None:
    done = subprocess.run([TOOLS / "abi3audit", "--strict", "--report", wheel], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (spec,) = json.loads(done.stdout)["specs"].values()
    scanned = {extension["name"]: extension["result"] for extension in spec["wheel"]}
    assert {"_bangui_state_cffi.abi3.so", "_speedups.abi3.so"} <= set(scanned), scanned
    for name, result in scanned.items():
        assert result["is_abi3"] and result["is_abi3_baseline_compatible"], (name, result)
        assert not result["non_abi3_symbols"] and result["baseline"] == "3.11", (name, result)


def test_the_wheel_and_the_sdk_ship_the_same_library(wheel: Path, sdk: tarfile.TarFile) -> None:
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = archive.read("bangui_state/libbangui_state.so")
    in_sdk = sdk.extractfile(f"bangui-state-c-{VERSION}-linux-x86_64/lib/libbangui_state.so")
    assert in_sdk is not None
    assert in_sdk.read() == in_wheel


# --- the sdist --------------------------------------------------------------------------------------


def test_the_sdist_carries_the_header_and_the_rust_sources_and_no_library() -> None:
    root = f"bangui_state-{VERSION}"
    with tarfile.open(one("bangui_state-*.tar.gz")) as sdist:
        names = set(sdist.getnames())
        header = sdist.extractfile(f"{root}/include/bangui_state.h")
        assert header is not None
        assert header.read() == (ROOT / "include" / "bangui_state.h").read_bytes()
        cargo = sdist.extractfile(f"{root}/rust/Cargo.toml")
        assert cargo is not None
        assert tomllib.loads(cargo.read().decode())["workspace"]["members"] == ["core", "bindings-c"]
    for name in ("setup.py", "build_ffi.py", "pyproject.toml", "src/bangui_state/_speedups.c", "rust/Cargo.lock",
                 "rust/core/src/lib.rs", "rust/bindings-c/src/lib.rs", "rust/bindings-c/Cargo.toml"):
        assert f"{root}/{name}" in names, name
    assert not [n for n in names if n.endswith((".so", ".a", ".whl")) or "/target/" in n]


# --- the C SDK --------------------------------------------------------------------------------------


def test_the_c_sdk_holds_the_header_both_libraries_the_pc_file_readme_and_example(sdk: tarfile.TarFile) -> None:
    top = f"bangui-state-c-{VERSION}-linux-x86_64"
    files = {m.name.removeprefix(top + "/"): m for m in sdk.getmembers() if m.isfile()}
    assert sorted(files) == ["README.md", "example/host.c", "include/bangui_state.h", "lib/libbangui_state.a",
                             "lib/libbangui_state.so", "lib/pkgconfig/bangui_state.pc"]
    assert all(m.name.startswith(top) for m in sdk.getmembers())
    assert files["lib/libbangui_state.so"].mode == 0o755
    assert all(m.uid == 0 and m.gid == 0 and not m.uname for m in sdk.getmembers())
    header = sdk.extractfile(files["include/bangui_state.h"])
    assert header is not None and header.read() == (ROOT / "include" / "bangui_state.h").read_bytes()


def test_the_pc_file_finds_its_prefix_from_where_it_lies(sdk: tarfile.TarFile) -> None:
    pc = sdk.extractfile(f"bangui-state-c-{VERSION}-linux-x86_64/lib/pkgconfig/bangui_state.pc")
    assert pc is not None
    text = pc.read().decode()
    assert text.startswith("prefix=${pcfiledir}/../..\n")
    assert not re.search(r"(?m)^[^#]*=\s*/|\s-[IL]/|rpath,/", text), text  # no absolute path anywhere


def test_the_sdk_readme_example_is_the_shipped_example_and_nothing_is_left_to_fill_in(sdk: tarfile.TarFile) -> None:
    top = f"bangui-state-c-{VERSION}-linux-x86_64"
    readme = sdk.extractfile(f"{top}/README.md")
    example = sdk.extractfile(f"{top}/example/host.c")
    assert readme is not None and example is not None
    text = readme.read().decode()
    assert re.findall(r"(?ms)^```c\n(.*?)^```$", text) == [example.read().decode()]
    assert "@" not in re.sub(r"[\w.-]+@[\w.-]+", "", text), "a placeholder left in the README"
    assert f"bangui-state-c-{VERSION}-linux-x86_64" in text
    assert re.search(r"glibc ≥ 2\.\d+", text)


def test_the_static_library_carries_no_llvm_bitcode(sdk: tarfile.TarFile, tmp_path: Path) -> None:
    member = sdk.extractfile(f"bangui-state-c-{VERSION}-linux-x86_64/lib/libbangui_state.a")
    assert member is not None
    archive = tmp_path / "libbangui_state.a"
    archive.write_bytes(member.read())
    sections = subprocess.run(["objdump", "-h", archive], capture_output=True, text=True, check=True).stdout
    assert ".llvmbc" not in sections and ".debug_info" not in sections


# --- the README -------------------------------------------------------------------------------------


def test_the_readme_install_section_names_the_files_of_this_version(wheel: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    assert f'pip install "dist/{wheel.name}[redis]"' in section
    for name in (f"bangui_state-{VERSION}.tar.gz", f"bangui-state-{VERSION}.tgz",
                 f"bangui-state-c-{VERSION}-linux-x86_64.tar.gz"):
        assert f"dist/{name}" in section, name
    assert "not published" in section.lower() or "nothing is published" in section.lower()
