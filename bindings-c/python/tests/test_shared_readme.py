"""The README's "Many workers" examples run as written: each FastAPI lifespan
and route against a real store (a SQLite file, the private redis-server).
make test-dist runs them again, each in a venv holding only the extras the
README names for it, served by uvicorn (tests/dist/readme_examples.py)."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from shared_support import REPO_ROOT, RedisServer, redis_server  # noqa: F401


def many_workers_examples() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Many workers\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_example(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, "README.md (Many workers)", "exec"), namespace)
    return namespace


def test_the_readme_has_an_example_per_store() -> None:
    examples = many_workers_examples()
    assert len(examples) == 2
    assert "AsyncSqliteStore" in examples[0] and "AsyncRedisStore" in examples[1]


def test_the_sqlite_lifespan_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANGUI_STATE_DB", str(tmp_path / "state.db"))
    example = run_example(many_workers_examples()[0])
    app = example["app"]

    async def main() -> None:
        async with app.router.lifespan_context(app):
            assert app.state.session_cache == {}  # the hook ran at start
            state = await example["activate"]("sshd")
            assert state["last_activation"]["jail_name"] == "sshd" and state["revision"] == 1
        # A second worker's lifespan sees the first one's commit.
        async with app.router.lifespan_context(app):
            assert app.state.machine.revision == 1

    asyncio.run(main())


def test_the_redis_lifespan_example(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANGUI_REDIS_URL", f"unix://{redis_server.socket}")
    example, other = (run_example(many_workers_examples()[1]) for _ in range(2))  # two workers
    app, other_app = example["app"], other["app"]

    async def main() -> None:
        async with app.router.lifespan_context(app):
            assert (await example["current_state"]())["revision"] == 0
            async with other_app.router.lifespan_context(other_app):
                await other_app.state.machine.step({"type": "jail_activated", "jail_name": "sshd"},
                                                   1_777_308_120_000_000)
            assert app.state.machine.revision == 0  # not read from the store yet
            state = await example["current_state"]()  # the route refreshes: it sees the other's commit
            assert state["revision"] == 1 and state["last_activation"]["jail_name"] == "sshd"

    asyncio.run(main())
    assert redis_server.client().hget("{bangui}:state", "revision") == b"1"
