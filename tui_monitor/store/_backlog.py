"""Rows waiting in memory while the database cannot be written.

When a write fails (the file is locked, full or broken), the writer keeps its
rows here and tries again at the next write. The backlog is bounded, and each
kind of row has its own limit. Past a limit the oldest rows of that kind are
dropped and counted. The limit on raw samples is the one that matters most,
because samples are the bulk of the data and the windows keep their features.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_monitor.store._db import EventRecord

__all__ = ["WriteBacklog"]

SampleRow = tuple[float, str, str]
WindowRow = tuple[Any, ...]


class WriteBacklog:
    """Bounded rows not yet written: samples, windows and events, oldest first.

    Rows are kept already serialised (JSON strings), which costs about a
    third of the memory of the dicts they came from. Events are kept as the
    engine's own ``EventRecord`` objects, once each: an event updated while
    it waits is written in its latest state.

    Args:
        max_samples: raw sample rows kept at most.
        max_windows: window rows kept at most.
        max_events: events kept at most.
    """

    def __init__(self, *, max_samples: int, max_windows: int, max_events: int) -> None:
        self.max_samples = max_samples
        self.max_windows = max_windows
        self.max_events = max_events
        self.samples: deque[SampleRow] = deque()
        self.windows: deque[WindowRow] = deque()
        self._events: dict[int, EventRecord] = {}
        self.dropped_samples = 0
        self.dropped_windows = 0
        self.dropped_events = 0

    @property
    def is_empty(self) -> bool:
        """Whether nothing waits to be written."""
        return not (self.samples or self.windows or self._events)

    @property
    def events(self) -> list[EventRecord]:
        """Events waiting to be written, in the order they first arrived."""
        return list(self._events.values())

    def add_rows(self, samples: Sequence[SampleRow], windows: Sequence[WindowRow]) -> None:
        """Queue sample and window rows, dropping the oldest rows beyond the limits."""
        self.samples.extend(samples)
        self.windows.extend(windows)
        while len(self.samples) > self.max_samples:
            self.samples.popleft()
            self.dropped_samples += 1
        while len(self.windows) > self.max_windows:
            self.windows.popleft()
            self.dropped_windows += 1

    def add_event(self, event: EventRecord) -> None:
        """Queue an event (once, however often it changes), dropping the oldest beyond the limit."""
        # Keyed by identity: the engine updates one object for the whole incident.
        self._events.setdefault(id(event), event)
        while len(self._events) > self.max_events:
            oldest = next(iter(self._events))
            del self._events[oldest]
            self.dropped_events += 1

    def clear(self) -> None:
        """Forget the queued rows after they were written; the drop counters stay."""
        self.samples.clear()
        self.windows.clear()
        self._events.clear()

    def describe(self) -> str:
        """Summarise the queued rows for a log line or the UI, e.g. ``12 windows, 60 samples in memory``."""
        text = f"{len(self.windows)} windows, {len(self.samples)} samples, {len(self._events)} events in memory"
        dropped = self.dropped_windows + self.dropped_samples + self.dropped_events
        if dropped:
            text += (
                f"; dropped so far: {self.dropped_windows} windows, "
                f"{self.dropped_samples} samples, {self.dropped_events} events"
            )
        return text
