"""Apply a ``RuleSet`` to anomaly events as they open, update and resolve.

Rules run in file-name order, then in file order; every matching rule
applies. Matching uses the event as earlier rules left it, so a rule that
raises the severity to ``critical`` lets a later ``severity: critical`` rule
match. The base severity always comes from the event's score, so evaluating
the same event again does not raise it twice.

Gates (persistence, frequency, deduplication) only delay or hold
notification; the event is still stored and shown. Once an incident passes
a gate it stays passed until it resolves.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui_monitor.rules._model import Rule, RuleSet, shift_severity

if TYPE_CHECKING:
    from tui_monitor.store import EventRecord

__all__ = ["RuleEvaluator", "RuleOutcome", "incident_key"]


def incident_key(event: EventRecord) -> str:
    """A key naming one incident, stable from open to resolve and across a store round trip."""
    return f"{event.stream}@{event.window_start:.3f}"


@dataclass
class RuleOutcome:
    """The rules' decision about one change of one event.

    ``suppressed_by`` names the rule or maintenance window that suppressed
    the event at this change; ``held_by`` names the gate that holds back its
    notification. ``is_notifiable`` is true when neither applies.
    """

    change: str
    severity: str
    base_severity: str
    tags: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    suppressed_by: str | None = None
    held_by: str | None = None

    @property
    def is_notifiable(self) -> bool:
        """Whether the notifier may send for this change."""
        return self.suppressed_by is None and self.held_by is None

    def to_json(self) -> dict[str, object]:
        """Return the outcome as a JSON-ready dict."""
        return {
            "change": self.change,
            "severity": self.severity,
            "base_severity": self.base_severity,
            "tags": list(self.tags),
            "rules": list(self.rules),
            "suppressed_by": self.suppressed_by,
            "held_by": self.held_by,
        }


@dataclass
class _IncidentState:
    hot: dict[str, deque[bool]] = field(default_factory=dict)
    passed: set[str] = field(default_factory=set)
    held_for_good: str | None = None
    was_notifiable: bool = False


class RuleEvaluator:
    """Evaluate events against a rule set, keeping the per-incident and per-rule state gates need.

    Runs on the engine's event loop; it is not thread-safe. ``ts`` arguments
    are the event's time in Unix seconds (its window end), so replaying
    stored events gives the same outcomes as the live run.
    """

    def __init__(self, ruleset: RuleSet) -> None:
        # Imported here: the detectors package loads river, which ``rules check`` does not need.
        from tui_monitor.detectors import severity_for

        self._severity_for = severity_for
        self.ruleset = ruleset
        self._incidents: dict[str, _IncidentState] = {}
        self._openings: dict[str, deque[float]] = {}
        self._last_notifiable: dict[tuple[str, str], float] = {}

    def replace(self, ruleset: RuleSet) -> None:
        """Swap in reloaded rules; gate state of rules that keep their name carries over."""
        self.ruleset = ruleset

    def evaluate(self, event: EventRecord, change: str, ts: float, *, is_hot: bool = True) -> RuleOutcome:
        """Decide severity, tags, suppression and gates for ``change`` (opened, updated, resolved) of ``event``."""
        key = incident_key(event)
        state = self._incidents.setdefault(key, _IncidentState())
        base = self._severity_for(event.score)
        outcome = RuleOutcome(change=change, severity=base, base_severity=base)

        tags: list[str] = []
        matched: list[str] = []
        gates: list[str] = []
        for rule in self.ruleset.rules:
            if not rule.match.matches(event.stream, event.kind, outcome.severity, event.score, event.top_features):
                continue
            matched.append(rule.name)
            if rule.severity is not None:
                outcome.severity = rule.severity
            if rule.severity_steps:
                outcome.severity = shift_severity(outcome.severity, rule.severity_steps)
            tags.extend(t for t in rule.tags if t not in tags)
            if rule.suppress and outcome.suppressed_by is None:
                outcome.suppressed_by = f"rule {rule.name!r}"
            gate = self._gate(rule, state, change, ts, is_hot, event.stream)
            if gate:
                gates.append(gate)
        outcome.tags = tuple(tags)
        outcome.rules = tuple(matched)

        if outcome.suppressed_by is None:
            for scoped in self.ruleset.windows:
                if scoped.match.matches(event.stream, event.kind, outcome.severity, event.score, event.top_features):
                    if scoped.window.is_active(ts):
                        outcome.suppressed_by = f"maintenance window {scoped.window.name!r}"
                        break
        if state.held_for_good:
            gates.insert(0, state.held_for_good)
        outcome.held_by = gates[0] if gates else None

        if outcome.is_notifiable and not state.was_notifiable:
            state.was_notifiable = True
            self._note_notifiable(event.stream, outcome.rules, ts)
        if change == "resolved":
            del self._incidents[key]
        return outcome

    def _gate(self, rule: Rule, state: _IncidentState, change: str, ts: float, is_hot: bool, stream: str) -> str:
        """Return the reason ``rule`` delays the incident's notification now, or an empty string."""
        reasons = []
        if rule.persistence is not None and rule.name not in state.passed:
            n, m = rule.persistence
            recent = state.hot.setdefault(rule.name, deque(maxlen=m))
            if change != "resolved":
                recent.append(is_hot)
            if sum(recent) >= n:
                state.passed.add(rule.name)
            else:
                reasons.append(f"persistence of rule {rule.name!r}: {sum(recent)} of the last {len(recent)} windows, needs {n} of {m}")
        if rule.frequency is not None:
            n_events, within_s = rule.frequency
            openings = self._openings.setdefault(rule.name, deque())
            if change == "opened":
                openings.append(ts)
            while openings and openings[0] <= ts - within_s:
                openings.popleft()
            gate_name = f"frequency:{rule.name}"
            if gate_name not in state.passed:
                if len(openings) >= n_events:
                    state.passed.add(gate_name)
                else:
                    reasons.append(f"frequency of rule {rule.name!r}: {len(openings)} of {n_events} incidents within {within_s:g} s")
        if rule.dedup_s is not None and not state.was_notifiable and not reasons:
            last = self._last_notifiable.get((rule.name, stream))
            if last is not None and ts - last < rule.dedup_s:
                state.held_for_good = f"duplicate under rule {rule.name!r}: {stream} was notified {ts - last:.0f} s before"
        return "; ".join(reasons)

    def _note_notifiable(self, stream: str, rule_names: tuple[str, ...], ts: float) -> None:
        for name in rule_names:
            self._last_notifiable[(name, stream)] = ts
