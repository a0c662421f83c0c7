"""The log record and the level vocabulary shared by every parser."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["LEVELS", "LogRecord", "level_from_syslog_severity", "level_in_text", "normalize_level"]

# The four levels every record is reduced to, most severe first.
LEVELS = ("error", "warn", "info", "debug")

_LEVEL_OF_WORD = {
    "fatal": "error", "critical": "error", "crit": "error", "emerg": "error", "emergency": "error",
    "alert": "error", "severe": "error", "error": "error", "err": "error", "panic": "error",
    "e": "error", "f": "error",
    "warning": "warn", "warn": "warn", "w": "warn",
    "notice": "info", "info": "info", "information": "info", "informational": "info", "i": "info",
    "debug": "debug", "trace": "debug", "fine": "debug", "finer": "debug", "finest": "debug",
    "d": "debug", "v": "debug", "verbose": "debug",
}  # fmt: skip

# Upper-case level words as plain-text layouts print them (log4j, Go, glog),
# and bracketed ones in any case as Apache writes them ("[error]").
_LEVEL_WORD_RE = re.compile(
    r"\b(FATAL|CRITICAL|CRIT|EMERG|ALERT|SEVERE|ERROR|ERR|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)\b"
    r"|\[(?i:(fatal|critical|crit|emerg|alert|error|err|warning|warn|notice|info|debug|trace))\]"
)


def normalize_level(word: object) -> str | None:
    """Return ``error``, ``warn``, ``info`` or ``debug`` for a level name or number.

    Numbers from 0 to 7 are syslog severities; larger ones follow pino and
    bunyan, whose JSON lines carry numeric levels (10 trace, 20 debug,
    30 info, 40 warn, 50 error, 60 fatal).

    >>> normalize_level("WARNING")
    'warn'
    >>> normalize_level(40)
    'warn'
    >>> normalize_level("chatty") is None
    True
    """
    if isinstance(word, bool):
        return None
    if isinstance(word, int | float):
        number = int(word)
        if 0 <= number <= 7:
            return level_from_syslog_severity(number)
        if number >= 50:
            return "error"
        if number >= 40:
            return "warn"
        if number >= 30:
            return "info"
        return "debug" if number >= 0 else None
    if not isinstance(word, str):
        return None
    return _LEVEL_OF_WORD.get(word.strip().lower())


def level_from_syslog_severity(severity: int) -> str:
    """Map a syslog severity (0 emergency ... 7 debug) to a level.

    >>> level_from_syslog_severity(3)
    'error'
    """
    if severity <= 3:
        return "error"
    if severity == 4:
        return "warn"
    if severity <= 6:
        return "info"
    return "debug"


def level_in_text(text: str) -> str | None:
    """Find an upper-case level word in the first 200 characters of ``text``.

    >>> level_in_text("2024-05-01 12:00:00 [main] ERROR db: timeout")
    'error'
    """
    match = _LEVEL_WORD_RE.search(text, 0, 200)
    if match is None:
        return None
    return _LEVEL_OF_WORD[(match.group(1) or match.group(2)).lower()]


@dataclass
class LogRecord:
    """One log event: a line, or several joined lines of a multi-line event.

    Attributes:
        ts: event time in seconds since the Unix epoch (UTC), or None when the
            line carries no readable time.
        level: ``error``, ``warn``, ``info``, ``debug`` or None when unknown.
        message: the message without its header (time, level, host, ...).
        fields: the other parsed values (``status``, ``bytes``, ``host``, ...).
        raw: the original text, continuation lines joined with newlines.
        format: the name of the format that parsed the first line.
        template_id: the id of the message's template, set by the miner.
        is_new_template: True when this record created a template after warm-up.
    """

    ts: float | None
    level: str | None
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    raw: str = ""
    format: str = "plain"
    template_id: int | None = None
    is_new_template: bool = False

    @property
    def time(self) -> datetime | None:
        """The event time as an aware datetime in UTC, or None."""
        return None if self.ts is None else datetime.fromtimestamp(self.ts, UTC)

    @property
    def line_count(self) -> int:
        """Number of physical lines joined into this record."""
        return self.raw.count("\n") + 1
