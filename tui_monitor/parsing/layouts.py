"""Parsers of fixed text layouts: syslog, access logs, Python logging, plain text."""

from __future__ import annotations

import re
from typing import Any

from tui_monitor.parsing.header import split_header
from tui_monitor.parsing.records import LogRecord, level_from_syslog_severity, level_in_text, normalize_level
from tui_monitor.parsing.timestamps import ISO_RE, SYSLOG_TIME_RE, TimeParser

__all__ = [
    "parse_access",
    "parse_plain",
    "parse_python",
    "parse_python_basic",
    "parse_syslog3164",
    "parse_syslog5424",
]

# <34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed; the priority is optional in files,
# and rsyslog's precise file format puts an ISO 8601 stamp where the short one goes.
_SYSLOG3164_RE = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?"
    r"(?:(?P<month>[A-Z][a-z]{2}) (?P<day> ?\d|\d\d) (?P<clock>\d\d:\d\d:\d\d(?:\.\d{1,6})?)|(?P<iso>\d{4}-\d\d-\d\dT\S+))"
    r" (?P<host>[^\s\[\]:]+)"
    r"(?: (?P<app>[^\s:\[\]]+)(?:\[(?P<pid>[^\]\s]*)\])?:)?"
    r" ?(?P<msg>.*)"
)
# <165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [exampleSDID@32473 iut="3"] message
_SYSLOG5424_RE = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\"\\]|\"(?:[^\"\\]|\\.)*\")*\])+)(?: (?P<msg>.*))?"
)
_SD_ELEMENT_RE = re.compile(r"\[(\S+)((?:[^\]\"\\]|\"(?:[^\"\\]|\\.)*\")*)\]")
_SD_PARAM_RE = re.compile(r'\s+([^\s=\]"]+)="((?:[^"\\]|\\.)*)"')
# host ident user [time] "request" status bytes ["referer" "agent"] [extra fields]
_ACCESS_RE = re.compile(
    r'(?P<remote>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)"'
    r" (?P<status>\d{3}) (?P<bytes>\d+|-)"
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
    r"(?: (?P<extra>.*))?"
)
# A request time after the combined fields: nginx's $request_time (seconds,
# with a dot), Apache's %D (whole microseconds), or either behind a key=.
_REQUEST_TIME_RE = re.compile(r"(?:(?:rt|request_time|time|duration)=)?(\d+(?:\.\d+)?)")
# 2024-05-01 12:00:00,123 ERROR app.db: message  (asctime levelname name: message)
_PYTHON_RE = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d{3})?) (?P<level>[A-Z]+) (?P<name>[^\s:]+): (?P<msg>.*)"
)
# 2024-05-01 12:00:00,123 - app.db - ERROR - message  (the other common layout)
_PYTHON_DASH_RE = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d{3})?) - (?P<name>\S+) - (?P<level>[A-Z]+) - (?P<msg>.*)"
)
# WARNING:app.db:message  (logging.basicConfig's default)
_PYTHON_BASIC_RE = re.compile(r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|[A-Z]+):(?P<name>[^:\s]*):(?P<msg>.*)")
# glog and klog: a level letter glued to the month and day, "I0501 12:00:00.123456".
_GLOG_HEADER_RE = re.compile(r"([IWEF])\d{4} ")
_PYTHON_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL", "NOTSET"})


def parse_syslog3164(line: str, clock: TimeParser) -> LogRecord | None:
    """Parse a BSD syslog line (RFC 3164), with or without the ``<PRI>`` prefix.

    The year-less stamp takes the year from the clock (see ``TimeParser.syslog``).
    """
    match = _SYSLOG3164_RE.match(line)
    if match is None:
        return None
    groups = match.groupdict()
    if groups["iso"] is not None:
        parsed = clock.iso(groups["iso"])
        ts = None if parsed is None else parsed[0]
    else:
        ts = clock.syslog(groups["month"], groups["day"], groups["clock"])
    if ts is None:
        return None
    fields: dict[str, Any] = {}
    host = groups["host"]
    # "<ISO time> ERROR message" is not syslog with host ERROR: keep the level.
    host_level = normalize_level(host) if host.isupper() else None
    if host_level is None:
        fields["host"] = host
    if groups["app"] is not None:
        fields["app"] = groups["app"]
    if groups["pid"]:
        fields["pid"] = groups["pid"]
    message = groups["msg"]
    level = _level_from_pri(groups["pri"], fields) or host_level
    if level is None:
        level = level_in_text(message)
    return LogRecord(ts=ts, level=level, message=message, fields=fields, raw=line, format="syslog")


def _level_from_pri(pri: str | None, fields: dict[str, Any]) -> str | None:
    if pri is None:
        return None
    value = int(pri)
    if value > 191:
        return None
    fields["facility"] = value >> 3
    fields["severity"] = value & 7
    return level_from_syslog_severity(value & 7)


def parse_syslog5424(line: str, clock: TimeParser) -> LogRecord | None:
    """Parse an RFC 5424 syslog line; structured data goes into ``fields``."""
    match = _SYSLOG5424_RE.match(line)
    if match is None:
        return None
    groups = match.groupdict()
    fields: dict[str, Any] = {}
    level = _level_from_pri(groups["pri"], fields)
    if level is None:
        return None
    ts = None
    if groups["ts"] != "-":
        parsed = clock.iso(groups["ts"])
        if parsed is None:
            return None
        ts = parsed[0]
    for key in ("host", "app", "pid", "msgid"):
        if groups[key] != "-":
            fields[key] = groups[key]
    if groups["sd"] != "-":
        for sd_id, params in _SD_ELEMENT_RE.findall(groups["sd"]):
            fields[sd_id] = {k: v.replace('\\"', '"') for k, v in _SD_PARAM_RE.findall(params)}
    message = (groups["msg"] or "").removeprefix("\ufeff")
    return LogRecord(ts=ts, level=level, message=message, fields=fields, raw=line, format="syslog5424")


def parse_access(line: str, clock: TimeParser) -> LogRecord | None:
    """Parse a common or combined access-log line.

    ``fields`` gets ``status`` (int), ``bytes`` (int, 0 for ``-``), ``method``,
    ``path``, ``remote`` and, when the line ends with one, ``request_time_ms``.
    The level is ``error`` for 5xx, ``warn`` for 4xx and ``info`` otherwise.
    """
    match = _ACCESS_RE.match(line)
    if match is None:
        return None
    groups = match.groupdict()
    ts = clock.clf(groups["time"])
    if ts is None:
        return None
    status = int(groups["status"])
    fields: dict[str, Any] = {
        "remote": groups["remote"],
        "status": status,
        "bytes": 0 if groups["bytes"] == "-" else int(groups["bytes"]),
    }
    if groups["user"] != "-":
        fields["user"] = groups["user"]
    request = groups["request"]
    parts = request.split(" ")
    if len(parts) == 3:
        fields["method"], fields["path"], fields["protocol"] = parts
    if groups["referer"] is not None:
        fields["referer"] = groups["referer"]
        fields["agent"] = groups["agent"]
    if groups["extra"]:
        request_time_ms = _request_time_ms(groups["extra"])
        if request_time_ms is not None:
            fields["request_time_ms"] = request_time_ms
    level = "info"
    if status >= 500:
        level = "error"
    elif status >= 400:
        level = "warn"
    return LogRecord(ts=ts, level=level, message=request, fields=fields, raw=line, format="access")


def _request_time_ms(extra: str) -> float | None:
    for token in extra.split():
        match = _REQUEST_TIME_RE.fullmatch(token)
        if match is not None:
            number = match.group(1)
            return float(number) * 1000.0 if "." in number else int(number) / 1000.0
    return None


def parse_python(line: str, clock: TimeParser) -> LogRecord | None:
    """Parse Python logging's ``%(asctime)s %(levelname)s %(name)s: %(message)s``.

    The ``asctime - name - levelname - message`` layout is read too.
    """
    match = _PYTHON_RE.match(line) or _PYTHON_DASH_RE.match(line)
    if match is None or match.group("level") not in _PYTHON_LEVELS:
        return None
    parsed = clock.iso(match.group("ts"))
    if parsed is None:
        return None
    return LogRecord(
        ts=parsed[0],
        level=normalize_level(match.group("level")),
        message=match.group("msg"),
        fields={"logger": match.group("name")},
        raw=line,
        format="python",
    )


def parse_python_basic(line: str, clock: TimeParser) -> LogRecord | None:
    """Parse ``logging.basicConfig``'s default ``LEVEL:name:message`` (no time)."""
    match = _PYTHON_BASIC_RE.match(line)
    if match is None or match.group("level") not in _PYTHON_LEVELS:
        return None
    return LogRecord(
        ts=None,
        level=normalize_level(match.group("level")),
        message=match.group("msg"),
        fields={"logger": match.group("name")},
        raw=line,
        format="python_basic",
    )


def parse_plain(line: str, clock: TimeParser) -> LogRecord:
    """Read any text line: a leading time if there is one, a level word, the message.

    The message is the line after its generic header (see ``split_header``).
    """
    header, message = split_header(line)
    ts = None
    stamp = ISO_RE.search(header, 0, 60) if header else None
    if stamp is not None:
        parsed = clock.iso(header, stamp.start())
        ts = None if parsed is None else parsed[0]
    elif header:
        short = SYSLOG_TIME_RE.search(header, 0, 60)
        if short is not None:
            ts = clock.syslog(short.group(1), short.group(2), line[short.start(3) : short.end()])
    glog = _GLOG_HEADER_RE.match(header)
    level = normalize_level(glog.group(1)) if glog else level_in_text(header or line)
    return LogRecord(ts=ts, level=level, message=message, raw=line, format="plain")
