"""make test-dist, step `readme`: each ```python block of the README and of the
Python package's README, run in a fresh venv that holds only what the README
says to install for it, with no toolchain on PATH.

What a block needs is the last `pip install` line naming the wheel before it (in
a ```sh block): that line runs as written, in a scratch directory where `dist/`
is `make dist`'s directory and the wheel's bare name is the wheel, in a venv of
its own (one venv per distinct line, the wheel's directory aside; a line the
README repeats runs again in it, a no-op). The blocks of one README that line serves run
in order in one namespace, as a reader pastes them into one session; a ```text
block right after a block is its exact output, else it must print something.

A block followed by a ```sh block that starts it with `uvicorn MODULE:APP ...`
is saved as MODULE.py, started so (on a free port, added as `--port`; against
a private redis-server, named by BANGUI_REDIS_URL), and each `curl` line of
that block is sent as written (the port aside): it must answer 200 with a
state, whose revision moved for a POST.

usage: python readme_examples.py --dist DIR --work DIR   (or through run.py --only readme)
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
READMES = (ROOT / "README.md", ROOT / "bindings-c" / "python" / "README.md")
# A fenced block, indented as in a list item or not.
BLOCK = re.compile(r"^( *)```(\w*)\n(.*?)^\1```\n", re.S | re.M)
WHEEL = re.compile(r"bangui_state-[^\s\"'\[\]/]+\.whl")
SERVE_TIMEOUT = 60.0

# Run inside the venv (stdlib only): the blocks of one group in one namespace,
# each one's output captured; the outputs go to a JSON file.
RUNNER = """\
import contextlib, io, json, sys
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
outputs = []
for where, code in blocks:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, where, "exec"), namespace)
    outputs.append(printed.getvalue())
json.dump(outputs, open(sys.argv[2], "w", encoding="utf-8"))
"""


@dataclass
class Example:
    readme: Path
    where: str  # README path:line of the block's first line
    code: str
    expected: str | None  # the ```text block right after it
    install: str  # the `pip install` line it needs, as written
    serve: list[str] = field(default_factory=list)  # the uvicorn and curl lines of the ```sh block after it


def install_key(line: str, wheel: Path) -> tuple[str, ...]:
    """The line's arguments with the wheel named by its file name alone: the
    root README's `dist/NAME.whl[x]` and the package README's `NAME.whl[x]` are one install."""
    args = shlex.split(line, comments=True)
    return tuple(WHEEL.sub(wheel.name, os.path.basename(a)) if WHEEL.search(a) else a for a in args)


def examples(readme: Path, wheel: Path) -> list[Example]:
    text = readme.read_text(encoding="utf-8")
    blocks = list(BLOCK.finditer(text))
    found: list[Example] = []
    install: str | None = None
    for i, block in enumerate(blocks):
        lang, body = block[2], block[3]
        line = text.count("\n", 0, block.start()) + 2
        if lang == "sh":
            for command in body.splitlines():
                command = command.strip()
                if command.startswith("pip install ") and WHEEL.search(command):
                    named = WHEEL.search(command)
                    assert named is not None
                    if named[0] != wheel.name:
                        raise SystemExit(f"test-dist: {readme.name}:{line}: {command!r} names {named[0]}, "
                                         f"but make dist wrote {wheel.name}")
                    install = command
        if lang != "python":
            continue
        where = f"{readme.relative_to(ROOT)}:{line}"
        if install is None:
            raise SystemExit(f"test-dist: {where}: no `pip install` line of the wheel before this example: "
                             "the README must say what it needs")
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        expected = None
        if after is not None and after[2] == "text" and text[block.end():after.start()].strip() == "":
            expected = after[3]
        serve: list[str] = []
        for later in blocks[i + 1:]:
            if later[2] == "python":
                break
            if later[2] == "sh" and re.search(r"(?m)^\s*uvicorn ", later[3]):
                serve = [c.strip() for c in later[3].splitlines() if c.strip()]
                break
        found.append(Example(readme, where, dedent(block[3], block[1]), expected, install, serve))
    return found


def dedent(body: str, indent: str) -> str:
    return "".join(line[len(indent):] if line.startswith(indent) else line for line in body.splitlines(True))


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server(work: Path, env: dict[str, str]) -> Iterator[str]:
    """A private redis-server on a Unix socket, for the Redis example: its URL."""
    directory = Path(tempfile.mkdtemp(prefix="redis-", dir=work))
    sock = directory / "redis.sock"
    server = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
                               "--save", "", "--appendonly", "no", "--dir", str(directory)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"test-dist: the private redis-server did not start (status {server.poll()})")
            time.sleep(0.05)
        yield f"unix://{sock}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def request(command: str, port: int, default_port: int) -> tuple[str, str]:
    """A `curl` line as (method, URL), the port replaced; other options are refused."""
    args = shlex.split(command, comments=True)
    method, url = "GET", None
    i = 1
    while i < len(args):
        if args[i] in ("-X", "--request"):
            method, i = args[i + 1], i + 2
        elif args[i] in ("-s", "--silent", "-S", "--show-error", "-f", "--fail"):
            i += 1
        elif args[i].startswith("http://") and url is None:
            url, i = args[i], i + 1
        else:
            raise SystemExit(f"test-dist: {command!r}: this test does not know curl's {args[i]!r}")
    if url is None:
        raise SystemExit(f"test-dist: {command!r}: no URL")
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost") or (parts.port or 80) != default_port:
        raise SystemExit(f"test-dist: {command!r}: not the port uvicorn listens on ({default_port})")
    return method, urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def call(method: str, url: str, server: subprocess.Popen[bytes], deadline: float) -> dict[str, object]:
    """The answer to one call, once the server listens: a JSON object."""
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as answer:
                assert answer.status == 200, (method, url, answer.status)
                body = json.loads(answer.read())
                assert isinstance(body, dict), body
                return body
        except urllib.error.HTTPError as error:
            raise SystemExit(f"test-dist: {method} {url}: {error.code} {error.read()[:500]!r}") from None
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None:
                raise SystemExit(f"test-dist: uvicorn exited with status {server.returncode} before answering "
                                 f"{method} {url}") from None
            if time.monotonic() > deadline:
                raise SystemExit(f"test-dist: {method} {url}: no answer within {SERVE_TIMEOUT:g} s") from None
            time.sleep(0.2)


def serve(example: Example, directory: Path, env: dict[str, str]) -> None:
    """Starts the example as its uvicorn line says and sends its curl lines."""
    start = next(c for c in example.serve if c.startswith("uvicorn "))
    args = shlex.split(start, comments=True)
    module, _, _attribute = args[1].partition(":")
    (directory / f"{module}.py").write_text(example.code, encoding="utf-8")
    default_port = int(args[args.index("--port") + 1]) if "--port" in args else 8000
    port = free_port()
    cmd = [*args, "--port", str(port)]
    print("+", " ".join(cmd), f"  (in {directory}; its log: uvicorn.log)", flush=True)
    log = open(directory / "uvicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(cmd, cwd=directory, env=env, start_new_session=True, stdout=log,
                              stderr=subprocess.STDOUT)
    ok = False
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        calls = [c for c in example.serve if c.startswith("curl ")]
        if not calls:
            raise SystemExit(f"test-dist: {example.where}: a uvicorn line without a curl line to call it")
        for command in calls:
            method, url = request(command, port, default_port)
            first = call(method, url, server, deadline)
            second = call(method, url, server, deadline)
            revisions = [state.get("revision") for state in (first, second)]
            assert all(state.get("schema_version") == 1 for state in (first, second)), (first, second)
            assert all(isinstance(r, int) for r in revisions), (first, second)
            if method == "POST":  # a step: each call commits one revision more
                assert revisions[0] == 1 and revisions[1] == 2, (first, second)
            print(f"{command}  ->  200, a state at revision {revisions[0]} then {revisions[1]}", flush=True)
        ok = True
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # uvicorn and its workers: the group started here
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        if not ok:
            print((directory / "uvicorn.log").read_text(errors="replace")[-4000:], flush=True)


def run_group(group: list[Example], python: Path, directory: Path, env: dict[str, str]) -> None:
    """The blocks of one install line, in order, in one namespace."""
    number = READMES.index(group[0].readme)
    blocks, outputs = directory / f"blocks-{number}.json", directory / f"outputs-{number}.json"
    blocks.write_text(json.dumps([[e.where, e.code] for e in group]), encoding="utf-8")
    (directory / "runner.py").write_text(RUNNER, encoding="utf-8")
    run([str(python), "runner.py", str(blocks), str(outputs)], cwd=directory, env=env)
    for example, printed in zip(group, json.loads(outputs.read_text(encoding="utf-8")), strict=True):
        if example.expected is not None:
            assert printed == example.expected, f"{example.where} printed {printed!r}, not {example.expected!r}"
            print(f"{example.where}: ran, printed its ```text block", flush=True)
        else:
            assert printed.strip(), f"{example.where} printed nothing"
            print(f"{example.where}: ran, printed {len(printed.splitlines())} lines", flush=True)


def main(dist: Path, work: Path, no_toolchain_env: Callable[[Path, Path], dict[str, str]]) -> None:
    wheel = next(iter(sorted(dist.glob("bangui_state-*-manylinux_*.whl"))), None)
    if wheel is None:
        raise SystemExit(f"test-dist: no wheel in {dist}")
    found = [example for readme in READMES for example in examples(readme, wheel)]
    groups: dict[tuple[str, ...], list[Example]] = {}
    for example in found:
        groups.setdefault(install_key(example.install, wheel), []).append(example)
    root = work / "readme"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for number, (key, group) in enumerate(groups.items()):
        place = root / f"{number}"
        place.mkdir()
        (place / "dist").symlink_to(dist)  # the README's dist/NAME.whl
        (place / wheel.name).symlink_to(wheel)  # the package README's NAME.whl
        print(f"\n--- {' '.join(key[2:])}: {', '.join(e.where for e in group)}", flush=True)
        venv = place / "venv"
        run([sys.executable, "-m", "venv", "--clear", str(venv)])
        env = no_toolchain_env(work, venv)
        env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_QUIET="1", PIP_NO_INPUT="1")
        for line in dict.fromkeys(e.install for e in group):
            print("+", line, flush=True)
            subprocess.run(["bash", "-c", line], cwd=place, env=env, check=True)
        for readme in READMES:  # each README's blocks in a namespace of their own
            plain = [e for e in group if not e.serve and e.readme == readme]
            if plain:
                run_group(plain, venv / "bin" / "python", place, env)
        for index, example in enumerate(e for e in group if e.serve):
            directory = place / f"served-{index}"
            directory.mkdir()
            with redis_server(place, env) as url:
                serve(example, directory, dict(env, BANGUI_REDIS_URL=url))
            print(f"{example.where}: served by uvicorn, its curl lines answered", flush=True)
    print(f"\n{len(found)} README examples in {len(groups)} venvs, one per install line", flush=True)


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import no_toolchain_env

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "target" / "dist-test")
    options = parser.parse_args()
    main(options.dist.resolve(), options.work.resolve(), no_toolchain_env)
