"""``rules test`` replays stored events; the engine stores rule outcomes; the notification policy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _receiver import scored

from tui_monitor.alerts import NotifyPolicy
from tui_monitor.cli import main
from tui_monitor.engine import Engine, EventChanged, Update
from tui_monitor.rules import RuleOutcome, load_rules, replay_events
from tui_monitor.settings import Settings
from tui_monitor.store import EventRecord, FeatureStore, WindowRecord, rule_outcomes_for

RULES = """
rules:
  - {name: quiet db, match: {stream: db}, suppress: true}
  - {name: api pages, match: {stream: api}, severity: critical}
  - {name: slow host, match: {stream: host}, persistence: {windows: 3, of: 3}}
"""


def _store_incident(store: FeatureStore, stream: str, start: float, hot: list[bool], *, score: float = 0.996) -> None:
    windows = [WindowRecord(stream, start + 10 * i, start + 10 * (i + 1), {"x": 1.0}, 0.9, score, False, h) for i, h in enumerate(hot)]
    store.write_window_batch([], windows)
    last_hot = max(i for i, h in enumerate(hot) if h)
    event = EventRecord(stream, start, start + 10 * (last_hot + 1), score, 0.9, "major", state="resolved", updated_at=start + 10 * len(hot) + 1)
    store.save_event(event)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "m.db"
    store = FeatureStore(path)
    t0 = time.time() - 3600
    _store_incident(store, "db", t0, [True, True, False])
    _store_incident(store, "api", t0 + 100, [True, True, False])
    _store_incident(store, "host", t0 + 200, [True, True, False])  # 2 hot windows: never persists
    _store_incident(store, "host", t0 + 400, [True, True, True, True, False])
    store.close()
    return path


def test_replay_counts(tmp_path: Path, db: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES)
    store = FeatureStore(db, readonly=True)
    steps, summary = replay_events(store, load_rules(tmp_path / "rules"), 0, NotifyPolicy())
    store.close()
    kinds = [(s.event.stream, m.kind) for s in steps for m in s.messages]
    assert (summary.events, summary.suppressed, summary.escalated, summary.notified) == (4, 1, 1, 2)
    assert kinds == [("api", "opened"), ("api", "resolved"), ("host", "opened"), ("host", "resolved")]


def test_replay_cli_output(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES)
    status = main(["rules", "test", "--rules", str(tmp_path / "rules"), "--db", str(db), "--since", "1d"])
    out = capsys.readouterr().out
    assert status == 0
    assert "suppressed by rule 'quiet db'" in out
    assert "major->critical" in out
    assert "held: persistence of rule 'slow host'" in out
    assert out.strip().splitlines()[-1] == "4 events: 1 suppressed, 1 escalated, 0 lowered, 2 notified; 4 notifications (0 held into digests)"


def test_replay_cli_rejects_broken_rules(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.yaml").write_text("rules:\n  - {name: a, supress: true}\n")
    assert main(["--rules", str(tmp_path), "rules", "test", "--db", str(db)]) == 1
    assert "fix them (tui-monitor rules check)" in capsys.readouterr().out


def test_engine_stores_outcome_and_publishes_it(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "r.yaml").write_text(RULES)
    engine = Engine(Settings(db_path=tmp_path / "m.db", rules_dir=rules_dir), FeatureStore(tmp_path / "m.db"))
    updates: list[Update] = []
    engine.subscribe(updates.append)
    engine._track_incident(scored("api", time.time(), "opened", score=0.985))
    change = next(u for u in updates if isinstance(u, EventChanged))
    assert isinstance(change.outcome, RuleOutcome)
    assert change.event.severity == "critical"
    assert change.event.id is not None
    stored = rule_outcomes_for(engine.store, [change.event.id])[change.event.id]
    assert stored["severity"] == "critical"
    assert stored["base_severity"] == "minor"
    assert stored["rules"] == ["api pages"]


def test_engine_reloads_rules_per_window(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    engine = Engine(Settings(db_path=tmp_path / "m.db", rules_dir=rules_dir), FeatureStore(tmp_path / "m.db"))
    (rules_dir / "r.yaml").write_text(RULES)
    engine.aggregator.start(time.time())
    engine.close_windows(time.time())
    assert engine.rules.state.status == "ok"
    assert len(engine.rules.ruleset.rules) == 3


def test_policy_no_resolved_without_open() -> None:
    policy = NotifyPolicy()
    event = EventRecord("db", 0.0, 10.0, 0.996, 0.9, "major")
    quiet = RuleOutcome("opened", "major", "major", suppressed_by="rule 'x'")
    assert policy.on_event(event, quiet, 10.0) == []
    assert policy.on_event(event, RuleOutcome("resolved", "major", "major"), 20.0) == []


def test_policy_opens_when_maintenance_ends() -> None:
    policy = NotifyPolicy()
    event = EventRecord("db", 0.0, 10.0, 0.996, 0.9, "major")
    policy.on_event(event, RuleOutcome("opened", "major", "major", suppressed_by="maintenance window 'm'"), 10.0)
    messages = policy.on_event(event, RuleOutcome("updated", "major", "major"), 20.0)
    assert [m.kind for m in messages] == ["opened"]


def test_notifications_listing_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tui_monitor.alerts import NotificationAttempt
    from tui_monitor.store import save_notifications

    store = FeatureStore(tmp_path / "m.db")
    save_notifications(store, [NotificationAttempt(time.time(), "opened", "major", "[MAJOR] x", "json://127.0.0.1:1/h", 1, "failed", "error=500")])
    store.close()
    assert main(["notifications", "--db", str(tmp_path / "m.db"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip())
    assert row["outcome"] == "failed"
    assert row["detail"] == "error=500"


def test_policy_escalation_sends_at_once() -> None:
    policy = NotifyPolicy(repeat_s=3600.0)
    event = EventRecord("db", 0.0, 10.0, 0.996, 0.9, "major")
    policy.on_event(event, RuleOutcome("opened", "major", "major"), 10.0)
    same = policy.on_event(event, RuleOutcome("updated", "major", "major"), 20.0)
    higher = policy.on_event(event, RuleOutcome("updated", "critical", "critical"), 30.0)
    again = policy.on_event(event, RuleOutcome("updated", "critical", "critical"), 40.0)
    assert same == []
    assert [m.title for m in higher] == ["[CRITICAL] escalated: anomaly on db (performance)"]
    assert "critical" in higher[0].tags
    assert again == []
