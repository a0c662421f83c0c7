"""Retraining: when to retrain a stream's models, and the work itself.

Three triggers make a stream due: a schedule (``interval_s`` of window time
since its last training), confirmed drift (the drift monitor confirms it
only once the new regime has lasted some windows), and new labels (``after_labels`` true-anomaly or
false-positive labels since its last training). Times are window times, not
the wall clock, so replayed or future-dated windows behave like live ones.

``run_retrain`` is the work: it runs in a worker thread with its own
read-only connection, fits one candidate per trainer, validates each on the
labelled history against the current version and returns the outcomes. The
caller, on the event loop, writes them to the registry, so the store keeps
one writing connection.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tui_monitor.errors import DetectorError, StoreError
from tui_monitor.feedback.drift import DriftFound
from tui_monitor.feedback.gate import GateResult, LabelledEvent, Metrics, baseline_metrics, evaluate, gate, labelled_history
from tui_monitor.feedback.labels import FALSE_POSITIVE, TRUE_ANOMALY, Label, labels_of_stream
from tui_monitor.feedback.registry import current_version, dump_model, load_model
from tui_monitor.feedback.trainer import TrainedModel, Trainer
from tui_monitor.store import WindowRecord

__all__ = ["RetrainOutcome", "RetrainPolicy", "RetrainRequest", "read_windows", "run_retrain"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainRequest:
    """Retrain ``stream`` on its windows in [since, until) because of ``trigger``.

    ``trigger`` is ``schedule``, ``drift``, ``labels`` or ``manual``. After
    drift every window of the new regime is normal, even those the online
    detector flagged, so ``is_flagged_normal`` is set.
    """

    stream: str
    trigger: str
    since: float
    until: float
    is_flagged_normal: bool = False


@dataclass
class RetrainOutcome:
    """One trained candidate with its validation, or the reason none was trained."""

    stream: str
    kind: str
    trigger: str
    model: TrainedModel | None = None
    blob: bytes = b""
    metrics: Metrics | None = None
    current_metrics: Metrics | None = None
    gate: GateResult | None = None
    error: str = ""


class RetrainPolicy:
    """Decide which streams are due for retraining."""

    def __init__(
        self,
        *,
        interval_s: float = 6 * 3600.0,
        span_s: float = 86400.0,
        after_labels: int = 3,
    ) -> None:
        self.interval_s = interval_s
        self.span_s = span_s
        self.after_labels = after_labels
        self._first_end: dict[str, float] = {}
        self._last_train: dict[str, float] = {}
        self._last_end: dict[str, float] = {}
        self._new_labels: dict[str, int] = {}
        self._drift: dict[str, DriftFound] = {}
        self.running: set[str] = set()

    def note_window(self, stream: str, end: float) -> None:
        """Count one closed window of ``stream`` ending at ``end``."""
        self._first_end.setdefault(stream, end)
        self._last_end[stream] = end

    def note_label(self, stream: str) -> None:
        """Count one new true-anomaly or false-positive label of ``stream``."""
        self._new_labels[stream] = self._new_labels.get(stream, 0) + 1

    def note_drift(self, found: DriftFound) -> None:
        """Remember confirmed drift of a stream; it is due at once."""
        self._drift[found.stream] = found

    def due(self) -> list[RetrainRequest]:
        """Return one request per stream that is due and not already retraining, and mark them started."""
        requests = []
        for stream, end in self._last_end.items():
            if stream in self.running:
                continue
            request = self._request_for(stream, end)
            if request is not None:
                requests.append(request)
                self.started(stream, end)
        return requests

    def _request_for(self, stream: str, end: float) -> RetrainRequest | None:
        found = self._drift.get(stream)
        if found is not None:
            return RetrainRequest(stream, "drift", found.since, end + 1e-6, is_flagged_normal=True)
        if self._new_labels.get(stream, 0) >= self.after_labels:
            return RetrainRequest(stream, "labels", end - self.span_s, end + 1e-6)
        last = self._last_train.get(stream, self._first_end[stream])
        if end - last >= self.interval_s:
            return RetrainRequest(stream, "schedule", end - self.span_s, end + 1e-6)
        return None

    def started(self, stream: str, end: float) -> None:
        """Reset the triggers of ``stream`` and mark it running."""
        self.running.add(stream)
        self._last_train[stream] = end
        self._new_labels[stream] = 0
        self._drift.pop(stream, None)

    def finished(self, stream: str) -> None:
        """Mark ``stream`` as no longer retraining."""
        self.running.discard(stream)


def read_windows(conn: sqlite3.Connection, stream: str, since: float, until: float) -> list[WindowRecord]:
    """Read the scored, non-warm-up windows of ``stream`` in [since, until), oldest first."""
    rows = conn.execute(
        "SELECT stream, start, end, features, raw_score, score, is_warmup, is_anomalous FROM windows "
        "WHERE stream = ? AND start >= ? AND start < ? AND is_warmup = 0 ORDER BY start",
        (stream, since, until),
    )
    return [
        WindowRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], bool(row[6]), bool(row[7]))
        for row in rows
    ]


def _history_windows(conn: sqlite3.Connection, labels: list[Label]) -> list[WindowRecord]:
    windows: list[WindowRecord] = []
    for label in labels:
        windows += read_windows(conn, label.stream, label.window_start, label.window_end)
    return windows


def run_retrain(
    db_path: Path,
    request: RetrainRequest,
    trainers: Mapping[str, Trainer],
    *,
    supervised_min_labels: int = 5,
    hot_score: float = 0.98,
) -> list[RetrainOutcome]:
    """Fit, serialize and validate one candidate per trainer; runs in a worker thread.

    ``trainers`` maps a model kind to its trainer; the ``gbm`` kind is
    trained only once the stream has ``supervised_min_labels`` events
    labelled true anomaly and as many labelled false positive. Windows whose
    calibrated score reached ``hot_score`` (the alert threshold) are left out
    of an anomaly model's "normal" unless they are labelled false positives
    or the request follows drift.
    """
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read database {str(db_path)!r} for retraining: {exc}") from exc
    try:
        windows = read_windows(conn, request.stream, request.since, request.until)
        labels = labels_of_stream(conn, request.stream)
        history = labelled_history(_history_windows(conn, labels), labels)
        counts = {value: sum(label.label == value for label in labels) for value in (TRUE_ANOMALY, FALSE_POSITIVE)}
        outcomes = []
        for kind, trainer in trainers.items():
            if kind == "gbm" and min(counts.values()) < supervised_min_labels:
                continue
            outcomes.append(_train_one(conn, request, kind, trainer, windows, labels, history, hot_score))
        return outcomes
    finally:
        conn.close()


def _train_one(
    conn: sqlite3.Connection,
    request: RetrainRequest,
    kind: str,
    trainer: Trainer,
    windows: list[WindowRecord],
    labels: list[Label],
    history: list[LabelledEvent],
    hot_score: float,
) -> RetrainOutcome:
    outcome = RetrainOutcome(request.stream, kind, request.trigger)
    training = windows
    if kind != "gbm":
        # An unlabelled window that scored at the threshold may be a real anomaly, or the
        # first window of one before debounce opened the event. It stays out of "normal"
        # unless drift made it the new normal or a person called it a false positive.
        labelled_fp = [label for label in labels if label.label == FALSE_POSITIVE]
        training = [
            w for w in windows
            if request.is_flagged_normal
            or (w.score < hot_score and not w.is_anomalous)
            or any(fp.covers(w.stream, w.start) for fp in labelled_fp)
        ]  # fmt: skip
        # Windows of labelled false positives older than the span still teach the model.
        training += [w for event in history if not event.is_true_anomaly for w in event.windows]
    else:
        training = windows + [w for event in history for w in event.windows]
    try:
        model = trainer(_unique(training), labels)
    except DetectorError as exc:
        outcome.error = str(exc)
        logger.warning("retraining %s (%s) of %s skipped: %s", kind, request.trigger, request.stream, exc)
        return outcome
    outcome.model = model
    outcome.blob = dump_model(model)
    outcome.metrics = evaluate(model, history)
    current = current_version(conn, request.stream, kind)
    if current is None:
        outcome.current_metrics = baseline_metrics(history)
    else:
        try:
            outcome.current_metrics = evaluate(load_model(conn, current.id), history)
        except DetectorError as exc:
            logger.warning("current %s model %d of %s cannot be loaded: %s", kind, current.id, request.stream, exc)
            outcome.current_metrics = baseline_metrics(history)
    outcome.gate = gate(outcome.metrics, outcome.current_metrics)
    return outcome


def _unique(windows: list[WindowRecord]) -> list[WindowRecord]:
    seen: dict[float, WindowRecord] = {}
    for window in windows:
        seen.setdefault(window.start, window)
    return [seen[start] for start in sorted(seen)]
