"""Durations, wall-clock times and time zones as rule files write them."""

from __future__ import annotations

import difflib
import functools
import os
import re
import zoneinfo
from datetime import datetime, time, timedelta, timezone, tzinfo
from pathlib import Path

__all__ = ["local_zone", "parse_clock", "parse_duration_text", "resolve_local", "zone_named"]

_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_DURATION_RE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_duration_text(text: str) -> float | None:
    """Return the seconds in ``30s``, ``15m``, ``1h30m``, ``2d`` or ``1w``, or None when invalid.

    A unit is required: a bare ``90`` is ambiguous between seconds and minutes.

    >>> parse_duration_text("1h30m"), parse_duration_text("45s"), parse_duration_text("90")
    (5400.0, 45.0, None)
    """
    if not _DURATION_RE.match(text):
        return None
    return float(sum(float(n) * _UNIT_S[unit] for n, unit in _DURATION_PART_RE.findall(text)))


def parse_clock(text: str) -> time | None:
    """Return the wall-clock time of ``HH:MM`` (24-hour), or None when invalid.

    >>> parse_clock("02:30"), parse_clock("24:00")
    (datetime.time(2, 30), None)
    """
    match = _CLOCK_RE.match(text.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_named(name: str) -> tuple[tzinfo | None, str]:
    """Return the IANA zone ``name`` and an empty hint, or None and a did-you-mean hint.

    >>> zone_named("Europe/Sofia")[0]
    zoneinfo.ZoneInfo(key='Europe/Sofia')
    >>> zone_named("Europe/Sofa")[1]
    "did you mean 'Europe/Sofia'?"
    """
    if name in ("UTC", "Etc/UTC"):
        return timezone.utc, ""
    if name in _zone_names():
        return zoneinfo.ZoneInfo(name), ""
    by_lower = {zone.lower(): zone for zone in _zone_names()}
    if name.lower() in by_lower:
        return None, f"did you mean {by_lower[name.lower()]!r}? Zone names are case-sensitive"
    close = difflib.get_close_matches(name, _zone_names(), n=1, cutoff=0.6)
    if close:
        return None, f"did you mean {close[0]!r}?"
    return None, "write an IANA zone name such as 'Europe/Sofia', 'America/New_York' or 'UTC'"


def local_zone() -> tzinfo:
    """Return this machine's zone from ``TZ`` or ``/etc/localtime``, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = os.path.realpath("/etc/localtime")
            name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
        except OSError:
            name = ""
        if not name and Path("/etc/timezone").is_file():
            name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
    zone, _ = zone_named(name) if name else (None, "")
    return zone or timezone.utc


def resolve_local(day: datetime, clock: time, zone: tzinfo, *, is_end: bool = False) -> datetime:
    """Return the instant (UTC) at which ``clock`` shows on ``day`` in ``zone``.

    Daylight-saving changes decide what the user meant:

    - a clock time in the skipped hour (spring forward) maps to the moment
      of the change, the first instant after the gap, as cron does;
    - a clock time in the repeated hour (fall back) maps to its first
      occurrence for a start and to its second occurrence for an end, so a
      window covers both passes through the hour.

    >>> from zoneinfo import ZoneInfo
    >>> sofia = ZoneInfo("Europe/Sofia")
    >>> resolve_local(datetime(2026, 3, 29), time(3, 30), sofia).isoformat()
    '2026-03-29T01:00:00+00:00'
    >>> resolve_local(datetime(2026, 10, 25), time(3, 30), sofia, is_end=True).isoformat()
    '2026-10-25T01:30:00+00:00'
    """
    naive = datetime.combine(day.date(), clock)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    if first == second:
        return first
    if first < second:  # a repeated hour: both instants show this clock time
        return second if is_end else first
    return _transition_between(second, first, zone)


def _transition_between(low: datetime, high: datetime, zone: tzinfo) -> datetime:
    """Return the first instant in ``(low, high]`` that has ``high``'s UTC offset."""
    target = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).utcoffset() == target:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)
