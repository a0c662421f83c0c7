"""Score per-row anomaly scores the way the Numenta Anomaly Benchmark does.

A detector gives every row of a series a score in 0..1 (higher is more
anomalous). One threshold per cost profile turns scores into detections. A
detection inside a labelled window earns a reward that shrinks the later it
comes. A detection outside every window costs up to the profile's false-positive
weight, less when it follows a window closely. A window without a detection
costs the false-negative weight. The first 15 % of each series (at most 750
rows) is a probation period that is not scored. The corpus score is
normalized so that detecting nothing gives 0 and a perfect detector 100.

Everything here is pure and runs on plain lists; ``sweep`` finds the
threshold that maximizes the corpus score exactly, in O(n log n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "PROFILES",
    "CorpusResult",
    "Profile",
    "SeriesTable",
    "build_table",
    "normalized",
    "probation_rows",
    "scaled_sigmoid",
    "score_at",
    "sweep",
]


@dataclass(frozen=True)
class Profile:
    """Cost weights of one NAB profile: reward per true positive, costs per miss and false alarm."""

    name: str
    tp_weight: float
    fn_weight: float
    fp_weight: float


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 1.0, 0.11),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 1.0, 0.22),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 2.0, 0.11),
}

# The probation period is 15 % of a series, capped at 15 % of 5,000 rows.
_PROBATION_FRACTION = 0.15
_PROBATION_CAP_ROWS = 750


def probation_rows(n_rows: int) -> int:
    """Return how many leading rows of a series are left out of scoring.

    >>> probation_rows(4032), probation_rows(1000)
    (604, 150)
    """
    return min(math.floor(_PROBATION_FRACTION * n_rows), _PROBATION_CAP_ROWS)


def scaled_sigmoid(y: float) -> float:
    """Return NAB's scaled sigmoid: 2 * sigmoid(-5 y) - 1, and -1 beyond y = 3.

    >>> round(scaled_sigmoid(-1.0), 5), scaled_sigmoid(0.0), scaled_sigmoid(3.5)
    (0.98661, 0.0, -1.0)
    """
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


_S_LEFT_EDGE = scaled_sigmoid(-1.0)


@dataclass
class SeriesTable:
    """The scorable rows of one series with their position relative to the windows.

    ``window_of[i]`` is the index of the window that row ``i`` (counted from
    the end of probation) falls in, or -1. ``tp_value[i]`` is the profile-free
    reward shape S(y)/S(-1) inside a window; ``fp_value[i]`` is the
    profile-free penalty shape for rows outside windows (multiply by the
    false-positive weight): -1 far from any window, closer to 0 just after one.
    """

    name: str
    scores: list[float]
    window_of: list[int]
    tp_value: list[float]
    fp_value: list[float]
    n_windows: int


def build_table(name: str, scores: Sequence[float], windows: Sequence[tuple[int, int]]) -> SeriesTable:
    """Prepare one series for scoring.

    Args:
        name: the series' name, for reports.
        scores: one score per row in 0..1, in row order.
        windows: inclusive ``(first_row, last_row)`` ranges of the labelled
            windows, in row indices of the whole series, not overlapping.

    Returns:
        The table of the rows after probation.
    """
    n = len(scores)
    start = probation_rows(n)
    ordered = sorted(windows)
    window_of = [-1] * n
    tp_value = [0.0] * n
    fp_value = [-1.0] * n

    for index, (left, right) in enumerate(ordered):
        width = right - left + 1
        for i in range(max(left, 0), min(right, n - 1) + 1):
            window_of[i] = index
            tp_value[i] = scaled_sigmoid(-(right - i + 1) / width) / _S_LEFT_EDGE
        after_end = ordered[index + 1][0] if index + 1 < len(ordered) else n
        for i in range(right + 1, min(after_end, n)):
            # NOTE: a window of width 1 would divide by zero; NAB's labels have none.
            fp_value[i] = scaled_sigmoid((i - right) / (width - 1)) if width > 1 else -1.0

    scored_windows = {window_of[i] for i in range(start, n) if window_of[i] >= 0}
    # Renumber windows so that only those reaching past probation count.
    renumber = {old: new for new, old in enumerate(sorted(scored_windows))}
    return SeriesTable(
        name=name,
        scores=[float(s) for s in scores[start:]],
        window_of=[renumber.get(w, -1) for w in window_of[start:]],
        tp_value=tp_value[start:],
        fp_value=fp_value[start:],
        n_windows=len(renumber),
    )


def score_at(table: SeriesTable, threshold: float, profile: Profile) -> float:
    """Return the raw NAB score of one series at ``threshold`` (detection: score >= threshold).

    >>> t = build_table("toy", [0.0] * 20 + [0.9, 0.0, 0.0, 0.0], [(20, 23)])
    >>> round(score_at(t, 0.5, PROFILES["standard"]), 4)
    1.0
    >>> score_at(t, 1.1, PROFILES["standard"])
    -1.0
    """
    best = [-math.inf] * table.n_windows
    total = 0.0
    for score, window, tp, fp in zip(table.scores, table.window_of, table.tp_value, table.fp_value, strict=True):
        if score < threshold:
            continue
        if window >= 0:
            best[window] = max(best[window], profile.tp_weight * tp)
        else:
            total += profile.fp_weight * fp
    for value in best:
        total += value if value > -math.inf else -profile.fn_weight
    return total


@dataclass
class CorpusResult:
    """The outcome of a threshold sweep for one profile."""

    profile: str
    threshold: float
    raw: float
    score: float
    per_series: dict[str, float]


def normalized(raw: float, n_windows: int, profile: Profile) -> float:
    """Map a raw corpus score to NAB's scale: 0 detects nothing, 100 is perfect.

    A corpus without windows has no scale: the result is NaN.

    >>> round(normalized(46.6345, 116, PROFILES["standard"]), 2)
    70.1
    """
    if n_windows == 0:
        return math.nan
    null = -profile.fn_weight * n_windows
    perfect = profile.tp_weight * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def sweep(tables: Sequence[SeriesTable], profile: Profile) -> CorpusResult:
    """Find the threshold that maximizes the corpus raw score, exactly.

    Candidates are every distinct score plus 1.1 ("detect nothing"). Rows are
    visited from the highest score down; lowering the threshold past a row
    adds its false-alarm cost, or, inside a window, raises that window's
    reward to the row's value when it is the best so far.
    """
    n_windows = sum(t.n_windows for t in tables)
    events: list[tuple[float, int, int, float, float]] = []
    for k, table in enumerate(tables):
        for score, window, tp, fp in zip(table.scores, table.window_of, table.tp_value, table.fp_value, strict=True):
            events.append((score, k, window, tp, fp))
    events.sort(key=lambda e: -e[0])

    best_in: dict[tuple[int, int], float] = {}
    raw = -profile.fn_weight * n_windows
    best_raw, best_threshold = raw, 1.1
    i = 0
    while i < len(events):
        threshold = events[i][0]
        while i < len(events) and events[i][0] == threshold:
            _, k, window, tp, fp = events[i]
            if window < 0:
                raw += profile.fp_weight * fp
            else:
                value = profile.tp_weight * tp
                old = best_in.get((k, window))
                if old is None:
                    raw += value + profile.fn_weight
                    best_in[(k, window)] = value
                elif value > old:
                    raw += value - old
                    best_in[(k, window)] = value
            i += 1
        if raw > best_raw:
            best_raw, best_threshold = raw, threshold

    per_series = {t.name: score_at(t, best_threshold, profile) for t in tables}
    return CorpusResult(
        profile=profile.name,
        threshold=best_threshold,
        raw=best_raw,
        score=normalized(best_raw, n_windows, profile),
        per_series=per_series,
    )
