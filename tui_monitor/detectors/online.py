"""The online detector of one stream: river's HalfSpaceTrees behind a scaler."""

from __future__ import annotations

import math

from river import anomaly, preprocessing

__all__ = ["HalfSpaceTreesModel"]


class HalfSpaceTreesModel:
    """HalfSpaceTrees on min-max scaled features.

    HalfSpaceTrees expects features in [0, 1], so a ``MinMaxScaler`` learns
    each feature's range first. ``window_size`` is the number of windows in
    HalfSpaceTrees' reference mass; its scores mean little before that many
    windows were learned, which the warm-up covers.

    A low tree height suits the few hundred windows a stream sees in its first
    hours: with height 8 most leaves of a 30-window reference are empty and
    every point scores near 1. Scores are in 0..1; higher means more anomalous. Non-finite feature
    values are replaced by 0 so that they never raise.
    """

    version = "hst-1"

    def __init__(self, *, window_size: int = 30, n_trees: int = 25, height: int = 4, seed: int = 42) -> None:
        self._scaler = preprocessing.MinMaxScaler()
        self._model = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)

    def _scaled(self, x: dict[str, float]) -> dict[str, float]:
        clean = {k: (v if math.isfinite(v) else 0.0) for k, v in x.items()}
        return self._scaler.transform_one(clean)

    def learn_one(self, x: dict[str, float]) -> None:
        """Learn one feature vector as normal."""
        clean = {k: (v if math.isfinite(v) else 0.0) for k, v in x.items()}
        self._scaler.learn_one(clean)
        self._model.learn_one(self._scaler.transform_one(clean))

    def score_one(self, x: dict[str, float]) -> float:
        """Return the raw anomaly score of one feature vector (0..1, higher is more anomalous)."""
        return float(self._model.score_one(self._scaled(x)))
