"""Trainers that turn stored windows and labels into model candidates.

A trainer is any callable ``train(windows, labels) -> TrainedModel``; the
retraining loop does not care which model it fits. Two are bundled:

- ``train_isolation_forest``: scikit-learn's IsolationForest on a stream's
  windows. Windows inside events labelled true anomalies are left out of
  "normal"; windows inside false positives are added and repeated so that a
  handful of them form a dense cluster the forest treats as normal.
- ``train_supervised``: gradient boosting on windows of labelled events
  (true anomaly = 1) against false positives and unflagged windows (0).

Both run in a worker thread: a fit of a few thousand windows takes a fraction
of a second but is too slow for the event loop.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tui_monitor.errors import DetectorError
from tui_monitor.feedback.labels import FALSE_POSITIVE, TRUE_ANOMALY, Label
from tui_monitor.store import WindowRecord

__all__ = [
    "MIN_TRAIN_WINDOWS",
    "TrainedModel",
    "Trainer",
    "feature_matrix",
    "train_isolation_forest",
    "train_supervised",
]

logger = logging.getLogger(__name__)

# Fewer windows than this describe too little of a stream's normal behaviour.
MIN_TRAIN_WINDOWS = 20

# Each false-positive window is repeated until false positives make up about
# this share of the training set, so that a few labelled windows are not isolated.
_FALSE_POSITIVE_SHARE = 0.1

# Added to the highest training score to make the threshold. A pattern may be
# learned from a handful of labelled windows. A new window of it that combines
# values none of them had scores a few hundredths above them, and is the same pattern.
_SCORE_SLACK = 0.05

# Share of a feature's training range on each side that still counts as inside it.
_RANGE_SLACK = 0.1


@dataclass
class TrainedModel:
    """A fitted model of one stream with what it needs to score new windows.

    ``score_many`` returns one score per window, higher is more anomalous;
    a window is anomalous when its score exceeds ``threshold``. For ``iforest``
    the score is the negated ``score_samples`` (path-length based, roughly
    0.3..0.8); for ``gbm`` it is the probability of a true anomaly (0..1).
    """

    stream: str
    kind: str
    model: Any
    features: list[str]
    threshold: float
    train_start: float
    train_end: float
    n_windows: int
    params: dict[str, Any] = field(default_factory=dict)

    def score_many(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """Score feature dicts in one batch (one ``predict`` call is far cheaper than many)."""
        x = feature_matrix(rows, self.features)
        if self.kind == "gbm":
            return np.asarray(self.model.predict_proba(x)[:, 1], dtype=float)
        scores = -np.asarray(self.model.score_samples(x), dtype=float)
        if "low" in self.params and "high" in self.params:
            scores += range_excess(x, np.asarray(self.params["low"], dtype=float), np.asarray(self.params["high"], dtype=float))
        return scores

    def is_anomalous_many(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """Return whether each row scores above ``threshold``."""
        return self.score_many(rows) > self.threshold


class Trainer(Protocol):
    """Fit a candidate model of one stream from its windows and labels."""

    def __call__(self, windows: Sequence[WindowRecord], labels: Sequence[Label]) -> TrainedModel: ...


def feature_matrix(rows: Sequence[dict[str, float]], features: Sequence[str]) -> np.ndarray:
    """Stack feature dicts into a matrix in ``features`` order; missing or non-finite values become 0.

    >>> feature_matrix([{"a": 1.0, "b": float("nan")}, {"b": 2.0}], ["a", "b"]).tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    x = np.zeros((len(rows), len(features)), dtype=float)
    for i, row in enumerate(rows):
        for j, name in enumerate(features):
            value = row.get(name, 0.0)
            x[i, j] = value if math.isfinite(value) else 0.0
    return x


def range_excess(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Return how far each row lies beyond the training range of any feature, in units of that range.

    An IsolationForest draws its splits inside the training data. A window
    far beyond it follows the path of the most extreme training window and
    gets the same score, so an outage ten times worse than anything learned
    would look as usual as the edge of normal. Adding this excess keeps
    scores rising with the distance. A band of ``_RANGE_SLACK`` of the range on each
    side counts as inside, so a new occurrence of a learned pattern that is a
    little stronger than the labelled ones stays normal.

    >>> range_excess(np.array([[5.0], [13.0], [30.0]]), np.array([0.0]), np.array([10.0])).tolist()
    [0.0, 0.2, 1.9]
    """
    span = np.maximum(high - low, np.maximum(_RANGE_SLACK * np.abs(high), 1e-9))
    below = (low - _RANGE_SLACK * span) - x
    above = x - (high + _RANGE_SLACK * span)
    excess = np.maximum(np.maximum(below, above), 0.0) / span
    return excess.max(axis=1) if excess.size else np.zeros(len(x))


def _covered(window: WindowRecord, labels: Sequence[Label], value: str) -> bool:
    return any(label.label == value and label.covers(window.stream, window.start) for label in labels)


def _span(windows: Sequence[WindowRecord]) -> tuple[float, float]:
    return min(w.start for w in windows), max(w.end for w in windows)


def train_isolation_forest(
    windows: Sequence[WindowRecord],
    labels: Sequence[Label],
    *,
    n_estimators: int = 50,
    seed: int = 42,
) -> TrainedModel:
    """Fit an IsolationForest on a stream's normal windows and its false positives.

    The threshold is the highest score of any training window plus a small
    slack, so the model calls anomalous only what is clearly more isolated
    than everything it learned. Scores grow beyond the training range of
    each feature (see ``range_excess``), so a window far outside what was
    learned is anomalous however the forest's splits fell.

    Raises:
        DetectorError: fewer than ``MIN_TRAIN_WINDOWS`` windows remain after
            leaving out confirmed anomalies.
    """
    from sklearn.ensemble import IsolationForest

    normal = [w for w in windows if not _covered(w, labels, TRUE_ANOMALY)]
    false_positives = [w for w in normal if _covered(w, labels, FALSE_POSITIVE)]
    if len(normal) < MIN_TRAIN_WINDOWS:
        stream = windows[0].stream if windows else "?"
        raise DetectorError(
            f"cannot train stream {stream!r}: {len(normal)} normal windows, {MIN_TRAIN_WINDOWS} needed; "
            "wait for more windows or lengthen the training span"
        )
    repeat = 1
    if false_positives:
        repeat = max(1, math.ceil(_FALSE_POSITIVE_SHARE * len(normal) / len(false_positives)))
    rows = [w.features for w in normal] + [w.features for w in false_positives] * (repeat - 1)
    features = sorted({name for w in normal for name in w.features})
    x = feature_matrix(rows, features)

    model = IsolationForest(n_estimators=n_estimators, random_state=seed)
    model.fit(x)
    threshold = float(np.max(-model.score_samples(x))) + _SCORE_SLACK
    start, end = _span(normal)
    params = {
        "n_estimators": n_estimators, "seed": seed, "false_positive_repeat": repeat, "threshold": threshold,
        "low": x.min(axis=0).tolist(), "high": x.max(axis=0).tolist(),
    }  # fmt: skip
    logger.info(
        "trained IsolationForest on %s: %d windows (%d false positives x%d), threshold %.3f",
        normal[0].stream, len(normal), len(false_positives), repeat, threshold,
    )  # fmt: skip
    return TrainedModel(normal[0].stream, "iforest", model, features, threshold, start, end, len(normal), params)


def train_supervised(
    windows: Sequence[WindowRecord],
    labels: Sequence[Label],
    *,
    negatives_per_positive: int = 5,
    seed: int = 42,
) -> TrainedModel:
    """Fit gradient boosting on labelled windows: true anomalies against false positives and normal windows.

    Unflagged, unlabelled windows are sampled as extra negatives, at most
    ``negatives_per_positive`` per positive window, so the classifier also
    learns ordinary windows. The threshold is a probability of 0.5.

    Raises:
        DetectorError: there is no window of a true anomaly or no negative window.
    """
    from sklearn.ensemble import GradientBoostingClassifier

    positives = [w for w in windows if _covered(w, labels, TRUE_ANOMALY)]
    false_positives = [w for w in windows if _covered(w, labels, FALSE_POSITIVE)]
    ordinary = [w for w in windows if not w.is_anomalous and w not in positives and w not in false_positives]
    rng = random.Random(seed)
    sample = rng.sample(ordinary, min(len(ordinary), negatives_per_positive * max(len(positives), 1)))
    negatives = false_positives + sample
    if not positives or not negatives:
        stream = windows[0].stream if windows else "?"
        raise DetectorError(
            f"cannot train a supervised model of stream {stream!r}: {len(positives)} windows of true anomalies "
            f"and {len(negatives)} normal or false-positive windows; label events of both kinds first"
        )
    rows = [w.features for w in positives + negatives]
    y = np.array([1] * len(positives) + [0] * len(negatives))
    features = sorted({name for row in rows for name in row})

    model = GradientBoostingClassifier(n_estimators=50, max_depth=2, random_state=seed)
    model.fit(feature_matrix(rows, features), y)
    start, end = _span(positives + negatives)
    params = {"n_estimators": 50, "max_depth": 2, "seed": seed, "positives": len(positives), "negatives": len(negatives)}
    return TrainedModel(positives[0].stream, "gbm", model, features, 0.5, start, end, len(rows), params)
