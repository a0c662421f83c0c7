"""Compute an event's explanation in a worker thread.

The engine builds an ``ExplanationRequest`` on the event loop when an event
opens. The request carries a pickled snapshot of the online model as it was
when it scored the window, because the live model keeps learning on the
event loop while the worker runs. The worker reads the recent normal history
through its own read-only connection to the store, so it never shares the
engine's writing connection, and returns the ``Explanation``. The engine
stores it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tui_monitor.errors import ExplanationError
from tui_monitor.explain._agnostic import explain_score_function, score_function_of
from tui_monitor.explain._explanation import Attribution, Explanation
from tui_monitor.explain._history import background_matrix, usual_ranges
from tui_monitor.explain._tree import explain_isolation_forest
from tui_monitor.store import FeatureStore

__all__ = ["ExplanationRequest", "ExplanationWorker", "compute_explanation"]

logger = logging.getLogger(__name__)


@dataclass
class ExplanationRequest:
    """Everything a worker needs to explain one event's window.

    Set ``online_model`` (a pickled river-style model with ``score_one``) or
    ``forest`` (a fitted IsolationForest with its ``forest_features`` order).

    Attributes:
        event_id: the event to explain.
        stream: its stream.
        window_start: start of the explained window (Unix seconds); the
            history is the normal windows before it.
        features: the window's feature values.
        db_path: the store file, opened read-only by the worker.
        model_version: stored with the explanation.
        online_model: ``pickle.dumps`` of the online model.
        forest: a fitted ``sklearn.ensemble.IsolationForest``.
        forest_features: the feature order ``forest`` was fitted with.
        max_score: windows scored at or above this calibrated score are left
            out of the normal history.
        history_size: at most this many recent normal windows give the usual ranges.
        background_size: at most this many of them are the model-agnostic background.
        min_history: fewer normal windows than this make the model-agnostic
            explainer fail; the tree explainer needs no history.
        method: ``kernel`` or ``permutation`` for online models.
        nsamples: Kernel SHAP's coalition samples.
    """

    event_id: int
    stream: str
    window_start: float
    features: dict[str, float]
    db_path: Path
    model_version: str = ""
    online_model: bytes | None = None
    forest: Any = None
    forest_features: tuple[str, ...] = ()
    max_score: float = 1.0
    history_size: int = 360
    background_size: int = 20
    min_history: int = 5
    method: str = "kernel"
    nsamples: int = 200
    created_at: float = field(default_factory=time.time)


def compute_explanation(request: ExplanationRequest) -> Explanation:
    """Explain one window: SHAP attributions plus each feature's usual range.

    Runs in a worker thread, never on the event loop: it imports shap,
    unpickles the model and reads the store.

    Raises:
        ExplanationError: no model in the request, too little normal history
            for the model-agnostic explainer, or the explainer rejected the input.
    """
    started = time.perf_counter()
    history = _load_history(request)

    if request.forest is not None:
        names = list(request.forest_features)
        x = _forest_row(request, names, history)
        expected, output, values = explain_isolation_forest(request.forest, names, x)
        method = "tree"
    elif request.online_model is not None:
        names = sorted(name for name, value in request.features.items() if math.isfinite(value))
        x = np.array([request.features[name] for name in names], dtype=float)
        if len(history) < request.min_history:
            raise ExplanationError(
                f"cannot explain event {request.event_id!r} of stream {request.stream!r}: "
                f"{len(history)!r} normal windows stored before it, at least {request.min_history!r} needed; "
                "later events of this stream will have enough history"
            )
        model = pickle.loads(request.online_model)
        background = background_matrix(history, names, x, request.background_size)
        score = score_function_of(model, names)
        expected, output, values = explain_score_function(
            score, x, background, method=request.method, nsamples=request.nsamples
        )
        method = request.method
    else:
        raise ExplanationError(
            f"cannot explain event {request.event_id!r} of stream {request.stream!r}: "
            "the request has neither an online model nor a fitted forest"
        )

    ranges = usual_ranges(history, names)
    # The window's own values, NaN where the tree path explained a usual median instead.
    window_values = [request.features.get(name, math.nan) for name in names]
    attributions = [
        Attribution(name, float(value), float(shap_value), ranges[name])
        for name, value, shap_value in zip(names, window_values, values, strict=True)
    ]
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    logger.debug("explained event %s of %s in %.1f ms (%s)", request.event_id, request.stream, elapsed_ms, method)
    return Explanation(
        event_id=request.event_id,
        stream=request.stream,
        method=method,
        model_version=request.model_version,
        expected_value=expected,
        output=output,
        attributions=attributions,
        history_windows=len(history),
        elapsed_ms=elapsed_ms,
    )


def _forest_row(request: ExplanationRequest, names: list[str], history: list[dict[str, float]]) -> np.ndarray:
    """Return the window's values in the forest's order, each missing one replaced by its usual median.

    IsolationForest rejects NaN, and a feature the window lacks (a stream
    that skipped a poll) should look ordinary rather than fail the event.
    """
    x = np.array([request.features.get(name, math.nan) for name in names], dtype=float)
    missing = [name for name, value in zip(names, x, strict=True) if not math.isfinite(value)]
    if not missing:
        return x
    medians = usual_ranges(history, missing)
    for name in missing:
        median = medians[name].median
        if not math.isfinite(median):
            raise ExplanationError(
                f"cannot explain event {request.event_id!r} of stream {request.stream!r}: feature {name!r} "
                "of the forest is missing from the window and from the normal history; refit the forest "
                "on the stream's current features"
            )
        x[names.index(name)] = median
    return x


def _load_history(request: ExplanationRequest) -> list[dict[str, float]]:
    store = FeatureStore(request.db_path, readonly=True)
    try:
        windows = store.normal_windows(
            request.stream, request.window_start, limit=request.history_size, max_score=request.max_score
        )
    finally:
        store.close()
    return [window.features for window in windows]


class ExplanationWorker:
    """One background thread that computes explanations, one at a time.

    A single thread keeps explanations from competing with each other for
    the two cores of a small server; requests queue in submission order.
    """

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tui-monitor-explain")

    def submit(self, request: ExplanationRequest) -> concurrent.futures.Future[Explanation]:
        """Queue ``request`` and return a future of its explanation (or of the error raised)."""
        return self._pool.submit(compute_explanation, request)

    def shutdown(self) -> None:
        """Drop queued requests; one already running finishes in the background."""
        self._pool.shutdown(wait=False, cancel_futures=True)
