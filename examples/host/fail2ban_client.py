"""fail2ban's own socket protocol, spoken with asyncio.

A command is a list of strings, pickled, then `<F2B_END_COMMAND>`; the answer
is a pickled `(code, value)` followed by the same marker (what
`fail2ban.client.csocket.CSocket` does, without blocking the event loop).
Connections are kept open between commands (see `Fail2banClient`).
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
ANSWER_LIMIT = 16 * 1024 * 1024
"""The longest answer read (`status` of a server with thousands of jails stays far below)."""


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


class _Connection:
    """One open connection to the server: its streams, and the loop they belong to."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.loop = asyncio.get_running_loop()

    def usable(self) -> bool:
        """Still open at both ends, on the running loop: a server that quit or
        restarted has closed it, and the EOF is already read."""
        return (self.loop is asyncio.get_running_loop() and not self.reader.at_eof()
                and not self.writer.is_closing())

    def close(self, goodbye: bool) -> None:
        try:
            if goodbye:
                # Goodbye, as fail2ban-client says it; not awaited: the server
                # may hang up first.
                self.writer.write(CLOSE + END)
            self.writer.close()
        except RuntimeError:  # its loop is closed: the socket goes with it
            pass


class Fail2banClient:
    """Talks to one fail2ban-server socket.

    A connection carries one command at a time, and is kept for the next
    command once it has answered (fail2ban's server takes any number of
    commands on one connection, until `<F2B_CLOSE_COMMAND>`): up to
    `max_idle` idle connections stay open, so a busy host does not connect
    twice per activation against a listener whose backlog is 1. A connection
    whose command failed or timed out is closed, never reused: its late answer
    must not be read as the next command's."""

    def __init__(self, socket_path: str, timeout: float = 2.0, max_idle: int = 8) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.max_idle = max_idle
        self._idle: list[_Connection] = []

    async def command(self, *words: str) -> Any:
        """Sends one command and returns its value; `Fail2banError` if the
        server is unreachable, too slow, or answers with an error."""
        try:
            # asyncio.timeout, not wait_for: wait_for (Python <= 3.11) can swallow a
            # cancellation that arrives as the command completes, and a worker shutting
            # down would then probe on forever.
            async with asyncio.timeout(self.timeout):
                return await self._command(list(words))
        except (OSError, EOFError, asyncio.TimeoutError, asyncio.LimitOverrunError, pickle.UnpicklingError) as error:
            raise Fail2banError(f"fail2ban at {self.socket_path}: {' '.join(words)}: "
                                f"{type(error).__name__} {error}".rstrip()) from error

    async def aclose(self) -> None:
        """Closes the idle connections (a worker's shutdown)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close(goodbye=True)

    async def _connect(self) -> socket.socket:
        """A connected socket. fail2ban listens with a backlog of 1, so with
        several workers connecting at once a connect often finds it full: a
        non-blocking Unix-socket connect then fails with EAGAIN (and asyncio's
        own connect takes that for success). Try again shortly, until the
        command's timeout."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            while True:
                try:
                    sock.connect(self.socket_path)
                    return sock
                except BlockingIOError:
                    await asyncio.sleep(0.001)
        except BaseException:
            sock.close()
            raise

    async def _open(self) -> _Connection:
        return _Connection(*await asyncio.open_unix_connection(sock=await self._connect(), limit=ANSWER_LIMIT))

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                return connection
            connection.close(goodbye=False)
        return None

    async def _command(self, words: list[str]) -> Any:
        request = pickle.dumps(words, pickle.HIGHEST_PROTOCOL) + END
        connection = self._take_idle()
        if connection is not None:
            try:
                answer = await self._exchange(connection, request)
            except (ConnectionError, asyncio.IncompleteReadError) as error:
                connection.close(goodbye=False)
                if isinstance(error, asyncio.IncompleteReadError) and error.partial:
                    raise
                # The server closed this kept connection before reading the
                # command (it quit, or was restarted): fail2ban answers every
                # command it reads before it closes, so nothing was done. Once
                # more, on a new connection.
                connection = None
        if connection is None:
            connection = await self._open()
            answer = await self._exchange(connection, request)
        return self._value(words, answer)

    async def _exchange(self, connection: _Connection, request: bytes) -> bytes:
        """The answer to `request`; the connection goes back to the idle ones
        only once the whole answer is read."""
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            answer = await connection.reader.readuntil(END)
        except BaseException:
            connection.close(goodbye=False)
            raise
        if len(self._idle) < self.max_idle:
            self._idle.append(connection)
        else:
            connection.close(goodbye=True)
        return answer[: -len(END)]

    def _value(self, words: list[str], answer: bytes) -> Any:
        reply = _DataOnly(io.BytesIO(answer)).load()
        # (code, value), or what fail2ban says when it cannot: ["SHUTDOWN"]
        # once it is stopping, "ERROR: ..." when it could not read the command.
        if not (isinstance(reply, tuple) and len(reply) == 2):
            what = "it is shutting down" if reply == ["SHUTDOWN"] else f"an answer of an unknown shape: {reply!r:.200}"
            raise Fail2banError(f"fail2ban at {self.socket_path}: {' '.join(words)}: {what}")
        code, value = reply
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
