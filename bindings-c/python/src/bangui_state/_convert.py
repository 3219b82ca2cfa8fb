"""What crosses into C, checked on the Python side: JSON values, texts, `now`.

Conversion only, no rule. Everything a Python value can be that JSON cannot
say is refused here with the path of the offending part, before any JSON is
built: non-string keys (`1` and `"1"` would merge), NaN and infinities, bytes,
sets and other objects, cycles, nesting deeper than the core reads, lone
surrogates, int or float subclasses whose conversions disagree with their
value. Any `collections.abc.Mapping` is read as a JSON object and any list or
tuple as an array. A NUL inside a string is carried exactly (JSON escapes it);
a raw NUL in a text handed to C as such (`step_json`, `parse_instant`, ...)
is refused, since C would read only up to it.
"""
from __future__ import annotations

import json
import json.encoder
import math
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

from .errors import Error, InvalidInstantError, NaiveDatetimeError, NotJsonError, InstantTypeError

MAX_DEPTH = 127
"""How deeply a JSON document (the event, the settings, the state) may nest:
the core's JSON reader's limit (serde_json's), checked here first so that a
deeper value is refused with its path instead of a position in generated text."""

_BIG_INT = 2**64  # beyond it, ask whether the digits can be written (sys.get_int_max_str_digits)

# ---------------------------------------------------------------------------
# JSON values
# ---------------------------------------------------------------------------


class _Refused(Exception):
    """A refusal on its way up the value: each container adds its key."""

    def __init__(self, message: str, at: object) -> None:
        super().__init__(message)
        self.message = message
        self.at = at  # the refused value (to tell a cycle from deep nesting)
        self.parts: list[str | int] = []
        self.cycle = False

    def inside(self, part: str | int, container: object) -> _Refused:
        """The refusal, one level up: under `part` of `container`."""
        self.parts.append(part)
        if self.at is container:
            self.cycle = True
        return self


def _format_path(root: str, parts: list[str | int]) -> str:
    """`event.status.version`, `event.settings.list[3]`, `event.overrides["a b"]`."""
    text = [root]
    for part in parts:
        if isinstance(part, int):
            text.append(f"[{part}]")
        elif part.isidentifier():
            text.append(f".{part}")
        else:
            text.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(text)


def _short_path(root: str, parts: list[str | int]) -> str:
    if len(parts) <= 12:
        return _format_path(root, parts)
    return f"{_format_path(root, parts[:6])}...{_format_path('', parts[-3:])} (a path of {len(parts)} keys)"


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_str(text: str) -> None:
    """Refuses lone surrogates (not Unicode text, no UTF-8 form)."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _Refused(f"lone surrogate U+{ord(text[e.start]):04X} at index {e.start} is not Unicode text",
                           text) from None


def _check_int(value: int) -> None:
    if value > _BIG_INT or value < -_BIG_INT:
        try:
            int.__repr__(value)
        except ValueError as e:  # more digits than this interpreter writes as text
            raise _Refused(f"an integer of {value.bit_length()} bits is too large to write as JSON ({e})",
                           value) from None


def _check_float(value: float) -> None:
    if not math.isfinite(value):
        raise _Refused(f"{value!r} is not a JSON number (JSON has no NaN or infinity)", value)


def _honest_int(value: int) -> int:
    """The value of an int subclass, if its conversions say the same; else refused."""
    true = int.__index__(value)
    try:  # the subclass's own conversions (operator.index would not ask an int subclass)
        said = (type(value).__index__(value), type(value).__int__(value))
    except Exception as e:  # noqa: BLE001 - any failure of the subclass's own code is a refusal
        raise _Refused(f"{_type_name(value)} (an int subclass) fails to convert: {e!r}", value) from None
    if said != (true, true) or type(said[0]) is not int or type(said[1]) is not int:
        raise _Refused(f"{_type_name(value)} (an int subclass) holds {true} but converts to "
                       f"{said[0]!r} and {said[1]!r}", value)
    return true


def _honest_float(value: float) -> float:
    true = float.__float__(value)
    try:
        said = float(value)
    except Exception as e:  # noqa: BLE001
        raise _Refused(f"{_type_name(value)} (a float subclass) fails to convert: {e!r}", value) from None
    if type(said) is not float or not (said == true or (said != said and true != true)):
        raise _Refused(f"{_type_name(value)} (a float subclass) holds {true!r} but converts to {said!r}", value)
    return true


def _key(key: object) -> str:
    if type(key) is str:
        return key
    if isinstance(key, str):
        key = str.__str__(key)
        _check_str(key)
        return key
    raise _Refused(f"key {_short_repr(key)} ({_type_name(key)}) is not a string; JSON object keys are strings",
                   None)


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not hide the refusal
        return f"<{_type_name(value)}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _scalar(value: object) -> object:
    """A value that is not a dict, list or tuple of exact type, checked and
    normalised (subclasses to their base values, Mappings to dicts...)."""
    if isinstance(value, bool):
        return bool(value)  # bool cannot be subclassed: exact already
    if isinstance(value, int):
        value = _honest_int(value)
        _check_int(value)
        return value
    if isinstance(value, float):
        value = _honest_float(value)
        _check_float(value)
        return value
    if isinstance(value, str):
        value = str.__str__(value)
        _check_str(value)
        return value
    raise _Refused(f"a {_type_name(value)} has no JSON form (expected a dict or other Mapping, list, tuple, "
                   "str, int, float, bool or None)", value)


def _walk(value: Any, depth: int) -> Any:
    """`value` if it is plain JSON data, else a plain copy of it; `_Refused` when it cannot be."""
    if depth > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels", value)
    kind = type(value)
    out: dict[str, Any] | None
    if kind is dict:
        items: Any = value.items()
        out = None
    elif kind is list or kind is tuple:
        return _walk_array(value, depth)
    elif isinstance(value, Mapping):
        try:
            items = list(value.items())
        except Exception as e:  # noqa: BLE001 - the Mapping's own code failed: refuse it, say how
            raise _Refused(f"reading this {_type_name(value)} failed: {e!r}", value) from None
        out = {}  # always a plain copy
    elif value is None:
        return None
    elif kind is float:
        _check_float(value)
        return value
    elif kind is int:
        _check_int(value)
        return value
    elif kind is str:
        _check_str(value)
        return value
    else:
        return _scalar(value)
    for key, item in items:
        if type(key) is not str:  # refused or normalised here: the path so far is the dict's own
            new_key = _key(key)
            if out is None:
                out = dict(value)
                del out[key]
            if new_key in out:
                raise _Refused(f"key {new_key!r} given twice (once as a {_type_name(key)})", None)
            key = new_key
        try:
            new = _child(item, depth)
        except _Refused as refused:
            raise refused.inside(key, value) from None
        if out is not None:
            out[key] = new
        elif new is not item:
            out = dict(value)
            out[key] = new
    return value if out is None else out


def _child(item: Any, depth: int) -> Any:
    """A container's item, checked (the common scalars inline)."""
    t = type(item)
    if t is str:
        if not item.isascii():
            _check_str(item)
        return item
    if t is bool or item is None or (t is int and -_BIG_INT <= item <= _BIG_INT):
        return item
    return _walk(item, depth + 1)


def _walk_array(value: list[Any] | tuple[Any, ...], depth: int) -> Any:
    out = None
    for index, item in enumerate(value):
        try:
            new = _child(item, depth)
        except _Refused as refused:
            raise refused.inside(index, value) from None
        if new is not item:
            if out is None:
                out = list(value)
            out[index] = new
    return value if out is None else out


def plain_json(value: object, root: str) -> Any:
    """`value` as plain JSON data (dicts with str keys, lists, str, int,
    float, bool, None); `NotJsonError` naming the path when it has no JSON form."""
    try:
        return _walk(value, 1)
    except _Refused as refused:
        parts = refused.parts[::-1]
        message = refused.message
        if refused.cycle:
            message = "a cycle: this value contains itself"
            # The path down to the first repetition of the container.
            parts = _first_cycle(value, parts)
        raise NotJsonError(f"{_short_path(root, parts)}: {message}") from None
    except RecursionError:
        # Only when the caller is itself nearly out of stack (MAX_DEPTH is far below the limit).
        raise NotJsonError(f"{root}: nested too deeply for the Python stack") from None


def _first_cycle(value: Any, parts: list[str | int]) -> list[str | int]:
    """The shortest prefix of `parts` leading back to a container already on the path."""
    seen = {id(value)}
    for n, part in enumerate(parts):
        value = value[part] if not isinstance(value, Mapping) else _item(value, part)
        if id(value) in seen:
            return parts[: n + 1]
        seen.add(id(value))
    return parts


def _item(mapping: Mapping[Any, Any], key: object) -> Any:
    for k, v in mapping.items():
        if k == key:
            return v
    return None


# The json module's C encoder, built once (json.dumps with non-default options
# builds an encoder per call). Fed only plain_json's output: no cycle check, no NaN.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Any = (
    _c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", False, False,
                    False)
    if _c_make_encoder is not None else None
)


def dumps(value: object, root: str) -> bytes:
    """`value` as compact UTF-8 JSON for the library (see `plain_json`)."""
    plain = plain_json(value, root)
    if _c_encode is not None:
        return "".join(_c_encode(plain, 0)).encode("utf-8")
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


# ---------------------------------------------------------------------------
# Texts given to C as NUL-terminated strings
# ---------------------------------------------------------------------------


def c_text(value: object, name: str, error: type[Error], type_error: type[Error]) -> bytes:
    """A str or bytes as the bytes of a C string. A NUL would end the C string
    early, so it is refused (as `error`); lone surrogates pass through as
    invalid UTF-8, which the library reports with its byte offset."""
    if isinstance(value, str):
        encoded = value.encode("utf-8", "surrogatepass")
        nul = value.find("\x00")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        encoded = bytes(value)
        nul = encoded.find(b"\x00")
    else:
        raise type_error(f"{name}: expected a str or bytes, got {_type_name(value)}")
    if nul >= 0:
        raise error(f"{name}: a NUL character at index {nul}; a C string ends there, so it is refused "
                    "(inside a JSON string write it as \\u0000)")
    return encoded


# ---------------------------------------------------------------------------
# now
# ---------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
UTC = timezone.utc
_MICROSECOND = timedelta(microseconds=1)
MIN_NOW_US = 10**14
"""The smallest int `now` taken as Unix microseconds (1973-03-03): smaller
ints are today's Unix seconds or milliseconds, read in the wrong unit."""
MAX_NOW_US = 10**17
"""One past the largest int `now` taken (year 5138): larger ints are Unix
nanoseconds (`time.time_ns()`), read in the wrong unit."""
_time_ns = time.time_ns


def to_unix_micros(now: datetime) -> int:
    """An aware datetime as Unix microseconds. Naive datetimes are refused:
    which zone they mean is a guess."""
    if type(now) is not datetime and not isinstance(now, datetime):
        raise InstantTypeError(f"now: expected an aware datetime or int Unix microseconds, got {_type_name(now)}")
    tz = now.tzinfo
    if tz is not UTC and (tz is None or now.utcoffset() is None):
        raise NaiveDatetimeError(
            f"now: naive datetime {now.isoformat()} is ambiguous; give a timezone-aware one "
            "(e.g. datetime.now(timezone.utc))"
        )
    return (now - EPOCH) // _MICROSECOND


def micros(now: object) -> int:
    """`now` (aware datetime, int Unix microseconds of this era, or None for
    the current time) as Unix microseconds."""
    kind = type(now)
    if kind is datetime:  # the common case first, inline (to_unix_micros does the same)
        tz = now.tzinfo  # type: ignore[attr-defined]
        if tz is UTC or (tz is not None and now.utcoffset() is not None):  # type: ignore[attr-defined]
            since = now - EPOCH  # type: ignore[operator]  # no utcoffset() call when tz is UTC
            return (since.days * 86400 + since.seconds) * 1_000_000 + since.microseconds  # type: ignore[no-any-return]
    elif kind is int:
        if MIN_NOW_US <= now < MAX_NOW_US:  # type: ignore[operator]
            return now  # type: ignore[return-value]
        refuse_now(now)  # type: ignore[arg-type]
    elif now is None:
        return _time_ns() // 1000
    elif isinstance(now, int) and not isinstance(now, bool):
        try:
            value = _honest_int(now)
        except _Refused as refused:
            raise InstantTypeError(f"now: {refused.message}") from None
        return micros(value)
    return to_unix_micros(now)  # type: ignore[arg-type]  # refuses what is not a datetime


def refuse_now(now: int) -> NoReturn:
    """The error for an int `now` outside this era's Unix microseconds, saying which unit it looks like."""
    unit = ""
    if 10**8 <= now < 10**11:
        unit = " (it looks like Unix seconds: multiply by 1_000_000)"
    elif 10**11 <= now < MIN_NOW_US:
        unit = " (it looks like Unix milliseconds: multiply by 1_000)"
    elif MAX_NOW_US <= now < 10**20:
        unit = " (it looks like Unix nanoseconds: divide by 1_000)"
    raise InvalidInstantError(
        f"now: {now} is not Unix microseconds of this era{unit}; an int now must be in "
        f"[10**14, 10**17) (1973-03-03 to the year 5138); give an aware datetime for other instants"
    )
