"""Rule evaluation: suppression, severity and tags, gates, maintenance, line drops, reloads."""

from __future__ import annotations

import logging
import os
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tui_monitor.rules import RuleEvaluator, RuleOutcome, RulesWatcher, parse_rule_file
from tui_monitor.store import EventRecord

T0 = 1_780_000_000.0
CPU = [{"name": "cpu.total_pct", "value": 97.0, "median": 10.0, "z": 8.0}]
DISK = [{"name": "disk.write_bytes", "value": 9e8, "median": 1e6, "z": 12.0}]
TEMPLATE = [{"name": "template.17", "template": "retrying connection to <*> (attempt <*>)", "value": 40, "median": 1, "z": 30}]


def _evaluator(text: str) -> RuleEvaluator:
    ruleset = parse_rule_file(Path("t.yaml"), text=textwrap.dedent(text))
    assert ruleset.errors == [], [str(p) for p in ruleset.errors]
    return RuleEvaluator(ruleset)


def _event(stream: str = "host", score: float = 0.996, top: list[dict[str, Any]] | None = None, kind: str = "performance", start: float = T0) -> EventRecord:
    return EventRecord(stream, start, start + 10, score, 0.9, "major", kind=kind, top_features=list(CPU if top is None else top))


def _open(evaluator: RuleEvaluator, event: EventRecord, ts: float | None = None) -> RuleOutcome:
    return evaluator.evaluate(event, "opened", ts if ts is not None else event.window_end)


@pytest.mark.parametrize(
    ("match", "event", "is_suppressed"),
    [
        ("{stream: 'log.*'}", _event("log.app"), True),
        ("{stream: 'log.*'}", _event("host"), False),
        ("{stream: [db, host]}", _event("host"), True),
        ("{feature: 'disk.*'}", _event(top=DISK), True),
        ("{feature: 'disk.*'}", _event(top=CPU), False),
        ("{kind: functional}", _event(kind="functional"), True),
        ("{kind: functional}", _event(kind="performance"), False),
        ("{severity: [minor]}", _event(score=0.985), True),
        ("{severity: [minor]}", _event(score=0.996), False),
        ("{score: {min: 0.99, max: 0.997}}", _event(score=0.996), True),
        ("{score: {min: 0.99, max: 0.997}}", _event(score=0.999), False),
        ("{template: 'retrying connection'}", _event("log.app", top=TEMPLATE), True),
        ("{template: 'retrying connection'}", _event("log.app", top=CPU), False),
        ("{stream: host, feature: 'cpu.*', severity: major}", _event(), True),
        ("{feature: 'cpu.*', value: {max: 99}}", _event(top=[{"name": "cpu.total_pct.mean", "value": 97.0}]), True),
        ("{feature: 'cpu.*', value: {max: 99}}", _event(top=[{"name": "cpu.total_pct.mean", "value": 99.5}]), False),
        ("{feature: 'cpu.*', value: {min: 5}}", _event(top=[{"name": "cpu.total_pct.mean", "value": 2.0}]), False),
        ("{value: {max: 99}}", _event(top=[{"name": "disk.busy_pct.mean", "value": 98.0}]), True),
        ("{feature: 'cpu.*', value: {max: 99}}", _event(top=[{"name": "disk.busy_pct.mean", "value": 1.0}]), False),
        ("{value: {max: 99}}", _event(top=[{"name": "cpu.total_pct.mean"}]), False),
    ],
)
def test_suppress_matchers(match: str, event: EventRecord, is_suppressed: bool) -> None:
    evaluator = _evaluator(f"rules:\n  - name: s\n    match: {match}\n    suppress: true\n")
    outcome = _open(evaluator, event)
    assert (outcome.suppressed_by == "rule 's'") is is_suppressed
    assert outcome.is_notifiable is not is_suppressed


def test_severity_set_then_lowered_and_tagged() -> None:
    evaluator = _evaluator("""
        rules:
          - {name: page, match: {stream: host}, severity: critical, tags: [oncall]}
          - {name: softer, match: {severity: critical}, lower: 1, tags: [oncall, team-a]}
    """)
    outcome = _open(evaluator, _event(score=0.985))
    assert outcome.base_severity == "minor"
    assert outcome.severity == "major"
    assert outcome.tags == ("oncall", "team-a")
    assert outcome.rules == ("page", "softer")


def test_severity_raise_is_idempotent() -> None:
    evaluator = _evaluator("rules:\n  - {name: up, raise: 1}\n")
    event = _event(score=0.985)
    first = _open(evaluator, event)
    event.severity = first.severity
    second = evaluator.evaluate(event, "updated", T0 + 20)
    assert first.severity == "major"
    assert second.severity == "major"


def test_persistence_needs_n_of_m_windows() -> None:
    evaluator = _evaluator("rules:\n  - {name: p, persistence: {windows: 3, of: 4}}\n")
    event = _event()
    hot = [True, False, True, False, True, True]
    outcomes = [evaluator.evaluate(event, "opened" if i == 0 else "updated", T0 + 10 * i, is_hot=h) for i, h in enumerate(hot)]
    assert [o.is_notifiable for o in outcomes] == [False, False, False, False, False, True]
    assert "1 of the last 1 windows, needs 3 of 4" in str(outcomes[0].held_by)
    later = evaluator.evaluate(event, "updated", T0 + 70, is_hot=False)
    assert later.is_notifiable is True  # once passed, an incident stays passed


def test_frequency_needs_n_incidents_within() -> None:
    evaluator = _evaluator("rules:\n  - {name: f, frequency: {events: 3, within: 10m}}\n")
    starts = [T0, T0 + 60, T0 + 120, T0 + 1000]
    outcomes = [_open(evaluator, _event(f"s{i}", start=s)) for i, s in enumerate(starts)]
    assert [o.is_notifiable for o in outcomes] == [False, False, True, False]
    assert "2 of 3 incidents within 600 s" in str(outcomes[1].held_by)


def test_dedup_holds_repeat_incidents_of_stream() -> None:
    evaluator = _evaluator("rules:\n  - {name: d, dedup: 30m}\n")
    first = _open(evaluator, _event("log.app", start=T0))
    evaluator.evaluate(_event("log.app", start=T0), "resolved", T0 + 60)
    again = _open(evaluator, _event("log.app", start=T0 + 600))
    other = _open(evaluator, _event("log.db", start=T0 + 600))
    after = _open(evaluator, _event("log.app", start=T0 + 2000))
    assert first.is_notifiable is True
    assert again.held_by is not None and again.held_by.startswith("duplicate under rule 'd'")
    assert other.is_notifiable is True
    assert after.is_notifiable is True


def test_maintenance_suppresses_only_inside() -> None:
    evaluator = _evaluator("""
        maintenance:
          - name: backup
            timezone: Europe/Sofia
            daily: {start: "02:00", end: "03:00"}
            match: {stream: "log.backup"}
    """)
    inside = datetime(2026, 12, 5, 0, 30, tzinfo=timezone.utc).timestamp()  # 02:30 EET
    outside = datetime(2026, 12, 5, 1, 30, tzinfo=timezone.utc).timestamp()
    assert _open(evaluator, _event("log.backup"), inside).suppressed_by == "maintenance window 'backup'"
    assert _open(evaluator, _event("log.backup", start=T0 + 1), outside).suppressed_by is None
    assert _open(evaluator, _event("log.app"), inside).suppressed_by is None


def test_drop_lines_filter() -> None:
    ruleset = parse_rule_file(Path("d.yaml"), text="drop_lines:\n  - {stream: 'log.access', pattern: 'GET /health '}\n  - {pattern: heartbeat}\n")
    lines = ["GET /health 200", "GET /api 500", "heartbeat ok"]
    assert ruleset.filter_lines("log.access", lines) == ["GET /api 500"]
    assert ruleset.filter_lines("log.app", lines) == ["GET /health 200", "GET /api 500"]


def test_watcher_reloads_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("rules:\n  - {name: one, suppress: true}\n")
    watcher = RulesWatcher(tmp_path)
    path.write_text("rules:\n  - {name: one, suppress: true}\n  - {name: two, suppress: true}\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert watcher.check() is True
    assert [r.name for r in watcher.ruleset.rules] == ["one", "two"]
    assert watcher.check() is False


def test_watcher_keeps_last_good_rules(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("rules:\n  - {name: one, suppress: true}\n")
    watcher = RulesWatcher(tmp_path)
    path.write_text("rules:\n  - {name: one, supress: true}\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    with caplog.at_level(logging.WARNING):
        assert watcher.check() is False
    assert [r.name for r in watcher.ruleset.rules] == ["one"]
    assert watcher.state.status == "broken"
    assert "keeping the last good rules" in watcher.state.detail
    assert "unknown key 'supress'" in caplog.text


def test_watcher_missing_folder_is_empty(tmp_path: Path) -> None:
    watcher = RulesWatcher(tmp_path / "none")
    assert watcher.state.status == "none"
    assert watcher.ruleset.rules == []
