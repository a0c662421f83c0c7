"""Reload rule files when they change, keeping the last good rules when a file breaks."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tui_monitor.rules._evaluate import RuleEvaluator
from tui_monitor.rules._model import RuleSet
from tui_monitor.rules._parse import load_rules, rule_files

__all__ = ["RulesState", "RulesWatcher"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RulesState:
    """The state of the rules as the UI shows it: ``ok``, ``none`` or ``broken``, and a one-line detail."""

    status: str
    detail: str
    rule_count: int = 0
    window_count: int = 0


class RulesWatcher:
    """Own the current rules of a folder and reload them when a file changes.

    ``check`` stats the files (cheap; the engine calls it once per window)
    and reloads when a name, size or modification time changed. When the new
    files have errors, the last good rules stay in force, the errors are
    logged once and ``state`` turns ``broken``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ruleset = RuleSet()
        self.evaluator = RuleEvaluator(self.ruleset)
        self.state = RulesState("none", f"no rule files in {path}")
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self.check()

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        signature = []
        for file in rule_files(self.path):
            try:
                info = os.stat(file)
            except OSError:
                continue
            signature.append((str(file), info.st_mtime_ns, info.st_size))
        return tuple(signature)

    def check(self) -> bool:
        """Reload when the files changed; return True when new rules took effect."""
        signature = self._stat()
        if signature == self._signature:
            return False
        self._signature = signature
        ruleset = load_rules(self.path)
        errors = ruleset.errors
        if errors:
            first = errors[0]
            kept = "keeping the last good rules" if self.ruleset.files else "running without rules"
            for problem in errors:
                logger.warning("rules: %s", problem)
            logger.error("rules in %s have %d error(s); %s until they are fixed", self.path, len(errors), kept)
            self.state = RulesState("broken", f"{len(errors)} error(s), {kept}: {first}", len(self.ruleset.rules), len(self.ruleset.windows))
            return False
        for problem in ruleset.problems:
            logger.warning("rules: %s", problem)
        self.ruleset = ruleset
        self.evaluator.replace(ruleset)
        if not ruleset.files:
            self.state = RulesState("none", f"no rule files in {self.path}")
        else:
            self.state = RulesState(
                "ok",
                f"{len(ruleset.rules)} rules, {len(ruleset.windows)} maintenance windows from {len(ruleset.files)} files",
                len(ruleset.rules),
                len(ruleset.windows),
            )
            logger.info("rules loaded from %s: %s", self.path, self.state.detail)
        return True

    def filter_lines(self, stream: str, lines: list[str]) -> list[str]:
        """Drop the log lines the current ``drop_lines`` entries match; the log source calls this before counting."""
        return self.ruleset.filter_lines(stream, lines)
