"""Parsers of key/value layouts: JSON lines and logfmt."""

from __future__ import annotations

import re
from typing import Any

import orjson

from tui_monitor.parsing.records import LogRecord, normalize_level
from tui_monitor.parsing.timestamps import TimeParser, epoch_from_number

__all__ = ["MESSAGE_KEYS", "TIME_KEYS", "parse_json", "parse_logfmt"]

TIME_KEYS = ("ts", "time", "timestamp", "@timestamp", "t", "date", "datetime", "asctime")
LEVEL_KEYS = ("level", "lvl", "severity", "loglevel", "levelname", "log.level", "@level")
MESSAGE_KEYS = ("msg", "message", "@message", "event", "text", "log")

# key=value, key="quoted value", key= (empty); keys as Go, Ruby and Python loggers write them.
_LOGFMT_PAIR_RE = re.compile(r'\s*([A-Za-z_@][\w.\-/@]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def read_time(value: Any, clock: TimeParser) -> float | None:
    """Read a time value from a JSON or logfmt field: epoch number or ISO 8601 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return epoch_from_number(float(value))
    if isinstance(value, str):
        parsed = clock.iso(value.strip())
        if parsed is not None:
            return parsed[0]
        try:
            return epoch_from_number(float(value))
        except ValueError:
            return None
    return None


def _pop_first(fields: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in fields:
            return fields.pop(key)
    return None


def _record_from_fields(fields: dict[str, Any], line: str, fmt: str, clock: TimeParser) -> LogRecord:
    ts = read_time(_pop_first(fields, TIME_KEYS), clock)
    level_value = _pop_first(fields, LEVEL_KEYS)
    if level_value is None and isinstance(fields.get("log"), dict):
        level_value = fields["log"].get("level")  # Elastic Common Schema nests it
    message_value = _pop_first(fields, MESSAGE_KEYS)
    if message_value is None:
        # No message key: the remaining keys and values are the message.
        message = " ".join(f"{k}={v}" for k, v in fields.items())
    else:
        message = message_value if isinstance(message_value, str) else str(message_value)
    return LogRecord(ts=ts, level=normalize_level(level_value), message=message, fields=fields, raw=line, format=fmt)


def parse_json(line: str, clock: TimeParser) -> LogRecord | None:
    """Parse one JSON object per line; None when the line is not a JSON object.

    Time, level and message come from the usual keys (``ts``/``time``/
    ``timestamp``/``@timestamp``, ``level``/``lvl``/``severity``,
    ``msg``/``message``); every other key stays in ``fields``.
    """
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    return _record_from_fields(value, line, "json", clock)


def parse_logfmt(line: str, clock: TimeParser) -> LogRecord | None:
    """Parse a logfmt line (``ts=... level=info msg="started" port=80``).

    The whole line must be key=value pairs, at least two of them; otherwise
    the result is None.
    """
    fields: dict[str, Any] = {}
    pos = 0
    length = len(line.rstrip())
    while pos < length:
        match = _LOGFMT_PAIR_RE.match(line, pos)
        if match is None:
            return None
        key, value = match.groups()
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        fields[key] = value
        pos = match.end()
    if len(fields) < 2:
        return None
    return _record_from_fields(fields, line, "logfmt", clock)
