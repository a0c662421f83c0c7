"""The detector stack of one stream, on seeded data: what is detected, when, and what is learned."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from tui_monitor.detectors import Decision, DetectorConfig, StreamDetector

WINDOW_S = 300.0
DAY = int(86400 / WINDOW_S)
START = 1_700_000_000.0 - 1_700_000_000.0 % 86400  # a midnight


def _calm(rng: random.Random) -> dict[str, float]:
    return {
        "host.cpu.total_pct.mean": 20 + rng.gauss(0, 2),
        "host.mem.used_pct.mean": 50 + rng.gauss(0, 1),
        "log.app.lines": float(rng.randint(90, 110)),
    }


def _run(windows: list[dict[str, float]], config: DetectorConfig | None = None) -> list[Decision]:
    detector = StreamDetector("host", config=config or DetectorConfig(batch=False))
    return [detector.process(x, ts=START + i * WINDOW_S) for i, x in enumerate(windows)]


def _calm_series(n: int, seed: int = 1) -> list[dict[str, float]]:
    rng = random.Random(seed)
    return [_calm(rng) for _ in range(n)]


def _opened(decisions: list[Decision]) -> list[int]:
    return [i for i, d in enumerate(decisions) if d.incident == "opened"]


def test_stream_planted_spike_opens_one_incident_at_the_spike() -> None:
    windows = _calm_series(400)
    for i in (300, 301, 302):
        windows[i]["host.cpu.total_pct.mean"] = 95.0
    assert _opened(_run(windows)) == [301]


def test_stream_spike_incident_resolves_after_it_ends() -> None:
    windows = _calm_series(400)
    for i in (300, 301, 302):
        windows[i]["host.cpu.total_pct.mean"] = 95.0
    resolved = [i for i, d in enumerate(_run(windows)) if d.incident == "resolved"]
    assert resolved == [305]


def test_stream_spike_kind_is_performance() -> None:
    windows = _calm_series(400)
    for i in (300, 301, 302):
        windows[i]["host.cpu.total_pct.mean"] = 95.0
    assert _run(windows)[301].kind == "performance"


def test_stream_error_burst_kind_is_functional() -> None:
    rng = random.Random(3)
    windows = [{**_calm(rng), "log.app.level_error": float(rng.randint(0, 1))} for _ in range(400)]
    for i in (300, 301, 302):
        windows[i]["log.app.level_error"] = 60.0
    decisions = _run(windows)
    assert decisions[301].kind == "functional"


def test_stream_level_shift_is_detected_then_learned() -> None:
    windows = _calm_series(700)
    for x in windows[300:]:
        x["host.mem.used_pct.mean"] += 30.0
    decisions = _run(windows)
    assert _opened(decisions) == [301]
    assert decisions[-1].is_hot is False


def test_stream_slow_drift_is_learned_without_alert() -> None:
    windows = _calm_series(1500)
    for i, x in enumerate(windows):
        x["host.mem.used_pct.mean"] += 20.0 * i / len(windows)
    assert _opened(_run(windows)) == []


def test_stream_new_daily_job_is_normal_after_a_few_nights() -> None:
    windows = _calm_series(10 * DAY)
    nights_alerted = set()
    for day in range(3, 10):
        for i in range(day * DAY + 36, day * DAY + 48):  # 03:00 to 04:00 every night from day 3
            windows[i]["host.cpu.total_pct.mean"] = 85.0 + windows[i]["host.cpu.total_pct.mean"] - 20
    for i in _opened(_run(windows)):
        nights_alerted.add(i // DAY)
    assert 3 in nights_alerted
    assert max(nights_alerted) <= 5


def test_stream_constant_series_raises_nothing() -> None:
    windows = [{"host.cpu.total_pct.mean": 5.0, "log.app.lines": 0.0} for _ in range(500)]
    assert not any(d.is_hot for d in _run(windows))


def test_stream_constant_feature_beside_noise_raises_nothing() -> None:
    windows = [{**x, "host.swap.used_pct.mean": 0.0} for x in _calm_series(600)]
    assert _opened(_run(windows)) == []


def test_stream_nan_and_infinity_raise_nothing() -> None:
    windows = _calm_series(500)
    for i in range(200, 500, 7):
        windows[i]["host.cpu.total_pct.mean"] = math.nan
        windows[i]["log.app.lines"] = math.inf
    decisions = _run(windows)
    assert not any(d.is_hot for d in decisions)


def test_stream_all_nan_window_scores_without_raising() -> None:
    windows = _calm_series(100)
    windows[60] = {name: math.nan for name in windows[60]}
    assert _run(windows)[60].is_hot is False


def test_stream_gap_in_time_raises_nothing() -> None:
    detector = StreamDetector("host", config=DetectorConfig(batch=False))
    rng = random.Random(5)
    stamps = [START + i * WINDOW_S for i in range(300)] + [START + (i + 2000) * WINDOW_S for i in range(300)]
    decisions = [detector.process(_calm(rng), ts=ts) for ts in stamps]
    assert not any(d.is_hot for d in decisions)


def test_stream_warmup_never_alerts() -> None:
    windows = _calm_series(40)
    windows[20]["host.cpu.total_pct.mean"] = 99.0
    assert not any(d.is_hot for d in _run(windows)[:30])


def test_stream_does_not_learn_hot_windows() -> None:
    detector = StreamDetector("host", config=DetectorConfig(batch=False))
    for i, x in enumerate(_calm_series(300)):
        detector.process(x, ts=START + i * WINDOW_S)
    before = detector.baseline.usual("host.cpu.total_pct.mean")
    detector.process({"host.cpu.total_pct.mean": 99.0, "host.mem.used_pct.mean": 50.0, "log.app.lines": 100.0})
    assert detector.baseline.usual("host.cpu.total_pct.mean") == before


def test_stream_state_is_learning_during_warmup() -> None:
    detector = StreamDetector("host", warmup_windows=5)
    detector.process({"a": 1.0})
    assert detector.state == "learning"


def test_stream_legacy_keywords_override_config() -> None:
    detector = StreamDetector("host", warmup_windows=7, threshold=0.9, debounce_n=1, debounce_m=2, seed=3)
    assert (detector.warmup_windows, detector.threshold, detector.config.debounce_m) == (7, 0.9, 2)


def test_stream_model_version_names_every_model() -> None:
    assert StreamDetector("host").model_version == "robust-1+hst-2"


def test_stream_dynamic_threshold_is_never_below_static() -> None:
    detector = StreamDetector("host", config=DetectorConfig(threshold_mode="dynamic", threshold=0.99, batch=False))
    for i, x in enumerate(_calm_series(200)):
        detector.process(x, ts=START + i * WINDOW_S)
    assert detector.threshold >= 0.99


def test_stream_mean_ensemble_weights_models() -> None:
    config = DetectorConfig(ensemble="mean", weights={"robust": 1.0, "hst": 0.0, "likelihood": 0.0}, batch=False)
    decisions = _run(_calm_series(200), config)
    assert decisions[-1].score == pytest.approx(decisions[-1].model_scores["robust"])


def test_stream_alert_score_is_halved_within_cooldown() -> None:
    windows = _calm_series(400)
    for i in (300, 301, 302):
        windows[i]["host.cpu.total_pct.mean"] = 95.0
    decisions = _run(windows)
    assert decisions[301].alert_score == pytest.approx(decisions[301].score / 2)


def test_stream_model_snapshot_scores_outlier_higher() -> None:
    detector = StreamDetector("host", config=DetectorConfig(batch=False))
    for i, x in enumerate(_calm_series(200)):
        detector.process(x, ts=START + i * WINDOW_S)
    snapshot = pickle.loads(pickle.dumps(detector.model))
    usual = snapshot.score_one({"host.cpu.total_pct.mean": 20.0, "host.mem.used_pct.mean": 50.0, "log.app.lines": 100.0})
    outlier = snapshot.score_one({"host.cpu.total_pct.mean": 90.0, "host.mem.used_pct.mean": 50.0, "log.app.lines": 100.0})
    assert outlier > usual


def _host_window(rng: random.Random, cpu: float) -> dict[str, float]:
    window = {f"host.net.bytes_{i}_per_s.mean": rng.uniform(1e3, 1e5) for i in range(4)}
    window.update({f"host.misc_{i}.mean": 10 + rng.gauss(0, 1) for i in range(14)})
    window.update({"host.cpu.total_pct.mean": cpu + rng.gauss(0, 3), "host.cpu.user_pct.mean": cpu * 0.8 + rng.gauss(0, 3)})
    window.update({"host.load.1m.mean": cpu / 25 + rng.gauss(0, 0.1), "host.mem.used_pct.mean": 40 + rng.gauss(0, 0.5)})
    return window


def test_stream_cpu_burn_after_short_warmup_opens_incident() -> None:
    rng = random.Random(11)
    detector = StreamDetector("host", warmup_windows=10)
    calm = [detector.process(_host_window(rng, 15.0), ts=START + i * 2.0) for i in range(16)]
    burn = [detector.process(_host_window(rng, 98.0), ts=START + (16 + i) * 2.0) for i in range(20)]
    assert not any(d.incident for d in calm)
    assert "opened" in [d.incident for d in burn[:5]]


def test_stream_recurring_spike_is_suppressed() -> None:
    windows = _calm_series(1200)
    for k, i in enumerate(range(200, 1000, 100)):
        # Each spike a little higher than the last, so that it tops the calibration's record.
        windows[i]["host.cpu.total_pct.mean"] = windows[i + 1]["host.cpu.total_pct.mean"] = 50.0 + k
    for i in (1100, 1101):
        windows[i]["host.cpu.total_pct.mean"] = 99.0
    opened = _opened(_run(windows))
    # Three spikes alert. After three deviations within 500 windows the same size no longer does, a larger one does.
    assert opened == [201, 301, 401, 1101]


def test_stream_lasting_rise_opens_incident() -> None:
    rng = random.Random(7)
    windows = [{"host.cpu.total_pct.mean": 20 + rng.gauss(0, 2)} for _ in range(1000)]
    for i in range(800, 860):
        # About two to three noise widths up, so no single window passes the deviation gate of 4.
        windows[i]["host.cpu.total_pct.mean"] = 25 + rng.gauss(0, 0.5)
    decisions = _run(windows)
    assert max(max(abs(f["z"]) for f in d.top_features) for d in decisions[800:860]) < 4.0
    opened = _opened(decisions)
    assert opened and 800 < opened[0] < 860
    assert not [i for i in opened if i < 800]


def test_stream_cpu_burn_incident_stays_open() -> None:
    rng = random.Random(11)
    detector = StreamDetector("host", warmup_windows=10)
    for i in range(16):
        detector.process(_host_window(rng, 15.0), ts=START + i * 2.0)
    burn = [detector.process(_host_window(rng, 98.0), ts=START + (16 + i) * 2.0) for i in range(30)]
    after = [detector.process(_host_window(rng, 15.0), ts=START + (46 + i) * 2.0) for i in range(10)]
    changes = [d.incident for d in burn]
    opened_at = changes.index("opened")
    # The calibration ranks a 30-window plateau lower and lower; the incident must not end before the burn does.
    assert "resolved" not in changes
    assert all(change == "updated" for change in changes[opened_at + 1 :])
    assert [d.incident for d in after].count("resolved") == 1


def test_stream_plateau_on_long_history_stays_one_incident() -> None:
    windows = _calm_series(480)
    for x in windows[400:440]:
        x["host.cpu.total_pct.mean"] = 95.0
    decisions = _run(windows)
    changes = [d.incident for d in decisions[400:440]]
    assert _opened(decisions) == [401]
    assert "resolved" not in changes
    assert [d.incident for d in decisions[440:]].count("resolved") == 1
