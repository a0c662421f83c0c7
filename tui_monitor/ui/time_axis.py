"""Tick positions and clock-time labels for a chart whose x axis is time."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, tzinfo

__all__ = ["time_ticks"]

_DAY_S = 86400
# Tick steps in seconds, from one minute to a week; each divides a day or is whole days.
_STEPS_S = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400)
# Columns left blank between two neighbouring tick labels.
_LABEL_GAP = 3


def time_ticks(start_ts: float, end_ts: float, width: int, tz: tzinfo | None = None) -> list[tuple[float, str]]:
    """Return ``(timestamp, label)`` ticks on round clock times between ``start_ts`` and ``end_ts``.

    Labels are ``HH:MM`` while the range stays within one calendar day,
    ``MM-DD HH:MM`` when it spans days, and ``MM-DD`` when ticks are whole
    days apart. As many ticks as fit in ``width`` columns are placed, on
    multiples of the step counted from local midnight (``tz``, default the
    machine's time zone), so a 6-hour step lands on 00:00, 06:00, 12:00 and 18:00.

    >>> from datetime import timezone
    >>> start = datetime(2026, 12, 4, 9, 40, tzinfo=timezone.utc).timestamp()
    >>> [label for _, label in time_ticks(start, start + 3 * 3600, 40, timezone.utc)]
    ['10:00', '11:00', '12:00']
    >>> [label for _, label in time_ticks(start, start + 86400, 60, timezone.utc)]
    ['12-04 12:00', '12-04 18:00', '12-05 00:00', '12-05 06:00']
    >>> [label for _, label in time_ticks(start, start + 7 * 86400, 60, timezone.utc)]
    ['12-05', '12-07', '12-09', '12-11']
    """
    span_s = end_ts - start_ts
    if not span_s > 0 or width <= 0:
        return []
    first, last = datetime.fromtimestamp(start_ts, tz), datetime.fromtimestamp(end_ts, tz)
    is_multi_day = first.date() != last.date()
    label_width = len("12-31 23:59") if is_multi_day else len("23:59")
    max_ticks = max(2, width // (label_width + _LABEL_GAP))
    step_s = next((step for step in _STEPS_S if span_s / step <= max_ticks), _STEPS_S[-1])

    if step_s >= _DAY_S:
        return _day_ticks(first, end_ts, step_s // _DAY_S)
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
    offset_s = (first - midnight).total_seconds()
    tick = midnight + timedelta(seconds=math.ceil(offset_s / step_s) * step_s)
    label_format = "%m-%d %H:%M" if is_multi_day else "%H:%M"
    ticks = []
    while tick.timestamp() <= end_ts:
        ticks.append((tick.timestamp(), tick.strftime(label_format)))
        tick += timedelta(seconds=step_s)
    return ticks


def _day_ticks(first: datetime, end_ts: float, every_days: int) -> list[tuple[float, str]]:
    """Return ticks at local midnights from the first one at or after ``first``, every ``every_days`` days."""
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    if day < first:
        day += timedelta(days=1)
    ticks = []
    while day.timestamp() <= end_ts:
        ticks.append((day.timestamp(), day.strftime("%m-%d")))
        # Adding days to the wall-clock date keeps ticks on midnight across a DST change.
        day = (day.replace(tzinfo=None) + timedelta(days=every_days)).replace(tzinfo=day.tzinfo)
    return ticks
