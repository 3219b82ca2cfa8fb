"""Errors of `bangui_state.runtime_state`. All are `bangui_state.Error`s, and
each also derives from the builtin exception the seed's code would have met
in its place, so BanGUI's existing `except` clauses keep working."""
from __future__ import annotations

from ..errors import Error


class AssignmentRefusedError(Error, AttributeError):
    """An assignment or `del` of a runtime attribute that no event of the core
    stands for (`server_status = X` outside a health probe, `runtime_settings
    = None`, ...). Nothing changed; the message names the call to use."""


class AsyncMachineError(Error, TypeError):
    """A synchronous call or assignment on an app installed over an
    `AsyncSharedMachine`, which only commits from a coroutine. Nothing changed;
    the message names the `bangui_state.runtime_state.aio` call to await."""


class InstallError(Error, ValueError):
    """`install()` was given a machine that does not fit the app: other
    bootstrap settings than `settings`, or a shared machine opened without
    `on_session_cache=session_cache_hook(app)`. Nothing was installed."""


class RecordError(Error, TypeError):
    """A value BanGUI passed has no record the core can keep (a status that is
    neither a model nor a mapping, a pending recovery without `jail_name`, ...)."""
