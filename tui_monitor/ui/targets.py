"""A table of watched processes, endpoints and scrape targets: current values and state.

The state column combines the source's state with the detector's. It shows
``down`` or ``failed`` when the source reports that status, else
``learning``, ``anomalous`` or ``up`` from the stream's detector. The widget only reads what the app
passes to it; it never polls anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.widgets import DataTable

from tui_monitor.sources.base import Observation, SourceState

__all__ = ["TARGET_PREFIXES", "TargetsTable", "target_state"]

TARGET_PREFIXES = ("proc.", "http.", "prom.")

_STATE_STYLE = {"up": "green", "learning": "yellow", "anomalous": "bold red", "down": "bold red", "failed": "bold red"}


def target_state(source_status: str | None, detector_state: str | None) -> str:
    """Combine a source status and a detector state into what the table shows.

    >>> target_state("down", "normal"), target_state("running", "learning"), target_state("running", None)
    ('down', 'learning', 'up')
    """
    if source_status in ("down", "failed"):
        return source_status
    if detector_state in ("learning", "anomalous"):
        return detector_state
    if source_status in (None, "starting"):
        return "starting"
    return "up"


def _describe(stream: str, gauges: dict[str, float], restarts: float) -> str:
    """Summarize the latest gauges of a target in a few words."""
    if stream.startswith("proc."):
        parts = []
        if "cpu_pct" in gauges:
            parts.append(f"cpu {gauges['cpu_pct']:.0f} %")
        if "rss_bytes" in gauges:
            parts.append(f"rss {gauges['rss_bytes'] / (1 << 20):.0f} MiB")
        if "threads" in gauges:
            parts.append(f"{gauges['threads']:.0f} threads")
        if restarts:
            parts.append(f"{restarts:.0f} restarts")
        return ", ".join(parts)
    if stream.startswith("http."):
        if "latency_ms" not in gauges:
            return "no response"
        return f"{gauges['latency_ms']:.0f} ms, HTTP {gauges.get('status_code', 0):.0f}"
    if "scrape.series" in gauges:
        return f"{gauges['scrape.series']:.0f} series"
    return ""


@dataclass
class _Target:
    gauges: dict[str, float] = field(default_factory=dict)
    restarts: float = 0.0
    source_status: str | None = None
    detail: str = ""


class TargetsTable(DataTable[str]):
    """One row per watched process, endpoint and scrape target."""

    DEFAULT_CSS = """
    TargetsTable {
        height: auto;
        max-height: 8;
    }
    Screen TargetsTable {
        /* At 80x24 this leaves the charts and the anomaly table their minimum heights. */
        max-height: 20%;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._targets: dict[str, _Target] = {}
        self._detector_states: dict[str, str] = {}
        self._is_dirty = False

    def on_mount(self) -> None:
        self.add_column("target", key="target")
        self.add_column("state", key="state")
        self.add_column("now", key="now")
        self.add_column("detail", key="detail")

    def take_observation(self, obs: Observation) -> None:
        """Keep the latest gauges of a target stream; other streams are ignored."""
        if not obs.stream.startswith(TARGET_PREFIXES):
            return
        target = self._targets.setdefault(obs.stream, _Target())
        target.gauges = dict(obs.gauges)
        target.restarts += obs.counts.get("restarts", 0.0)
        self._is_dirty = True

    def take_state(self, state: SourceState) -> None:
        """Keep a target's source state."""
        if not state.name.startswith(TARGET_PREFIXES):
            return
        target = self._targets.setdefault(state.name, _Target())
        target.source_status = state.status
        target.detail = state.detail
        self._is_dirty = True

    def take_detector_state(self, stream: str, state: str) -> None:
        """Keep the detector state of a target stream."""
        if stream.startswith(TARGET_PREFIXES) and self._detector_states.get(stream) != state:
            self._detector_states[stream] = state
            self._is_dirty = True

    def state_of(self, stream: str) -> str:
        """Return the state shown for ``stream``."""
        target = self._targets.get(stream, _Target())
        return target_state(target.source_status, self._detector_states.get(stream))

    def redraw(self) -> None:
        """Rewrite the rows when anything changed since the last redraw."""
        if not self._is_dirty:
            return
        self.clear()
        for stream in sorted(self._targets):
            target = self._targets[stream]
            state = self.state_of(stream)
            style = _STATE_STYLE.get(state, "dim")
            self.add_row(
                stream,
                f"[{style}]{state}[/]",
                _describe(stream, target.gauges, target.restarts),
                target.detail,
                key=stream,
            )
        self._is_dirty = False
