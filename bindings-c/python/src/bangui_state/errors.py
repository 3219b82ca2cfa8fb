"""Exceptions: one base class, one subclass per result code of the C API."""
from __future__ import annotations

import re

from ._ffi import ffi, lib

# A field path at the start of a message: `event.status.version`, `event.list[3]`, `event.x["a b"]`.
_PATH = re.compile(r'([A-Za-z_]\w*(?:\.\w+|\[\d+\]|\["(?:[^"\\]|\\.)*"\])*)(?:\.\.\.\S*)?(?: \(a path of \d+ keys\))?: ')


class Error(Exception):
    """Any error reported by bangui_state. `message` is the full message,
    starting with the path of what was wrong (e.g. ``event.status.online:
    expected a boolean, found a string``); `code` the C API's result code of
    its kind (the library's, or the class's for errors found in Python)."""

    code: int = 0

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def path(self) -> str:
        """Where the problem is (``event.status.version``): the message's
        leading field path; empty when the message names none."""
        found = _PATH.match(self.message)
        return found[1] if found else ""


class NullArgumentError(Error):
    """A required argument was missing (a NULL pointer; e.g. a closed machine)."""

    code = lib.BANGUI_RESULT_NULL_ARGUMENT


class InvalidUtf8Error(Error):
    """A string was not valid UTF-8 (e.g. it held a lone surrogate)."""

    code = lib.BANGUI_RESULT_INVALID_UTF8


class InvalidJsonError(Error):
    """A JSON text was not JSON at all (syntax error, truncated, NaN)."""

    code = lib.BANGUI_RESULT_INVALID_JSON


class NotJsonError(InvalidJsonError, TypeError, ValueError):
    """A Python value has no JSON form, found before any JSON was built: bytes,
    a set or another object, a non-string key, NaN or an infinity, a cycle,
    nesting deeper than the core reads, a lone surrogate, an int subclass whose
    conversions disagree, a raw NUL in a JSON text. The message starts with
    the path (``event.status.version: a bytes has no JSON form ...``).
    Also a `TypeError` and a `ValueError`, the builtins `json` raises."""


class InvalidEventError(Error):
    """An event was malformed: unknown type, a missing or mistyped field."""

    code = lib.BANGUI_RESULT_INVALID_EVENT


class ArgumentTypeError(InvalidEventError, TypeError):
    """An argument of `Machine.health_probe` has the wrong type (`online` not
    a bool, `version` not a str or None, `active_jails` not an int)."""


class InvalidSettingsError(Error):
    """Bootstrap settings were malformed."""

    code = lib.BANGUI_RESULT_INVALID_SETTINGS


class InvalidStateError(Error):
    """A state to restore was malformed or inconsistent."""

    code = lib.BANGUI_RESULT_INVALID_STATE


class UnknownSchemaVersionError(Error):
    """A state to restore names a schema_version this build does not know."""

    code = lib.BANGUI_RESULT_UNKNOWN_SCHEMA_VERSION


class InvalidInstantError(Error):
    """A `now` or an RFC 3339 text was not a valid instant."""

    code = lib.BANGUI_RESULT_INVALID_INSTANT


class NaiveDatetimeError(InvalidInstantError, ValueError):
    """A naive datetime (no tzinfo) was given: it is ambiguous, so it is refused."""


class InstantTypeError(InvalidInstantError, TypeError):
    """A `now` that is neither an aware datetime nor an int (nor None), or an
    instant text that is not a str."""


class RevisionExhaustedError(Error):
    """The machine's revision is at its maximum."""

    code = lib.BANGUI_RESULT_REVISION_EXHAUSTED


class PoisonedError(Error):
    """A previous call panicked while holding the machine: it is unusable."""

    code = lib.BANGUI_RESULT_POISONED


class PanicError(Error):
    """The library panicked (a bug); the call was abandoned."""

    code = lib.BANGUI_RESULT_PANIC


class InsufficientBufferError(Error):
    """A buffer was too small (not raised by this package's own calls)."""

    code = lib.BANGUI_RESULT_INSUFFICIENT_BUFFER


class OtherError(Error):
    """An error this version of the package has no class for."""

    code = lib.BANGUI_RESULT_OTHER_ERROR


_BY_CODE: dict[int, type[Error]] = {
    cls.code: cls
    for cls in (
        NullArgumentError,
        InvalidUtf8Error,
        InvalidJsonError,
        InvalidEventError,
        InvalidSettingsError,
        InvalidStateError,
        UnknownSchemaVersionError,
        InvalidInstantError,
        RevisionExhaustedError,
        PoisonedError,
        PanicError,
        InsufficientBufferError,
        OtherError,
    )
}


def error_for(code: int) -> Error:
    """The error for a failed call's result code. Must run on the calling
    thread right after the call: the message is the library's thread-local
    last error."""
    message = ffi.string(lib.bangui_last_error_message()).decode("utf-8", "replace")
    return _BY_CODE.get(code, Error)(message, code)


def check(code: int) -> None:
    """Raises the error for a failed call (see `error_for`)."""
    if code != lib.BANGUI_RESULT_OK:
        raise error_for(code)
