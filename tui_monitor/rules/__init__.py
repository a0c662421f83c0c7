"""YAML rules: suppression, maintenance windows, severity changes, notification gates, line drops.

``load_rules`` reads a folder of rule files into a ``RuleSet`` and lists every
problem. ``RulesWatcher`` reloads them when they change. ``RuleEvaluator``
decides for each event change what the rules do with it.
"""

from __future__ import annotations

from tui_monitor.rules._evaluate import RuleEvaluator, RuleOutcome, incident_key
from tui_monitor.rules._model import SEVERITIES, LineDrop, Matcher, Rule, RuleSet, ScopedWindow, shift_severity
from tui_monitor.rules._parse import load_rules, parse_rule_file, rule_files
from tui_monitor.rules._reload import RulesState, RulesWatcher
from tui_monitor.rules._replay import ReplayStep, ReplaySummary, replay_events
from tui_monitor.rules._time import parse_clock, parse_duration_text, resolve_local, zone_named
from tui_monitor.rules._windows import MaintenanceWindow, parse_cron
from tui_monitor.rules._yaml import Problem, YamlNode, read_yaml

__all__ = [
    "SEVERITIES",
    "LineDrop",
    "MaintenanceWindow",
    "Matcher",
    "Problem",
    "Rule",
    "RuleEvaluator",
    "RuleOutcome",
    "RuleSet",
    "RulesState",
    "RulesWatcher",
    "ReplayStep",
    "ReplaySummary",
    "ScopedWindow",
    "YamlNode",
    "incident_key",
    "load_rules",
    "parse_clock",
    "parse_cron",
    "parse_duration_text",
    "parse_rule_file",
    "read_yaml",
    "replay_events",
    "resolve_local",
    "rule_files",
    "shift_severity",
    "zone_named",
]
