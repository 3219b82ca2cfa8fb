"""Runs the reference host: uvicorn with N workers on the app in app.py.

    python examples/host/serve.py --fail2ban-socket /run/fail2ban/fail2ban.sock \\
        [--sqlite PATH | --redis URL] [--workers 4] [--port 8000] [--probe-interval 5]

The options become one JSON environment variable that every worker reads
(uvicorn starts workers as fresh processes that import `app:create_app`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

import uvicorn

from app import CONFIG_ENV, Config

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> None:
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
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    config = Config(fail2ban_socket=args.fail2ban_socket, sqlite_path=str(Path(args.sqlite).resolve()),
                    redis_url=args.redis, probe_interval=args.probe_interval, probe_timeout=args.probe_timeout,
                    log_retention=args.log_retention, log_level=args.log_level,
                    package_dir=args.package_dir and str(Path(args.package_dir).resolve()))
    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
    uvicorn.run("app:create_app", factory=True, app_dir=str(HERE), host=args.host, port=args.port,
                workers=args.workers, access_log=False, timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
