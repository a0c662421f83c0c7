"""The registry of line formats and auto-detection from a file's first lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tui_monitor.errors import ConfigError
from tui_monitor.parsing.layouts import (
    parse_access,
    parse_plain,
    parse_python,
    parse_python_basic,
    parse_syslog3164,
    parse_syslog5424,
)
from tui_monitor.parsing.multiline import looks_like_continuation
from tui_monitor.parsing.records import LogRecord
from tui_monitor.parsing.structured import parse_json, parse_logfmt
from tui_monitor.parsing.timestamps import TimeParser

__all__ = ["FORMATS", "LineParser", "detect_format", "get_parser"]

LineParser = Callable[[str, TimeParser], LogRecord | None]

# In detection order: on a tie the earlier, more specific format wins.
FORMATS: dict[str, LineParser] = {
    "json": parse_json,
    "syslog5424": parse_syslog5424,
    "access": parse_access,
    "python": parse_python,
    "python_basic": parse_python_basic,
    "syslog": parse_syslog3164,
    "logfmt": parse_logfmt,
    "plain": parse_plain,
}

# Lines read to detect a format, and the share of them a format must parse.
DETECT_LINES = 20
_MIN_SHARE = 0.6


def get_parser(name: str) -> LineParser:
    """Return the parser of a format name.

    Raises:
        ConfigError: the name is not a known format.
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(
            f"unknown log format {name!r}; use one of {', '.join(FORMATS)} or 'auto' to detect it"
        ) from None


def detect_format(lines: Sequence[str], clock: TimeParser | None = None) -> str:
    """Return the name of the format that parses most of ``lines``.

    Blank lines and continuation lines (stack-trace frames, indented text) are
    skipped; up to ``DETECT_LINES`` others are tried. A format must parse at
    least 60 % of them, or the result is ``plain``.

    >>> detect_format(['{"level": "info", "msg": "up"}', '{"level": "warn", "msg": "slow"}'])
    'json'
    >>> detect_format(["hello world"])
    'plain'
    """
    clock = clock or TimeParser()
    sample = [line for line in lines if line.strip() and not looks_like_continuation(line)][:DETECT_LINES]
    if not sample:
        return "plain"
    best, best_count = "plain", 0
    for name, parser in FORMATS.items():
        if name == "plain":
            continue
        count = sum(parser(line, clock) is not None for line in sample)
        if count > best_count:
            best, best_count = name, count
    if best_count < _MIN_SHARE * len(sample):
        return "plain"
    return best
