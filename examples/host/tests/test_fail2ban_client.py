"""The fail2ban client against a private fail2ban-server (no mock)."""
from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fail2ban_client import END, Fail2banClient, Fail2banError, ServerStatus
from private_servers import DEFAULT_JAIL, Fail2banServer


@pytest.fixture(scope="module")
def fail2ban(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fail2banServer]:
    server = Fail2banServer(tmp_path_factory.mktemp("fail2ban"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_a_probe_reads_version_and_jails(fail2ban: Fail2banServer) -> None:
    status = asyncio.run(Fail2banClient(str(fail2ban.socket)).probe())
    assert status == ServerStatus(online=True, version="1.0.2", active_jails=1, jails=(DEFAULT_JAIL,))


def test_many_concurrent_probes_all_get_through(fail2ban: Fail2banServer) -> None:
    """fail2ban listens with a backlog of 1: 8 workers' worth of probes at once must
    still all see it online (a full backlog is waited out, not taken for offline)."""
    client = Fail2banClient(str(fail2ban.socket), timeout=10)  # about the backlog, not a loaded machine's speed

    async def probes() -> list[ServerStatus]:
        return await asyncio.gather(*(client.probe() for _ in range(8 * 3)))

    assert all(status.online for status in asyncio.run(probes()))


def test_an_error_answer_names_the_command_and_fail2ban_s_reason(fail2ban: Fail2banServer) -> None:
    client = Fail2banClient(str(fail2ban.socket))
    with pytest.raises(Fail2banError, match=r": status no-such-jail: .*no-such-jail"):
        asyncio.run(client.command("status", "no-such-jail"))


def test_no_server_is_offline(tmp_path: Path) -> None:
    assert asyncio.run(Fail2banClient(str(tmp_path / "none.sock")).probe()) == ServerStatus(online=False)


def test_a_server_that_does_not_answer_in_time_is_offline(tmp_path: Path) -> None:
    async def silent() -> ServerStatus:
        server = await asyncio.start_unix_server(lambda r, w: None, path=str(tmp_path / "silent.sock"))
        async with server:
            return await Fail2banClient(str(tmp_path / "silent.sock"), timeout=0.2).probe()

    assert asyncio.run(silent()) == ServerStatus(online=False)


def test_answers_are_unpickled_as_data_only(tmp_path: Path) -> None:
    """A pickled class in an answer is never imported or called: it becomes a name and its arguments."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(END)
        writer.write(pickle.dumps((0, [Path("/etc")])) + END)
        await writer.drain()

    async def ask() -> object:
        server = await asyncio.start_unix_server(answer, path=str(tmp_path / "odd.sock"))
        async with server:
            return await Fail2banClient(str(tmp_path / "odd.sock")).command("ping")

    answer_value = asyncio.run(ask())
    assert isinstance(answer_value, list) and len(answer_value) == 1
    assert not isinstance(answer_value[0], Path)
    assert "PosixPath" in str(answer_value[0])


def test_connections_are_kept_and_used_again(fail2ban: Fail2banServer) -> None:
    """Commands one after another go over one kept connection; concurrent ones each get
    their own, and at most `max_idle` stay open afterwards."""
    client = Fail2banClient(str(fail2ban.socket), timeout=10, max_idle=3)

    async def run() -> tuple[int, int]:
        await client.command("ping")
        first = client._idle[0].writer
        for _ in range(5):
            await client.command("ping")
        same = sum(connection.writer is first for connection in client._idle)
        await asyncio.gather(*(client.command("ping") for _ in range(8)))
        kept = len(client._idle)
        await client.aclose()
        return same, kept

    assert asyncio.run(run()) == (1, 3)


def test_a_kept_connection_to_a_restarted_server_is_replaced(tmp_path: Path) -> None:
    """fail2ban restarted between two commands: the kept connection is closed by then, and the
    next command goes over a new one instead of failing."""
    server = Fail2banServer(tmp_path / "fail2ban")
    client = Fail2banClient(str(server.socket), timeout=10)

    async def ping() -> Any:
        return await client.command("ping")

    async def run() -> list[Any]:
        answers = [await ping()]
        server.stop()
        server.start()
        answers.append(await ping())
        await client.aclose()
        return answers

    try:
        server.start()
        assert asyncio.run(run()) == ["pong", "pong"]
    finally:
        server.stop()


def test_a_started_server_is_configured_and_keeps_jails_added_at_once(tmp_path: Path) -> None:
    """`Fail2banServer.start()` returns once fail2ban applied its configuration: its jail is
    there at once, and jails added at once stay. Added before that, a jail made the
    configuration's `set dbfile` fail ("Cannot change database when there are jails
    present"): the configured jail never came and fail2ban-server shut itself down. While
    start() waited only for the socket, 5 of 6 runs of this test failed. Five starts, as each
    could go either way."""
    server = Fail2banServer(tmp_path / "fail2ban")
    client = Fail2banClient(str(server.socket), timeout=10)

    async def start_and_add() -> tuple[ServerStatus, ServerStatus]:
        probe = asyncio.create_task(client.probe())  # alongside the additions
        await asyncio.gather(*(client.activate_jail(f"early-{n}") for n in range(50)))
        first = await probe
        await asyncio.sleep(0.5)  # a failed configuration had stopped the server by then
        later = await client.probe()
        await client.aclose()
        return first, later

    try:
        for _ in range(5):
            server.start()
            first, later = asyncio.run(start_and_add())
            assert DEFAULT_JAIL in first.jails, first
            assert later.online and later.active_jails == 51, later
            server.stop()
    finally:
        server.stop()


def test_a_shutting_down_server_s_answer_is_an_error(tmp_path: Path) -> None:
    """fail2ban answers ["SHUTDOWN"] (not a (code, value) pair) to commands it reads while it stops."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(END)
        writer.write(pickle.dumps(["SHUTDOWN"]) + END)
        await writer.drain()

    async def ask() -> object:
        server = await asyncio.start_unix_server(answer, path=str(tmp_path / "stopping.sock"))
        async with server:
            return await Fail2banClient(str(tmp_path / "stopping.sock")).command("ping")

    with pytest.raises(Fail2banError, match=r": ping: it is shutting down"):
        asyncio.run(ask())
