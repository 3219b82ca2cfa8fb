"""What the host accepts from the network, checked before anything reaches the
shared machine or fail2ban. Every refusal is a `BadInput` (a 400 naming what
was wrong and where); nothing a client sends can make a 5xx.

Bounds (documented in README.md, "Bad input"):
- a request body: `Config.max_body_bytes` (64 KiB by default; 413 beyond);
- one settings value: `MAX_SETTING_VALUE_BYTES` of compact JSON, and the
  bootstrap settings after an update: `MAX_SETTINGS_BYTES`, since every
  commit writes them again and every `/api/state` answer carries them;
- a jail name: `JAIL_NAME`, checked before fail2ban sees it.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

MAX_SETTING_VALUE_BYTES = 4096
MAX_SETTINGS_BYTES = 32768

JAIL_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
"""fail2ban has no rule of its own for jail names (a name comes from a section
of jail.conf, or from `add NAME` on the socket, and anything is taken; names
longer than 25 characters only get a warning). This is the strict rule the
host holds jails to: letters, digits, `_ . @ -`, at most 64."""


class BadInput(ValueError):
    """A request the host refuses: `str()` is the message for the 400."""


def _refuse_constant(name: str) -> NoReturn:
    raise BadInput(f"body: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadInput(f"body: the number {text[:40]} is out of range (beyond a double's)")
    return value


def parse_json(body: bytes) -> Any:
    """The request body as JSON data, or BadInput saying why not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as failure:
        raise BadInput(f"body: not UTF-8 (byte {failure.start})") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except BadInput:
        raise
    except RecursionError:
        raise BadInput(TOO_DEEP) from None
    except ValueError as failure:  # json's JSONDecodeError, and int() past Python's digit limit
        raise BadInput(f"body: not JSON ({failure})") from None
    _weight(data, "body")  # refuses what parses but is not text (a lone surrogate)
    return data


TOO_DEEP = "body: nested too deeply (the core accepts at most 100 levels)"


def _weight(value: Any, where: str) -> int:
    """Bytes of `value` as compact UTF-8 JSON."""
    try:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    except RecursionError:
        raise BadInput(TOO_DEEP) from None
    except UnicodeEncodeError:
        raise BadInput(f"{where}: a string holds a lone UTF-16 surrogate (\\ud800 to \\udfff), which is not "
                       "text") from None


def settings_overrides(body: bytes, current: dict[str, Any]) -> Any:
    """The body of `PUT /api/settings`: JSON, each value within its bound, and
    `current` (the bootstrap settings) with them applied within the total.
    Anything else (not an object, wrong types) is for the core to refuse, with
    its own message naming the field."""
    overrides = parse_json(body)
    if not isinstance(overrides, dict):
        return overrides
    for key, value in overrides.items():
        weight = _weight(value, f"body.{key[:40]}")
        if weight > MAX_SETTING_VALUE_BYTES:
            raise BadInput(f"body.{key[:40]}: the value weighs {weight} bytes as JSON, more than the "
                           f"{MAX_SETTING_VALUE_BYTES} a setting may")
    total = _weight({**current, **overrides}, "body")
    if total > MAX_SETTINGS_BYTES:
        raise BadInput(f"body: the settings would weigh {total} bytes as JSON, more than the "
                       f"{MAX_SETTINGS_BYTES} allowed")
    return overrides


def jail_name(name: str) -> str:
    if not JAIL_NAME.fullmatch(name):
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise BadInput(f"jail name {shown!r}: expected 1 to 64 letters, digits or _ . @ -")
    return name


def login_body(body: bytes) -> tuple[str, str]:
    """`{"user": ..., "password": ...}` of `POST /api/login`."""
    data = parse_json(body)
    if not isinstance(data, dict):
        raise BadInput("body: expected an object with user and password")
    unknown = sorted(set(data) - {"user", "password"})
    if unknown:
        raise BadInput(f"body.{unknown[0][:40]}: unknown field (expected user and password)")
    for field, bound in (("user", 128), ("password", 1024)):
        value = data.get(field)
        if not isinstance(value, str) or not value:
            raise BadInput(f"body.{field}: expected a non-empty string")
        if len(value) > bound:
            raise BadInput(f"body.{field}: longer than {bound} characters")
    return data["user"], data["password"]


def revision(text: str | None, what: str) -> int | None:
    """A revision from a query parameter or a header: an integer from 0 to 2^63 - 1."""
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) >= 2**63:
        raise BadInput(f"{what}: expected a revision (an integer from 0 to 2^63 - 1), got {text[:30]!r}")
    return int(text)
