"""Labels, the labelling queue, suppression rules, the registry's safe loading, drift and triggers."""

from __future__ import annotations

import doctest
import importlib
import os
import time
from pathlib import Path

import pytest
from feedback_seed import STREAM, OpenedEvents, WindowPlan, seed_settings
from seed import HOUR, NOW, seed_store

from tui_monitor.engine import Engine
from tui_monitor.errors import DetectorError, RuleError, StoreError
from tui_monitor.feedback import (
    FALSE_POSITIVE,
    INVESTIGATE,
    TRUE_ANOMALY,
    DriftMonitor,
    RetrainPolicy,
    add_label,
    current_version,
    labelling_order,
    latest_labels,
    list_versions,
    load_model,
    promote,
    propose_rule,
    rollback,
    save_rule,
    train_isolation_forest,
    undo_last_label,
    validate_rule_text,
)
from tui_monitor.feedback.drift import DriftFound
from tui_monitor.reports import render_report
from tui_monitor.rules import RuleEvaluator
from tui_monitor.rules._parse import load_rules
from tui_monitor.store import EventRecord, FeatureStore, WindowRecord


@pytest.mark.parametrize(
    "module_name",
    [
        "tui_monitor.feedback.queue",
        "tui_monitor.feedback.gate",
        "tui_monitor.feedback.trainer",
        "tui_monitor.feedback.suppress",
        "tui_monitor.feedback.drift",
        "tui_monitor.feedback.loop",
    ],
)
def test_feedback_doctests(module_name: str) -> None:
    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0
    assert result.failed == 0


def event(event_id: int | None, score: float = 0.99, stream: str = "host") -> EventRecord:
    top = [{"name": f"{stream}.cpu.total_pct.mean", "value": 95.0, "median": 10.0, "z": 9.0}]
    return EventRecord(stream, 100.0 * (event_id or 0), 100.0 * (event_id or 0) + 20, score, 0.7, "minor", top_features=top, id=event_id)


# -- labels -------------------------------------------------------------------


def test_label_stores_user_score_and_version(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    target = event(4, score=0.991)
    target.model_version = "hst-1+iforest#2"
    label = add_label(store.db.conn, target, FALSE_POSITIVE, user="ada", now=5.0)
    [row] = store.db.conn.execute("SELECT event_id, label, user, created_at, score, model_version, stream FROM labels").fetchall()
    assert row == (4, "false_positive", "ada", 5.0, 0.991, "hst-1+iforest#2", "host")
    assert label.id == 1
    assert label.covers("host", 410.0)
    assert not label.covers("host", 420.0)
    store.close()


def test_label_defaults_to_login_user(tmp_path: Path) -> None:
    import getpass

    store = FeatureStore(tmp_path / "monitor.db")
    assert add_label(store.db.conn, event(1), INVESTIGATE).user == getpass.getuser()
    store.close()


def test_label_rejects_unknown_value_and_unsaved_event(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    with pytest.raises(StoreError, match="invalid label 'noise'"):
        add_label(store.db.conn, event(1), "noise")
    with pytest.raises(StoreError, match="has no id"):
        add_label(store.db.conn, event(None), TRUE_ANOMALY)
    store.close()


def test_undo_restores_previous_label(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    conn = store.db.conn
    add_label(conn, event(1), TRUE_ANOMALY, user="ada")
    add_label(conn, event(1), FALSE_POSITIVE, user="ada")
    add_label(conn, event(2), TRUE_ANOMALY, user="bo")
    assert latest_labels(conn)[1].label == FALSE_POSITIVE
    undone = undo_last_label(conn, user="ada")
    assert undone is not None
    assert undone.label == FALSE_POSITIVE
    assert latest_labels(conn)[1].label == TRUE_ANOMALY
    assert latest_labels(conn)[2].label == TRUE_ANOMALY
    assert undo_last_label(conn, user="cy") is None
    store.close()


def test_report_precision_from_stored_labels(tmp_path: Path) -> None:
    store = seed_store(tmp_path / "monitor.db")
    events = {e.id: e for e in store.events_since(0.0)}
    add_label(store.db.conn, events[1], TRUE_ANOMALY)
    add_label(store.db.conn, events[2], FALSE_POSITIVE)
    add_label(store.db.conn, events[3], FALSE_POSITIVE)
    add_label(store.db.conn, events[4], INVESTIGATE)
    store.close()
    text = render_report(tmp_path / "monitor.db", since_s=24 * HOUR, fmt="md", now=NOW)
    assert "- false_positive: 2" in text
    assert "- investigate: 1" in text
    assert "Precision (confirmed / (confirmed + false positives)): 0.33" in text


# -- labelling queue ------------------------------------------------------------


def test_queue_puts_uncertain_and_disputed_first() -> None:
    events = [event(1, 1.0), event(2, 0.981), event(3, 0.999), event(4, 0.985)]
    order = labelling_order(events, labelled={4}, threshold=0.98, extra_scores={3: [0.1]})
    assert order == [2, 3, 1]


def test_queue_skips_labelled_and_unsaved() -> None:
    assert labelling_order([event(None), event(5)], labelled=[5], threshold=0.98) == []


# -- suppression rules ----------------------------------------------------------


def test_proposed_rule_saves_to_rules_dir(tmp_path: Path) -> None:
    text = propose_rule(event(3, score=0.992))
    [rule] = validate_rule_text(text)
    assert rule["match"] == {
        "stream": "host",
        "feature": "host.cpu.total_pct.mean",
        "value": {"max": 95.0},
        "score": {"max": 0.994},
    }
    assert rule["suppress"] is True
    first = save_rule(tmp_path / "rules", text)
    second = save_rule(tmp_path / "rules", text)
    assert first.name == "suppress-host-cpu-total-pct-mean.yaml"
    assert second.name == "suppress-host-cpu-total-pct-mean-1.yaml"
    assert first.read_text() == text
    assert load_rules(tmp_path / "rules").errors == []


def test_proposed_rule_lets_a_stronger_burst_alert(tmp_path: Path) -> None:
    # Calibrated scores saturate near 1, so only the value bound separates this burst from a bigger one.
    labelled = event(3, score=0.9999, stream="log.app")
    labelled.top_features = [{"name": "log.app.level_error", "value": 440.0, "median": 2.0, "z": 40.0}]
    save_rule(tmp_path / "rules", propose_rule(labelled))
    evaluator = RuleEvaluator(load_rules(tmp_path / "rules"))
    again = event(4, score=1.0, stream="log.app")
    again.top_features = [{"name": "log.app.level_error", "value": 420.0, "median": 2.0, "z": 38.0}]
    bigger = event(5, score=1.0, stream="log.app")
    bigger.top_features = [{"name": "log.app.level_error", "value": 2000.0, "median": 2.0, "z": 190.0}]

    assert evaluator.evaluate(again, "opened", 500.0, is_hot=True).suppressed_by is not None
    assert evaluator.evaluate(bigger, "opened", 600.0, is_hot=True).suppressed_by is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "invalid YAML"),
        ("rules: []", "non-empty list under 'rules:'"),
        ("rules:\n- suppress: true\n  match: {stream: host}", "missing 'name:'"),
        ("rules:\n- name: x\n  match: {stream: host}\n  suppres: true", "did you mean 'suppress'"),
        ("rules:\n- name: x\n  match: {stream: host, score: {max: 7}}\n  suppress: true", "7"),
        ("rules:\n- name: x\n  match: {stream: host, value: {max: lots}}\n  suppress: true", "value.max: expected a number"),
        ("rules:\n- name: x\n  match: {stream: host, value: {min: 9, max: 1}}\n  suppress: true", "swap them"),
        ("rules:\n- name: x\n  suppress: {stream: host, score_below: 0.9}", "expected true or false"),
    ],
)
def test_invalid_rule_is_rejected(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        save_rule(tmp_path / "rules", text)
    assert not (tmp_path / "rules").exists()


def test_rule_folder_not_writable_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "rules"
    blocker.write_text("a file, not a folder")
    with pytest.raises(RuleError, match="cannot write rule to folder"):
        save_rule(blocker, propose_rule(event(1)))


# -- registry -------------------------------------------------------------------


def trained_engine(tmp_path: Path, windows: int = 80) -> tuple[Engine, WindowPlan]:
    settings = seed_settings(tmp_path / "monitor.db")
    engine = Engine(settings, FeatureStore(settings.db_path))
    plan = WindowPlan(time.time() + 5)
    engine.process_windows(plan.span(0, windows))
    return engine, plan


def test_registry_promote_and_rollback(tmp_path: Path) -> None:
    engine, _ = trained_engine(tmp_path)
    conn = engine.store.db.conn
    [first] = engine.feedback.retrain_now(STREAM)
    [second] = engine.feedback.retrain_now(STREAM)
    assert [v.status for v in list_versions(conn)] == ["promoted", "retired"]
    restored = rollback(conn, STREAM, "iforest")
    assert restored.id == first.id
    assert [v.status for v in list_versions(conn)] == ["rolled_back", "promoted"]
    with pytest.raises(StoreError, match="no earlier promoted version"):
        rollback(conn, STREAM, "iforest")
    assert promote(conn, second.id).status == "promoted"
    assert current_version(conn, STREAM, "iforest").id == second.id  # type: ignore[union-attr]
    with pytest.raises(StoreError, match="model 99 not found"):
        promote(conn, 99)
    with pytest.raises(StoreError, match="nothing to roll back"):
        rollback(conn, "host", "gbm")
    engine.store.close()


def test_registry_keeps_recent_blobs_only(tmp_path: Path) -> None:
    from tui_monitor.feedback.registry import KEEP_BLOBS

    engine, _ = trained_engine(tmp_path)
    conn = engine.store.db.conn
    for _ in range(KEEP_BLOBS + 2):
        engine.feedback.retrain_now(STREAM)
    formats = [row[0] for row in conn.execute("SELECT blob_format FROM models ORDER BY id")]
    assert formats == ["pruned", "pruned"] + ["skops"] * KEEP_BLOBS
    with pytest.raises(StoreError, match="serialized model was 'pruned'"):
        promote(conn, 1)
    with pytest.raises(DetectorError, match="stored as 'pruned'"):
        load_model(conn, 1)
    engine.store.close()


def test_registry_refuses_pickle_blob(tmp_path: Path) -> None:
    import pickle

    engine, _ = trained_engine(tmp_path)
    [version] = engine.feedback.retrain_now(STREAM)
    conn = engine.store.db.conn
    with conn:
        conn.execute("UPDATE models SET blob_format = 'pickle', blob = ? WHERE id = ?", (pickle.dumps({"a": 1}), version.id))
    with pytest.raises(DetectorError, match="stored as 'pickle'"):
        load_model(conn, version.id)
    engine.store.close()


def test_registry_refuses_untrusted_types(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    engine, _ = trained_engine(tmp_path)
    [version] = engine.feedback.retrain_now(STREAM)
    conn = engine.store.db.conn
    hostile = sio.dumps(FunctionTransformer(func=os.system))
    with conn:
        conn.execute("UPDATE models SET blob = ? WHERE id = ?", (hostile, version.id))
    with pytest.raises(DetectorError, match="does not trust or is damaged"):
        load_model(conn, version.id)
    with conn:
        conn.execute("UPDATE models SET blob = ? WHERE id = ?", (b"not a zip", version.id))
    with pytest.raises(DetectorError, match="was not loaded"):
        load_model(conn, version.id)
    engine.feedback.reload_models()
    assert engine.feedback.models == {}
    engine.store.close()


def test_promoted_model_survives_restart(tmp_path: Path) -> None:
    engine, plan = trained_engine(tmp_path)
    [version] = engine.feedback.retrain_now(STREAM)
    engine.store.close()
    settings = seed_settings(tmp_path / "monitor.db")
    restarted = Engine(settings, FeatureStore(settings.db_path))
    assert restarted.feedback.versions_of(STREAM) == [f"iforest#{version.id}"]
    restarted.store.close()


def test_reloaded_model_scores_outage_as_trained(tmp_path: Path) -> None:
    engine, _ = trained_engine(tmp_path)
    engine.feedback.retrain_now(STREAM)
    trained = engine.feedback.models[(STREAM, "iforest")][1]
    engine.store.close()
    settings = seed_settings(tmp_path / "monitor.db")
    restarted = Engine(settings, FeatureStore(settings.db_path))
    outage = {f"{STREAM}.latency_ms.mean": 900.0, f"{STREAM}.errors": 40.0, f"{STREAM}.up.mean": 1.0}
    loaded = restarted.feedback.models[(STREAM, "iforest")][1]
    assert loaded.score_many([outage])[0] == pytest.approx(trained.score_many([outage])[0])
    restarted.store.close()


def test_supervised_model_joins_after_enough_labels(tmp_path: Path) -> None:
    # The online detector flags 3 of the 12 benign patterns (it partly learns them), so 3 labels are enough here.
    settings = seed_settings(tmp_path / "monitor.db", supervised_min_labels=3)
    engine = Engine(settings, FeatureStore(settings.db_path))
    opened = OpenedEvents(engine)
    plan = WindowPlan(time.time() + 5)
    benign, outages = list(range(40, 500, 40)), list(range(60, 500, 80))
    engine.process_windows(plan.span(0, 500, benign=benign, true=outages))
    values = []
    for found in opened.events:
        offset = found.window_start - plan.t0
        is_outage = any(t <= offset <= t + 3 for t in outages)
        values.append(TRUE_ANOMALY if is_outage else FALSE_POSITIVE)
        engine.feedback.label(found, values[-1])
    assert values.count(FALSE_POSITIVE) >= 3
    assert values.count(TRUE_ANOMALY) >= 3
    kinds = {v.kind: v for v in engine.feedback.retrain_now(STREAM)}
    assert set(kinds) == {"iforest", "gbm"}
    assert kinds["gbm"].status == "promoted"
    assert kinds["gbm"].metrics["candidate"]["recall"] == 1.0

    engine.process_windows(plan.span(500, 5))
    rows = engine.store.db.conn.execute(
        "SELECT count(*), min(score), max(score) FROM model_scores WHERE model_id = ?", (kinds["gbm"].id,)
    ).fetchone()
    assert rows[0] == 5
    assert 0.0 <= rows[1] <= rows[2] < 0.5
    engine.store.close()


# -- drift and triggers ---------------------------------------------------------


def feed(monitor: DriftMonitor, values: list[float]) -> list[DriftFound]:
    found = []
    for index, value in enumerate(values):
        result = monitor.update("s", float(index), index + 1.0, {"x": value}, 0.5)
        if result is not None:
            found.append(result)
    return found


def test_drift_ignores_short_burst() -> None:
    import random

    rng = random.Random(3)
    values = [rng.gauss(20, 2) for _ in range(300)]
    for index in range(150, 154):
        values[index] = 900.0
    assert feed(DriftMonitor(), values) == []


def test_drift_confirms_lasting_shift() -> None:
    import random

    rng = random.Random(3)
    values = [rng.gauss(20, 2) for _ in range(200)] + [rng.gauss(35, 2) for _ in range(200)]
    [found] = feed(DriftMonitor(), values)
    assert found.names == ["x"]
    assert 195 <= found.since <= 205
    assert found.ts < 260


def training_windows() -> list[WindowRecord]:
    import random

    rng = random.Random(4)
    return [WindowRecord("s", float(i), i + 1.0, {"latency": rng.gauss(20.0, 2.0), "errors": float(rng.randint(0, 2))}) for i in range(200)]


def test_isolation_forest_calls_far_beyond_training_range_anomalous() -> None:
    model = train_isolation_forest(training_windows(), [])
    [edge, far] = model.score_many([{"latency": 26.0, "errors": 2.0}, {"latency": 900.0, "errors": 2.0}])
    assert far > edge + 1.0


def test_isolation_forest_keeps_usual_window_normal() -> None:
    model = train_isolation_forest(training_windows(), [])
    assert not model.is_anomalous_many([{"latency": 20.0, "errors": 1.0}])[0]


def test_drift_remembers_windows_of_new_regime_without_score() -> None:
    monitor = DriftMonitor()
    feed(monitor, [10.0, 11.0, 30.0, 31.0])
    assert monitor.windows_since("s", 2.0) == [{"x": 30.0}, {"x": 31.0}]


def test_drift_windows_since_without_stream_is_empty() -> None:
    assert DriftMonitor().windows_since("s", 0.0) == []


def test_policy_triggers_schedule_labels_and_drift() -> None:
    policy = RetrainPolicy(interval_s=100.0, after_labels=2)
    policy.note_window("a", 10.0)
    policy.note_window("b", 10.0)
    assert policy.due() == []
    policy.note_label("a")
    policy.note_label("a")
    [by_labels] = policy.due()
    assert (by_labels.stream, by_labels.trigger) == ("a", "labels")
    assert policy.due() == []  # "a" is running
    policy.finished("a")
    policy.note_drift(DriftFound("b", 20.0, 15.0, ["x"]))
    policy.note_window("b", 20.0)
    [by_drift] = policy.due()
    assert (by_drift.trigger, by_drift.since, by_drift.is_flagged_normal) == ("drift", 15.0, True)
    policy.finished("b")
    policy.note_window("a", 111.0)
    [by_schedule] = policy.due()
    assert (by_schedule.stream, by_schedule.trigger) == ("a", "schedule")


def test_false_positive_teaches_online_detector(tmp_path: Path) -> None:
    settings = seed_settings(tmp_path / "monitor.db")
    engine = Engine(settings, FeatureStore(settings.db_path))
    opened = OpenedEvents(engine)
    plan = WindowPlan(time.time() + 5)
    engine.process_windows(plan.span(0, 100, benign=[60, 80]))
    first, second = opened.events
    baseline = engine.detectors[STREAM].baseline
    latency = "http.api.latency_ms.mean"
    # The baseline keeps a feature's recent values, oldest first, in its rolling history's ``_order``.
    before = list(baseline._history[latency]._order)

    engine.feedback.label(first, TRUE_ANOMALY)
    assert list(baseline._history[latency]._order) == before
    engine.feedback.label(second, FALSE_POSITIVE)
    learned = list(baseline._history[latency]._order)[len(before) :]
    windows = engine.store.windows_since(STREAM, second.window_start)
    expected = [w.features[latency] for w in windows if w.start < second.window_end]
    assert learned == expected
    assert max(learned) > 100.0
    engine.store.close()
