"""The per-stream detector on seeded data: calm, spikes, constants, NaN."""

from __future__ import annotations

import random

from tui_monitor.detectors import RobustBaseline, RunningQuantile, StreamDetector


def calm_window(rng: random.Random) -> dict[str, float]:
    return {
        "host.cpu.total_pct.mean": rng.gauss(5.0, 1.0),
        "host.mem.used_pct.mean": rng.gauss(40.0, 0.3),
        "log.app.lines": float(rng.randint(8, 12)),
    }


def run(detector: StreamDetector, windows: list[dict[str, float]]) -> list[str | None]:
    return [detector.process(w).incident for w in windows]


def test_calm_stream_raises_nothing() -> None:
    rng = random.Random(1)
    detector = StreamDetector("host", warmup_windows=30)

    incidents = run(detector, [calm_window(rng) for _ in range(400)])

    assert "opened" not in incidents
    assert detector.state == "normal"


def test_cpu_spike_opens_then_resolves_incident() -> None:
    rng = random.Random(2)
    detector = StreamDetector("host", warmup_windows=30)
    run(detector, [calm_window(rng) for _ in range(60)])

    spike = []
    for _ in range(5):
        window = calm_window(rng)
        window["host.cpu.total_pct.mean"] = 95.0
        spike.append(window)
    during = [detector.process(w) for w in spike]
    after = run(detector, [calm_window(rng) for _ in range(10)])

    assert [d.incident for d in during[:2]] == [None, "opened"]
    assert during[1].top_features[0]["name"] == "host.cpu.total_pct.mean"
    assert during[1].score >= 0.98
    assert "resolved" in after
    assert detector.state == "normal"


def test_warmup_never_alerts() -> None:
    rng = random.Random(3)
    detector = StreamDetector("host", warmup_windows=20)
    windows = [calm_window(rng) for _ in range(10)] + [{**calm_window(rng), "host.cpu.total_pct.mean": 99.0} for _ in range(9)]

    decisions = [detector.process(w) for w in windows]

    assert all(d.is_warmup for d in decisions)
    assert not any(d.incident for d in decisions)
    assert detector.state == "learning"


def test_constant_feature_raises_nothing() -> None:
    detector = StreamDetector("host", warmup_windows=10)

    incidents = run(detector, [{"a": 1.0, "b": 0.0} for _ in range(200)])

    assert "opened" not in incidents


def test_nan_and_inf_values_raise_nothing() -> None:
    rng = random.Random(4)
    detector = StreamDetector("host", warmup_windows=20)
    windows = [calm_window(rng) for _ in range(100)]
    for index in range(40, 100, 7):
        windows[index]["host.cpu.total_pct.mean"] = float("nan")
        windows[index]["log.app.lines"] = float("inf")

    incidents = run(detector, windows)

    assert "opened" not in incidents


def test_long_incident_becomes_new_normal() -> None:
    rng = random.Random(5)
    detector = StreamDetector("host", warmup_windows=30, relearn_after=20)
    run(detector, [calm_window(rng) for _ in range(60)])

    shifted = [{**calm_window(rng), "host.cpu.total_pct.mean": rng.gauss(60.0, 1.0)} for _ in range(200)]
    incidents = run(detector, shifted)

    assert incidents.count("opened") >= 1
    assert "resolved" in incidents
    assert detector.state == "normal"


def test_adopted_change_stops_being_hot() -> None:
    rng = random.Random(6)
    detector = StreamDetector("host", warmup_windows=30)
    run(detector, [calm_window(rng) for _ in range(60)])
    shifted = [{**calm_window(rng), "host.cpu.total_pct.mean": rng.gauss(60.0, 1.0)} for _ in range(25)]
    assert detector.process(shifted[0]).is_hot

    detector.adopt_new_normal(shifted)

    decision = detector.process({**calm_window(rng), "host.cpu.total_pct.mean": 60.5})
    assert not decision.is_hot
    assert abs(decision.top_features[0]["z"]) < 3.0


def test_running_quantile_forgets_oldest() -> None:
    cal = RunningQuantile(size=3)
    for raw in (10.0, 0.1, 0.2, 0.3):
        cal.learn_one(raw)

    assert len(cal) == 3
    assert cal.score_one(5.0) == 1.0


def test_baseline_ranks_deviating_feature_first() -> None:
    rng = random.Random(6)
    base = RobustBaseline()
    for _ in range(50):
        base.learn_one(calm_window(rng))

    top = base.top({**calm_window(rng), "log.app.lines": 80.0})

    assert top[0]["name"] == "log.app.lines"
    assert top[0]["z"] > 10


def test_endpoint_going_down_opens_incident() -> None:
    rng = random.Random(8)
    detector = StreamDetector("http.api", warmup_windows=30)
    for _ in range(80):
        detector.process({"http.api.up.mean": 1.0, "http.api.latency_ms.mean": rng.gauss(5.0, 1.0), "http.api.failures": 0.0})

    # Down: the check fails, so there is no latency, only up = 0 and a failure.
    incidents = [detector.process({"http.api.up.mean": 0.0, "http.api.failures": 2.0}).incident for _ in range(4)]

    assert "opened" in incidents[:3]
    assert detector.state == "anomalous"
