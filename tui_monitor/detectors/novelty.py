"""Anomaly events for log templates seen for the first time.

A template first seen after the template miner's warm-up is a new kind of
message: often the first sign of a functional problem. The
``<stream>.new_templates`` feature counts them per window, but one new
template among thirty log features rarely moves a window's score past the
threshold. ``NewTemplateEvents`` therefore makes each window with new
templates an event of its own (kind ``functional``, base severity ``minor``),
listing the templates with their text, so that rules and notifications
see it like any other anomaly. The event resolves at the next window of
the stream without new templates.
"""

from __future__ import annotations

import time

from tui_monitor.store import EventRecord

__all__ = ["MODEL_VERSION", "NewTemplateEvents"]

# Marks these events in the store's model_version column.
MODEL_VERSION = "new-templates"
# Templates listed in one event at most; the count covers all of them.
_MAX_LISTED = 10
# The event's score. The rules derive the base severity from the score
# (``severity_for``), and below 0.995 that is ``minor``; a rule can raise it.
_SCORE = 0.99


class NewTemplateEvents:
    """Open, update and resolve one "new template" event per log stream.

    Runs on the engine's event loop, once per closed window of each log
    stream.
    """

    def __init__(self) -> None:
        self.open_events: dict[str, EventRecord] = {}

    def process(
        self, stream: str, start: float, end: float, templates: list[tuple[int, str, int]]
    ) -> tuple[EventRecord, str] | None:
        """Return the event and its change (``opened``, ``updated``, ``resolved``) for one window, or None.

        Args:
            stream: the log stream, such as ``log.app``.
            start: the window's start, Unix seconds.
            end: the window's end, Unix seconds.
            templates: (id, text, records in the window) of the templates
                first seen in the window.
        """
        event = self.open_events.get(stream)
        if not templates:
            if event is None:
                return None
            event.state = "resolved"
            event.updated_at = time.time()
            del self.open_events[stream]
            return event, "resolved"
        listed = [
            {"name": f"{stream}.template.t{template_id}", "value": float(count), "template": text}
            for template_id, text, count in templates
        ]
        if event is None:
            event = EventRecord(
                stream=stream,
                window_start=start,
                window_end=end,
                score=_SCORE,
                raw_score=float(len(templates)),
                severity="minor",
                kind="functional",
                top_features=[{"name": f"{stream}.new_templates", "value": float(len(templates)), "median": 0.0}],
                model_version=MODEL_VERSION,
            )
            event.top_features.extend(listed[:_MAX_LISTED])
            self.open_events[stream] = event
            return event, "opened"
        event.window_end = end
        event.updated_at = time.time()
        event.raw_score += len(templates)
        event.top_features[0]["value"] = event.raw_score
        room = _MAX_LISTED + 1 - len(event.top_features)
        event.top_features.extend(listed[: max(room, 0)])
        return event, "updated"
