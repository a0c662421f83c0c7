"""Maintenance windows in Europe/Sofia across the 2026 daylight-saving changes, and cron specs.

Sofia moves from EET (+02:00) to EEST (+03:00) on 2026-03-29 at 03:00 local
(01:00 UTC), so 03:00-04:00 is skipped; it moves back on 2026-10-25 at 04:00
local (01:00 UTC), so 03:00-04:00 happens twice.
"""

from __future__ import annotations

from datetime import datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tui_monitor.rules import MaintenanceWindow, load_rules, parse_cron

SOFIA = ZoneInfo("Europe/Sofia")


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def _daily(start: str, end: str | None = None, duration_s: float | None = None) -> MaintenanceWindow:
    h, m = map(int, start.split(":"))
    end_clock = time(*map(int, end.split(":"))) if end else None
    return MaintenanceWindow("w", "daily", SOFIA, time(h, m), end_clock, duration_s)


@pytest.mark.parametrize(
    ("instant", "is_active"),
    [
        ("2026-03-29 00:59", False),  # 02:59 EET, before the jump
        ("2026-03-29 01:00", True),  # the jump: 03:00 EET becomes 04:00 EEST
        ("2026-03-29 01:29", True),  # keeps its usual 30 minutes
        ("2026-03-29 01:31", False),
        ("2026-03-28 01:20", True),  # a normal day: 03:20 EET
    ],
)
def test_window_inside_skipped_hour(instant: str, is_active: bool) -> None:
    assert _daily("03:15", "03:45").is_active(_utc(instant)) is is_active


@pytest.mark.parametrize(
    ("instant", "is_active"),
    [("2026-03-29 00:45", True), ("2026-03-29 00:59", True), ("2026-03-29 01:05", False)],
)
def test_window_ending_in_skipped_hour(instant: str, is_active: bool) -> None:
    # 02:30-03:30: the clock passes 03:30 at the jump, so the window ends there.
    assert _daily("02:30", "03:30").is_active(_utc(instant)) is is_active


@pytest.mark.parametrize(
    ("instant", "is_active"),
    [
        ("2026-10-24 23:59", False),
        ("2026-10-25 00:10", True),  # 03:10 EEST, first pass
        ("2026-10-25 00:50", True),  # 03:50 EEST, between the two passes through 03:30
        ("2026-10-25 01:20", True),  # 03:20 EET, second pass
        ("2026-10-25 01:35", False),  # 03:35 EET
    ],
)
def test_window_in_repeated_hour_covers_both_passes(instant: str, is_active: bool) -> None:
    assert _daily("03:00", "03:30").is_active(_utc(instant)) is is_active


@pytest.mark.parametrize(
    ("instant", "is_active"),
    [("2026-10-25 00:20", True), ("2026-10-25 00:31", False), ("2026-10-25 01:10", False)],
)
def test_window_duration_is_elapsed_time(instant: str, is_active: bool) -> None:
    assert _daily("03:00", duration_s=1800).is_active(_utc(instant)) is is_active


def test_window_across_autumn_change_ends_by_clock() -> None:
    window = _daily("02:00", "05:00")  # 4 real hours on 2026-10-25
    assert window.is_active(_utc("2026-10-24 23:00")) is True
    assert window.is_active(_utc("2026-10-25 02:59")) is True
    assert window.is_active(_utc("2026-10-25 03:00")) is False


def test_window_occurrence_lengths_across_year() -> None:
    window = _daily("02:00", "05:00")
    since = datetime(2026, 3, 28, tzinfo=timezone.utc)
    until = datetime(2026, 10, 26, tzinfo=timezone.utc)
    lengths = {(s.astimezone(SOFIA).date().isoformat(), (e - s).total_seconds() / 3600) for s, e in window.occurrences(since, until)}
    assert ("2026-03-29", 2.0) in lengths
    assert ("2026-10-25", 4.0) in lengths
    assert ("2026-06-01", 3.0) in lengths


def test_weekly_window_days() -> None:
    window = MaintenanceWindow("w", "weekly", SOFIA, time(22, 0), None, 3 * 3600.0, frozenset({5}))  # Saturdays
    assert window.is_active(_utc("2026-12-05 20:30")) is True  # Sat 22:30 EET
    assert window.is_active(_utc("2026-12-05 23:30")) is False  # Sun 01:30: 3 h have passed
    assert window.is_active(_utc("2026-12-06 20:30")) is False  # Sunday evening


def test_cron_window_in_skipped_hour_runs_at_jump() -> None:
    spec, _ = parse_cron("30 3 * * *")
    window = MaintenanceWindow("c", "cron", SOFIA, duration_s=1200.0, cron=spec)
    assert window.is_active(_utc("2026-03-29 01:10")) is True
    assert window.is_active(_utc("2026-03-29 01:21")) is False
    assert window.is_active(_utc("2026-03-28 01:40")) is True  # 03:40 EET on a normal day


def test_cron_repeated_hour_runs_once() -> None:
    spec, _ = parse_cron("30 3 * * *")
    window = MaintenanceWindow("c", "cron", SOFIA, duration_s=600.0, cron=spec)
    since = datetime(2026, 10, 24, 12, tzinfo=timezone.utc)
    until = datetime(2026, 10, 25, 12, tzinfo=timezone.utc)
    starts = [s for s, _ in window.occurrences(since, until) if s >= since]
    assert starts == [datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)]


def test_cron_day_of_month_or_week() -> None:
    spec, _ = parse_cron("0 2 1 * mon")
    assert spec is not None
    assert spec.matches_day(datetime(2026, 12, 1).date()) is True  # the 1st, a Tuesday
    assert spec.matches_day(datetime(2026, 12, 7).date()) is True  # a Monday
    assert spec.matches_day(datetime(2026, 12, 8).date()) is False


def test_cron_steps_and_names() -> None:
    spec, _ = parse_cron("*/15 9-17/4 * jan,dec sun")
    assert spec is not None
    assert sorted(spec.minutes) == [0, 15, 30, 45]
    assert sorted(spec.hours) == [9, 13, 17]
    assert sorted(spec.months) == [1, 12]
    assert spec.days_of_week == frozenset({0})


def test_once_window_from_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "maintenance:\n"
        "  - name: migration\n"
        "    timezone: Europe/Sofia\n"
        "    once: {start: '2026-10-25 03:30', end: '2026-10-25 05:00'}\n"
    )
    window = load_rules(path).windows[0].window
    # A naive one-off time in the repeated hour means its first occurrence (EEST).
    assert window.is_active(_utc("2026-10-25 00:30")) is True
    assert window.is_active(_utc("2026-10-25 00:29")) is False
    assert window.is_active(_utc("2026-10-25 02:59")) is True
