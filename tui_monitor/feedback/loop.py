"""The feedback loop inside the engine: labels, learned models, drift and retraining.

``Feedback`` runs on the engine's event loop. Per window it feeds the drift
detectors and scores the window with the stream's promoted learned models
(an IsolationForest, and a gradient-boosting classifier once enough labels
exist). A hot window opens an incident only when every promoted model that
may veto agrees that it is anomalous, so a pattern the models learned as
normal (from false positives, or a regime after drift) is silenced. A model
may veto once the gate validated it on labelled events or it was trained on
the regime after drift. A scheduled model of a stream without labels only
scores, because nothing showed that its silence is right. Retraining runs in a worker
thread and its result is written here, by the store's only writer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui_monitor.errors import DetectorError, StoreError
from tui_monitor.feedback.drift import DriftFound, DriftMonitor
from tui_monitor.feedback.labels import (
    FALSE_POSITIVE,
    TRUE_ANOMALY,
    Label,
    labels_after,
    add_label,
    latest_labels,
    undo_last_label,
)
from tui_monitor.feedback.registry import ModelVersion, current_version, list_versions, load_model, register
from tui_monitor.feedback.retrain import RetrainOutcome, RetrainPolicy, RetrainRequest, read_windows, run_retrain
from tui_monitor.feedback.trainer import TrainedModel, Trainer, train_isolation_forest, train_supervised
from tui_monitor.settings import Settings
from tui_monitor.store import EventRecord, FeatureStore, WindowRecord

if TYPE_CHECKING:
    # Types only: the detectors package imports river, which the model
    # commands (``tui-monitor models``) that load this package do not need.
    from tui_monitor.detectors import Decision, StreamDetector

__all__ = ["DriftDetected", "Feedback", "FeedbackUpdate", "LabelChanged", "ModelChanged", "Review", "can_veto"]

logger = logging.getLogger(__name__)

MODEL_KINDS = ("iforest", "gbm")


@dataclass
class DriftDetected:
    """Drift was found on a stream and stored."""

    drift: DriftFound


@dataclass
class ModelChanged:
    """A model version was registered (promoted or rejected) or promoted by hand."""

    version: ModelVersion


@dataclass
class LabelChanged:
    """A label was added (``is_undone`` false) or undone."""

    label: Label
    is_undone: bool = False


@dataclass
class Review:
    """The learned models' scores of one window and the resulting veto.

    ``scores`` maps a model's label (``iforest#3``) to its score, where
    higher is more anomalous. ``is_vetoed`` is true when the window was hot
    but a promoted model calls it normal.
    """

    scores: dict[str, float] = field(default_factory=dict)
    is_vetoed: bool = False
    drift: DriftFound | None = None


FeedbackUpdate = DriftDetected | ModelChanged | LabelChanged


class Feedback:
    """Labels, learned models, drift detection and retraining for one engine.

    Args:
        settings: thresholds and retraining options.
        store: the engine's store; this object writes labels, drift rows,
            model scores and registry rows through its connection.
        detector_for: returns the online detector of a stream.
        publish: called on the event loop with each ``FeedbackUpdate``.
        trainers: model kind to trainer; defaults to the bundled
            IsolationForest and gradient-boosting trainers.
    """

    def __init__(
        self,
        settings: Settings,
        store: FeatureStore,
        detector_for: Callable[[str], StreamDetector],
        publish: Callable[[FeedbackUpdate], None],
        trainers: Mapping[str, Trainer] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self._detector_for = detector_for
        self._publish = publish
        self.trainers: dict[str, Trainer] = dict(trainers or {"iforest": train_isolation_forest, "gbm": train_supervised})
        self.policy = RetrainPolicy(
            interval_s=settings.retrain_interval_s,
            span_s=settings.retrain_span_s,
            after_labels=settings.retrain_after_labels,
        )
        self.drift = DriftMonitor(
            confirm_windows=settings.drift_min_windows,
            cooldown_windows=settings.drift_cooldown_windows,
            min_windows=settings.warmup_windows,
        )
        self.models: dict[tuple[str, str], tuple[ModelVersion, TrainedModel]] = {}
        self.tasks: set[asyncio.Task[list[ModelVersion]]] = set()
        self.retrains_done = 0
        self._failed_models: set[int] = set()
        # One retraining at a time: on a 2-core machine parallel fits would starve the event loop.
        self._retrain_lock = asyncio.Lock()
        # Labels up to this id were given here or were in the store at start;
        # poll_labels applies the ones another process (attach) adds later.
        row = self._conn.execute("SELECT max(id) FROM labels").fetchone() if self._has_labels_table() else None
        self._last_label_id = int(row[0] or 0) if row else 0
        self.reload_models()

    def _has_labels_table(self) -> bool:
        return "labels" in self.store.db.table_names()

    @property
    def _conn(self) -> sqlite3.Connection:
        return self.store.db.conn

    def reload_models(self) -> None:
        """Load every promoted version from the registry (at start and after a promote or rollback)."""
        self.models.clear()
        for version in list_versions(self._conn):
            if version.status != "promoted" or (version.stream, version.kind) in self.models:
                continue
            try:
                self.models[(version.stream, version.kind)] = (version, load_model(self._conn, version.id))
            except DetectorError as exc:
                logger.error("promoted model %d of %s not loaded: %s", version.id, version.stream, exc)

    def versions_of(self, stream: str) -> list[str]:
        """Return the labels of the promoted learned models of ``stream``, e.g. ``['iforest#3']``."""
        return [version.label for (name, _), (version, _) in sorted(self.models.items()) if name == stream]

    # -- per window -------------------------------------------------------------

    def review(self, window: WindowRecord, decision: Decision) -> Review:
        """Score one window with the promoted models, feed drift detection and count it for retraining."""
        review = Review()
        if decision.is_warmup:
            return review
        found = self.drift.update(window.stream, window.start, window.end, window.features, decision.score)
        if found is not None:
            review.drift = found
            self._record_drift(found)
        self.policy.note_window(window.stream, window.end)

        rows = []
        for (stream, _kind), (version, model) in self.models.items():
            if stream != window.stream:
                continue
            try:
                score = float(model.score_many([window.features])[0])
            except Exception:
                # A model that cannot score must not stop the window from being stored; log once per model.
                if version.id not in self._failed_models:
                    self._failed_models.add(version.id)
                    logger.exception("%s model %d of %s failed to score a window; it is skipped", version.kind, version.id, stream)
                continue
            review.scores[version.label] = score
            rows.append((window.stream, window.start, version.id, score))
            if decision.is_hot and score <= model.threshold and can_veto(version):
                review.is_vetoed = True
        if rows:
            with self._conn:
                self._conn.executemany("INSERT INTO model_scores (stream, start, model_id, score) VALUES (?, ?, ?, ?)", rows)
        return review

    def _record_drift(self, found: DriftFound) -> None:
        detail = json.dumps({"names": found.names, "since": found.since})
        with self._conn:
            self._conn.execute(
                "INSERT INTO drift (ts, stream, name, detail) VALUES (?, ?, ?, ?)",
                (found.ts, found.stream, ", ".join(found.names[:5]), detail),
            )
        self.policy.note_drift(found)
        # The change is confirmed to last: the online detector takes it as its new
        # normal now rather than alerting on it until its own relearning catches up.
        self._detector_for(found.stream).adopt_new_normal(self.drift.windows_since(found.stream, found.since))
        logger.warning("drift on %s in %s; retraining on the new regime", found.stream, ", ".join(found.names[:5]))
        self._publish(DriftDetected(found))

    # -- labels -----------------------------------------------------------------

    def label(self, event: EventRecord, value: str) -> Label:
        """Store a label; a false positive's windows are learned as normal by the online detector at once.

        A label stored by another process (``tui-monitor attach``) is applied
        the same way by ``poll_labels``, which the engine calls every 2 s.

        Raises:
            StoreError: the label value is invalid or the event is not stored.
        """
        label = add_label(self._conn, event, value)
        self._last_label_id = max(self._last_label_id, label.id or 0)
        self._apply(label)
        return label

    def poll_labels(self) -> list[Label]:
        """Apply labels another process stored since the last poll (``tui-monitor attach``); return them."""
        if not self._has_labels_table():
            return []
        new = labels_after(self._conn, self._last_label_id)
        for label in new:
            self._last_label_id = max(self._last_label_id, label.id or 0)
            logger.info("label %s on event %s by %s (from another process)", label.label, label.event_id, label.user)
            self._apply(label)
        return new

    def _apply(self, label: Label) -> None:
        """Teach the online detector a false positive, count the label for retraining, and publish it."""
        if label.label == FALSE_POSITIVE:
            detector = self._detector_for(label.stream)
            for window in read_windows(self._conn, label.stream, label.window_start, label.window_end):
                detector.learn_normal(window.features)
        if label.label in (TRUE_ANOMALY, FALSE_POSITIVE):
            self.policy.note_label(label.stream)
        self._publish(LabelChanged(label))

    def undo(self) -> Label | None:
        """Delete this user's latest label and return it, or None when there is none.

        NOTE: a false positive's windows already learned by the online model stay learned.
        """
        label = undo_last_label(self._conn)
        if label is not None:
            self._publish(LabelChanged(label, is_undone=True))
        return label

    def labels(self) -> dict[int, Label]:
        """Return the latest label of each labelled event."""
        return latest_labels(self._conn)

    def model_scores_of(self, events: list[EventRecord]) -> dict[int, list[float]]:
        """Return learned-model scores of each event's first window, mapped to 0..1 (for the labelling queue)."""
        scores: dict[int, list[float]] = {}
        if not events or not self.models:
            return scores
        by_window = {(event.stream, event.window_start): event.id for event in events if event.id is not None}
        rows = self._conn.execute(
            "SELECT model_scores.stream, model_scores.start, models.kind, model_scores.score, models.params "
            "FROM model_scores JOIN models ON models.id = model_id WHERE model_scores.start >= ?",
            (min(event.window_start for event in events),),
        )
        for stream, start, kind, score, params in rows:
            event_id = by_window.get((stream, start))
            if event_id is not None:
                scores.setdefault(event_id, []).append(_as_probability(kind, score, json.loads(params)))
        return scores

    # -- retraining ---------------------------------------------------------------

    def schedule_due(self) -> None:
        """Start a retraining task for every due stream (no-op without a running event loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for request in self.policy.due():
            task = loop.create_task(self.retrain(request), name=f"retrain:{request.stream}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def retrain(self, request: RetrainRequest) -> list[ModelVersion]:
        """Run ``request`` in a worker thread, then register the outcomes; return the registered versions."""
        try:
            async with self._retrain_lock:
                logger.info("retraining %s (%s) in a worker thread", request.stream, request.trigger)
                outcomes = await asyncio.to_thread(self._run, request)
            return self.apply(outcomes)
        except Exception:
            logger.exception("retraining %s (%s) failed; the current models stay", request.stream, request.trigger)
            return []
        finally:
            self.policy.finished(request.stream)

    def retrain_now(self, stream: str, trigger: str = "manual", *, since: float = 0.0) -> list[ModelVersion]:
        """Retrain ``stream`` on the calling thread (command line and tests)."""
        request = RetrainRequest(stream, trigger, since, time.time() + 10 * 365 * 86400.0)
        return self.apply(self._run(request))

    def _run(self, request: RetrainRequest) -> list[RetrainOutcome]:
        return run_retrain(
            self.store.path, request, self.trainers,
            supervised_min_labels=self.settings.supervised_min_labels, hot_score=self.settings.threshold,
        )  # fmt: skip

    def apply(self, outcomes: list[RetrainOutcome]) -> list[ModelVersion]:
        """Register each trained candidate as promoted or rejected, as the gate decided."""
        versions = []
        for outcome in outcomes:
            if outcome.model is None or outcome.gate is None or outcome.metrics is None:
                continue
            status = "promoted" if outcome.gate.is_passed else "rejected"
            metrics = {"candidate": outcome.metrics.to_json()}
            if outcome.current_metrics is not None:
                metrics["current"] = outcome.current_metrics.to_json()
            try:
                model_id = register(
                    self._conn, outcome.model, outcome.blob,
                    status=status, trigger=outcome.trigger, metrics=metrics, reason=outcome.gate.reason,
                )  # fmt: skip
            except StoreError:
                logger.exception("registering a %s model of %s failed", outcome.kind, outcome.stream)
                continue
            version = current_version(self._conn, outcome.stream, outcome.kind) if status == "promoted" else None
            if version is not None and version.id == model_id:
                self.models[(outcome.stream, outcome.kind)] = (version, outcome.model)
            else:
                version = next(v for v in list_versions(self._conn, outcome.stream) if v.id == model_id)
            self.retrains_done += 1
            versions.append(version)
            self._publish(ModelChanged(version))
        return versions


def can_veto(version: ModelVersion) -> bool:
    """Whether a promoted version may silence the online detector's alerts.

    It may when it was validated on labelled events or trained on the regime after drift.
    """
    candidate = version.metrics.get("candidate", {})
    return version.trigger == "drift" or candidate.get("n_true", 0) + candidate.get("n_false", 0) > 0


def _as_probability(kind: str, score: float, params: dict[str, float]) -> float:
    """Map a learned model's score to 0..1 with 0.5 at its threshold.

    >>> _as_probability("gbm", 0.8, {})
    0.8
    >>> _as_probability("iforest", 0.5, {"threshold": 0.5})
    0.5
    """
    if kind == "gbm":
        return score
    threshold = params.get("threshold", 0.5)
    # IsolationForest scores lie near 0.3..0.8; a tenth above the threshold reads as certain.
    return min(max(0.5 + (score - threshold) * 5.0, 0.0), 1.0)
