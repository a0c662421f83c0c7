"""The ``tui-monitor rules check`` and ``tui-monitor rules test`` commands."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from tui_monitor.rules._parse import load_rules, rule_files
from tui_monitor.rules._replay import replay_events

__all__ = ["add_rules_commands", "run_rules_command"]


def add_rules_commands(sub: argparse._SubParsersAction, parse_duration: Callable[[str], float]) -> None:
    """Add ``rules check`` and ``rules test`` to the top-level subcommands."""
    rules = sub.add_parser("rules", help="check rule files, or replay stored events through them")
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate rule files; print each problem with file, line and column; exit 1 on errors")
    check.add_argument("path", nargs="?", type=Path, default=None, help="a rule file or folder (default: the --rules folder)")
    test = actions.add_parser("test", help="replay stored events through the current rules and show what they would do")
    test.add_argument("--since", type=parse_duration, default=parse_duration("7d"), metavar="TIME", help="how far back, e.g. 1h, 7d (default: 7d)")
    test.add_argument("--db", type=Path, default=None, metavar="PATH", dest="rules_db", help="feature store file (default: the engine's default)")
    test.add_argument("--rules", type=Path, default=None, dest="rules_sub", metavar="DIR", help="folder of rule files (default: the --rules folder)")
    test.add_argument("--all", action="store_true", help="show every step, not only the ones the rules changed or that notify")


def run_rules_command(args: argparse.Namespace, rules_dir: Path, db_path: Path, out: TextIO | None = None) -> int:
    """Run ``rules check`` or ``rules test``; return the exit status."""
    out = out or sys.stdout
    if args.rules_command == "check":
        return _check(args.path or rules_dir, out)
    return _test(args, getattr(args, "rules_sub", None) or rules_dir, db_path, out)


def _check(path: Path, out: TextIO) -> int:
    if not path.exists():
        if path.suffix.lower() in (".yaml", ".yml"):
            print(f"{path}: rule file not found; check the path, or pass the rules folder", file=out)
        else:
            print(f"{path}: not found; create the folder and put *.yaml rule files in it, or pass a path", file=out)
        return 1
    files = rule_files(path)
    ruleset = load_rules(path)
    for problem in ruleset.problems:
        print(problem, file=out)
    errors = len(ruleset.errors)
    warnings = len(ruleset.problems) - errors
    print(
        f"{len(files)} files, {len(ruleset.rules)} rules, {len(ruleset.windows)} maintenance windows, "
        f"{len(ruleset.drops)} line drops: {errors} errors, {warnings} warnings",
        file=out,
    )
    return 1 if errors else 0


def _test(args: argparse.Namespace, rules_dir: Path, db_path: Path, out: TextIO) -> int:
    from tui_monitor.alerts import NotifyPolicy
    from tui_monitor.store import FeatureStore

    ruleset = load_rules(rules_dir)
    if ruleset.errors:
        for problem in ruleset.errors:
            print(problem, file=out)
        print(f"rules in {rules_dir} have errors; fix them (tui-monitor rules check) before replaying", file=out)
        return 1
    store = FeatureStore(args.rules_db or db_path, readonly=True)
    try:
        steps, summary = replay_events(store, ruleset, time.time() - args.since, NotifyPolicy())
    finally:
        store.close()
    for step in steps:
        outcome = step.outcome
        is_changed = outcome.suppressed_by or outcome.held_by or outcome.severity != outcome.base_severity or outcome.tags
        if not (args.all or is_changed or step.messages):
            continue
        when = datetime.fromtimestamp(step.ts).strftime("%Y-%m-%d %H:%M:%S")
        severity = outcome.base_severity if outcome.severity == outcome.base_severity else f"{outcome.base_severity}->{outcome.severity}"
        decisions = []
        if outcome.suppressed_by:
            decisions.append(f"suppressed by {outcome.suppressed_by}")
        if outcome.held_by:
            decisions.append(f"held: {outcome.held_by}")
        decisions.extend(f"notify {m.kind}: {m.title}" for m in step.messages)
        if outcome.tags:
            decisions.append(f"tags {', '.join(outcome.tags)}")
        print(f"{when}  {step.event.stream:20} {outcome.change:8} {severity:16} {'; '.join(decisions) or '-'}", file=out)
    print(
        f"{summary.events} events: {summary.suppressed} suppressed, {summary.escalated} escalated, "
        f"{summary.lowered} lowered, {summary.notified} notified; {summary.messages} notifications "
        f"({summary.held_for_digest} held into digests)",
        file=out,
    )
    return 0
