"""Replay stored events through the current rules: what would have been suppressed, escalated, notified.

Each stored event is replayed as it happened: ``opened`` at the end of its
first window, ``updated`` for each later window of its stream up to its last
one (hot when the window was anomalous), and ``resolved`` when it was
resolved. All events are merged into one timeline so that frequency gates,
deduplication and the rate limit see them in order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui_monitor.rules._evaluate import RuleEvaluator, RuleOutcome
from tui_monitor.rules._model import RuleSet

if TYPE_CHECKING:
    from tui_monitor.alerts import Message, NotifyPolicy
    from tui_monitor.store import EventRecord, FeatureStore

__all__ = ["ReplayStep", "ReplaySummary", "replay_events"]


@dataclass
class ReplayStep:
    """One change of one event and what the rules and the notification policy did with it."""

    ts: float
    event: EventRecord
    outcome: RuleOutcome
    messages: list[Message] = field(default_factory=list)


@dataclass
class ReplaySummary:
    """Counts over a replay: events, and those suppressed, escalated, lowered, notified."""

    events: int = 0
    suppressed: int = 0
    escalated: int = 0
    lowered: int = 0
    notified: int = 0
    messages: int = 0
    held_for_digest: int = 0


def replay_events(
    store: FeatureStore, ruleset: RuleSet, since_ts: float, policy: NotifyPolicy
) -> tuple[list[ReplayStep], ReplaySummary]:
    """Replay the events stored since ``since_ts``; return every step and a summary.

    NOTE: the store keeps an event's final score and top features only, so every
    step of an event is evaluated with those, not with the values it had at the time.
    """
    events = sorted(store.events_since(since_ts, limit=100_000), key=lambda e: (e.window_start, e.id or 0))
    timeline: list[tuple[float, int, EventRecord, str, bool]] = []
    for order, event in enumerate(events):
        windows = [w for w in store.windows_since(event.stream, event.window_start) if w.start <= event.window_end]
        if not windows:
            timeline.append((event.window_end, order, event, "opened", True))
        for index, window in enumerate(windows):
            timeline.append((window.end, order, event, "opened" if index == 0 else "updated", window.is_anomalous or index == 0))
        if event.state == "resolved":
            timeline.append((max(event.updated_at, event.window_end), order, event, "resolved", False))
    timeline.sort(key=lambda item: (item[0], item[1]))

    evaluator = RuleEvaluator(ruleset)
    steps: list[ReplayStep] = []
    summary = ReplaySummary(events=len(events))
    seen: dict[int, set[str]] = {}
    for ts, order, event, change, is_hot in timeline:
        replayed = dataclasses.replace(event, state="resolved" if change == "resolved" else "open")
        outcome = evaluator.evaluate(replayed, change, ts, is_hot=is_hot)
        messages = policy.on_event(replayed, outcome, ts)
        steps.append(ReplayStep(ts, replayed, outcome, messages))
        flags = seen.setdefault(order, set())
        if outcome.suppressed_by:
            flags.add("suppressed")
        if outcome.severity != outcome.base_severity:
            flags.add("escalated" if _rank(outcome.severity) > _rank(outcome.base_severity) else "lowered")
        if any(m.kind == "opened" for m in messages):
            flags.add("notified")
        _count_messages(summary, messages)
    if timeline:
        # Flush a digest still held at the end, as the live engine would on a later window.
        final = policy.tick(timeline[-1][0] + policy.rate_window_s)
        if final:
            steps.append(ReplayStep(timeline[-1][0] + policy.rate_window_s, timeline[-1][2], steps[-1].outcome, final))
        _count_messages(summary, final)
    summary.suppressed = sum("suppressed" in f for f in seen.values())
    summary.escalated = sum("escalated" in f for f in seen.values())
    summary.lowered = sum("lowered" in f for f in seen.values())
    summary.notified = sum("notified" in f for f in seen.values())
    return steps, summary


def _count_messages(summary: ReplaySummary, messages: list[Message]) -> None:
    summary.messages += len(messages)
    for message in messages:
        if message.kind == "digest":
            summary.held_for_digest += sum(1 for line in message.body.splitlines() if line.startswith("- "))


def _rank(severity: str) -> int:
    return ("minor", "major", "critical").index(severity) if severity in ("minor", "major", "critical") else 0
