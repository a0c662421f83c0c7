"""Maintenance windows: one-off, daily, weekly or cron-like, in an IANA time zone.

Recurring windows are written in wall-clock time. ``resolve_local`` decides
what a start or end in a daylight-saving gap or repeated hour means: a time
in the skipped hour maps to the moment of the change, and a window that lies
wholly inside the skipped hour keeps its usual length from that moment. A
``duration`` is elapsed time, so a two-hour window across the autumn change
is two real hours, while an ``end`` clock time is reached when the clock
shows it the second time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from tui_monitor.rules._time import resolve_local

__all__ = ["CronSpec", "MaintenanceWindow", "WEEKDAYS", "parse_cron"]

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_CRON_DOW = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}), ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _CRON_DOW))
_CRON_PART_RE = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")


@dataclass(frozen=True)
class CronSpec:
    """A five-field cron expression: minute, hour, day of month, month, day of week (0 = Sunday)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    is_dom_any: bool
    is_dow_any: bool

    def matches_day(self, day: date) -> bool:
        """Whether cron would run on ``day``; as in Vixie cron, a restricted day of month OR day of week is enough."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days_of_month
        dow = (day.isoweekday() % 7) in self.days_of_week
        if self.is_dom_any or self.is_dow_any:
            return dom and dow
        return dom or dow


def parse_cron(text: str) -> tuple[CronSpec | None, str]:
    """Parse a five-field cron expression; return the spec or None and the reason.

    >>> spec, _ = parse_cron("30 2 * * mon-fri")
    >>> sorted(spec.hours), sorted(spec.days_of_week)
    ([2], [1, 2, 3, 4, 5])
    >>> parse_cron("61 * * * *")[1]
    'minute 61 is out of range 0-59'
    """
    parts = text.lower().split()
    if len(parts) != 5:
        return None, f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
    sets: list[frozenset[int]] = []
    for part, (label, low, high, names) in zip(parts, _CRON_FIELDS, strict=True):
        values: set[int] = set()
        for item in part.split(","):
            error = _add_cron_item(item, label, low, high, names, values)
            if error:
                return None, error
        sets.append(frozenset(values))
    dow = frozenset(0 if d == 7 else d for d in sets[4])
    return CronSpec(sets[0], sets[1], sets[2], sets[3], dow, parts[2] == "*", parts[4] == "*"), ""


def _add_cron_item(item: str, label: str, low: int, high: int, names: dict[str, int], values: set[int]) -> str:
    match = _CRON_PART_RE.match(item)
    if match is None:
        return f"{label} {item!r} is not a cron field; write e.g. '*', '5', '1-5', '*/15' or 'mon-fri'"
    span, step_text = match.group(1), match.group(2)
    step = int(step_text) if step_text else 1
    if step < 1:
        return f"{label} step {item!r} must be 1 or more"
    if span == "*":
        first, last = low, high
    else:
        bounds = []
        for token in span.split("-"):
            number = names.get(token, int(token) if token.isdigit() else None)
            if number is None:
                return f"{label} {token!r} is not a number or a known name"
            if not low <= number <= high:
                return f"{label} {number} is out of range {low}-{high}"
            bounds.append(number)
        first, last = bounds[0], bounds[-1]
        if step_text and len(bounds) == 1:
            last = high
    if first > last:
        return f"{label} range {span!r} runs backwards; write the smaller number first"
    values.update(range(first, last + 1, step))
    return ""


@dataclass(frozen=True)
class MaintenanceWindow:
    """A named maintenance window; events matched during it are suppressed.

    ``kind`` is ``once``, ``daily``, ``weekly`` or ``cron``. Recurring kinds
    use ``start`` and either ``end`` (clock time) or ``duration_s``; ``once``
    uses ``once_start`` and ``once_end`` (aware datetimes).
    """

    name: str
    kind: str
    zone: tzinfo = timezone.utc
    start: time | None = None
    end: time | None = None
    duration_s: float | None = None
    days: frozenset[int] = field(default_factory=lambda: frozenset(range(7)))
    cron: CronSpec | None = None
    once_start: datetime | None = None
    once_end: datetime | None = None

    @property
    def max_length(self) -> timedelta:
        """An upper bound of one occurrence's length, used to look back far enough."""
        if self.kind == "once" and self.once_start and self.once_end:
            return self.once_end - self.once_start
        if self.duration_s is not None:
            return timedelta(seconds=self.duration_s)
        return timedelta(days=1, hours=2)

    def is_active(self, ts: float) -> bool:
        """Whether the instant ``ts`` (Unix seconds) lies inside an occurrence of this window."""
        now = datetime.fromtimestamp(ts, timezone.utc)
        return any(start <= now < end for start, end in self.occurrences(now - self.max_length, now))

    def occurrences(self, since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield ``(start, end)`` instants in UTC of every occurrence that starts in ``[since - 1 day, until]``."""
        if self.kind == "once":
            if self.once_start and self.once_end and self.once_start <= until and self.once_end >= since:
                yield self.once_start.astimezone(timezone.utc), self.once_end.astimezone(timezone.utc)
            return
        day = since.astimezone(self.zone).date() - timedelta(days=1)
        last = until.astimezone(self.zone).date()
        # Local wall-clock bounds for cron starts, with slack for any UTC offset change.
        slack = timedelta(hours=3)
        low = since.astimezone(self.zone).replace(tzinfo=None) - self.max_length - slack
        high = until.astimezone(self.zone).replace(tzinfo=None) + slack
        while day <= last:
            yield from self._occurrences_on(day, low, high)
            day += timedelta(days=1)

    def _occurrences_on(self, day: date, low: datetime, high: datetime) -> Iterator[tuple[datetime, datetime]]:
        midnight = datetime.combine(day, time())
        if self.kind == "cron":
            if self.cron is None or not self.cron.matches_day(day):
                return
            seen: set[datetime] = set()
            for hour in sorted(self.cron.hours):
                for minute in sorted(self.cron.minutes):
                    if not low <= midnight.replace(hour=hour, minute=minute) <= high:
                        continue
                    start = resolve_local(midnight, time(hour, minute), self.zone)
                    if start not in seen:  # two skipped-hour times map to the same instant
                        seen.add(start)
                        yield start, start + timedelta(seconds=self.duration_s or 0)
            return
        if day.weekday() not in self.days or self.start is None:
            return
        start = resolve_local(midnight, self.start, self.zone)
        if self.duration_s is not None:
            yield start, start + timedelta(seconds=self.duration_s)
            return
        assert self.end is not None
        end_day = midnight if self.end > self.start else midnight + timedelta(days=1)
        end = resolve_local(end_day, self.end, self.zone, is_end=True)
        if end <= start:
            # The whole window lies in the skipped hour: keep its usual length.
            end = start + (datetime.combine(end_day.date(), self.end) - datetime.combine(day, self.start))
        yield start, end
