"""The validation gate: a new model is kept only if it does no worse on labelled history.

The labelled history of a stream is every event labelled true anomaly (1) or
false positive (0). Every one of them was flagged by the online detector,
and a learned model only silences windows it considers normal, so a model
"predicts" an event anomalous when it calls any of the event's windows
anomalous. When no model of a kind was promoted yet, the candidate is
compared with the online detector alone, which flagged every labelled event.

NOTE: the supervised model is evaluated on the labels it was trained on, so
its metrics are optimistic; cross-validation by event would be fairer once
a stream has enough labels for several folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tui_monitor.feedback.labels import FALSE_POSITIVE, TRUE_ANOMALY, Label
from tui_monitor.feedback.trainer import TrainedModel
from tui_monitor.store import WindowRecord

__all__ = ["GateResult", "LabelledEvent", "Metrics", "baseline_metrics", "evaluate", "gate", "labelled_history"]

# A candidate may fall this far below the current model on a metric and still pass.
TOLERANCE = 0.02


@dataclass(frozen=True)
class LabelledEvent:
    """One labelled event and its stored windows."""

    label: Label
    windows: list[WindowRecord]

    @property
    def rows(self) -> list[dict[str, float]]:
        """The feature vectors of the event's windows."""
        return [w.features for w in self.windows]

    @property
    def is_true_anomaly(self) -> bool:
        """Whether the event was labelled a true anomaly."""
        return self.label.label == TRUE_ANOMALY


@dataclass(frozen=True)
class Metrics:
    """Metrics on labelled history; None when undefined (no positives, or nothing predicted)."""

    precision: float | None
    recall: float | None
    average_precision: float | None
    n_true: int
    n_false: int

    def to_json(self) -> dict[str, float | int | None]:
        """Return the metrics as a JSON-ready dict."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "average_precision": self.average_precision,
            "n_true": self.n_true,
            "n_false": self.n_false,
        }


@dataclass(frozen=True)
class GateResult:
    """Whether the candidate passed, and why."""

    is_passed: bool
    reason: str


def labelled_history(windows: Sequence[WindowRecord], labels: Sequence[Label]) -> list[LabelledEvent]:
    """Group windows by the true-anomaly and false-positive labels that cover them."""
    history = []
    for label in labels:
        if label.label not in (TRUE_ANOMALY, FALSE_POSITIVE):
            continue
        covered = [w for w in windows if label.covers(w.stream, w.start)]
        if covered:
            history.append(LabelledEvent(label, covered))
    return history


def _metrics(y_true: list[int], y_pred: list[int], y_score: list[float]) -> Metrics:
    from sklearn.metrics import average_precision_score, precision_score, recall_score

    n_true = sum(y_true)
    n_false = len(y_true) - n_true
    precision = recall = average_precision = None
    if sum(y_pred):
        precision = float(precision_score(y_true, y_pred, zero_division=0))
    if n_true:
        recall = float(recall_score(y_true, y_pred, zero_division=0))
    if n_true and n_false:
        average_precision = float(average_precision_score(y_true, y_score))
    return Metrics(precision, recall, average_precision, n_true, n_false)


def evaluate(model: TrainedModel, history: Sequence[LabelledEvent]) -> Metrics:
    """Compute precision, recall and average precision of ``model`` on labelled events."""
    y_true, y_pred, y_score = [], [], []
    for event in history:
        scores = model.score_many(event.rows)
        y_true.append(int(event.is_true_anomaly))
        y_pred.append(int(np.any(scores > model.threshold)))
        y_score.append(float(np.max(scores)))
    return _metrics(y_true, y_pred, y_score)


def baseline_metrics(history: Sequence[LabelledEvent]) -> Metrics:
    """Metrics of the online detector alone: it flagged every labelled event at the event's score."""
    y_true = [int(event.is_true_anomaly) for event in history]
    return _metrics(y_true, [1] * len(history), [event.label.score for event in history])


def _is_worse(candidate: float | None, current: float | None) -> bool:
    if current is None or (isinstance(current, float) and math.isnan(current)):
        return False
    if candidate is None:
        return True
    return candidate < current - TOLERANCE


def gate(candidate: Metrics, current: Metrics) -> GateResult:
    """Pass ``candidate`` unless its recall, precision or average precision is worse than ``current``'s.

    A metric the current model has but the candidate lacks counts as worse,
    except precision when the candidate flags no false positive and no event
    at all (it then has no precision but made no wrong call either).

    >>> gate(Metrics(1.0, 1.0, 1.0, 2, 3), Metrics(0.4, 1.0, 0.6, 2, 3)).is_passed
    True
    >>> gate(Metrics(1.0, 0.5, 0.8, 2, 3), Metrics(0.4, 1.0, 0.6, 2, 3)).reason
    'recall 0.50 < current 1.00'
    """
    if candidate.n_true + candidate.n_false == 0:
        return GateResult(True, "no labelled events to validate on")
    failures = []
    checks = [("recall", candidate.recall, current.recall), ("average precision", candidate.average_precision, current.average_precision)]
    if not (candidate.precision is None and candidate.n_true == 0):
        checks.insert(1, ("precision", candidate.precision, current.precision))
    for name, mine, theirs in checks:
        if _is_worse(mine, theirs):
            shown = "none" if mine is None else f"{mine:.2f}"
            failures.append(f"{name} {shown} < current {theirs:.2f}")
    if failures:
        return GateResult(False, "; ".join(failures))
    return GateResult(True, "not worse than the current model on labelled history")
