"""Window aggregates of gauges: mean, max, last, and p95 for latencies."""

from __future__ import annotations

import doctest

import tui_monitor.features.windows as windows_module
from tui_monitor.features.windows import WindowAggregator, percentile
from tui_monitor.sources.base import Observation


def _close(observations: list[Observation]) -> dict[str, float]:
    aggregator = WindowAggregator(10.0)
    aggregator.start(100.0)
    for obs in observations:
        aggregator.add(obs)
    (window,) = aggregator.close_until(110.0)
    return window.features


def test_gauge_mean_max_last() -> None:
    features = _close([Observation("proc.a", 101.0 + i, gauges={"rss_bytes": v}) for i, v in enumerate((3.0, 9.0, 6.0))])
    assert features["proc.a.rss_bytes.mean"] == 6.0
    assert features["proc.a.rss_bytes.max"] == 9.0
    assert features["proc.a.rss_bytes.last"] == 6.0
    assert "proc.a.rss_bytes.p95" not in features


def test_latency_gets_p95() -> None:
    values = [float(v) for v in range(1, 21)]
    features = _close([Observation("http.api", 100.0 + i * 0.4, gauges={"latency_ms": v}) for i, v in enumerate(values)])
    assert features["http.api.latency_ms.p95"] == percentile(values, 95.0)
    assert features["http.api.latency_ms.p95"] == 19.05


def test_nan_gauge_does_not_poison_window() -> None:
    features = _close([
        Observation("prom.app", 101.0, gauges={"queue": 4.0}),
        Observation("prom.app", 102.0, gauges={"queue": float("nan")}),
        Observation("prom.app", 103.0, gauges={"queue": float("inf")}),
    ])  # fmt: skip
    assert features["prom.app.queue.mean"] == 4.0
    assert features["prom.app.queue.last"] == 4.0


def test_counts_keep_plain_names() -> None:
    features = _close([Observation("proc.a", 101.0, counts={"restarts": 1.0}), Observation("proc.a", 105.0, counts={"restarts": 1.0})])
    assert features["proc.a.restarts"] == 2.0


def test_windows_doctests() -> None:
    assert doctest.testmod(windows_module).failed == 0
