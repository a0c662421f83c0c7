"""Hand-parsed timestamps: ISO 8601, syslog's year-less stamps, access-log stamps.

Each layout is read with one regex and ``calendar.timegm``, because
``datetime.strptime`` per line makes a parse about six times slower. Times
without a zone are read in the parser's time zone, which is the machine's
local zone unless one is given. The UTC offset of that zone is cached per
hour, so daylight-saving changes are honoured.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo

__all__ = ["MONTHS", "TimeParser", "epoch_from_number"]

MONTHS = {
    name: number
    for number, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}

# 2024-05-01T12:00:00.123+02:00, 2024-05-01 12:00:00,123, 2024-05-01T10:00:00Z,
# and Go's log package 2024/05/01 12:00:00.
ISO_RE = re.compile(
    r"(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?\s?(Z|[+-]\d\d:?\d\d)?(?![\d:])"
)
# Oct  3 14:02:11 (syslog RFC 3164, no year)
SYSLOG_TIME_RE = re.compile(r"([A-Z][a-z]{2}) ( ?\d|\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
# 10/Oct/2000:13:55:36 -0700 (common log format)
CLF_TIME_RE = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?: ([+-]\d{4}))?")

_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# A year-less stamp further ahead of "now" than this belongs to last year.
_FUTURE_SLACK_S = 7 * 86400.0


def epoch_from_number(value: float) -> float | None:
    """Read an epoch number in seconds, milliseconds, microseconds or nanoseconds.

    The unit is guessed from the magnitude, which is unambiguous for any date
    between 1973 and 5138.

    >>> epoch_from_number(1714564800123)
    1714564800.123
    >>> epoch_from_number(-5) is None
    True
    """
    if value != value or value <= 0:  # NaN or not a time
        return None
    for scale in (1.0, 1e3, 1e6, 1e9):
        if value < 1e11 * scale:
            return value / scale
    return None


def _offset_s(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


class TimeParser:
    """Turn timestamp text into seconds since the Unix epoch.

    Args:
        tz: the zone of timestamps written without one; None means the
            machine's local zone.
        now: returns the current epoch time; year-less syslog stamps take
            their year from it.
    """

    def __init__(self, tz: tzinfo | None = None, now: Callable[[], float] = time.time) -> None:
        self._tz = tz
        self._now = now
        self._offsets: dict[int, float] = {}

    def local_offset_s(self, naive_epoch: float) -> float:
        """Return the UTC offset in seconds of the parser's zone at a wall-clock time."""
        hour = int(naive_epoch // 3600)
        offset = self._offsets.get(hour)
        if offset is None:
            wall = datetime(1970, 1, 1) + timedelta(seconds=hour * 3600)
            if self._tz is None:
                aware = wall.astimezone()  # a naive datetime is read as local time
            else:
                aware = wall.replace(tzinfo=self._tz)
            delta = aware.utcoffset()
            offset = 0.0 if delta is None else delta.total_seconds()
            if len(self._offsets) > 10_000:
                self._offsets.clear()
            self._offsets[hour] = offset
        return offset

    def _epoch(self, fields: tuple[int, int, int, int, int, int], fraction: str | None, zone: str | None) -> float | None:
        year, month, day, hour, minute, second = fields
        if not (1 <= month <= 12 and hour <= 23 and minute <= 59 and second <= 60):
            return None
        if not 1 <= day <= _DAYS_IN_MONTH[month - 1] or (month == 2 and day == 29 and not calendar.isleap(year)):
            return None
        try:
            naive = float(calendar.timegm((*fields, 0, 0, 0)))
        except (ValueError, OverflowError):
            return None
        if fraction:
            naive += int(fraction) / 10 ** len(fraction)
        if zone is not None:
            return naive - _offset_s(zone)
        return naive - self.local_offset_s(naive)

    def iso(self, text: str, pos: int = 0) -> tuple[float, int] | None:
        """Parse an ISO 8601 timestamp at ``pos``; return (epoch, end) or None.

        >>> TimeParser().iso("2024-05-01T12:00:00.5Z rest")
        (1714564800.5, 22)
        """
        match = ISO_RE.match(text, pos)
        if match is None:
            return None
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        epoch = self._epoch((int(year), int(month), int(day), int(hour), int(minute), int(second)), fraction, zone)
        return None if epoch is None else (epoch, match.end())

    def syslog(self, month: str, day: str, clock: str) -> float | None:
        """Parse a year-less syslog stamp such as ``Oct``, `` 3``, ``14:02:11``.

        The year is the current one, unless that puts the stamp more than a
        week in the future: then it is last year's (a Dec 31 line read on
        Jan 1).
        """
        month_number = MONTHS.get(month.lower())
        if month_number is None or len(clock) < 8:
            return None
        try:
            fields = (int(day), int(clock[0:2]), int(clock[3:5]), int(clock[6:8]))
        except ValueError:
            return None
        fraction = clock[9:] if len(clock) > 9 and clock[8] == "." else None
        now = self._now()
        # The year on the local wall clock, which may differ from UTC's at New Year.
        year = time.gmtime(now + self.local_offset_s(now)).tm_year
        epoch = self._epoch((year, month_number, *fields), fraction, None)
        if epoch is not None and epoch > now + _FUTURE_SLACK_S:
            epoch = self._epoch((year - 1, month_number, *fields), fraction, None)
        return epoch

    def clf(self, text: str) -> float | None:
        """Parse an access-log stamp such as ``10/Oct/2000:13:55:36 -0700``.

        >>> TimeParser().clf("10/Oct/2000:13:55:36 -0700")
        971211336.0
        """
        match = CLF_TIME_RE.fullmatch(text)
        if match is None:
            return None
        day, month, year, hour, minute, second, zone = match.groups()
        month_number = MONTHS.get(month.lower())
        if month_number is None:
            return None
        return self._epoch((int(year), month_number, int(day), int(hour), int(minute), int(second)), None, zone)
