"""Seeded windows of one endpoint stream: normal noise, a benign recurring pattern, true anomalies, a level shift."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tui_monitor.engine import Engine, EventChanged, Update
from tui_monitor.features import ClosedWindow
from tui_monitor.settings import Settings
from tui_monitor.store import EventRecord

STREAM = "http.api"
LATENCY = f"{STREAM}.latency_ms.mean"


def seed_settings(db_path: Path, **overrides: Any) -> Settings:
    """Settings for seeded one-second windows, so that each occurrence of a pattern is flagged.

    The seeded patterns recur every 40 windows: the default cooldown between
    alerts of one stream (60 windows) would hide most of them. The detector's
    rank calibration learns every raw score, so a recurring pattern ranks a
    little lower each time; with the default threshold (0.995) its later
    occurrences no longer alert, while they stay above 0.9. For the same
    reason recurrence suppression is off: it silences a deviation once three
    of its size occurred within 500 windows.
    """
    overrides.setdefault("detector_overrides", {"*": {"recurrence_windows": 0}})
    return Settings(db_path=db_path, window_s=1.0, warmup_windows=30, cooldown_windows=5, threshold=0.9, **overrides)


class WindowPlan:
    """Generate windows one second apart from ``t0``; the same seed gives the same windows."""

    def __init__(self, t0: float, seed: int = 7) -> None:
        self.t0 = t0
        self.rng = random.Random(seed)

    def window(self, index: int, kind: str = "normal") -> ClosedWindow:
        latency = self.rng.gauss(20.0, 2.0)
        errors = float(self.rng.randint(0, 2))
        if kind == "benign":  # a nightly job: slower, but harmless
            latency = self.rng.gauss(120.0, 5.0)
        elif kind == "true":  # an outage: very slow and failing
            latency = self.rng.gauss(900.0, 30.0)
            errors = 40.0
        elif kind == "shift":  # a new, lasting level
            latency = self.rng.gauss(60.0, 2.0)
        features = {LATENCY: latency, f"{STREAM}.errors": errors, f"{STREAM}.up.mean": 1.0}
        start = self.t0 + index
        return ClosedWindow(STREAM, start, start + 1.0, features, [])

    def span(self, start: int, count: int, benign: Iterable[int] = (), true: Iterable[int] = (), length: int = 3) -> list[ClosedWindow]:
        """Windows ``start`` .. ``start + count``; patterns begin at the given indexes and last ``length`` windows."""
        benign, true = list(benign), list(true)
        windows = []
        for index in range(start, start + count):
            kind = "normal"
            if any(b <= index < b + length for b in benign):
                kind = "benign"
            if any(t <= index < t + length for t in true):
                kind = "true"
            windows.append(self.window(index, kind))
        return windows


class OpenedEvents:
    """Collect events as they open."""

    def __init__(self, engine: Engine) -> None:
        self.events: list[EventRecord] = []
        engine.subscribe(self)

    def __call__(self, update: Update) -> None:
        if isinstance(update, EventChanged) and update.change == "opened":
            self.events.append(update.event)

    def starts(self, t0: float) -> list[float]:
        """Offsets of the opened events' first windows from ``t0``, in seconds."""
        return [event.window_start - t0 for event in self.events]
