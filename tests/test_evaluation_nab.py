"""The NAB scorer: hand-worked cases, an exact sweep, and the published reference results."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import pytest

from tui_monitor.evaluation import (
    PROFILES,
    build_table,
    load_labels,
    load_series,
    normalized,
    read_reference_scores,
    score_at,
    sweep,
    window_rows,
)
from tui_monitor.evaluation.nab import probation_rows, scaled_sigmoid

STANDARD = PROFILES["standard"]
NAB = Path("/work/shared/data/nab")

# 100 rows: probation is 15, one window over rows 50..59 (width 10).
N_ROWS = 100
WINDOW = (50, 59)


def _scores(*hot_rows: int) -> list[float]:
    return [1.0 if i in hot_rows else 0.0 for i in range(N_ROWS)]


def _score(*hot_rows: int, profile: str = "standard") -> float:
    return score_at(build_table("toy", _scores(*hot_rows), [WINDOW]), 0.5, PROFILES[profile])


def test_scaled_sigmoid_matches_the_published_constants() -> None:
    assert round(scaled_sigmoid(-0.5), 5) == 0.84828


def test_scaled_sigmoid_is_minus_one_past_three() -> None:
    assert scaled_sigmoid(3.01) == -1.0


def test_probation_is_capped_at_750_rows() -> None:
    assert probation_rows(100_000) == 750


def test_score_detection_at_left_edge_earns_full_reward() -> None:
    assert _score(50) == pytest.approx(1.0)


def test_score_detection_at_right_edge_earns_almost_nothing() -> None:
    assert _score(59) == pytest.approx(scaled_sigmoid(-0.1) / scaled_sigmoid(-1.0))


def test_score_counts_best_detection_once() -> None:
    assert _score(50, 55, 59) == pytest.approx(1.0)


def test_score_missed_window_costs_fn_weight() -> None:
    assert _score() == -1.0


def test_low_fn_missed_window_costs_double() -> None:
    assert _score(profile="reward_low_FN_rate") == -2.0


def test_false_positive_before_windows_costs_weight() -> None:
    assert _score(30, 50) == pytest.approx(1.0 - 0.11)


def test_score_false_positive_right_after_window_costs_little() -> None:
    # One row after a width-10 window: y = 1/9.
    assert _score(50, 60) == pytest.approx(1.0 + 0.11 * scaled_sigmoid(1 / 9))


def test_false_positive_far_after_costs_weight() -> None:
    assert _score(50, 95) == pytest.approx(1.0 - 0.11)


def test_score_ignores_detections_in_probation() -> None:
    assert _score(5, 50) == pytest.approx(1.0)


def test_score_low_fp_profile_doubles_false_positive_cost() -> None:
    assert _score(30, 50, profile="reward_low_FP_rate") == pytest.approx(1.0 - 0.22)


def test_normalized_null_detector_scores_zero() -> None:
    assert normalized(-69.0, 69, STANDARD) == 0.0


def test_normalized_perfect_detector_scores_hundred() -> None:
    assert normalized(69.0, 69, PROFILES["reward_low_FN_rate"]) == 100.0


def test_sweep_detects_nothing_when_all_false() -> None:
    table = build_table("toy", [0.9 if i == 30 else 0.1 for i in range(N_ROWS)], [])
    assert sweep([table], STANDARD).threshold == 1.1


def test_sweep_matches_brute_force_on_random_scores() -> None:
    rng = random.Random(7)
    tables = [
        build_table(f"s{k}", [round(rng.random(), 2) for _ in range(300)], [(100 + 40 * k, 120 + 40 * k)])
        for k in range(3)
    ]
    candidates = sorted({s for t in tables for s in t.scores} | {1.1})
    brute = max(sum(score_at(t, th, STANDARD) for t in tables) for th in candidates)
    assert sweep(tables, STANDARD).raw == pytest.approx(brute)


def _reference_files(detector: str, profile: str) -> dict[str, tuple[float, float]]:
    path = NAB / "reference_results" / detector / f"{detector}_{profile}_scores.csv"
    with path.open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["Threshold"]]
    return {row["File"]: (float(row["Threshold"]), float(row["Score"])) for row in rows}


@pytest.mark.skipif(not (NAB / "reference_results").is_dir(), reason="NAB corpus not present on this machine")
@pytest.mark.parametrize("detector", ["numenta", "windowedGaussian"])
@pytest.mark.parametrize(
    "name",
    ["artificialWithAnomaly/art_daily_jumpsup.csv", "realKnownCause/ec2_request_latency_system_failure.csv"],
)
def test_score_reproduces_published_per_file_scores(detector: str, name: str) -> None:
    labels = load_labels(NAB / "labels" / "combined_windows.json")
    series = load_series(NAB / "data" / name, name)
    category, file_name = name.split("/")
    scores = read_reference_scores(NAB / "reference_results" / detector / category / f"{detector}_{file_name}.gz")
    table = build_table(name, scores, window_rows(series, labels[name]))
    for profile in PROFILES:
        threshold, published = _reference_files(detector, profile)[name]
        assert math.isclose(score_at(table, threshold, PROFILES[profile]), published, abs_tol=1e-9), profile


@pytest.mark.skipif(not (NAB / "config").is_dir(), reason="NAB corpus not present on this machine")
def test_stored_thresholds_file_lists_the_reference_detectors() -> None:
    thresholds = json.loads((NAB / "config" / "thresholds.json").read_text())
    assert {"numenta", "windowedGaussian"} <= set(thresholds)
