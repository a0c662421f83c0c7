"""The updates the engine publishes to its listeners (UI, headless printer, attach, tests).

Each is a small dataclass; ``Update`` is their union. Listeners run on the
engine's event loop and must return quickly.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_monitor.detectors.decision import Decision
from tui_monitor.explain import Explanation
from tui_monitor.feedback import DriftDetected, LabelChanged, ModelChanged
from tui_monitor.rules import RuleOutcome
from tui_monitor.sources import Observation, SourceState
from tui_monitor.store import Annotation, EventRecord, WindowRecord

__all__ = [
    "AnnotationAdded",
    "EventChanged",
    "ExplanationReady",
    "ObservationMade",
    "SourceChanged",
    "Update",
    "WindowScored",
]


@dataclass
class WindowScored:
    """A window of ``stream`` closed and was scored.

    ``is_vetoed`` is true when the window was hot but a promoted learned model
    called it normal, so it opens no incident.
    """

    window: WindowRecord
    decision: Decision
    detector_state: str
    is_vetoed: bool = False


@dataclass
class EventChanged:
    """An anomaly event was opened, updated or resolved."""

    event: EventRecord
    change: str
    outcome: RuleOutcome | None = None


@dataclass
class ExplanationReady:
    """An event's explanation was computed and stored, or failed with ``error``."""

    event: EventRecord
    explanation: Explanation | None
    error: str = ""


@dataclass
class ObservationMade:
    """A source made one observation (for live charts)."""

    observation: Observation


@dataclass
class SourceChanged:
    """A source's state changed."""

    state: SourceState


@dataclass
class AnnotationAdded:
    """An annotation reached the store (from this process, ``attach`` or the CLI)."""

    annotation: Annotation


Update = (
    WindowScored
    | EventChanged
    | ExplanationReady
    | SourceChanged
    | ObservationMade
    | AnnotationAdded
    | DriftDetected
    | ModelChanged
    | LabelChanged
)
