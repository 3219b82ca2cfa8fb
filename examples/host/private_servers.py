"""Private fail2ban-server and redis-server processes in a temporary directory.

Used by `make demo-live` and the end-to-end tests: each server is a child in
its own process group, on a Unix socket in its directory, with no effect on
the machine's own services (no firewall: the `dummy` ban action; an
in-memory fail2ban database).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

FAIL2BAN_CONFIG = Path("/etc/fail2ban")
DEFAULT_JAIL = "demo-sshd"


def _wait(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {timeout} s")


def _answers(path: Path) -> bool:
    """Something accepts connections on this Unix socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _ready_count(out: Path) -> int:
    """How many times fail2ban-server's launcher has said "Server ready" in
    this output file (each start appends to it)."""
    try:
        return out.read_bytes().count(b"Server ready")
    except FileNotFoundError:
        return 0


def stop_group(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, grace: float = 3.0) -> None:
    """Sends `sig` to the process's group, then SIGKILL to whatever of the group is left
    (after `grace` s at most), so nothing it started outlives it."""
    if process is None:
        return
    for signum in (sig, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass


class Fail2banServer:
    """fail2ban-server in the foreground, on a copy of /etc/fail2ban in `root`:
    the socket, pid file and log in `root`, `dbfile = :memory:`, the polling
    backend, the `dummy` ban action, Debian's sshd jail off and one jail
    (`DEFAULT_JAIL`, the sshd filter) on `root/auth.log`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config"
        self.socket = root / "fail2ban.sock"
        self.process: subprocess.Popen[bytes] | None = None
        if not self.config.exists():
            shutil.copytree(FAIL2BAN_CONFIG, self.config)
            (root / "auth.log").touch()
            (self.config / "fail2ban.local").write_text(
                "[Definition]\n"
                f"logtarget = {root / 'fail2ban.log'}\n"
                f"socket = {self.socket}\n"
                f"pidfile = {root / 'fail2ban.pid'}\n"
                "dbfile = :memory:\n"
            )
            (self.config / "jail.local").write_text(
                "[DEFAULT]\nbackend = polling\nbanaction = dummy\n\n"
                "[sshd]\nenabled = false\n\n"
                f"[{DEFAULT_JAIL}]\nenabled = true\nfilter = sshd\nport = ssh\nlogpath = {root / 'auth.log'}\n"
            )

    def start(self, timeout: float = 15.0) -> None:
        """Starts the server (again, after a crash: same config, same socket)
        and returns once it has applied its configuration.

        The socket accepts connections before that: fail2ban-server's own
        launcher sends the configuration through it, and a jail added in
        the meantime makes its `set dbfile` fail ("Cannot change database
        when there are jails present"), upon which fail2ban-server shuts
        itself down. The launcher prints "Server ready" once done."""
        self.socket.unlink(missing_ok=True)
        out_path = self.root / "server.out"
        ready_before = _ready_count(out_path)
        with open(out_path, "ab") as out:
            self.process = subprocess.Popen(
                ["fail2ban-server", "-c", str(self.config), "-s", str(self.socket),
                 "-p", str(self.root / "fail2ban.pid"), "-f", "-x"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait("fail2ban-server", lambda: _ready_count(out_path) > ready_before and _answers(self.socket),
              self.process, timeout)

    def crash(self) -> None:
        """SIGKILL to the server's process group: fail2ban dies without a word."""
        stop_group(self.process, signal.SIGKILL)

    def stop(self) -> None:
        stop_group(self.process)


class RedisServer:
    """redis-server on a Unix socket in `root`, append-only file on, no TCP port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "redis.out", "ab") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", "0", "--unixsocket", str(self.socket), "--dir", str(self.root),
                 "--save", "", "--appendonly", "yes"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait("redis-server", lambda: _answers(self.socket), self.process, timeout)

    def stop(self) -> None:
        stop_group(self.process)
