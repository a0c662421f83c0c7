"""Recent normal history: usual ranges of features and background samples for SHAP.

Both work on the feature dicts of recent normal windows of one stream, oldest
first, and on a fixed feature order (the explained window's features).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tui_monitor.explain._explanation import UsualRange

__all__ = ["background_matrix", "history_matrix", "usual_ranges"]


def history_matrix(history: Sequence[dict[str, float]], feature_names: Sequence[str]) -> npt.NDArray[np.float64]:
    """Return the history as a rows x features matrix, NaN where a feature is missing or not finite.

    >>> history_matrix([{"a": 1.0}, {"a": 2.0, "b": 5.0}], ["a", "b"]).tolist()
    [[1.0, nan], [2.0, 5.0]]
    """
    matrix = np.full((len(history), len(feature_names)), np.nan)
    for row, features in enumerate(history):
        for column, name in enumerate(feature_names):
            value = features.get(name)
            if value is not None and math.isfinite(value):
                matrix[row, column] = value
    return matrix


def usual_ranges(history: Sequence[dict[str, float]], feature_names: Sequence[str]) -> dict[str, UsualRange]:
    """Return each feature's median and p5..p95 over the history.

    A feature with no finite value in the history gets NaN figures and a
    count of 0.

    >>> ranges = usual_ranges([{"cpu": float(v)} for v in range(1, 101)], ["cpu"])
    >>> ranges["cpu"]
    UsualRange(median=50.5, p5=5.95, p95=95.05, count=100)
    """
    matrix = history_matrix(history, feature_names)
    ranges: dict[str, UsualRange] = {}
    for column, name in enumerate(feature_names):
        values = matrix[:, column]
        values = values[np.isfinite(values)]
        if values.size == 0:
            ranges[name] = UsualRange(math.nan, math.nan, math.nan, 0)
            continue
        p5, median, p95 = np.percentile(values, [5, 50, 95])
        ranges[name] = UsualRange(float(median), float(p5), float(p95), int(values.size))
    return ranges


def background_matrix(
    history: Sequence[dict[str, float]],
    feature_names: Sequence[str],
    x: npt.NDArray[np.float64],
    size: int,
) -> npt.NDArray[np.float64]:
    """Return the last ``size`` history rows as a SHAP background, with no NaN left.

    A missing value takes the feature's median over the history. A feature
    never seen in the history takes the explained window's own value ``x``,
    so it gets no attribution: there is nothing to compare it with.

    >>> background_matrix([{"a": 1.0}, {"a": 3.0}], ["a", "b"], np.array([9.0, 7.0]), 5).tolist()
    [[1.0, 7.0], [3.0, 7.0]]
    """
    matrix = history_matrix(history[-size:] if size > 0 else [], feature_names)
    full = history_matrix(history, feature_names)
    for column in range(matrix.shape[1]):
        finite = full[:, column][np.isfinite(full[:, column])]
        fill = float(np.median(finite)) if finite.size else float(x[column])
        missing = ~np.isfinite(matrix[:, column])
        matrix[missing, column] = fill
    return matrix
