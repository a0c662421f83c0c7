"""Detector configuration: defaults, per-stream overrides and bad values."""

from __future__ import annotations

import pytest

from tui_monitor.detectors import DetectorConfig, anomaly_kind, time_features
from tui_monitor.errors import ConfigError


def test_config_override_applies_to_matching_streams() -> None:
    config = DetectorConfig().for_stream("http.api", {"http.*": {"models": ["robust"], "debounce_n": 1}})
    assert config.models == ("robust",)


def test_config_later_override_wins() -> None:
    overrides = {"*": {"threshold": 0.99}, "log.*": {"threshold": 0.999}}
    assert DetectorConfig().for_stream("log.app", overrides).threshold == 0.999


def test_config_rejects_unknown_model() -> None:
    with pytest.raises(ConfigError, match="'forest'"):
        DetectorConfig(models=("forest",))


def test_config_rejects_unknown_setting() -> None:
    with pytest.raises(ConfigError, match="thresold"):
        DetectorConfig().replace(thresold=0.9)


def test_config_rejects_debounce_n_above_m() -> None:
    with pytest.raises(ConfigError, match="debounce"):
        DetectorConfig(debounce_n=4, debounce_m=3)


def test_config_rejects_threshold_of_one() -> None:
    with pytest.raises(ConfigError, match="threshold 1.0"):
        DetectorConfig(threshold=1.0)


def test_config_rejects_recurrence_factor_below_one() -> None:
    with pytest.raises(ConfigError, match="factor 0.5"):
        DetectorConfig(recurrence_factor=0.5)


def test_config_rejects_likelihood_gate_of_zero() -> None:
    with pytest.raises(ConfigError, match="likelihood_gate 0.0"):
        DetectorConfig(likelihood_gate=0.0)


def test_kind_behavioural_when_template_mix_leads() -> None:
    top = [{"name": "log.app.template_17_share", "z": 9.0}, {"name": "host.cpu.total_pct.mean", "z": 2.0}]
    assert anomaly_kind(top) == "behavioural"


def test_kind_functional_when_status_5xx_leads() -> None:
    assert anomaly_kind([{"name": "http.api.status_5xx", "z": 7.0}]) == "functional"


def test_kind_performance_when_latency_leads() -> None:
    assert anomaly_kind([{"name": "http.api.latency_ms.max", "z": 7.0}]) == "performance"


def test_time_features_repeat_every_day() -> None:
    assert time_features(1000.0)["time.day_sin"] == pytest.approx(time_features(1000.0 + 86400)["time.day_sin"])


def test_time_features_differ_between_weekdays() -> None:
    assert time_features(1000.0)["time.week_sin"] != pytest.approx(time_features(1000.0 + 86400)["time.week_sin"])
