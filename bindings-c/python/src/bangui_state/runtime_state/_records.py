"""Conversions between what BanGUI passes and reads (pydantic models, plain
dicts, aware datetimes) and the JSON records the core keeps. Conversion only:
no rule of the runtime state is decided here.

A settings record is the settings object's whole JSON form, secrets revealed
(`SecretStr` fields hold their value): the record is what every worker rebuilds
its settings from, so a masked secret would break the other workers.
"""
from __future__ import annotations

import dataclasses
import enum
import json
import json.encoder
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, cast

from .._convert import to_unix_micros
from ..errors import InstantTypeError, NaiveDatetimeError
from ..shared.machine import format_instant
from .errors import RecordError

_UTC = timezone.utc
_fromisoformat = datetime.fromisoformat

# The json module's C encoder, built once (json.dumps builds one per call):
# compact, non-ASCII kept, NaN refused.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Any = (
    _c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", False, False,
                    False)
    if _c_make_encoder is not None else None
)


def event_text(event: dict[str, Any]) -> str:
    """An event this module built as compact JSON text; TypeError or
    ValueError if a value has no JSON form (the caller then lets the machine
    name it)."""
    if _c_encode is not None:
        return "".join(_c_encode(event, 0))
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# ---------------------------------------------------------------------------
# The models the module returns by default (an app passes its own at install)
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ServerStatus:
    """What a health probe found, as the module returns it when the app gave
    no model of its own. `extra` holds the keys a probe reported besides the
    three the core reads (`total_bans`, ...), carried through unchanged."""

    online: bool = False
    version: str | None = None
    active_jails: int = 0
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ServerStatus:
        extra = {key: value for key, value in record.items() if key not in _STATUS_KEYS}
        return cls(record["online"], record.get("version"), record.get("active_jails", 0), extra)

    def to_record(self) -> dict[str, Any]:
        return {**self.extra, "online": self.online, "version": self.version, "active_jails": self.active_jails}


@dataclasses.dataclass(frozen=True)
class PendingRecovery:
    """fail2ban went down soon after a jail activation (BanGUI's
    `app.models.config.PendingRecovery`, as returned when the app gave no model)."""

    jail_name: str
    activated_at: datetime
    detected_at: datetime
    recovered: bool = False


class InMemorySessionCache:
    """A session cache held in this process (the shape of BanGUI's
    `InMemorySessionCache`): sessions by token, until invalidated or cleared."""

    def __init__(self) -> None:
        self._sessions: dict[str, Any] = {}

    def get(self, token: str) -> Any | None:
        return self._sessions.get(token)

    def set(self, token: str, session: Any) -> None:
        self._sessions[token] = session

    def invalidate(self, token: str) -> None:
        self._sessions.pop(token, None)

    def clear(self) -> None:
        self._sessions.clear()

    def __len__(self) -> int:
        return len(self._sessions)


class NoOpSessionCache:
    """No session cache (the shape of BanGUI's `NoOpSessionCache`): every
    lookup misses, so every request asks the session store."""

    def get(self, token: str) -> Any | None:
        return None

    def set(self, token: str, session: Any) -> None:
        pass

    def invalidate(self, token: str) -> None:
        pass

    def clear(self) -> None:
        pass

    def __len__(self) -> int:
        return 0


_STATUS_KEYS = frozenset({"online", "version", "active_jails"})


# ---------------------------------------------------------------------------
# Python values -> JSON records
# ---------------------------------------------------------------------------


def instant_text(value: object, where: str) -> str:
    """An aware datetime as an RFC 3339 text for an event; anything else is
    refused, naming `where`."""
    if type(value) is datetime and value.tzinfo is _UTC:
        return value.isoformat()  # RFC 3339 as it is (+00:00), and the cheapest text
    return core_instant_text(value, where)


def core_instant_text(value: object, where: str) -> str:
    """An aware datetime as the core writes instants (`...ffffffZ`), to
    compare with an instant in the state."""
    if not isinstance(value, datetime):
        raise InstantTypeError(f"{where}: expected an aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{where}: naive datetime {value.isoformat()} is ambiguous; give a "
                                 "timezone-aware one (e.g. datetime.now(timezone.utc))")
    return format_instant(to_unix_micros(value))


def parse_instant(text: str) -> datetime:
    """The core's instant text (always `...Z`) as an aware UTC datetime."""
    return _fromisoformat(text)


def _reveal(value: Any) -> Any:
    """Plain Python data with secrets revealed and sets in a stable order (so
    every worker writes the same record for the same values)."""
    kind = type(value)
    if kind is dict:
        return {key: _reveal(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_reveal(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return _stable([_reveal(item) for item in value])
    if callable(getattr(value, "get_secret_value", None)):
        secret = value.get_secret_value()
        return secret.decode("utf-8") if isinstance(secret, bytes) else secret
    return value


def _stable(items: list[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def _is_model(value: object) -> bool:
    """A pydantic model instance (duck-typed: pydantic is the app's, not a dependency)."""
    return callable(getattr(value, "model_dump", None)) and callable(getattr(type(value), "model_validate", None))


# Per model class: the fields whose JSON dump needs a second look (a secret,
# which pydantic masks; a set, which it writes in hash order; or a value
# whose type the annotation does not pin down). Most settings fields need none.
_walked_fields: dict[type, tuple[str, ...]] = {}
_PLAIN_TYPES = (str, int, float, bool, type(None), bytes)
_PLAIN_JSON = frozenset({str, int, float, bool, type(None)})


def _needs_walk(annotation: Any, seen: set[int]) -> bool:
    import typing

    if annotation is typing.Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return False
    if origin is not None:
        if origin in (set, frozenset) or (isinstance(origin, type) and issubclass(origin, (set, frozenset))):
            return True
        return any(_needs_walk(arg, seen) for arg in typing.get_args(annotation) if arg is not Ellipsis)
    if not isinstance(annotation, type):
        return True  # a TypeVar, a forward reference, ...: not known to be plain
    if issubclass(annotation, _PLAIN_TYPES) or issubclass(annotation, enum.Enum):
        return False
    if callable(getattr(annotation, "get_secret_value", None)):
        return True
    fields = getattr(annotation, "model_fields", None)
    if isinstance(fields, Mapping):
        if id(annotation) in seen:
            return False  # a recursive model: its fields are being looked at already
        seen.add(id(annotation))
        return any(_needs_walk(field.annotation, seen) for field in fields.values())
    module = getattr(annotation, "__module__", "")
    return module not in ("datetime", "pathlib", "uuid", "decimal", "ipaddress")


def _fields_to_walk(model_class: type) -> tuple[str, ...]:
    names = _walked_fields.get(model_class)
    if names is None:
        fields: Mapping[str, Any] = getattr(model_class, "model_fields", {})
        names = _walked_fields[model_class] = tuple(
            name for name, field in fields.items() if _needs_walk(field.annotation, {id(model_class)}))
    return names


def _unmask(value: Any, dumped: Any) -> Any:
    """`dumped` (pydantic's JSON dump of `value`) with the secrets' values
    and sets in a stable order."""
    reveal = getattr(value, "get_secret_value", None)
    if reveal is not None and callable(reveal):
        secret = reveal()
        return secret.decode("utf-8") if isinstance(secret, bytes) else secret
    if _is_model(value) and isinstance(dumped, dict):
        for name in type(value).model_fields:
            if name in dumped:
                dumped[name] = _unmask(getattr(value, name), dumped[name])
        return dumped
    if isinstance(value, (set, frozenset)) and isinstance(dumped, list):
        return _stable(dumped)
    if isinstance(value, (list, tuple)) and isinstance(dumped, list) and len(value) == len(dumped):
        return [_unmask(item, out) for item, out in zip(value, dumped)]
    if isinstance(value, Mapping) and isinstance(dumped, dict):
        for key, item in value.items():
            name = key if isinstance(key, str) else str(key)
            if name in dumped:
                dumped[name] = _unmask(item, dumped[name])
        return dumped
    return dumped


def _model_json(model: Any) -> dict[str, Any]:
    """A pydantic model's JSON dump (pydantic's own, fast), with what it masks revealed."""
    dumped: dict[str, Any] = model.model_dump(mode="json", round_trip=True)
    for name in _fields_to_walk(type(model)):
        if name in dumped:
            dumped[name] = _unmask(getattr(model, name), dumped[name])
    return dumped


def model_record(value: Any, where: str) -> dict[str, Any]:
    """A pydantic model, a mapping or a dataclass as a JSON object record."""
    if type(value) is dict:
        return cast(dict[str, Any], value)
    if isinstance(value, Mapping):
        return dict(value)
    if _is_model(value):
        record = _model_json(value)
        if not isinstance(record, dict):
            raise RecordError(f"{where}: {type(value).__name__}.model_dump() gave {type(record).__name__}, "
                              "not an object")
        return record
    to_record = getattr(value, "to_record", None)
    if callable(to_record):
        return cast(dict[str, Any], to_record())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _reveal(dataclasses.asdict(value))  # type: ignore[no-any-return]
    raise RecordError(f"{where}: expected a pydantic model, a mapping or a dataclass, got {type(value).__name__}")


def settings_record(settings: Any) -> dict[str, Any]:
    """The settings object's JSON record, as the core keeps it: a pydantic
    `Settings` (its `model_dump`, secrets revealed, every value in its JSON
    form) or a plain mapping. Open the machine with it:
    ``Machine(settings_record(settings))``."""
    return model_record(settings, "settings")


def overrides_record(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`update_app_settings`' keyword arguments as JSON values."""
    if all(type(value) in _PLAIN_JSON for value in overrides.values()):
        return dict(overrides)
    try:
        from pydantic_core import to_jsonable_python
    except ImportError:  # no pydantic: plain values, checked by the machine
        return dict(overrides)
    revealed = _reveal(dict(overrides))
    return cast(dict[str, Any], to_jsonable_python(revealed, round_trip=True))


# Per status class: read its three attributes (a model with exactly the
# fields the core reads) or dump it whole. A probe runs every few seconds.
_status_readers: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _three_fields(status: Any) -> dict[str, Any]:
    return {"online": status.online, "version": status.version, "active_jails": status.active_jails}


def status_record(status: Any) -> dict[str, Any]:
    """A server status (BanGUI's pydantic `ServerStatus`, this module's, a
    mapping) as the core's JSON object."""
    kind = type(status)
    if kind is dict:
        return cast(dict[str, Any], status)
    reader = _status_readers.get(kind)
    if reader is None:
        fields = getattr(kind, "model_fields", None)
        extra_allowed = (getattr(kind, "model_config", None) or {}).get("extra") == "allow"
        if _is_model(status) and isinstance(fields, Mapping) and set(fields) == _STATUS_KEYS and not extra_allowed:
            reader = _three_fields
        else:
            def reader(value: Any) -> dict[str, Any]:
                return model_record(value, "status")
        _status_readers[kind] = reader
    return reader(status)


def _field(value: Any, name: str, where: str) -> Any:
    if isinstance(value, Mapping):
        if name not in value:
            raise RecordError(f"{where}: no {name!r}")
        return value[name]
    try:
        return getattr(value, name)
    except AttributeError:
        raise RecordError(f"{where}: {type(value).__name__} has no attribute {name!r}") from None


def pending_recovery_fields(value: Any, where: str) -> tuple[str, datetime, datetime, bool]:
    """(jail_name, activated_at, detected_at, recovered) of a PendingRecovery
    model or mapping (`recovered` False when absent)."""
    recovered = value.get("recovered", False) if isinstance(value, Mapping) else getattr(value, "recovered", False)
    return (_field(value, "jail_name", where), _field(value, "activated_at", where),
            _field(value, "detected_at", where), recovered)


def activation_fields(value: Any, where: str) -> tuple[str, datetime]:
    """(jail_name, at) of an activation record (`{"jail_name": ..., "at": ...}`)."""
    return _field(value, "jail_name", where), _field(value, "at", where)


# ---------------------------------------------------------------------------
# JSON records -> what BanGUI reads
# ---------------------------------------------------------------------------


def build(model: Any, record: dict[str, Any]) -> Any:
    """An instance of `model` (a pydantic model class, a class with
    `from_record`, or any class taking the record's keys) from a record."""
    validate = getattr(model, "model_validate", None)
    if callable(validate):
        return validate(record)
    from_record = getattr(model, "from_record", None)
    if callable(from_record):
        return from_record(record)
    return model(**record)


def settings_from_record(model: Any, record: dict[str, Any]) -> Any:
    """Settings of the app's kind rebuilt from their record: the model's
    `model_validate`, or the record itself when the app's settings are a mapping."""
    if model is None or model is dict or not callable(getattr(model, "model_validate", None)):
        return record
    return model.model_validate(record)
