"""Window features of a log stream: bounded template features, levels, doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tui_monitor.parsing.features import LogWindowFeatures
from tui_monitor.parsing.records import LogRecord


def _record(template_id: int, level: str = "info") -> LogRecord:
    return LogRecord(ts=None, level=level, message="m", raw="m", template_id=template_id)


def test_templates_bounded_with_other() -> None:
    window = LogWindowFeatures("log.app", top_templates=2)
    for template_id, count in [(1, 5), (2, 3), (3, 1), (4, 1)]:
        for _ in range(count):
            window.add(_record(template_id))
    features = window.collect()
    template_names = sorted(name for name in features if ".template." in name)
    assert template_names == ["log.app.template.other", "log.app.template.t1", "log.app.template.t2"]
    assert features["log.app.template.other"] == 2.0


def test_tracked_templates_stay_named_when_quiet() -> None:
    window = LogWindowFeatures("log.app", top_templates=2)
    window.add(_record(1))
    window.collect()
    features = window.collect()
    assert features["log.app.template.t1"] == 0.0


def test_no_access_features_for_plain_logs() -> None:
    window = LogWindowFeatures("log.app")
    window.add(_record(1, "error"))
    features = window.collect()
    assert "log.app.requests" not in features
    assert features["log.app.error_ratio"] == 1.0


def test_empty_window_ratios_are_zero() -> None:
    assert LogWindowFeatures("log.app").collect()["log.app.error_ratio"] == 0.0


@pytest.mark.parametrize(
    "module",
    ["accuracy", "features", "formats", "header", "masks", "multiline", "records", "timestamps"],
)
def test_module_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"tui_monitor.parsing.{module}"))
    assert result.failed == 0
    assert result.attempted > 0
