"""Replays effects into a logger, so a host logs exactly what the seed logged.

The seed logged with structlog (`log.info("fail2ban_came_online",
version=...)`). Given a structlog logger, `log_effects` makes those very calls.
Given a standard `logging.Logger` (or `LoggerAdapter`), it logs the event name
followed by the fields as `key=value` pairs, at the same level, with the
fields also in the record's `bangui_event` / `bangui_fields` attributes.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .types import Effect

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def log_effects(effects: Iterable[Effect], logger: Any) -> list[Effect]:
    """Logs every `log` effect, in order, and returns the other effects (cache
    swaps, probes) for the host to carry out."""
    rest: list[Effect] = []
    stdlib = isinstance(logger, (logging.Logger, logging.LoggerAdapter))
    for effect in effects:
        if effect["type"] != "log":
            rest.append(effect)
            continue
        level, event, fields = effect["level"], effect["event"], effect["fields"]
        if stdlib:
            template = "%s" + "".join(f" {key}=%r" for key in fields)
            logger.log(_LEVELS[level], template, event, *fields.values(),
                       extra={"bangui_event": event, "bangui_fields": dict(fields)})
        else:
            getattr(logger, level)(event, **fields)
    return rest
