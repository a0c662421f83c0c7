"""Online multivariate detectors from river, wrapped to take any feature vector.

Each model learns and scores one window at a time (``learn_one`` and
``score_one``). Higher raw scores are more anomalous. Raw scales differ
between models, so ``calibration`` maps them to one scale. A non-finite
value is replaced by the feature's last finite value (or left out before
there is one), so NaN and infinity neither raise nor look unusual.
"""

from __future__ import annotations

import math

from river import anomaly, preprocessing
from river.base import AnomalyDetector

__all__ = ["HalfSpaceTreesModel", "LodaModel", "OnlineModel"]


class _Imputer:
    """Replace non-finite values by the feature's last finite value."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def clean(self, x: dict[str, float], *, remember: bool) -> dict[str, float]:
        clean: dict[str, float] = {}
        for name, value in x.items():
            if math.isfinite(value):
                clean[name] = value
                if remember:
                    self._last[name] = value
            elif name in self._last:
                clean[name] = self._last[name]
        return clean


class OnlineModel:
    """A river anomaly detector behind an imputer and a min-max scaler."""

    version = "online-0"

    def __init__(self, model: AnomalyDetector) -> None:
        self._imputer = _Imputer()
        self._scaler = preprocessing.MinMaxScaler()
        self._model = model

    def learn_one(self, x: dict[str, float], ts: float | None = None) -> None:
        """Learn one feature vector as normal."""
        clean = self._imputer.clean(x, remember=True)
        if not clean:
            return
        self._scaler.learn_one(clean)
        self._model.learn_one(self._scaler.transform_one(clean))

    def score_one(self, x: dict[str, float], ts: float | None = None) -> float:
        """Return the raw anomaly score of one feature vector (higher is more anomalous)."""
        clean = self._imputer.clean(x, remember=False)
        if not clean:
            return 0.0
        return float(self._model.score_one(self._scaler.transform_one(clean)))


class HalfSpaceTreesModel(OnlineModel):
    """HalfSpaceTrees on min-max scaled features; raw scores in 0..1.

    HalfSpaceTrees expects features in [0, 1], which the scaler provides.
    ``window_size`` is the number of windows in its reference mass; scores
    mean little before that many windows were learned, which warm-up covers.
    A low tree height suits the few hundred windows a stream sees in its
    first hours: with height 8 most leaves of a 30-window reference are
    empty and every point scores near 1.
    """

    version = "hst-2"

    def __init__(self, *, window_size: int = 30, n_trees: int = 25, height: int = 4, seed: int = 42) -> None:
        super().__init__(anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed))


class LodaModel(OnlineModel):
    """LODA (random one-dimensional projections with histograms); raw scores 0 or more.

    About 0.2 ms per window at 20 features, so it can run beside
    HalfSpaceTrees when a stream's anomalies hide in feature combinations.
    """

    version = "loda-1"

    def __init__(self, *, n_bins: int = 10, n_random_cuts: int = 100, seed: int = 42) -> None:
        super().__init__(anomaly.LODA(n_bins=n_bins, n_random_cuts=n_random_cuts, seed=seed))
