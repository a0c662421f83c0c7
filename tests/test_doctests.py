"""Run the doctests of the report, retention, config, CLI, chart and example plugin modules."""

from __future__ import annotations

import doctest
import importlib
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "plugins"


@pytest.mark.parametrize(
    "module_name",
    [
        "tui_monitor.retention",
        "tui_monitor.reports.queries",
        "tui_monitor.reports.data",
        "tui_monitor.reports.markdown",
        "tui_monitor.config",
        "tui_monitor.cli",
        "tui_monitor.ui.time_axis",
        "tui_monitor.ui.detail",
    ],
)
def test_module_doctests(module_name: str) -> None:
    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("module_name", ["command_source", "robust_z"])
def test_example_plugin_doctests(module_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    module = importlib.import_module(module_name)
    try:
        result = doctest.testmod(module)
    finally:
        sys.modules.pop(module_name, None)
    assert result.attempted > 0
    assert result.failed == 0
