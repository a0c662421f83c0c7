"""Explanations of anomaly events: which features pushed the score, and by how much.

Every attribution is a SHAP value with one sign convention: positive pushes
the window towards anomalous. Tree models (IsolationForest) get exact
attributions from shap's TreeExplainer; online models get model-agnostic
estimates (Kernel or Permutation SHAP) against a background of recent normal
windows. Each feature is shown beside its usual range (median, p5-p95) over
the recent normal history.

Nothing here imports shap at import time: it loads in the worker thread on
the first explanation, because the import takes seconds.
"""

from __future__ import annotations

from tui_monitor.explain._agnostic import METHODS, explain_score_function, score_function_of
from tui_monitor.explain._explanation import Attribution, Explanation, UsualRange
from tui_monitor.explain._history import background_matrix, usual_ranges
from tui_monitor.explain._reasons import KINDS, format_range, format_value, kind_for, kind_of_feature, reason_for, reasons
from tui_monitor.explain._tree import average_path_length, explain_isolation_forest, isolation_output
from tui_monitor.explain._worker import ExplanationRequest, ExplanationWorker, compute_explanation

__all__ = [
    "KINDS",
    "METHODS",
    "Attribution",
    "Explanation",
    "ExplanationRequest",
    "ExplanationWorker",
    "UsualRange",
    "average_path_length",
    "background_matrix",
    "compute_explanation",
    "explain_isolation_forest",
    "explain_score_function",
    "format_range",
    "format_value",
    "isolation_output",
    "kind_for",
    "kind_of_feature",
    "reason_for",
    "reasons",
    "score_function_of",
    "usual_ranges",
]
