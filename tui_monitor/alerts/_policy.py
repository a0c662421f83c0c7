"""When to notify: once per incident, repeats while open, resolution, and a global rate limit with a digest.

The policy is a pure state machine driven by event times, so the live
engine and ``tui-monitor rules test`` (a replay of stored events) make the
same decisions. It does not send anything; the sender does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from tui_monitor.rules import incident_key

if TYPE_CHECKING:
    from tui_monitor.rules import RuleOutcome
    from tui_monitor.store import EventRecord

__all__ = ["Message", "NotifyPolicy", "format_body", "format_title"]

# Apprise notify types by message: they set the colour or icon on most services.
_NOTIFY_TYPES = {"critical": "failure", "major": "warning", "minor": "info", "resolved": "success", "digest": "warning"}


@dataclass
class Message:
    """One notification to send: ``kind`` is ``opened``, ``escalated``, ``repeat``, ``resolved`` or ``digest``.

    ``escalated`` goes out at once when an open, notified incident reaches a
    higher severity; ``repeat`` every ``repeat_s`` while it stays open.
    """

    kind: str
    title: str
    body: str
    severity: str
    tags: frozenset[str]
    ts: float
    event_id: int | None = None
    incident: str = ""

    @property
    def notify_type(self) -> str:
        """The Apprise notify type: info, success, warning or failure."""
        key = self.kind if self.kind in ("resolved", "digest") else self.severity
        return _NOTIFY_TYPES.get(key, "info")


def format_title(event: EventRecord, severity: str, kind: str) -> str:
    """Return the notification title.

    >>> from tui_monitor.store import EventRecord
    >>> format_title(EventRecord("host", 0, 10, 0.999, 1.0, "critical"), "critical", "opened")
    '[CRITICAL] anomaly on host (performance)'
    """
    if kind == "resolved":
        return f"[RESOLVED] anomaly on {event.stream} ({event.kind})"
    prefix = {"repeat": "still open: ", "escalated": "escalated: "}.get(kind, "")
    return f"[{severity.upper()}] {prefix}anomaly on {event.stream} ({event.kind})"


def format_body(event: EventRecord, severity: str, tags: frozenset[str], kind: str, ts: float, *, reasons: int = 3) -> str:
    """Return the notification body: stream, kind, score, times and the top reasons (features)."""
    started = datetime.fromtimestamp(event.window_start, timezone.utc).astimezone()
    lines = [
        f"stream: {event.stream}",
        f"kind: {event.kind}",
        f"severity: {severity}",
        f"score: {event.score:.3f}",
        f"started: {started:%Y-%m-%d %H:%M:%S %Z}",
    ]
    if kind == "resolved":
        lines.append(f"resolved after {_span(ts - event.window_start)}")
    elif kind in ("repeat", "escalated"):
        lines.append(f"open for {_span(ts - event.window_start)}")
    if tags:
        lines.append(f"tags: {', '.join(sorted(tags))}")
    top = event.top_features[:reasons]
    if top:
        lines.append("top reasons:")
        for feature in top:
            lines.append(f"- {_reason(feature)}")
    return "\n".join(lines)


def _reason(feature: dict[str, object]) -> str:
    name = feature.get("name", "?")
    value, median, z = feature.get("value"), feature.get("median"), feature.get("z")
    text = f"{name} = {value:.4g}" if isinstance(value, int | float) else str(name)
    if isinstance(median, int | float):
        text += f" (usual {median:.4g}"
        text += f", z {z:+.1f})" if isinstance(z, int | float) else ")"
    template = feature.get("template")
    if isinstance(template, str):
        text += f": {template}"  # a log template first seen in this event
    return text


def _rank(severity: str) -> int:
    return ("minor", "major", "critical").index(severity) if severity in ("minor", "major", "critical") else -1


def _span(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@dataclass
class _Incident:
    notified_at: float | None = None
    last_sent: float = 0.0
    severity: str = ""


@dataclass
class NotifyPolicy:
    """Decide which messages to send for each event change.

    Args:
        repeat_s: while an incident stays open, repeat its notification this often (0 = never).
        rate_limit: at most this many messages within ``rate_window_s`` across all incidents;
            messages beyond it are held and later sent as one digest.
        rate_window_s: the sliding window of the rate limit, in seconds.
    """

    repeat_s: float = 3600.0
    rate_limit: int = 10
    rate_window_s: float = 600.0
    _incidents: dict[str, _Incident] = field(default_factory=dict)
    _sent: deque[float] = field(default_factory=deque)
    _held: list[Message] = field(default_factory=list)

    def on_event(self, event: EventRecord, outcome: RuleOutcome, ts: float) -> list[Message]:
        """Return the messages to send for this change of ``event``, given the rules' ``outcome``."""
        key = incident_key(event)
        incident = self._incidents.setdefault(key, _Incident())
        tags = frozenset(outcome.tags) | {outcome.severity}
        kind = ""
        if outcome.change == "resolved":
            self._incidents.pop(key, None)
            if incident.notified_at is not None:
                kind = "resolved"
        elif outcome.is_notifiable:
            if incident.notified_at is None:
                kind = "opened"
                incident.notified_at = ts
            elif _rank(outcome.severity) > _rank(incident.severity):
                kind = "escalated"
            elif self.repeat_s > 0 and ts - incident.last_sent >= self.repeat_s:
                kind = "repeat"
        messages = self.tick(ts)
        if kind:
            incident.last_sent = ts
            incident.severity = outcome.severity
            message = Message(
                kind=kind,
                title=format_title(event, outcome.severity, kind),
                body=format_body(event, outcome.severity, tags, kind, ts),
                severity=outcome.severity,
                tags=tags,
                ts=ts,
                event_id=event.id,
                incident=key,
            )
            messages.extend(self._admit(message))
        return messages

    def tick(self, ts: float) -> list[Message]:
        """Return a digest of held messages once the rate limit allows one more message."""
        self._expire(ts)
        if not self._held or len(self._sent) >= self.rate_limit:
            return []
        held, self._held = self._held, []
        self._sent.append(ts)
        return [self._digest(held, ts)]

    def _admit(self, message: Message) -> list[Message]:
        self._expire(message.ts)
        if len(self._sent) >= self.rate_limit:
            self._held.append(message)
            return []
        self._sent.append(message.ts)
        return [message]

    def _expire(self, ts: float) -> None:
        while self._sent and self._sent[0] <= ts - self.rate_window_s:
            self._sent.popleft()

    def _digest(self, held: list[Message], ts: float) -> Message:
        severities = {m.severity for m in held}
        worst = next((s for s in ("critical", "major", "minor") if s in severities), "minor")
        tags = frozenset().union(*(m.tags for m in held))
        lines = [f"{len(held)} notifications were held back by the rate limit of {self.rate_limit} per {self.rate_window_s:g} s:"]
        lines.extend(f"- {m.title}" for m in held)
        return Message("digest", f"[DIGEST] {len(held)} held notifications", "\n".join(lines), worst, tags, ts)

    @property
    def held_count(self) -> int:
        """Messages waiting for the next digest."""
        return len(self._held)
