"""Robust per-feature baselines and the hourly profile."""

from __future__ import annotations

import math
import random

from tui_monitor.detectors import RobustBaseline, RobustModel
from tui_monitor.detectors.deviation import is_context_feature

HOUR = 3600.0
DAY = 86400.0


def test_baseline_constant_feature_has_finite_z() -> None:
    base = RobustBaseline()
    for _ in range(50):
        base.learn_one({"swap": 0.0})
    assert base.zscores({"swap": 0.1})["swap"] < 1.0


def test_baseline_mostly_zero_counter_keeps_a_scale() -> None:
    base = RobustBaseline()
    for i in range(100):
        base.learn_one({"errors": 1.0 if i % 20 == 0 else 0.0})
    assert math.isfinite(base.zscores({"errors": 5.0})["errors"])


def test_baseline_skips_non_finite_values() -> None:
    base = RobustBaseline()
    base.learn_one({"cpu": math.nan, "mem": math.inf})
    assert base.usual("cpu") is None


def test_baseline_zscores_skip_non_finite_input() -> None:
    base = RobustBaseline()
    base.learn_one({"cpu": 1.0})
    assert base.zscores({"cpu": math.nan}) == {}


def test_baseline_ignores_context_features() -> None:
    base = RobustBaseline()
    base.learn_one({"time.day_sin": 0.5})
    assert base.usual("time.day_sin") is None


def test_is_context_feature_names_time_features() -> None:
    assert is_context_feature("time.week_cos")


def _daily(days: int, busy_hour: int) -> RobustBaseline:
    rng = random.Random(2)
    base = RobustBaseline(size=100, min_days=3)
    for step in range(days * 24 * 12):
        ts = step * 300.0
        hour = int(ts % DAY // HOUR)
        base.learn_one({"cpu": (80.0 if hour == busy_hour else 10.0) + rng.gauss(0, 1)}, ts)
    return base


def test_baseline_hourly_profile_makes_a_daily_job_usual() -> None:
    base = _daily(days=4, busy_hour=3)
    ts = 4 * DAY + 3 * HOUR + 600
    assert abs(base.zscores({"cpu": 80.0}, ts)["cpu"]) < 2.0


def test_baseline_hourly_profile_needs_enough_days() -> None:
    base = _daily(days=2, busy_hour=3)
    ts = 2 * DAY + 3 * HOUR + 600
    assert abs(base.zscores({"cpu": 80.0}, ts)["cpu"]) > 10.0


def test_baseline_hourly_profile_still_flags_the_job_at_another_hour() -> None:
    base = _daily(days=4, busy_hour=3)
    ts = 4 * DAY + 15 * HOUR
    assert abs(base.zscores({"cpu": 80.0}, ts)["cpu"]) > 10.0


def test_baseline_state_round_trips() -> None:
    base = _daily(days=4, busy_hour=3)
    copy = RobustBaseline.from_state(base.to_state())
    ts = 4 * DAY + 3 * HOUR
    assert copy.zscores({"cpu": 50.0}, ts) == base.zscores({"cpu": 50.0}, ts)


def test_robust_model_scores_largest_deviation() -> None:
    model = RobustModel()
    for v in (10.0, 11.0, 9.0, 10.0, 10.0):
        model.learn_one({"a": v, "b": v})
    assert model.score_one({"a": 10.0, "b": 40.0}) > model.score_one({"a": 10.0, "b": 12.0})


def test_robust_model_scores_zero_without_history() -> None:
    assert RobustModel().score_one({"a": 1.0}) == 0.0
