"""fail2ban's own socket protocol, spoken with asyncio.

A command is a list of strings, pickled, then `<F2B_END_COMMAND>`; the answer
is a pickled `(code, value)` followed by the same marker (what
`fail2ban.client.csocket.CSocket` does, without blocking the event loop).
The answer is unpickled with no classes allowed: an exception the server
pickles back (an unknown jail, say) becomes a `Fail2banError`, never code.
"""
from __future__ import annotations

import asyncio
import io
import pickle
import socket
from dataclasses import dataclass
from typing import Any

END = b"<F2B_END_COMMAND>"
CLOSE = b"<F2B_CLOSE_COMMAND>"


class Fail2banError(Exception):
    """fail2ban answered with an error, or not at all (unreachable, timed out)."""


@dataclass(frozen=True)
class _Remote:
    """A class the server pickled (its exceptions): only its name and arguments are kept."""

    name: str
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.name.rsplit('.', 1)[-1]}: {', '.join(map(str, self.args))}"


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return lambda *args: _Remote(f"{module}.{name}", args)


@dataclass(frozen=True)
class ServerStatus:
    """One probe's result, as `health_probe` takes it."""

    online: bool
    version: str | None = None
    active_jails: int = 0
    jails: tuple[str, ...] = ()


class Fail2banClient:
    """Talks to one fail2ban-server socket; one connection per command, as fail2ban-client does."""

    def __init__(self, socket_path: str, timeout: float = 2.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    async def command(self, *words: str) -> Any:
        """Sends one command and returns its value; `Fail2banError` if the
        server is unreachable, too slow, or answers with an error."""
        try:
            # asyncio.timeout, not wait_for: wait_for (Python <= 3.11) can swallow a
            # cancellation that arrives as the command completes, and a worker shutting
            # down would then probe on forever.
            async with asyncio.timeout(self.timeout):
                return await self._command(list(words))
        except (OSError, EOFError, asyncio.TimeoutError, pickle.UnpicklingError) as error:
            raise Fail2banError(f"fail2ban at {self.socket_path}: {' '.join(words)}: "
                                f"{type(error).__name__} {error}".rstrip()) from error

    async def _connect(self) -> socket.socket:
        """A connected socket. fail2ban listens with a backlog of 1, so with
        several workers probing a connect often finds it full: a non-blocking
        Unix-socket connect then fails with EAGAIN (and asyncio's own connect
        takes that for success). Try again shortly, until the command's timeout."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            while True:
                try:
                    sock.connect(self.socket_path)
                    return sock
                except BlockingIOError:
                    await asyncio.sleep(0.005)
        except BaseException:
            sock.close()
            raise

    async def _command(self, words: list[str]) -> Any:
        reader, writer = await asyncio.open_unix_connection(sock=await self._connect())
        try:
            writer.write(pickle.dumps(words, pickle.HIGHEST_PROTOCOL) + END)
            await writer.drain()
            answer = await reader.readuntil(END)
            # Goodbye, as fail2ban-client says it; not awaited: the server may
            # hang up first, and the answer is already here.
            writer.write(CLOSE + END)
        finally:
            writer.close()
        code, value = _DataOnly(io.BytesIO(answer[: -len(END)])).load()
        if code != 0:
            raise Fail2banError(f"fail2ban at {self.socket_path}: {' '.join(words)}: {value}")
        return value

    async def probe(self) -> ServerStatus:
        """online = the server answers `ping`; then its `version` and the jails from `status`.
        Any failure or timeout is offline, as BanGUI's health check has it."""
        try:
            await self.command("ping")
            version = await self.command("version")
            status = dict(await self.command("status"))
        except Fail2banError:
            return ServerStatus(online=False)
        jails = tuple(j.strip() for j in str(status.get("Jail list", "")).split(",") if j.strip())
        return ServerStatus(True, str(version), int(status.get("Number of jail", len(jails))), jails)

    async def activate_jail(self, name: str) -> None:
        """Adds the jail (polling backend) and starts it."""
        await self.command("add", name, "polling")
        await self.command("start", name)

    async def backend_supported(self, jail: str) -> bool:
        """BanGUI's backend-capability probe: does this fail2ban answer `get JAIL backend`?
        An error answer means no; an unreachable server raises `Fail2banError`."""
        try:
            await self.command("get", jail, "backend")
        except Fail2banError as error:
            if isinstance(error.__cause__, (OSError, asyncio.TimeoutError, EOFError)):
                raise
            return False
        return True
