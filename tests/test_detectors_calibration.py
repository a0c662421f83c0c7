"""Calibration of raw scores and the dynamic threshold."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tui_monitor.detectors import RollingThreshold, RunningQuantile


def _filled(values: list[float], size: int = 1000) -> RunningQuantile:
    cal = RunningQuantile(size=size)
    for value in values:
        cal.learn_one(value)
    return cal


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(-1e7, 1e7), st.floats(-1e7, 1e7))
def test_quantile_is_monotonic(history: list[float], a: float, b: float) -> None:
    cal = _filled(history)
    low, high = sorted((a, b))
    assert cal.score_one(low) <= cal.score_one(high)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(-1e9, 1e9))
def test_quantile_stays_in_unit_range(history: list[float], raw: float) -> None:
    assert 0.0 <= _filled(history).score_one(raw) <= 1.0


def test_quantile_empty_history_scores_half() -> None:
    assert RunningQuantile().score_one(3.0) == 0.5


def test_quantile_nan_scores_half() -> None:
    assert _filled([1.0, 2.0]).score_one(math.nan) == 0.5


def test_quantile_ignores_nan_when_learning() -> None:
    assert len(_filled([1.0, math.nan, math.inf])) == 1


def test_quantile_separates_scores_beyond_the_record() -> None:
    cal = _filled([float(v) for v in range(100)])
    assert cal.score_one(110.0) < cal.score_one(140.0) < 1.0


def test_quantile_constant_history_still_ranks_higher_values() -> None:
    cal = _filled([2.0] * 50)
    assert cal.score_one(2.0) < cal.score_one(2.5)


def test_quantile_forgets_beyond_size() -> None:
    cal = _filled([100.0] * 5 + [1.0] * 5, size=5)
    assert cal.score_one(50.0) > 0.99


def test_quantile_state_round_trips() -> None:
    cal = _filled([3.0, 1.0, 2.0], size=10)
    assert RunningQuantile.from_state(cal.to_state()).score_one(2.5) == cal.score_one(2.5)


def test_rolling_threshold_uses_floor_when_scores_are_low() -> None:
    threshold = RollingThreshold(q=0.9, floor=0.99, size=100)
    for _ in range(50):
        threshold.learn_one(0.5)
    assert threshold.value() == 0.99


def test_rolling_threshold_rises_with_noisy_scores() -> None:
    threshold = RollingThreshold(q=0.5, floor=0.9, size=100)
    for _ in range(50):
        threshold.learn_one(0.995)
    assert threshold.value() == 0.995
