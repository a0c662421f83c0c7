"""Drift detection on each stream's features and calibrated score with river's ADWIN.

ADWIN keeps a window of recent values and cuts it where the means of the two
parts differ more than chance allows (confidence ``delta``). It costs
microseconds per update, so every feature of every stream can have one;
KSWIN compares distributions but is about a thousand times slower.

ADWIN's bound grows with the variance of its window, so one burst of 40x
the usual value hides a later level shift for hundreds of windows. Values
are therefore clipped to ``clip_scales`` robust scales around the recent
median before ADWIN gets them. A level shift still moves the clipped mean.

ADWIN also cuts at a short burst (an anomaly of a few windows), which is not
drift. A cut is therefore only a suspicion: drift is confirmed when, after
``confirm_windows`` more windows, the median of the new windows still lies
more than ``min_shift`` robust scales from the median before the cut (for
the calibrated score, which lives in 0..1: more than ``SCORE_SHIFT``).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from river import drift

__all__ = ["DriftFound", "DriftMonitor", "is_shifted"]

# 1.4826 * MAD estimates the standard deviation of normally distributed data.
_MAD_TO_SIGMA = 1.4826

# A shift of the median calibrated score (0..1) by more than this confirms drift of the score.
SCORE_SHIFT = 0.3

# Clip bounds are recomputed this often (in windows of the stream); medians of
# a few hundred values per feature on every window would cost milliseconds.
_CLIP_REFRESH_WINDOWS = 32

# Windows of each stream kept to compare the regimes before and after an ADWIN cut.
_HISTORY_WINDOWS = 400


@dataclass(frozen=True)
class DriftFound:
    """Confirmed drift on ``stream``, reported at the window ending ``ts``.

    ``names`` are the drifting features (``score`` for the calibrated score);
    ``since`` estimates when the new regime began (Unix seconds).
    """

    stream: str
    ts: float
    since: float
    names: list[str] = field(default_factory=list)


@dataclass
class _Suspicion:
    names: list[str]
    since: float
    before: list[dict[str, float]]
    windows_after: int = 0


def is_shifted(before: list[float], after: list[float], min_shift: float) -> bool:
    """Whether the median of ``after`` lies more than ``min_shift`` robust scales from that of ``before``.

    >>> is_shifted([10, 11, 9, 10, 12], [30, 31, 29], 3.0), is_shifted([10, 11, 9, 10, 12], [10, 30, 9], 3.0)
    (True, False)
    """
    if len(before) < 3 or len(after) < 3:
        return False
    median = statistics.median(before)
    mad = statistics.median(abs(v - median) for v in before)
    scale = max(_MAD_TO_SIGMA * mad, 0.05 * abs(median), 1e-9)
    return abs(statistics.median(after) - median) > min_shift * scale


class DriftMonitor:
    """One ADWIN per feature and one on the calibrated score, per stream.

    No drift is suspected in the first ``min_windows`` windows of a stream,
    and the score is watched only after ``score_min_windows``: calibrated
    scores move while the calibration history fills. A stream reports drift at most once per ``cooldown_windows`` windows:
    after a change the detectors of related features fire in the windows
    that follow, and one retraining covers them all.
    """

    def __init__(
        self,
        *,
        delta: float = 0.002,
        confirm_windows: int = 20,
        min_shift: float = 3.0,
        cooldown_windows: int = 360,
        min_windows: int = 30,
        score_min_windows: int = 200,
        clip_scales: float = 5.0,
    ) -> None:
        self.delta = delta
        self.confirm_windows = confirm_windows
        self.min_shift = min_shift
        self.cooldown_windows = cooldown_windows
        self.min_windows = min_windows
        self.score_min_windows = score_min_windows
        self.clip_scales = clip_scales
        self._bounds: dict[str, dict[str, tuple[float, float]]] = {}
        self._detectors: dict[str, dict[str, drift.ADWIN]] = {}
        self._recent: dict[str, deque[dict[str, float]]] = {}
        self._starts: dict[str, deque[float]] = {}
        self._seen: dict[str, int] = {}
        self._last_drift: dict[str, int] = {}
        self._suspicions: dict[str, _Suspicion] = {}

    def update(self, stream: str, start: float, end: float, features: dict[str, float], score: float) -> DriftFound | None:
        """Feed one window; return the drift confirmed on it, or None."""
        seen = self._seen.get(stream, 0) + 1
        self._seen[stream] = seen
        watched = [*features.items(), ("score", score)] if seen > self.score_min_windows else list(features.items())
        values = {name: value for name, value in watched if math.isfinite(value)}
        recent = self._recent.setdefault(stream, deque(maxlen=_HISTORY_WINDOWS))
        starts = self._starts.setdefault(stream, deque(maxlen=_HISTORY_WINDOWS))
        if seen % _CLIP_REFRESH_WINDOWS == 1:
            self._bounds[stream] = self._clip_bounds(recent)
        cuts = self._feed(stream, values)
        recent.append(values)
        starts.append(start)

        suspicion = self._suspicions.get(stream)
        if suspicion is not None:
            suspicion.windows_after += 1
            if suspicion.windows_after >= self.confirm_windows:
                del self._suspicions[stream]
                return self._confirm(stream, end, seen, suspicion)
            return None

        last = self._last_drift.get(stream)
        is_cooling = last is not None and seen - last < self.cooldown_windows
        if cuts and seen >= self.min_windows and not is_cooling:
            # After a cut ADWIN keeps only the newer part, so its width is the new regime's length in windows.
            width = min(length for _, length in cuts)
            before = list(recent)[: max(len(recent) - width, 0)][-2 * self.confirm_windows :]
            since = end - width * (end - start)
            # ADWIN's width also contains some windows from before the change, so the
            # confirmation waits for ``confirm_windows`` windows after the cut.
            self._suspicions[stream] = _Suspicion(sorted(name for name, _ in cuts), since, before)
        return None

    def windows_since(self, stream: str, since: float) -> list[dict[str, float]]:
        """Return the feature vectors of the remembered windows of ``stream`` starting at ``since`` or later, oldest first.

        The calibrated score watched alongside the features is left out.
        """
        starts, recent = self._starts.get(stream, ()), self._recent.get(stream, ())
        return [
            {name: value for name, value in values.items() if name != "score"}
            for start, values in zip(starts, recent, strict=True)
            if start >= since
        ]

    def _clip_bounds(self, recent: deque[dict[str, float]]) -> dict[str, tuple[float, float]]:
        bounds: dict[str, tuple[float, float]] = {}
        if len(recent) < 10:
            return bounds
        for name in recent[-1]:
            values = [w[name] for w in recent if name in w]
            median = statistics.median(values)
            mad = statistics.median(abs(v - median) for v in values)
            scale = max(_MAD_TO_SIGMA * mad, 0.05 * abs(median), 1e-6)
            bounds[name] = (median - self.clip_scales * scale, median + self.clip_scales * scale)
        return bounds

    def _feed(self, stream: str, values: dict[str, float]) -> list[tuple[str, int]]:
        detectors = self._detectors.setdefault(stream, {})
        bounds = self._bounds.get(stream, {})
        cuts = []
        for name, value in values.items():
            detector = detectors.get(name)
            if detector is None:
                # Imported on first use: river costs about a second to import and
                # commands that only read the store load this package too.
                from river.drift import ADWIN

                detector = detectors[name] = ADWIN(delta=self.delta)
            low, high = bounds.get(name, (value, value))
            detector.update(min(max(value, low), high))
            if detector.drift_detected:
                cuts.append((name, int(detector.width)))
        return cuts

    def _confirm(self, stream: str, end: float, seen: int, suspicion: _Suspicion) -> DriftFound | None:
        after = list(self._recent[stream])[-self.confirm_windows :]
        confirmed = []
        for name in suspicion.names:
            before = [w[name] for w in suspicion.before if name in w]
            now = [w[name] for w in after if name in w]
            if name == "score":
                is_confirmed = len(before) >= 3 and abs(statistics.median(now) - statistics.median(before)) > SCORE_SHIFT
            else:
                is_confirmed = is_shifted(before, now, self.min_shift)
            if is_confirmed:
                confirmed.append(name)
        if not confirmed:
            return None
        self._last_drift[stream] = seen
        return DriftFound(stream, end, self._change_start(stream, confirmed[0], suspicion), confirmed)

    def _change_start(self, stream: str, name: str, suspicion: _Suspicion) -> float:
        """Return the start of the first window of the new regime of feature ``name``.

        Walking back from the newest window, the regime ends at the first
        window closer to the old median than to the new one. ADWIN's own
        estimate (its width after the cut) also counts some older windows.
        """
        old = statistics.median(w[name] for w in suspicion.before if name in w)
        new = statistics.median(w[name] for w in list(self._recent[stream])[-self.confirm_windows :] if name in w)
        since = suspicion.since
        for start, values in zip(reversed(self._starts[stream]), reversed(self._recent[stream]), strict=True):
            value = values.get(name)
            if value is None:
                continue
            if abs(value - new) > abs(value - old):
                break
            since = start
        return since
