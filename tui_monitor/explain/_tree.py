"""Exact SHAP attributions for a fitted scikit-learn IsolationForest.

shap's ``TreeExplainer`` on an IsolationForest explains the mean path length
E[h(x)] over the trees (shap 0.51). A short path means anomalous, so that
output runs opposite to the anomaly score. This module negates it: the
explained output is ``-E[h(x)]``, higher is more anomalous, and a positive
attribution pushes towards anomalous. The same output follows from
scikit-learn's ``score_samples`` alone, which gives an independent check of
additivity:

    score_samples(x) = -2 ** (-E[h(x)] / c(n))  so  -E[h(x)] = c(n) * log2(-score_samples(x))

where n is the number of samples each tree was fitted on and c(n) the mean
path length of an unsuccessful search in a binary search tree of n nodes.

``import shap`` takes seconds, so it happens inside the functions that need
it, which run in a worker thread.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tui_monitor.errors import ExplanationError

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

__all__ = ["average_path_length", "explain_isolation_forest", "isolation_output"]

logger = logging.getLogger(__name__)

_EULER_GAMMA = 0.5772156649015329

# Building a TreeExplainer costs ~0.3-0.4 s for 100 trees; one per fitted
# model is kept for as long as the model lives.
_explainers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_explainers_lock = threading.Lock()


def average_path_length(n: int) -> float:
    """Return c(n), the mean path length of an unsuccessful search among ``n`` points.

    >>> round(average_path_length(256), 4)
    10.2448
    >>> average_path_length(1), average_path_length(2)
    (0.0, 1.0)
    """
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    harmonic = math.log(n - 1) + _EULER_GAMMA
    return 2.0 * harmonic - 2.0 * (n - 1) / n


def isolation_output(model: IsolationForest, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return ``-E[h(x)]`` per row from ``score_samples``: the output the tree attributions explain.

    Higher means more anomalous; it is at most 0.
    """
    scores = model.score_samples(np.asarray(X, dtype=float))
    return average_path_length(int(model.max_samples_)) * np.log2(-scores)


def _tree_explainer(model: IsolationForest) -> Any:
    with _explainers_lock:
        explainer = _explainers.get(model)
        if explainer is None:
            import shap  # slow import, kept off the event loop

            explainer = shap.TreeExplainer(model)
            _explainers[model] = explainer
            logger.debug("built a TreeExplainer for %d trees", len(model.estimators_))
        return explainer


def explain_isolation_forest(
    model: IsolationForest,
    feature_names: Sequence[str],
    x: npt.ArrayLike,
) -> tuple[float, float, npt.NDArray[np.float64]]:
    """Explain one row's anomaly output with exact tree SHAP values.

    Runs in a worker thread: it may import shap and build an explainer.

    Args:
        model: a fitted ``sklearn.ensemble.IsolationForest``.
        feature_names: the model's feature order; ``x`` follows it.
        x: one row of feature values.

    Returns:
        ``(expected_value, output, attributions)``: the mean and the row's
        ``-E[h(x)]`` (higher is more anomalous) and one attribution per
        feature, positive towards anomalous, summing to ``output - expected_value``.

    Raises:
        ExplanationError: the model is not a fitted IsolationForest, or ``x``
            does not have one value per feature name.
    """
    row = np.asarray(x, dtype=float).reshape(1, -1)
    n_features = getattr(model, "n_features_in_", None)
    if not hasattr(model, "estimators_") or not hasattr(model, "score_samples"):
        raise ExplanationError(
            f"cannot explain model {type(model).__name__!r} with the tree explainer: "
            "expected a fitted sklearn IsolationForest; call fit() first or use the model-agnostic explainer"
        )
    if n_features != row.shape[1] or len(feature_names) != row.shape[1]:
        raise ExplanationError(
            f"cannot explain a row of {row.shape[1]!r} values with {len(feature_names)!r} feature names "
            f"for a model fitted on {n_features!r} features: pass the feature order the model was fitted with"
        )

    explainer = _tree_explainer(model)
    path_length_shap = np.asarray(explainer.shap_values(row), dtype=float).reshape(-1)
    expected_path_length = float(np.asarray(explainer.expected_value, dtype=float).reshape(-1)[0])
    output = float(isolation_output(model, row)[0])
    return -expected_path_length, output, -path_length_shap
