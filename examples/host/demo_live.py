"""`make demo-live`: a private fail2ban-server, the app with 4 workers on
SQLite, the dashboard's URL; Ctrl-C stops everything it started.

    python examples/host/demo_live.py [--port 8138] [--workers 4] [--probe-interval 2] [--redis]
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from private_servers import DEFAULT_JAIL, Fail2banServer, RedisServer, stop_group

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
DEMO_USER = "admin"


def install_package(site: Path) -> Path:
    """The npm package, installed from the tarball `make wasm-package` packed, as a user's project gets it."""
    packed = sorted((ROOT / "target" / "wasm").glob("bangui-state-*.tgz"))
    if len(packed) != 1:
        raise SystemExit(f"expected one bangui-state-*.tgz in target/wasm (make wasm-package), found {len(packed)}")
    site.mkdir(parents=True, exist_ok=True)
    (site / "package.json").write_text('{"name": "bangui-host-dashboard", "private": true}\n')
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error",
                    str(packed[0])], cwd=site, check=True, stdout=subprocess.DEVNULL)
    return site


def write_password_hash(work: Path, password: str) -> Path:
    """The operator's password as serve.py takes it: an Argon2 hash in a file."""
    from auth import hash_password

    path = work / "operator.hash"
    path.write_text(hash_password(password) + "\n")
    return path


def start_app(fail2ban_socket: Path, work: Path, *, port: int, workers: int, probe_interval: float,
              package_dir: Path, password_hash_file: Path, redis_url: str | None = None,
              log_file: Path | None = None, log_level: str = "debug",
              options: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """serve.py in its own process group (so stopping it stops its workers too);
    `options` are more of serve.py's."""
    command = [sys.executable, str(HERE / "serve.py"), "--fail2ban-socket", str(fail2ban_socket),
               "--sqlite", str(work / "bangui-state.sqlite3"), "--port", str(port), "--workers", str(workers),
               "--probe-interval", str(probe_interval), "--package-dir", str(package_dir), "--log-level", log_level,
               "--user", DEMO_USER, "--password-hash-file", str(password_hash_file), *options]
    if redis_url:
        command += ["--redis", redis_url]
    out = open(log_file, "ab") if log_file else None
    try:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT if out else None,
                                start_new_session=True)
    finally:
        if out:
            out.close()


def wait_until_serving(url: str, app: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise RuntimeError(f"the app exited with status {app.returncode}")
        try:
            with urllib.request.urlopen(f"{url}api/session", timeout=2):
                return
        except urllib.error.HTTPError as refused:
            if refused.code == 401:  # serving, and asking who we are
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app did not answer at {url} within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8138)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--probe-interval", type=float, default=2.0)
    parser.add_argument("--redis", action="store_true", help="a private redis-server as the store instead of SQLite")
    args = parser.parse_args()
    site = install_package(ROOT / "target" / "host" / "site")
    with tempfile.TemporaryDirectory(prefix="bangui-demo-live-") as tmp:
        work = Path(tmp)
        fail2ban = Fail2banServer(work / "fail2ban")
        redis = RedisServer(work / "redis") if args.redis else None
        app = None
        try:
            fail2ban.start()
            if redis:
                redis.start()
            password = secrets.token_urlsafe(9)
            app = start_app(fail2ban.socket, work, port=args.port, workers=args.workers,
                            probe_interval=args.probe_interval, package_dir=site,
                            password_hash_file=write_password_hash(work, password),
                            redis_url=redis.url if redis else None, log_level="info")
            url = f"http://127.0.0.1:{args.port}/"
            wait_until_serving(url, app)
            print(f"\ndemo-live: the dashboard is at {url}  (user {DEMO_USER}, password {password})\n"
                  f"  fail2ban-server (pid {fail2ban.process.pid if fail2ban.process else '?'}) on {fail2ban.socket}, "
                  f"jail {DEFAULT_JAIL}; {args.workers} workers on {'Redis' if redis else 'SQLite'}, "
                  f"probing every {args.probe_interval} s; their log lines (info and up) follow.\n"
                  f"  Activate a jail in the page, then crash fail2ban within 60 s:  kill -9 -{fail2ban.process.pid if fail2ban.process else '?'}\n"
                  f"  and bring it back:  press Enter here.   Ctrl-C stops everything.\n", flush=True)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while True:
                if not sys.stdin.readline():  # no terminal: just run until stopped
                    signal.pause()
                if fail2ban.process and fail2ban.process.poll() is not None:
                    fail2ban.start()
                    print(f"demo-live: fail2ban-server restarted (pid {fail2ban.process.pid})", flush=True)
                else:
                    print("demo-live: fail2ban-server is running; crash it first", flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            stop_group(app)
            fail2ban.stop()
            if redis:
                redis.stop()
            print("demo-live: stopped the app, fail2ban-server" + (" and redis-server" if redis else ""), flush=True)


if __name__ == "__main__":
    main()
