"""Runs the reference host: uvicorn with N workers on the app in app.py.

    python examples/host/serve.py hash-password > operator.hash      # asks for the password, no echo
    python examples/host/serve.py --fail2ban-socket /run/fail2ban/fail2ban.sock \\
        --user admin --password-hash-file operator.hash \\
        [--sqlite PATH | --redis URL] [--workers 4] [--port 8000] [--probe-interval 5]

The options become one JSON environment variable that every worker reads
(uvicorn starts workers as fresh processes that import `app:create_app`).
"""
from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import sys
from pathlib import Path

import uvicorn

from app import CONFIG_ENV, Config
from auth import Operators

HERE = Path(__file__).parent


def hash_password() -> None:
    """Reads a password twice without echo; prints its Argon2id hash for --password-hash-file."""
    from auth import MAX_PASSWORD_LENGTH, hash_password as argon2_hash

    password = getpass.getpass("Password: ")
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        raise SystemExit(f"hash-password: the password must have 1 to {MAX_PASSWORD_LENGTH} characters")
    if getpass.getpass("Again: ") != password:
        raise SystemExit("hash-password: the two passwords differ")
    print(argon2_hash(password))


def read_password_hash(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as failure:
        raise SystemExit(f"--password-hash-file {path}: {failure.strerror}") from None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hash-password"]:
        hash_password()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fail2ban-socket", required=True, help="fail2ban-server's socket")
    parser.add_argument("--sqlite", default="bangui-state.sqlite3", help="the shared store (default; a file)")
    parser.add_argument("--redis", metavar="URL", help="the shared store in Redis instead (redis://, unix://)")
    parser.add_argument("--probe-interval", type=float, default=5.0, help="seconds between health probes")
    parser.add_argument("--probe-timeout", type=float, default=2.0, help="a probe slower than this is offline")
    parser.add_argument("--log-retention", type=int, default=10_000, help="commits the store's log keeps")
    parser.add_argument("--log-level", default="debug", choices=["debug", "info", "warning"],
                        help="the lowest level logged (debug: every probe's health_check_complete too)")
    parser.add_argument("--package-dir", help="a directory with node_modules/bangui-state for the dashboard")
    parser.add_argument("--user", default="admin", help="the operator's user name (default admin)")
    parser.add_argument("--password-hash-file", required=True,
                        help="a file holding the operator's Argon2 hash (serve.py hash-password writes one)")
    parser.add_argument("--session-lifetime", type=float, default=8 * 3600.0, help="seconds a login lasts")
    parser.add_argument("--secure-cookies", action="store_true", help="Secure session cookie (behind HTTPS)")
    parser.add_argument("--trusted-origin", action="append", default=[], metavar="ORIGIN",
                        help="another origin allowed to send unsafe requests (repeatable)")
    parser.add_argument("--login-limit", type=int, default=5,
                        help="failed logins per client address and per user name in a window, all workers together")
    parser.add_argument("--login-window", type=float, default=60.0, help="the login limit's window, in seconds")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    sqlite_path = Path(args.sqlite).resolve()
    if args.redis is None and not sqlite_path.parent.is_dir():
        parser.error(f"--sqlite {args.sqlite}: the directory {sqlite_path.parent} does not exist")
    config = Config(fail2ban_socket=args.fail2ban_socket, sqlite_path=str(sqlite_path),
                    redis_url=args.redis, probe_interval=args.probe_interval, probe_timeout=args.probe_timeout,
                    log_retention=args.log_retention, log_level=args.log_level,
                    package_dir=args.package_dir and str(Path(args.package_dir).resolve()),
                    users={args.user: read_password_hash(args.password_hash_file)},
                    session_lifetime=args.session_lifetime, secure_cookies=args.secure_cookies,
                    trusted_origins=tuple(args.trusted_origin), login_limit=args.login_limit,
                    login_window=args.login_window)
    try:
        Operators(config.users)  # a bad hash stops here, not in every worker
    except ValueError as failure:
        parser.error(str(failure))
    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
    uvicorn.run("app:create_app", factory=True, app_dir=str(HERE), host=args.host, port=args.port,
                workers=args.workers, access_log=False, timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
