"""Timestamp parsing: ISO 8601, syslog stamps without a year, access-log stamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from tui_monitor.parsing.timestamps import TimeParser, epoch_from_number


def _epoch(*args: int, tz: tzinfo = UTC) -> float:
    hour, minute, second = (*args[3:], 0, 0, 0)[:3]
    return datetime(args[0], args[1], args[2], hour, minute, second, tzinfo=tz).timestamp()


def _at(*args: int) -> TimeParser:
    """A parser in UTC whose clock reads the given UTC time."""
    return TimeParser(tz=UTC, now=lambda: _epoch(*args))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", _epoch(2024, 5, 1, 12)),
        ("2024-05-01T12:00:00.250Z", _epoch(2024, 5, 1, 12) + 0.25),
        ("2024-05-01 12:00:00,123", _epoch(2024, 5, 1, 12) + 0.123),
        ("2024-05-01T14:00:00+02:00", _epoch(2024, 5, 1, 12)),
        ("2024-05-01T07:30:00-0430", _epoch(2024, 5, 1, 12)),
        ("2024-05-01T12:00:00.123456789Z", _epoch(2024, 5, 1, 12) + 0.123456789),
    ],
)
def test_iso_layouts(text: str, expected: float) -> None:
    parsed = TimeParser(tz=UTC).iso(text)
    assert parsed is not None
    assert parsed[0] == pytest.approx(expected, abs=1e-6)


def test_iso_naive_uses_given_zone() -> None:
    parser = TimeParser(tz=ZoneInfo("Europe/Paris"))
    parsed = parser.iso("2024-07-01 12:00:00")
    assert parsed is not None
    assert parsed[0] == _epoch(2024, 7, 1, 10)  # CEST is UTC+2 in July


def test_iso_naive_follows_daylight_saving() -> None:
    parser = TimeParser(tz=ZoneInfo("Europe/Paris"))
    winter = parser.iso("2024-01-15 12:00:00")
    assert winter is not None
    assert winter[0] == _epoch(2024, 1, 15, 11)  # CET is UTC+1 in January


@pytest.mark.parametrize("text", ["2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T25:00:00Z", "nope"])
def test_iso_invalid_returns_none(text: str) -> None:
    assert TimeParser(tz=UTC).iso(text) is None


def test_syslog_takes_current_year() -> None:
    assert _at(2026, 6, 1).syslog("Mar", " 3", "14:02:11") == _epoch(2026, 3, 3, 14, 2, 11)


def test_syslog_dec31_read_on_jan1_is_last_year() -> None:
    assert _at(2027, 1, 1, 0, 5).syslog("Dec", "31", "23:59:59") == _epoch(2026, 12, 31, 23, 59, 59)


def test_syslog_jan1_read_on_jan1_is_this_year() -> None:
    assert _at(2027, 1, 1, 0, 5).syslog("Jan", " 1", "00:01:00") == _epoch(2027, 1, 1, 0, 1)


def test_syslog_new_year_east_of_utc() -> None:
    # 00:05 on Jan 1 in Sydney is still Dec 31 in UTC; the line is this year's.
    sydney = ZoneInfo("Australia/Sydney")
    now = datetime(2027, 1, 1, 0, 5, tzinfo=sydney).timestamp()
    parser = TimeParser(tz=sydney, now=lambda: now)
    assert parser.syslog("Jan", " 1", "00:01:00") == datetime(2027, 1, 1, 0, 1, tzinfo=sydney).timestamp()


def test_syslog_new_year_west_of_utc() -> None:
    # 23:59 on Dec 31 in New York is already Jan 1 in UTC; the line is this year's.
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 12, 31, 23, 59, 30, tzinfo=new_york).timestamp()
    parser = TimeParser(tz=new_york, now=lambda: now)
    assert parser.syslog("Dec", "31", "23:59:00") == datetime(2026, 12, 31, 23, 59, tzinfo=new_york).timestamp()


def test_syslog_slightly_ahead_stays_this_year() -> None:
    # A sender whose clock runs an hour fast is not a year old.
    assert _at(2026, 6, 1, 12).syslog("Jun", " 1", "13:00:00") == _epoch(2026, 6, 1, 13)


def test_syslog_fraction_of_second() -> None:
    assert _at(2026, 6, 1).syslog("Mar", "3", "14:02:11.500") == _epoch(2026, 3, 3, 14, 2, 11) + 0.5


@pytest.mark.parametrize(("month", "day", "clock"), [("Foo", "1", "00:00:00"), ("Feb", "31", "00:00:00"), ("Jan", "1", "0:0")])
def test_syslog_invalid_returns_none(month: str, day: str, clock: str) -> None:
    assert _at(2026, 6, 1).syslog(month, day, clock) is None


def test_clf_with_zone() -> None:
    tz = timezone(timedelta(hours=-7))
    assert TimeParser(tz=UTC).clf("10/Oct/2000:13:55:36 -0700") == _epoch(2000, 10, 10, 13, 55, 36, tz=tz)


def test_clf_without_zone_uses_parser_zone() -> None:
    assert TimeParser(tz=UTC).clf("10/Oct/2000:13:55:36") == _epoch(2000, 10, 10, 13, 55, 36)


@pytest.mark.parametrize(
    ("number", "expected"),
    [(1714564800, 1714564800.0), (1714564800123, 1714564800.123), (1714564800123456, 1714564800.123456), (1714564800123456789, 1714564800.1234567)],
)
def test_epoch_number_units(number: int, expected: float) -> None:
    assert epoch_from_number(number) == pytest.approx(expected)


def test_epoch_number_nan_is_none() -> None:
    assert epoch_from_number(float("nan")) is None
