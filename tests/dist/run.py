#!/usr/bin/env python3
"""make test-dist: the files `make dist` wrote, installed the way each
ecosystem installs them, and tested as installed.

1. artifacts   tests/dist/test_artifacts.py: what dist/ holds (names, one
               version everywhere, SHA256SUMS, the wheel's tags checked by
               auditwheel and abi3audit, the sdist's and the SDK's contents)
2. sdist       the sdist builds a wheel with cargo alone (no prebuilt
               library), which imports and steps in a fresh venv
3. python      no toolchain: PATH is a directory of symlinks to every program
               on PATH but cargo, rustc and the rest of the Rust toolchain, C
               compilers, assemblers and linkers (the pytest plugin
               tests/dist/dist_installed.py asserts they are absent); the
               wheel with its `redis`, `runtime-state` and `test` extras (the
               last: what the suite imports) goes into a fresh venv, and the
               package's whole pytest suite (the shared stores on a private
               redis-server included; not test_sdist.py, a build from source)
               runs from a scratch directory against it
4. readme      same PATH: each Python example of the README and of the
               package's README runs in a fresh venv holding only what the
               `pip install` line before it names (the wheel's extras), that
               line run as written; the FastAPI apps served by uvicorn as the
               README starts them, and called as its curl lines do
               (tests/dist/readme_examples.py; a venv per distinct line)
5. abi3        the same wheel, no toolchain, on every other CPython >= 3.11
               found (python3.N on PATH, pyenv's versions): installs, and
               tests/dist/smoke.py passes (CI's machine has one CPython)
6. npm         same PATH: tests/dist/npm.test.mjs installs dist/'s tarball into
               an empty project and runs the vectors and the shipped README's
               examples through it. The tarball must be byte for byte
               target/wasm's, which make test-wasm tests in full
               (package.test.mjs needs cargo for the CLI's expected outputs;
               hostile.test.mjs, a minute of a million rejected calls per
               class, would run again on the same bytes for nothing)
7. c-sdk       the SDK unpacked into a scratch prefix; the example built with
               pkg-config alone (shared, then static) and run; a C compiler is
               the one tool this step adds

Scratch files go to <target>/dist-test/ (kept for a look after a failure).

usage: run.py [--dist DIR] [--target-dir DIR] [--tools DIR] [--only STEP ...]
"""
from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "packaging"))
from versions import workspace_version  # noqa: E402

# The no-toolchain steps' PATH: a directory of symlinks to every program on
# PATH except the Rust toolchain (any directory holding cargo or rustc is
# left out whole) and C/C++ compilers, preprocessors, assemblers and linkers.
NOT_LINKED = re.compile(r"(?:[\w.]+-)?(?:cc|c89|c99|gcc|g\+\+|c\+\+|cpp|clang|clang\+\+|tcc|icc|icx|ld|ld\.\w+|gold"
                        r"|as|ccache|distcc|cargo|cargo-\w+|rustc|rustup|rustdoc|rust-\w+)(?:-[\d.]+)?")
MUST_BE_ABSENT = ("cargo", "rustc", "rustup", "cc", "gcc", "c++", "g++", "clang", "ld")


def log(message: str) -> None:
    print(f"\n=== test-dist: {message}", flush=True)


def run(cmd: list[str | Path], **kwargs: object) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # type: ignore[call-overload]


def one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"test-dist: expected one {pattern} in {directory}, found {[p.name for p in found]}")
    return found[0]


def fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def no_toolchain_env(work: Path, venv: Path | None = None) -> dict[str, str]:
    """The environment of the no-toolchain steps: PATH is the venv's bin (if
    any) and a directory of symlinks to every program on PATH but a toolchain."""
    bin_dir = fresh(work / "bin")
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        here = Path(directory)
        if not here.is_dir() or (here / "cargo").exists() or (here / "rustc").exists():
            continue
        for program in sorted(here.iterdir()):
            link = bin_dir / program.name
            if (NOT_LINKED.fullmatch(program.name) or link.exists() or link.is_symlink()
                    or not program.is_file() or not os.access(program, os.X_OK)):
                continue
            link.symlink_to(program)
    path = [str(bin_dir)] if venv is None else [str(venv / "bin"), str(bin_dir)]
    env = {k: v for k, v in os.environ.items()
           if k not in ("BANGUI_STATE_LIB", "PYTHONPATH", "VIRTUAL_ENV", "CARGO_HOME", "RUSTUP_HOME", "CC", "CXX")}
    env["PATH"] = os.pathsep.join(path)
    for tool in MUST_BE_ABSENT:
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is on the no-toolchain PATH"
    for tool in ("node", "npm", "redis-server"):
        if shutil.which(tool, path=env["PATH"]) is None:
            raise SystemExit(f"test-dist: {tool} is not installed (make setup-shared, make wasm-setup)")
    return env


def step_artifacts(dist: Path, work: Path, tools: Path) -> None:
    env = dict(os.environ, BANGUI_DIST=str(dist), BANGUI_DIST_TOOLS=str(tools))
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", HERE / "test_artifacts.py"], env=env, cwd=work)


def step_sdist(dist: Path, work: Path, target: Path) -> None:
    """pip builds the sdist with cargo (its own target dir, kept between runs), then a venv imports it."""
    sdist = one(dist, "bangui_state-*.tar.gz")
    wheels = fresh(work / "sdist-wheel")
    env = {k: v for k, v in os.environ.items() if k != "BANGUI_STATE_LIB"}
    env["CARGO_TARGET_DIR"] = str(target / "dist-sdist-cargo")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--wheel-dir", wheels, sdist], env=env, cwd=work)
    wheel = one(wheels, "bangui_state-*-cp311-abi3-*.whl")
    venv = work / "sdist-venv"
    run([sys.executable, "-m", "venv", "--clear", venv])
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel], env=env)
    run([venv / "bin" / "python", HERE / "smoke.py"], env=env, cwd=work)


def other_cpythons() -> list[Path]:
    """Every CPython >= 3.11 on this machine other than the one running this
    script: python3.N on PATH, and pyenv's versions (CI has only one)."""
    candidates = [Path(p) for minor in range(11, 20) if (p := shutil.which(f"python3.{minor}"))]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates += sorted(pyenv.glob("3.*/bin/python3"))
    found: dict[str, Path] = {}
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in candidates:
        done = subprocess.run([candidate, "-c", "import sys, venv, ensurepip; "
                               "print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            continue  # a pyenv shim for a version not selected, or no venv module
        implementation, version = done.stdout.split()
        if implementation == "cpython" and version != mine and tuple(map(int, version.split("."))) >= (3, 11):
            found.setdefault(version, candidate)
    return [found[v] for v in sorted(found, key=lambda v: tuple(map(int, v.split("."))))]


def step_abi3(dist: Path, work: Path) -> None:
    """The one abi3 wheel on every other CPython found, with no toolchain: installs and passes smoke.py."""
    wheel = one(dist, "bangui_state-*-manylinux_*.whl")
    interpreters = other_cpythons()
    if not interpreters:
        print("no CPython >= 3.11 but this one on the machine: the abi3 wheel was tested on "
              f"{sys.version_info.major}.{sys.version_info.minor} alone (abi3audit checked its symbols)")
    for interpreter in interpreters:
        venv = work / f"abi3-venv-{interpreter.parent.parent.name}"
        run([interpreter, "-m", "venv", "--clear", venv])
        env = no_toolchain_env(work, venv)
        run(["python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
             wheel], env=env, cwd=work)
        run(["python", HERE / "smoke.py"], env=env, cwd=work)


def step_python(dist: Path, work: Path) -> None:
    wheel = one(dist, "bangui_state-*-manylinux_*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--clear", venv])  # before PATH loses everything but the allowed
    env = no_toolchain_env(work, venv)
    run(["python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         f"{wheel}[redis,runtime-state,test]"], env=env, cwd=work)
    scratch = fresh(work / "pytest")  # the current directory: no src/ to import from
    env["PYTHONPATH"] = str(HERE)  # the plugin dist_installed, and nothing named bangui_state
    env["BANGUI_DIST_WHEEL"] = str(wheel)
    tests = ROOT / "bindings-c" / "python" / "tests"
    run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "dist_installed",
         f"--ignore={tests / 'test_sdist.py'}", tests, ROOT / "examples" / "python"], env=env, cwd=scratch)


def step_readme(dist: Path, work: Path) -> None:
    import readme_examples

    readme_examples.main(dist, work, no_toolchain_env)


def step_npm(dist: Path, work: Path, target: Path) -> None:
    tarball = one(dist, "bangui-state-*.tgz")
    env = no_toolchain_env(work)
    env["BANGUI_DIST_NPM"] = str(tarball)
    env["BANGUI_DIST_WORK"] = str(work)
    # make test-wasm's tests (tests/wasm/) install target/wasm's tarball: the same bytes, or dist/ is stale.
    packed = target / "wasm" / tarball.name
    if not packed.exists() or not filecmp.cmp(packed, tarball, shallow=False):
        raise SystemExit(f"test-dist: {tarball} differs from {packed}, packed since (make dist again)")
    run(["node", "--test", HERE / "npm.test.mjs"], env=env, cwd=work)


def step_c_sdk(dist: Path, work: Path) -> None:
    version = workspace_version()
    sdk = one(dist, "bangui-state-c-*.tar.gz")
    prefix_parent = fresh(work / "c-sdk")
    with tarfile.open(sdk) as archive:
        archive.extractall(prefix_parent, filter="data")
    prefix = one(prefix_parent, "bangui-state-c-*")
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PKG_CONFIG_PATH", "CPATH",
                                                              "LIBRARY_PATH", "C_INCLUDE_PATH")}
    env["PKG_CONFIG_PATH"] = str(prefix / "lib" / "pkgconfig")

    def sh(command: str) -> str:
        print("+", command, flush=True)
        return subprocess.run(["bash", "-euo", "pipefail", "-c", command], env=env, cwd=prefix, check=True,
                              capture_output=True, text=True).stdout.strip()

    assert sh("pkg-config --modversion bangui_state") == version
    expected = f"libbangui_state {version}: []"
    # As the SDK's README says: pkg-config alone; the rpath in Libs finds the library.
    sh("cc -std=c11 -Wall -Wextra -Werror example/host.c -o host $(pkg-config --cflags --libs bangui_state)")
    assert sh("./host") == expected
    assert f"{prefix}/lib/pkgconfig/../../lib/libbangui_state.so" in sh("ldd ./host")
    sh('cc -std=c11 -Wall -Wextra -Werror example/host.c -o host-static $(pkg-config --cflags bangui_state) '
       '"$(pkg-config --variable=libdir bangui_state)/libbangui_state.a" -lpthread -ldl -lm')
    assert "bangui_state" not in sh("ldd ./host-static")
    assert sh("./host-static") == expected
    # A .pc file copied elsewhere, its prefix given on the command line.
    moved = fresh(work / "c-sdk-pc")
    shutil.copy(prefix / "lib" / "pkgconfig" / "bangui_state.pc", moved)
    env["PKG_CONFIG_PATH"] = str(moved)
    assert sh(f"pkg-config --define-variable=prefix={prefix} --cflags bangui_state") == f"-I{prefix}/include"
    print(f"the C SDK's example, shared and static: {expected}")


STEPS = ("artifacts", "sdist", "python", "readme", "abi3", "npm", "c-sdk")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--target-dir", type=Path, default=Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target"))
    parser.add_argument("--tools", type=Path, help="the dist tools venv (default: <target>/dist-tools)")
    parser.add_argument("--only", nargs="+", choices=STEPS, default=list(STEPS))
    args = parser.parse_args()
    target = (args.target_dir if args.target_dir.is_absolute() else ROOT / args.target_dir).resolve()
    dist = args.dist.resolve()
    work = target / "dist-test"
    work.mkdir(parents=True, exist_ok=True)
    tools = args.tools or target / "dist-tools"

    timings = []
    for name in args.only:
        log(name)
        started = time.monotonic()
        if name == "artifacts":
            step_artifacts(dist, work, tools)
        elif name == "sdist":
            step_sdist(dist, work, target)
        elif name == "python":
            step_python(dist, work)
        elif name == "readme":
            step_readme(dist, work)
        elif name == "abi3":
            step_abi3(dist, work)
        elif name == "npm":
            step_npm(dist, work, target)
        elif name == "c-sdk":
            step_c_sdk(dist, work)
        timings.append((name, time.monotonic() - started))
    log("passed: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings)
        + f"; {sum(s for _, s in timings):.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
