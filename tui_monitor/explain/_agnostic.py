"""Model-agnostic SHAP attributions for online detectors (river models).

The online models score one dict at a time (``score_one``, higher is more
anomalous), so the explainers see a wrapper that scores each row of a
matrix. Their cost is the number of model calls: KernelExplainer makes
``nsamples`` x background rows of them, PermutationExplainer ``max_evals`` x
background rows. With shap 0.51, 40 features and a river HalfSpaceTrees
(~55 µs per call) Kernel with 20 background rows and 200 samples took about
0.2 s per row. Permutation took about 0.05 s per row, but its first call in
each process spent ~5 s compiling with numba, a CPU burst beside the UI and
a late first explanation, so Kernel is the default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tui_monitor.errors import ExplanationError

__all__ = ["METHODS", "OnlineModel", "explain_score_function", "score_function_of"]

logger = logging.getLogger(__name__)

# shap 0.51's KernelExplainer logs its weights and raw phi arrays at INFO on
# every call, which would flood the application log.
logging.getLogger("shap").setLevel(logging.WARNING)

METHODS = ("kernel", "permutation")

ScoreFunction = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]


class OnlineModel(Protocol):
    """Any model with river's ``score_one`` (higher is more anomalous)."""

    def score_one(self, x: dict[str, float]) -> float: ...


def score_function_of(model: OnlineModel, feature_names: Sequence[str]) -> ScoreFunction:
    """Wrap ``model.score_one`` into a function scoring every row of a matrix."""
    names = list(feature_names)

    def score(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rows = np.atleast_2d(matrix)
        return np.array([model.score_one(dict(zip(names, map(float, row), strict=True))) for row in rows])

    return score


def explain_score_function(
    score: ScoreFunction,
    x: npt.ArrayLike,
    background: npt.ArrayLike,
    *,
    method: str = "kernel",
    nsamples: int = 200,
) -> tuple[float, float, npt.NDArray[np.float64]]:
    """Estimate SHAP values of one row for any score function.

    Runs in a worker thread: it imports shap.

    Args:
        score: maps a rows x features matrix to one score per row, higher
            is more anomalous.
        x: the row to explain.
        background: rows of recent normal windows, same feature order; the
            attributions compare ``x`` with them.
        method: ``kernel`` or ``permutation``.
        nsamples: coalitions Kernel evaluates; Permutation uses
            ``2 * features + 1`` evaluations, the minimum of one permutation
            and its reverse.

    Returns:
        ``(expected_value, output, attributions)`` where the attributions
        sum to ``output - expected_value``.

    Raises:
        ExplanationError: an unknown method, an empty background, or a
            background whose width differs from ``x``.
    """
    row = np.asarray(x, dtype=float).reshape(1, -1)
    rows = np.atleast_2d(np.asarray(background, dtype=float))
    if method not in METHODS:
        raise ExplanationError(f"unknown explanation method {method!r}: expected one of {', '.join(METHODS)}")
    if rows.shape[0] == 0 or rows.shape[1] != row.shape[1]:
        raise ExplanationError(
            f"cannot explain a row of {row.shape[1]!r} features with a background of shape {rows.shape!r}: "
            "the stream needs recent normal windows with the same features; wait until it has some"
        )

    import shap  # slow import, kept off the event loop

    output = float(score(row)[0])
    if method == "kernel":
        return _kernel(shap, score, row, rows, nsamples, output)
    return _permutation(shap, score, row, rows, output)


def _kernel(
    shap: Any, score: ScoreFunction, row: npt.NDArray[np.float64], rows: npt.NDArray[np.float64], nsamples: int, output: float
) -> tuple[float, float, npt.NDArray[np.float64]]:
    explainer = shap.KernelExplainer(score, rows)
    # shap's default l1_reg keeps 10 features and zeroes the rest. At 40
    # features it kept the many small pulls towards normal and dropped the
    # planted feature (1 of 20 events ranked it first, against 7 of 10
    # without selection), so every feature stays in the regression.
    values = explainer.shap_values(row, nsamples=max(nsamples, 2 * row.shape[1] + 2), silent=True, l1_reg=False)
    expected = float(np.asarray(explainer.expected_value, dtype=float).reshape(-1)[0])
    return expected, output, np.asarray(values, dtype=float).reshape(-1)


def _permutation(
    shap: Any, score: ScoreFunction, row: npt.NDArray[np.float64], rows: npt.NDArray[np.float64], output: float
) -> tuple[float, float, npt.NDArray[np.float64]]:
    masker = shap.maskers.Independent(rows, max_samples=rows.shape[0])
    explainer = shap.PermutationExplainer(score, masker)
    result = explainer(row, max_evals=2 * row.shape[1] + 1, silent=True)
    expected = float(np.asarray(result.base_values, dtype=float).reshape(-1)[0])
    return expected, output, np.asarray(result.values, dtype=float).reshape(-1)
