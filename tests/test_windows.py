"""Windows: alignment, feature names, empty declared streams, late observations."""

from __future__ import annotations

from tui_monitor.features import WindowAggregator
from tui_monitor.sources.base import Observation


def test_gauges_become_mean_and_max() -> None:
    agg = WindowAggregator(10.0)
    agg.start(100.0)
    agg.add(Observation("host", 101.0, gauges={"cpu.total_pct": 10.0}))
    agg.add(Observation("host", 105.0, gauges={"cpu.total_pct": 30.0}))

    [window] = agg.close_until(110.0)

    assert window.stream == "host"
    assert (window.start, window.end) == (100.0, 110.0)
    assert window.features["host.cpu.total_pct.mean"] == 20.0
    assert window.features["host.cpu.total_pct.max"] == 30.0
    assert len(window.samples) == 2


def test_counts_are_summed() -> None:
    agg = WindowAggregator(10.0)
    agg.start(100.0)
    agg.add(Observation("log.app", 101.0, counts={"lines": 3, "level_error": 1}))
    agg.add(Observation("log.app", 109.9, counts={"lines": 4, "level_error": 0}))

    [window] = agg.close_until(110.0)

    assert window.features["log.app.lines"] == 7
    assert window.features["log.app.level_error"] == 1


def test_open_window_stays_open() -> None:
    agg = WindowAggregator(10.0)
    agg.start(100.0)
    agg.add(Observation("host", 112.0, gauges={"x": 1.0}))

    assert agg.close_until(119.0) == []
    assert [w.start for w in agg.close_until(120.0)] == [110.0]


def test_declared_stream_closes_empty_windows() -> None:
    agg = WindowAggregator(5.0)
    agg.start(100.0)
    agg.declare("log.quiet", ("lines", "level_error"))

    closed = agg.close_until(115.0)

    assert [w.start for w in closed] == [100.0, 105.0, 110.0]
    assert all(w.features == {"log.quiet.lines": 0.0, "log.quiet.level_error": 0.0} for w in closed)


def test_undeclared_stream_skips_empty_windows() -> None:
    agg = WindowAggregator(5.0)
    agg.start(100.0)
    agg.add(Observation("http.api", 101.0, gauges={"latency_ms": 5.0}))

    closed = agg.close_until(120.0)

    assert [w.start for w in closed] == [100.0]


def test_late_observation_counts_in_open_window() -> None:
    agg = WindowAggregator(10.0)
    agg.start(100.0)
    agg.declare("log.app", ("lines",))
    agg.close_until(110.0)

    agg.add(Observation("log.app", 105.0, counts={"lines": 2}))
    [window] = agg.close_until(120.0)

    assert window.start == 110.0
    assert window.features["log.app.lines"] == 2


def test_non_finite_gauges_are_dropped() -> None:
    agg = WindowAggregator(10.0)
    agg.start(100.0)
    agg.add(Observation("host", 101.0, gauges={"x": float("nan"), "y": float("inf"), "z": 1.0}))

    [window] = agg.close_until(110.0)

    assert "host.x.mean" not in window.features
    assert "host.y.mean" not in window.features
    assert window.features["host.z.mean"] == 1.0
