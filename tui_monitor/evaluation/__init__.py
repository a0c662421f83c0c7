"""Evaluation: score detectors against labelled corpora (the NAB scorer)."""

from __future__ import annotations

from tui_monitor.evaluation.corpus import Series, load_labels, load_series, read_reference_scores, window_rows
from tui_monitor.evaluation.nab import PROFILES, CorpusResult, Profile, SeriesTable, build_table, normalized, score_at, sweep

__all__ = [
    "PROFILES",
    "CorpusResult",
    "Profile",
    "Series",
    "SeriesTable",
    "build_table",
    "load_labels",
    "load_series",
    "normalized",
    "read_reference_scores",
    "score_at",
    "sweep",
    "window_rows",
]
