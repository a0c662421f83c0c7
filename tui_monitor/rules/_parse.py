"""Check rule files against their schema and build a ``RuleSet``.

Every problem names the file, line and column, the bad value and what to
write instead. Checking goes on after an error, so one run lists them all.
"""

from __future__ import annotations

import difflib
import heapq
import re
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from tui_monitor.rules._model import SEVERITIES, LineDrop, Matcher, Rule, RuleSet, ScopedWindow
from tui_monitor.rules._time import local_zone, parse_clock, parse_duration_text, resolve_local, zone_named
from tui_monitor.rules._windows import WEEKDAYS, MaintenanceWindow, parse_cron
from tui_monitor.rules._yaml import Problem, YamlNode, read_yaml

__all__ = ["RULE_FILE_SUFFIXES", "load_rules", "parse_rule_file", "rule_files"]

RULE_FILE_SUFFIXES = (".yaml", ".yml")

_TOP_KEYS = ("rules", "maintenance", "drop_lines")
_RULE_KEYS = ("name", "match", "suppress", "severity", "raise", "lower", "tags", "persistence", "frequency", "dedup", "reason")
_MATCH_KEYS = ("stream", "feature", "kind", "severity", "score", "value", "template")
_WINDOW_KEYS = ("name", "timezone", "match", "once", "daily", "weekly", "cron", "duration", "reason")
_SCHEDULES = ("once", "daily", "weekly", "cron")
_DROP_KEYS = ("stream", "pattern", "reason")
_KINDS = ("performance", "functional", "behavioural")


def rule_files(path: Path) -> list[Path]:
    """Return the rule files of ``path``: the file itself, or every ``*.yaml``/``*.yml`` in the folder, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.suffix in RULE_FILE_SUFFIXES and p.is_file() and not p.name.startswith("."))


def load_rules(path: Path) -> RuleSet:
    """Read and check every rule file under ``path``; problems are collected, never raised.

    A missing folder is an empty rule set without problems, so running with
    no rules needs no set-up.
    """
    ruleset = RuleSet()
    for file in rule_files(path):
        parse_rule_file(file, into=ruleset)
    ruleset.problems.extend(_overlap_warnings(ruleset.windows))
    order = {name: index for index, name in enumerate(ruleset.files)}
    ruleset.problems.sort(key=lambda p: (order.get(p.path, len(order)), p.line, p.column))
    return ruleset


def parse_rule_file(path: Path, *, text: str | None = None, into: RuleSet | None = None) -> RuleSet:
    """Check one rule file and add its rules to ``into`` (a new set when None)."""
    ruleset = into if into is not None else RuleSet()
    root, problems = read_yaml(path, text)
    ruleset.files.append(str(path))
    checker = _Checker(str(path), problems)
    if root is not None:
        checker.file(root, ruleset)
    ruleset.problems.extend(checker.problems)
    return ruleset


class _Checker:
    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems

    def error(self, node: YamlNode, message: str) -> None:
        self.problems.append(Problem(self.path, node.line, node.column, message))

    def warn(self, node: YamlNode, message: str) -> None:
        self.problems.append(Problem(self.path, node.line, node.column, message, "warning"))

    def source(self, node: YamlNode) -> str:
        return f"{self.path}:{node.line}"

    # -- structure ------------------------------------------------------------

    def mapping(self, node: YamlNode, where: str, allowed: tuple[str, ...]) -> dict[str, YamlNode] | None:
        if not node.is_mapping:
            self.error(node, f"{where}: expected a mapping of {', '.join(allowed)}, got {_shown(node)}")
            return None
        for key, (line, column) in node.key_marks.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
                self.problems.append(Problem(self.path, line, column, f"{where}: unknown key {key!r}; {hint}"))
        return {k: v for k, v in node.value.items() if k in allowed}

    def items(self, node: YamlNode, where: str) -> list[YamlNode]:
        if not node.is_sequence:
            self.error(node, f"{where}: expected a list (items starting with '- '), got {_shown(node)}")
            return []
        return list(node.value)

    # -- scalars --------------------------------------------------------------

    def string(self, node: YamlNode, where: str) -> str | None:
        if node.is_yaml11_bool:
            self.error(node, f"{where}: {node.text} is read by YAML 1.1 as {str(node.value).lower()}; write '{node.text}' in quotes")
            return None
        if node.is_sexagesimal:
            self.error(
                node, f"{where}: {node.text} is read by YAML 1.1 as the base-60 number {node.value}; write '{node.text}' in quotes"
            )
            return None
        if node.is_mapping or node.is_sequence or node.value is None:
            self.error(node, f"{where}: expected text, got {_shown(node)}")
            return None
        return str(node.value)

    def strings(self, node: YamlNode, where: str) -> tuple[str, ...]:
        nodes = node.value if node.is_sequence else [node]
        values = [self.string(item, where) for item in nodes]
        return tuple(v for v in values if v is not None)

    def number(self, node: YamlNode, where: str, low: float | None = None, high: float | None = None) -> float | None:
        value = node.value
        if node.is_sexagesimal or isinstance(value, bool) or not isinstance(value, int | float):
            self.error(node, f"{where}: expected a number, got {_shown(node)}")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.error(node, f"{where}: {value!r} is out of range {low:g}..{high:g}")
            return None
        return float(value)

    def whole(self, node: YamlNode, where: str, low: int = 1) -> int | None:
        value = node.value
        if node.is_sexagesimal or isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.error(node, f"{where}: expected a whole number of {low} or more, got {_shown(node)}")
            return None
        return int(value)

    def duration(self, node: YamlNode, where: str) -> float | None:
        if isinstance(node.value, int | float) and not isinstance(node.value, bool) and not node.is_sexagesimal:
            self.error(node, f"{where}: {node.text} has no unit; write e.g. '{node.text}s' or '{node.text}m'")
            return None
        text = self.string(node, where)
        if text is None:
            return None
        seconds = parse_duration_text(text)
        if not seconds:
            self.error(node, f"{where}: invalid duration {text!r}; write a number with a unit s, m, h, d or w, e.g. 30m or 1h30m")
            return None
        return seconds

    def clock(self, node: YamlNode, where: str) -> Any:
        text = self.string(node, where)
        if text is None:
            return None
        clock = parse_clock(text)
        if clock is None:
            self.error(node, f"{where}: invalid time {text!r}; write 24-hour 'HH:MM' in quotes, e.g. '02:30'")
        return clock

    def regex(self, node: YamlNode, where: str) -> re.Pattern[str] | None:
        text = self.string(node, where)
        if text is None:
            return None
        try:
            return re.compile(text)
        except re.error as exc:
            self.error(node, f"{where}: invalid regular expression {text!r}: {exc}; escape special characters with \\")
            return None

    def choices(self, node: YamlNode, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        values = self.strings(node, where)
        for value in values:
            if value not in allowed:
                close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
                self.error(node, f"{where}: unknown value {value!r}; {hint}")
        return tuple(v for v in values if v in allowed)

    # -- sections -------------------------------------------------------------

    def file(self, root: YamlNode, ruleset: RuleSet) -> None:
        top = self.mapping(root, "top level", _TOP_KEYS)
        if top is None:
            return
        if "rules" in top:
            for index, item in enumerate(self.items(top["rules"], "rules"), 1):
                rule = self.rule(item, f"rules[{index}]")
                if rule is not None:
                    ruleset.rules.append(rule)
        if "maintenance" in top:
            for index, item in enumerate(self.items(top["maintenance"], "maintenance"), 1):
                window = self.window(item, f"maintenance[{index}]")
                if window is not None:
                    ruleset.windows.append(window)
        if "drop_lines" in top:
            for index, item in enumerate(self.items(top["drop_lines"], "drop_lines"), 1):
                drop = self.drop(item, f"drop_lines[{index}]")
                if drop is not None:
                    ruleset.drops.append(drop)

    def matcher(self, node: YamlNode, where: str) -> Matcher:
        keys = self.mapping(node, where, _MATCH_KEYS) or {}
        score_min = score_max = None
        if "score" in keys:
            score = self.mapping(keys["score"], f"{where}.score", ("min", "max")) or {}
            score_min = self.number(score["min"], f"{where}.score.min", 0.0, 1.0) if "min" in score else None
            score_max = self.number(score["max"], f"{where}.score.max", 0.0, 1.0) if "max" in score else None
            if score_min is not None and score_max is not None and score_min > score_max:
                self.error(keys["score"], f"{where}.score: min {score_min:g} is above max {score_max:g}; swap them")
        value_min = value_max = None
        if "value" in keys:
            value = self.mapping(keys["value"], f"{where}.value", ("min", "max")) or {}
            value_min = self.number(value["min"], f"{where}.value.min") if "min" in value else None
            value_max = self.number(value["max"], f"{where}.value.max") if "max" in value else None
            if value_min is not None and value_max is not None and value_min > value_max:
                self.error(keys["value"], f"{where}.value: min {value_min:g} is above max {value_max:g}; swap them")
        return Matcher(
            streams=self.strings(keys["stream"], f"{where}.stream") if "stream" in keys else (),
            features=self.strings(keys["feature"], f"{where}.feature") if "feature" in keys else (),
            kinds=self.choices(keys["kind"], f"{where}.kind", _KINDS) if "kind" in keys else (),
            severities=self.choices(keys["severity"], f"{where}.severity", SEVERITIES) if "severity" in keys else (),
            score_min=score_min,
            score_max=score_max,
            template=self.regex(keys["template"], f"{where}.template") if "template" in keys else None,
            value_min=value_min,
            value_max=value_max,
        )

    def rule(self, node: YamlNode, where: str) -> Rule | None:
        where = _named(node, "rule", where)
        before = len(self.problems)
        keys = self.mapping(node, where, _RULE_KEYS)
        if keys is None:
            return None
        name = self.string(keys["name"], f"{where}.name") if "name" in keys else None
        fields: dict[str, Any] = {"name": name or where, "source": self.source(node)}

        if "match" in keys:
            fields["match"] = self.matcher(keys["match"], f"{where}.match")
        if "suppress" in keys:
            if not isinstance(keys["suppress"].value, bool):
                self.error(keys["suppress"], f"{where}.suppress: expected true or false, got {_shown(keys['suppress'])}")
            fields["suppress"] = keys["suppress"].value is True
        if "severity" in keys:
            chosen = self.choices(keys["severity"], f"{where}.severity", SEVERITIES)
            fields["severity"] = chosen[0] if chosen else None
        steps = 0
        if "raise" in keys:
            steps += self.whole(keys["raise"], f"{where}.raise") or 0
        if "lower" in keys:
            steps -= self.whole(keys["lower"], f"{where}.lower") or 0
        fields["severity_steps"] = steps

        if "tags" in keys:
            fields["tags"] = self.strings(keys["tags"], f"{where}.tags")
        if "persistence" in keys:
            fields["persistence"] = self.persistence(keys["persistence"], f"{where}.persistence")
        if "frequency" in keys:
            fields["frequency"] = self.frequency(keys["frequency"], f"{where}.frequency")
        if "dedup" in keys:
            fields["dedup_s"] = self.duration(keys["dedup"], f"{where}.dedup")

        if len(keys) == len(set(keys) & {"name", "match", "reason"}):
            self.warn(node, f"{where}: does nothing; add suppress, severity, raise, lower, tags, persistence, frequency or dedup")
        if any(p.is_error for p in self.problems[before:]):
            return None
        return Rule(**fields)

    def persistence(self, node: YamlNode, where: str) -> tuple[int, int] | None:
        keys = self.mapping(node, where, ("windows", "of")) or {}
        if "windows" not in keys or "of" not in keys:
            self.error(node, f"{where}: expected both windows and of, e.g. {{windows: 3, of: 5}}")
            return None
        n, m = self.whole(keys["windows"], f"{where}.windows"), self.whole(keys["of"], f"{where}.of")
        if n is not None and m is not None and n > m:
            self.error(keys["windows"], f"{where}: windows {n} exceeds of {m}; write N <= M, e.g. {{windows: {m}, of: {n}}}")
            return None
        return (n, m) if n is not None and m is not None else None

    def frequency(self, node: YamlNode, where: str) -> tuple[int, float] | None:
        keys = self.mapping(node, where, ("events", "within")) or {}
        if "events" not in keys or "within" not in keys:
            self.error(node, f"{where}: expected both events and within, e.g. {{events: 3, within: 10m}}")
            return None
        n, within = self.whole(keys["events"], f"{where}.events"), self.duration(keys["within"], f"{where}.within")
        return (n, within) if n is not None and within is not None else None

    def drop(self, node: YamlNode, where: str) -> LineDrop | None:
        keys = self.mapping(node, where, _DROP_KEYS)
        if keys is None:
            return None
        if "pattern" not in keys:
            self.error(node, f"{where}: missing key 'pattern'; add the regular expression of lines to drop")
            return None
        streams = self.strings(keys["stream"], f"{where}.stream") if "stream" in keys else ()
        pattern = self.regex(keys["pattern"], f"{where}.pattern")
        return LineDrop(streams, pattern, self.source(node)) if pattern is not None else None

    def window(self, node: YamlNode, where: str) -> ScopedWindow | None:
        where = _named(node, "maintenance window", where)
        before = len(self.problems)
        keys = self.mapping(node, where, _WINDOW_KEYS)
        if keys is None:
            return None
        name = (self.string(keys["name"], f"{where}.name") if "name" in keys else None) or where
        zone: tzinfo = local_zone()
        if "timezone" in keys:
            zone_text = self.string(keys["timezone"], f"{where}.timezone")
            found, hint = zone_named(zone_text) if zone_text else (None, "")
            if zone_text and found is None:
                self.error(keys["timezone"], f"{where}.timezone: unknown time zone {zone_text!r}; {hint}")
            zone = found or zone
        schedules = [key for key in _SCHEDULES if key in keys]
        if len(schedules) != 1:
            self.error(node, f"{where}: expected exactly one of once, daily, weekly or cron, got {', '.join(schedules) or 'none'}")
            return None
        kind = schedules[0]
        spec = self.schedule(kind, keys, zone, where)
        match = self.matcher(keys["match"], f"{where}.match") if "match" in keys else Matcher()
        if spec is None or any(p.is_error for p in self.problems[before:]):
            return None
        return ScopedWindow(MaintenanceWindow(name=name, kind=kind, zone=zone, **spec), match, self.source(node))

    def schedule(self, kind: str, keys: dict[str, YamlNode], zone: tzinfo, where: str) -> dict[str, Any] | None:
        node = keys[kind]
        if kind == "cron":
            text = self.string(node, f"{where}.cron")
            cron, reason = parse_cron(text) if text else (None, "")
            if text and cron is None:
                self.error(node, f"{where}.cron: invalid cron expression {text!r}: {reason}; e.g. '30 2 * * mon-fri'")
            if "duration" not in keys:
                self.error(node, f"{where}: a cron window needs a duration, e.g. duration: 30m")
                return None
            duration = self.duration(keys["duration"], f"{where}.duration")
            return {"cron": cron, "duration_s": duration} if cron and duration else None
        if kind == "once":
            part = self.mapping(node, f"{where}.once", ("start", "end")) or {}
            if "start" not in part or "end" not in part:
                self.error(node, f"{where}.once: expected start and end, e.g. {{start: '2026-12-05 22:00', end: '2026-12-06 01:00'}}")
                return None
            start, end = self.instant(part["start"], zone, f"{where}.once.start"), self.instant(part["end"], zone, f"{where}.once.end")
            if start and end and end <= start:
                self.error(part["end"], f"{where}.once.end: {part['end'].text} is not after start; swap them or fix the date")
                return None
            return {"once_start": start, "once_end": end} if start and end else None
        allowed = ("days", "start", "end", "duration") if kind == "weekly" else ("start", "end", "duration")
        part = self.mapping(node, f"{where}.{kind}", allowed) or {}
        spec: dict[str, Any] = {}
        if "start" not in part or ("end" in part) == ("duration" in part):
            self.error(node, f"{where}.{kind}: expected start and either end or duration, e.g. {{start: '02:00', end: '03:30'}}")
            return None
        spec["start"] = self.clock(part["start"], f"{where}.{kind}.start")
        if "end" in part:
            spec["end"] = self.clock(part["end"], f"{where}.{kind}.end")
            if spec["end"] is not None and spec["end"] == spec["start"]:
                self.error(part["end"], f"{where}.{kind}.end: equals start; for a whole day write duration: 1d")
        else:
            spec["duration_s"] = self.duration(part["duration"], f"{where}.{kind}.duration")
        if kind == "weekly":
            if "days" not in part:
                self.error(node, f"{where}.weekly: missing days; write e.g. days: [sat, sun]")
                return None
            spec["days"] = frozenset(WEEKDAYS[d] for d in self.choices(part["days"], f"{where}.weekly.days", tuple(WEEKDAYS)))
        return spec if all(v is not None for v in spec.values()) else None

    def instant(self, node: YamlNode, zone: tzinfo, where: str) -> datetime | None:
        value = node.value
        if isinstance(value, datetime):
            parsed: datetime | None = value
        else:
            text = self.string(node, where)
            try:
                parsed = datetime.fromisoformat(text) if text else None
            except ValueError:
                self.error(node, f"{where}: invalid date and time {text!r}; write 'YYYY-MM-DD HH:MM' in quotes")
                return None
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            # The same daylight-saving choices as recurring windows: see resolve_local.
            return resolve_local(parsed, parsed.time(), zone, is_end=where.endswith(".end"))
        return parsed.astimezone(timezone.utc)


def _overlap_warnings(windows: list[ScopedWindow], horizon_days: int = 366) -> list[Problem]:
    """Warn about pairs of windows with the same scope whose occurrences overlap in the coming year."""
    now = datetime.now(timezone.utc)
    until = now + timedelta(days=horizon_days)
    problems = []
    for i, first in enumerate(windows):
        for second in windows[i + 1 :]:
            if first.match != second.match:
                continue
            overlap = _first_overlap(first, second, now, until)
            if overlap is None:
                continue
            path, line = second.source.rsplit(":", 1)
            message = (
                f"maintenance windows {first.window.name!r} ({first.source}) and {second.window.name!r} overlap "
                f"from {overlap:%Y-%m-%d %H:%M} UTC; merge them into one window or change one of the times"
            )
            problems.append(Problem(path, int(line), 1, message, "warning"))
    return problems


def _first_overlap(a: ScopedWindow, b: ScopedWindow, since: datetime, until: datetime) -> datetime | None:
    # Occurrences come in start order, so a lazy merge stops at the first overlap.
    spans = heapq.merge(
        ((s, e, 0) for s, e in a.window.occurrences(since, until) if e > since),
        ((s, e, 1) for s, e in b.window.occurrences(since, until) if e > since),
    )
    latest_end = {0: since, 1: since}
    for start, end, owner in spans:
        if latest_end[1 - owner] > start:
            return start
        latest_end[owner] = max(latest_end[owner], end)
    return None


def _named(node: YamlNode, noun: str, where: str) -> str:
    """Return ``noun 'NAME'`` when the item has a text name, else ``where`` (its list position)."""
    name = node.value.get("name") if node.is_mapping else None
    if name is not None and isinstance(name.value, str):
        return f"{noun} {name.value!r}"
    return where


def _shown(node: YamlNode) -> str:
    if node.is_mapping:
        return "a mapping"
    if node.is_sequence:
        return "a list"
    if node.value is None:
        return "nothing"
    return repr(node.text if node.text is not None else node.value)
