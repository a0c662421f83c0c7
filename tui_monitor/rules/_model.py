"""The parsed form of rule files: matchers, rules, maintenance windows, line drops."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_monitor.rules._windows import MaintenanceWindow

if TYPE_CHECKING:
    from tui_monitor.rules._yaml import Problem

__all__ = ["SEVERITIES", "LineDrop", "Matcher", "Rule", "RuleSet", "ScopedWindow", "shift_severity"]

SEVERITIES = ("minor", "major", "critical")


def shift_severity(severity: str, steps: int) -> str:
    """Move ``severity`` up (positive ``steps``) or down the scale, stopping at its ends.

    >>> shift_severity("minor", 1), shift_severity("critical", 5), shift_severity("major", -3)
    ('major', 'critical', 'minor')
    """
    index = SEVERITIES.index(severity) if severity in SEVERITIES else 0
    return SEVERITIES[max(0, min(len(SEVERITIES) - 1, index + steps))]


def _globs_regex(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    """Compile shell globs into one regular expression, or None for no globs.

    >>> bool(_globs_regex(("log.*", "host")).match("log.app"))
    True
    """
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs))


@dataclass(frozen=True)
class Matcher:
    """The events a rule applies to. Every given condition must hold, and an empty matcher matches all.

    ``streams`` and ``features`` are globs (``*``, ``?``, ``[...]``); a feature
    glob matches when any of the event's top feature names matches. ``template``
    is a regular expression searched in each top feature's ``template`` text
    (log streams attach the Drain3 template there), or in its name when a
    feature has no template. ``value_min`` and ``value_max`` bound the value
    of a top feature the ``features`` globs match (any top feature without
    globs): one such feature inside the bounds is enough.
    """

    streams: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    score_min: float | None = None
    score_max: float | None = None
    template: re.Pattern[str] | None = None
    value_min: float | None = None
    value_max: float | None = None
    _stream_re: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _feature_re: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One compiled alternation per glob list: matching runs once per rule per event change.
        object.__setattr__(self, "_stream_re", _globs_regex(self.streams))
        object.__setattr__(self, "_feature_re", _globs_regex(self.features))

    def matches(self, stream: str, kind: str, severity: str, score: float, top_features: Iterable[dict[str, Any]]) -> bool:
        """Whether an event with these attributes is matched.

        >>> Matcher(streams=("log.*",), score_min=0.99).matches("log.app", "functional", "minor", 0.995, [])
        True
        """
        if self._stream_re is not None and self._stream_re.match(stream) is None:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        if self.severities and severity not in self.severities:
            return False
        if self.score_min is not None and score < self.score_min:
            return False
        if self.score_max is not None and score > self.score_max:
            return False
        features = list(top_features)
        if self._feature_re is not None:
            feature_re = self._feature_re
            if not any(feature_re.match(str(f.get("name", ""))) for f in features):
                return False
        if self.template is not None:
            texts = [str(f.get("template") or f.get("name", "")) for f in features]
            if not any(self.template.search(text) for text in texts):
                return False
        if self.value_min is not None or self.value_max is not None:
            named = [f for f in features if self._feature_re is None or self._feature_re.match(str(f.get("name", "")))]
            if not any(self._value_in_range(f.get("value")) for f in named):
                return False
        return True

    def _value_in_range(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.value_min is not None and value < self.value_min:
            return False
        return self.value_max is None or value <= self.value_max


@dataclass(frozen=True)
class Rule:
    """One rule: a matcher and what to do with matched events.

    ``persistence`` is ``(n, m)``: notify only once ``n`` of the last ``m``
    windows of the incident were anomalous. ``frequency`` is ``(n, within_s)``:
    notify only from the ``n``-th matched incident within ``within_s`` seconds.
    ``dedup_s`` skips notifying a matched incident when one of the same stream
    was notified under this rule less than ``dedup_s`` seconds before.
    """

    name: str
    source: str
    match: Matcher = field(default_factory=Matcher)
    suppress: bool = False
    severity: str | None = None
    severity_steps: int = 0
    tags: tuple[str, ...] = ()
    persistence: tuple[int, int] | None = None
    frequency: tuple[int, float] | None = None
    dedup_s: float | None = None


@dataclass(frozen=True)
class ScopedWindow:
    """A maintenance window and the events it covers."""

    window: MaintenanceWindow
    match: Matcher
    source: str


@dataclass(frozen=True)
class LineDrop:
    """Log lines of matching streams that match ``pattern`` are dropped before they become features."""

    streams: tuple[str, ...]
    pattern: re.Pattern[str]
    source: str

    def applies_to(self, stream: str) -> bool:
        """Whether this entry covers ``stream`` (no stream globs cover every stream)."""
        return not self.streams or any(fnmatch.fnmatchcase(stream, glob) for glob in self.streams)

    def drops(self, stream: str, line: str) -> bool:
        """Whether ``line`` of ``stream`` is dropped.

        >>> LineDrop(("log.*",), re.compile("health"), "x").drops("log.app", "GET /health 200")
        True
        """
        return self.applies_to(stream) and self.pattern.search(line) is not None


@dataclass
class RuleSet:
    """Every rule, window and line drop of a rules folder, in file-name order."""

    rules: list[Rule] = field(default_factory=list)
    windows: list[ScopedWindow] = field(default_factory=list)
    drops: list[LineDrop] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _drop_by_stream: dict[str, list[re.Pattern[str]]] = field(default_factory=dict, repr=False)

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the rules unusable."""
        return [p for p in self.problems if p.is_error]

    def filter_lines(self, stream: str, lines: list[str]) -> list[str]:
        """Return ``lines`` of ``stream`` without those a ``drop_lines`` entry drops."""
        patterns = self._drop_by_stream.get(stream)
        if patterns is None:
            # Kept separate: one alternation of these patterns measured 2-3x slower in
            # CPython 3.11, because it loses each pattern's literal-prefix search.
            patterns = self._drop_by_stream[stream] = [d.pattern for d in self.drops if d.applies_to(stream)]
        if not patterns:
            return lines
        return [line for line in lines if not any(p.search(line) for p in patterns)]

