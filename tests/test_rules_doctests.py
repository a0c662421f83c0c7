"""Run the doctests of the rules and alerts modules, so their examples stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tui_monitor.rules._yaml",
    "tui_monitor.rules._time",
    "tui_monitor.rules._windows",
    "tui_monitor.rules._model",
    "tui_monitor.alerts._mask",
    "tui_monitor.alerts._policy",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
