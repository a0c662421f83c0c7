"""Run the doctests of the detector and evaluation modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tui_monitor.detectors.calibration",
    "tui_monitor.detectors.config",
    "tui_monitor.detectors.context",
    "tui_monitor.detectors.deviation",
    "tui_monitor.detectors.likelihood",
    "tui_monitor.detectors.stream",
    "tui_monitor.evaluation.corpus",
    "tui_monitor.evaluation.nab",
    "tui_monitor.replay",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
