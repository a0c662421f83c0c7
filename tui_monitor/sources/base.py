"""What every source produces and how it reports its state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Observation", "ObservationSink", "SourceState", "StateSink"]


@dataclass
class Observation:
    """A timestamped reading of one stream.

    ``gauges`` are point values aggregated per window (mean, max);
    ``counts`` are summed per window. ``ts`` is Unix time in seconds.
    """

    stream: str
    ts: float
    gauges: dict[str, float] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)


@dataclass
class SourceState:
    """The state of a source as the UI shows it.

    ``status`` is one of ``starting``, ``running``, ``waiting``, ``down`` or
    ``failed``; ``detail`` says why in a few words.
    """

    name: str
    status: str
    detail: str = ""


ObservationSink = Callable[[Observation], None]
StateSink = Callable[[SourceState], None]
