#!/usr/bin/env python3
"""The reference host under load, against fail2ban alone, in one run.

For each way in (fail2ban directly over its socket, the host on SQLite, the
host on Redis), on a fresh private fail2ban-server each time:
- 200 jail activations (`add NAME polling` + `start NAME`), 20 at a time;
- 50 activations one at a time.
Directly, the clients are asyncio tasks using the host's own
`fail2ban_client.py`; through the host, one pooled `aiohttp.ClientSession`
logged in once, calling `POST /api/jails/{name}/activate` on 4 uvicorn workers.

The load runs on the same cores as what it measures, so its client must cost
little: httpx took 1.7-1.9 ms of CPU per request here, more than the host
itself, and capped the host's throughput at a third of what it does; aiohttp
takes about 0.25 ms. Each batch also reports the CPU time each process spent
per activation (the client, the workers, fail2ban, redis) and the workers'
compare-and-set conflicts per committed step and how the commits fell among
them, from their `worker_stopped` log lines.

    python3 bench/host/load.py [--quick] [--out target/bench/host.json]

`--quick` (make test's smoke): 20 activations 5 at a time and 5 one at a time,
SQLite only, no output file. `--activations N` changes the 200. `--profile DIR`
samples the workers with py-spy (`pip install py-spy`) during each host's
concurrent batch: DIR/host-STORE.txt holds the collapsed stacks, and the
functions that took the most samples are printed. `--requests N` (2000 by
default, 0 for none) also times N requests of each of two cheaper routes per
host, 20 at a time, to set an activation's worker CPU against: GET
/api/session and DELETE /api/recovery (see ROUTES). Every process started is
stopped, pass or fail.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import signal
import subprocess
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = ROOT / "examples" / "host"
sys.path.insert(0, str(HOST))

import aiohttp  # noqa: E402
import psutil  # noqa: E402

from demo_live import DEMO_USER, install_package, start_app, wait_until_serving, write_password_hash  # noqa: E402
from fail2ban_client import Fail2banClient  # noqa: E402
from private_servers import Fail2banServer, RedisServer, stop_group  # noqa: E402

PASSWORD = "load-test password"
WORKERS = 4
# Cheaper routes than an activation, timed the same way on each host, to set
# the activation's worker CPU against: uvicorn, FastAPI, the guard and a
# session lookup; then an unsafe method too (the origin check, the body) and
# a shared step that changes nothing (there is no recovery to dismiss).
ROUTES = (("GET", "/api/session"), ("DELETE", "/api/recovery"))


@dataclass
class Run:
    """One batch: how long it took, each activation's latency (ns), and the
    CPU seconds each process (kind) spent on it."""

    seconds: float
    latencies: list[int]
    cpu: dict[str, float]

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def cpu_seconds(processes: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """User + system CPU seconds so far, summed per kind of process."""
    spent: dict[str, float] = {}
    for kind, group in processes.items():
        for process in group:
            times = process.cpu_times()
            spent[kind] = spent.get(kind, 0.0) + times.user + times.system
    return spent


async def batch(activate: Callable[[str], Awaitable[None]], names: list[str], concurrency: int,
                processes: dict[str, list[psutil.Process]]) -> Run:
    latencies: list[int] = []
    queue = list(reversed(names))

    async def client() -> None:
        while queue:
            name = queue.pop()
            started = time.perf_counter_ns()
            await activate(name)
            latencies.append(time.perf_counter_ns() - started)

    before = cpu_seconds(processes)
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    after = cpu_seconds(processes)
    return Run(seconds, latencies, {kind: after[kind] - before[kind] for kind in before})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def direct(work: Path, counts: tuple[int, int, int]) -> tuple[Run, Run]:
    total, concurrency, sequential = counts
    fail2ban = Fail2banServer(work / "fail2ban")
    try:
        fail2ban.start()
        client = Fail2banClient(str(fail2ban.socket), timeout=10)
        processes = {"client": [psutil.Process()], "fail2ban": server_processes(fail2ban)}
        together = await batch(client.activate_jail, [f"load-{n}" for n in range(total)], concurrency, processes)
        one_by_one = await batch(client.activate_jail, [f"seq-{n}" for n in range(sequential)], 1, processes)
        await client.aclose()
        return together, one_by_one
    finally:
        fail2ban.stop()


def server_processes(server: Fail2banServer | RedisServer) -> list[psutil.Process]:
    assert server.process is not None
    return [psutil.Process(server.process.pid)]


def worker_counts(log: Path) -> tuple[float, list[int]]:
    """The workers' compare-and-sets lost per committed step, and each
    worker's commits (most first), from the `worker_stopped` line each writes
    as it stops. The client's keep-alive connections stay with the worker
    that accepted them, and which one does is the kernel's pick: they fall
    unevenly, from 108/53/50/42 to 179/51/23/0 in three runs here."""
    stopped = [json.loads(line) for line in log.read_text().splitlines() if '"worker_stopped"' in line]
    commits = sorted((int(line["commits"]) for line in stopped), reverse=True)
    return sum(int(line["conflicts"]) for line in stopped) / max(1, sum(commits)), commits


def start_profiler(app: subprocess.Popen[bytes], out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the uvicorn process and its workers, without pausing them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    profiler = subprocess.Popen(["py-spy", "record", "--subprocesses", "--nonblocking", "--rate", "500", "--format",
                                 "raw", "--output", str(out), "--pid", str(app.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(1.0)  # py-spy attaches to every worker before the batch starts
    return profiler


def summarize_profile(path: Path, top: int = 25) -> None:
    """The functions on the most sampled stacks (inclusive) and at their top (self), in % of samples."""
    own: collections.Counter[str] = collections.Counter()
    anywhere: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")
                  if not frame.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            anywhere[frame] += int(count)
    print(f"{path}: {total} samples")
    for title, counter in (("self", own), ("inclusive", anywhere)):
        print(f"  {title}:")
        for frame, count in counter.most_common(top):
            print(f"  {count / max(1, total):6.1%}  {frame}")


@dataclass
class HostRuns:
    """One host's batches: the activations 20 at a time and one at a time,
    the workers' conflicts per commit and commits each, and each of `ROUTES`' batch."""

    together: Run
    one_by_one: Run
    conflicts: float
    commits_per_worker: list[int]
    routes: dict[str, Run]


async def through_host(work: Path, store: str, counts: tuple[int, int, int], package_dir: Path,
                       profile: Path | None = None, requests: int = 0) -> HostRuns:
    total, concurrency, sequential = counts
    work.mkdir(parents=True, exist_ok=True)
    fail2ban = Fail2banServer(work / "fail2ban")
    redis = RedisServer(work / "redis") if store == "redis" else None
    app = None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        fail2ban.start()
        if redis:
            redis.start()
        app = start_app(fail2ban.socket, work, port=port, workers=WORKERS, probe_interval=5.0,
                        package_dir=package_dir, password_hash_file=write_password_hash(work, PASSWORD),
                        redis_url=redis.url if redis else None, log_file=work / "app.log", log_level="info")
        wait_until_serving(f"{url}/", app)
        workers = psutil.Process(app.pid).children(recursive=True)
        processes = {"client": [psutil.Process()], "workers": [psutil.Process(app.pid), *workers],
                     "fail2ban": server_processes(fail2ban)}
        if redis:
            processes["redis"] = server_processes(redis)
        # The cookie jar takes the session cookie from 127.0.0.1 (aiohttp's
        # default jar refuses cookies of IP addresses).
        async with aiohttp.ClientSession(base_url=url, headers={"origin": url},
                                         connector=aiohttp.TCPConnector(limit=concurrency),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         timeout=aiohttp.ClientTimeout(total=30)) as http:
            async with http.post("/api/login", json={"user": DEMO_USER, "password": PASSWORD}) as response:
                response.raise_for_status()

            async def activate(name: str) -> None:
                async with http.post(f"/api/jails/{name}/activate") as response:
                    body = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"activate {name}: {response.status} {body!r}")

            profiler = start_profiler(app, profile) if profile else None
            try:
                together = await batch(activate, [f"load-{n}" for n in range(total)], concurrency, processes)
            finally:
                if profiler:
                    profiler.send_signal(signal.SIGINT)  # py-spy writes its file as it stops
                    profiler.wait(30)
            one_by_one = await batch(activate, [f"seq-{n}" for n in range(sequential)], 1, processes)
            routes: dict[str, Run] = {}
            for method, path in ROUTES if requests else ():
                async def call(_: str, method: str = method, path: str = path) -> None:
                    async with http.request(method, path) as response:
                        body = await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"{method} {path}: {response.status} {body!r}")

                routes[f"{method} {path}"] = await batch(call, [""] * requests, concurrency, processes)
    finally:
        stop_group(app)
        fail2ban.stop()
        if redis:
            redis.stop()
    return HostRuns(together, one_by_one, *worker_counts(work / "app.log"), routes)


def cpu_note(run: Run, per: str = "activation") -> str:
    """CPU per activation, by process: `client 0.25 + workers 0.85 + fail2ban 0.43 ms`."""
    spent = " + ".join(f"{kind} {seconds / len(run.latencies) * 1e3:.2f}" for kind, seconds in run.cpu.items())
    return f"CPU per {per}: {spent} ms"


def rows(way: str, together: Run, one_by_one: Run, concurrency: int) -> list[dict[str, object]]:
    return [
        {"name": f"{way}: {len(together.latencies)} activations, {concurrency} at a time, p50",
         "median_ns": together.percentile(0.5),
         "note": f"{together.per_second:,.0f} activations/s; p99 {together.percentile(0.99) / 1e6:.1f} ms; "
                 f"{cpu_note(together)}"},
        {"name": f"{way}: {len(one_by_one.latencies)} activations one at a time, p50",
         "median_ns": one_by_one.percentile(0.5),
         "note": f"p99 {one_by_one.percentile(0.99) / 1e6:.1f} ms; {cpu_note(one_by_one)}"},
    ]


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    counts = (20, 5, 5) if args.quick else (args.activations, 20, 50)
    requests = 0 if args.quick else args.requests
    stores = ("sqlite",) if args.quick else ("sqlite", "redis")
    package_dir = install_package(ROOT / "target" / "host" / "bench-site")
    hosts: dict[str, HostRuns] = {}
    with tempfile.TemporaryDirectory(prefix="bangui-host-load-") as tmp:
        direct_together, direct_sequential = await direct(Path(tmp) / "direct", counts)
        for store in stores:
            profile = args.profile / f"host-{store}.txt" if args.profile else None
            hosts[store] = await through_host(Path(tmp) / store, store, counts, package_dir, profile, requests)
            if profile:
                summarize_profile(profile)
    table = rows("fail2ban directly", direct_together, direct_sequential, counts[1])
    targets: list[dict[str, object]] = []
    for store, runs in hosts.items():
        way = f"through the host ({store})"
        table += rows(way, runs.together, runs.one_by_one, counts[1])
        table[-1]["note"] = (f"{table[-1]['note']}; conflicts per commit: {runs.conflicts:.2f}; commits per worker: "
                             f"{'/'.join(map(str, runs.commits_per_worker))} (both batches)")
        for route, run in runs.routes.items():
            table.append({"name": f"{way}: {route}, {len(run.latencies)} requests, {counts[1]} at a time, p50",
                          "median_ns": run.percentile(0.5),
                          "note": f"{run.per_second:,.0f} requests/s; {cpu_note(run, 'request')}"})
        share = runs.together.per_second / direct_together.per_second
        added_ms = (runs.one_by_one.percentile(0.5) - direct_sequential.percentile(0.5)) / 1e6
        targets.append({"target": f"host {store}: ≥ 50 % of fail2ban's throughput at {counts[1]} clients",
                        "measured": f"{share:.0%} (host / direct)", "met": share >= 0.5})
        targets.append({"target": f"host {store}: ≤ 1 ms added to a sequential activation (p50)",
                        "measured": f"{added_ms:+.2f} ms", "met": added_ms <= 1.0})
    for row in table:
        print(f"{row['name']}: {float(row['median_ns']) / 1e6:.2f} ms ({row['note']})")  # type: ignore[arg-type]
    for target in targets:
        print(f"  {target['target']}: {target['measured']}")
    return {"title": "Reference host under load (4 uvicorn workers, private fail2ban)", "rows": table,
            "targets": targets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run, SQLite only, no output file")
    parser.add_argument("--out", type=Path, help="write the rows and targets as JSON here")
    parser.add_argument("--activations", type=int, default=200, help="activations in the concurrent batch")
    parser.add_argument("--profile", type=Path, help="sample the workers with py-spy into this directory")
    parser.add_argument("--requests", type=int, default=2000,
                        help="requests of each cheaper route (GET /api/session, DELETE /api/recovery) per host, "
                             "to set an activation's CPU against (0: none)")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    if args.out and not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
