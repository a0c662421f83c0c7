"""Acceptance tests of the feedback loop on a real engine and SQLite store with seeded windows."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest
from feedback_seed import STREAM, OpenedEvents, WindowPlan, seed_settings

from tui_monitor.engine import Engine, Update
from tui_monitor.feedback import (
    FALSE_POSITIVE,
    TRUE_ANOMALY,
    DriftDetected,
    Label,
    ModelChanged,
    current_version,
    list_versions,
    train_isolation_forest,
)
from tui_monitor.feedback.loop import can_veto
from tui_monitor.feedback.retrain import RetrainRequest, read_windows
from tui_monitor.store import FeatureStore, WindowRecord

BENIGN = [50, 90, 130, 170]
OUTAGE = [110]


def make_engine(tmp_path: Path) -> Engine:
    settings = seed_settings(tmp_path / "monitor.db")
    return Engine(settings, FeatureStore(settings.db_path))


def near(starts: list[float], patterns: list[int], slack: float = 3.0) -> list[float]:
    return [s for s in starts if any(p <= s <= p + slack for p in patterns)]


async def settle(engine: Engine) -> None:
    while engine.feedback.tasks:
        await asyncio.gather(*engine.feedback.tasks)


async def label_first_phase(engine: Engine, plan: WindowPlan, opened: OpenedEvents) -> None:
    """Run 200 windows with four benign patterns and one outage, label them all, and let retraining run."""
    engine.process_windows(plan.span(0, 200, benign=BENIGN, true=OUTAGE))
    for event in list(opened.events):
        offset = event.window_start - plan.t0
        engine.feedback.label(event, TRUE_ANOMALY if near([offset], OUTAGE) else FALSE_POSITIVE)
    engine.process_windows([plan.window(200)])  # the next window starts the label-triggered retraining
    await settle(engine)


async def test_false_positives_silence_pattern_keep_outages(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = WindowPlan(time.time() + 5)
    opened = OpenedEvents(engine)

    await label_first_phase(engine, plan, opened)
    first = opened.starts(plan.t0)
    assert len(near(first, BENIGN)) == 4
    assert len(near(first, OUTAGE)) == 1
    version = current_version(engine.store.db.conn, STREAM, "iforest")
    assert version is not None
    assert version.trigger == "labels"
    assert can_veto(version)
    assert version.metrics["candidate"]["recall"] == 1.0

    opened.events.clear()
    later_benign, later_outages = [250, 290, 330, 370], [270, 350]
    engine.process_windows(plan.span(201, 200, benign=later_benign, true=later_outages))
    second = opened.starts(plan.t0)
    assert near(second, later_benign) == []
    assert len(near(second, later_outages)) == 2
    assert all(f"iforest#{version.id}" in event.model_version for event in opened.events)
    queue_scores = engine.feedback.model_scores_of(opened.events)
    assert sorted(queue_scores) == sorted(event.id for event in opened.events)
    assert all(len(scores) == 1 and scores[0] > 0.5 for scores in queue_scores.values())
    engine.store.close()


async def test_gate_rejects_model_missing_outage(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = WindowPlan(time.time() + 5)
    opened = OpenedEvents(engine)
    await label_first_phase(engine, plan, opened)
    current = current_version(engine.store.db.conn, STREAM, "iforest")
    assert current is not None

    def mislabelling(windows: list[WindowRecord], labels: list[Label]) -> object:
        # Learns the labelled outage as normal, as a careless trainer would.
        outage = [w for label in labels if label.label == TRUE_ANOMALY
                  for w in read_windows(engine.store.db.conn, label.stream, label.window_start, label.window_end)]  # fmt: skip
        flipped = [replace(label, label=FALSE_POSITIVE) for label in labels]
        return train_isolation_forest([*windows, *outage], flipped)

    engine.feedback.trainers = {"iforest": mislabelling}  # type: ignore[dict-item]
    [candidate] = engine.feedback.retrain_now(STREAM)
    assert candidate.status == "rejected"
    assert "recall 0.00 < current 1.00" in candidate.reason
    assert current_version(engine.store.db.conn, STREAM, "iforest") == current
    assert engine.feedback.models[(STREAM, "iforest")][0].id == current.id

    opened.events.clear()
    engine.process_windows(plan.span(201, 60, true=[230]))
    assert len(near(opened.starts(plan.t0), [230])) == 1
    engine.store.close()


async def test_level_shift_drifts_retrains_and_stops_alerts(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = WindowPlan(time.time() + 5)
    opened = OpenedEvents(engine)
    updates: list[Update] = []
    engine.subscribe(updates.append)

    engine.process_windows(plan.span(0, 150))
    assert opened.events == []
    promoted_at = None
    for chunk_start in range(150, 400, 10):
        engine.process_windows([plan.window(i, "shift") for i in range(chunk_start, chunk_start + 10)])
        await settle(engine)
        if promoted_at is None and any(isinstance(u, ModelChanged) for u in updates):
            promoted_at = chunk_start + 10

    drifts = [u.drift for u in updates if isinstance(u, DriftDetected)]
    assert [d.names for d in drifts] == [["http.api.latency_ms.mean"]]
    assert 140 <= drifts[0].since - plan.t0 <= 160
    [model] = [u.version for u in updates if isinstance(u, ModelChanged)]
    assert (model.trigger, model.status) == ("drift", "promoted")
    assert can_veto(model)
    assert promoted_at is not None
    assert len(near(opened.starts(plan.t0), [150], slack=5)) == 1
    assert [s for s in opened.starts(plan.t0) if s >= promoted_at] == []
    assert engine.open_events == {}
    tail = read_windows(engine.store.db.conn, STREAM, plan.t0 + promoted_at, plan.t0 + 400)
    assert not any(w.is_anomalous for w in tail)
    rows = engine.store.db.conn.execute("SELECT stream, name FROM drift").fetchall()
    assert rows == [(STREAM, "http.api.latency_ms.mean")]
    engine.store.close()


def test_registry_lists_versions_after_retrain(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = WindowPlan(time.time() + 5)
    engine.process_windows(plan.span(0, 80))
    [version] = engine.feedback.retrain_now(STREAM)
    assert version.status == "promoted"
    assert version.reason == "no labelled events to validate on"
    [listed] = list_versions(engine.store.db.conn)
    assert listed.features == sorted(["http.api.latency_ms.mean", "http.api.errors", "http.api.up.mean"])
    assert not can_veto(listed)  # nothing validated it
    # Retraining leaves out of "normal" the unlabelled windows that scored at the alert threshold.
    hot_score = engine.settings.threshold
    trained = [w for w in read_windows(engine.store.db.conn, STREAM, 0.0, plan.t0 + 80) if w.score < hot_score]
    assert listed.n_windows == len(trained)
    assert listed.train_start == trained[0].start
    engine.store.close()


async def test_unvalidated_model_does_not_silence(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    plan = WindowPlan(time.time() + 5)
    opened = OpenedEvents(engine)
    engine.process_windows(plan.span(0, 150, benign=[100]))
    assert len(near(opened.starts(plan.t0), [100])) == 1
    # Trained with the flagged pattern as normal but validated on no label, as a scheduled retraining could be.
    [version] = await engine.feedback.retrain(RetrainRequest(STREAM, "schedule", 0.0, plan.t0 + 150, is_flagged_normal=True))
    assert version.status == "promoted"
    assert not can_veto(version)

    later = plan.span(150, 100, benign=[200])
    model = engine.feedback.models[(STREAM, "iforest")][1]
    benign_scores = model.score_many([w.features for w in later[50:53]])
    assert sum(score <= model.threshold for score in benign_scores) >= 2  # the model would silence them
    opened.events.clear()
    engine.process_windows(later)
    assert len(near(opened.starts(plan.t0), [200])) == 1
    engine.store.close()


def test_failing_model_does_not_stop_windows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(tmp_path)
    plan = WindowPlan(time.time() + 5)
    engine.process_windows(plan.span(0, 80))
    [version] = engine.feedback.retrain_now(STREAM)
    model = engine.feedback.models[(STREAM, "iforest")][1]
    model.features = ["a"]  # a matrix of the wrong width makes scikit-learn raise

    engine.process_windows(plan.span(80, 3))
    assert len(read_windows(engine.store.db.conn, STREAM, plan.t0 + 80, plan.t0 + 83)) == 3
    failures = [r for r in caplog.records if "failed to score a window" in r.getMessage()]
    assert len(failures) == 1
    assert f"model {version.id}" in failures[0].getMessage()
    engine.store.close()
