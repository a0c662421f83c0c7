"""Robust per-feature baselines: rolling median and MAD, with a time-of-day profile.

The robust z-score of a value is its distance from the median of recent
normal windows in units of the scaled median absolute deviation (MAD). A
value is also compared with the same hour of previous days once at least
``min_days`` days have been seen. The smaller of the two deviations counts,
so a nightly job stops being unusual after a few nights. ``RobustModel``
turns the largest deviation into a raw anomaly score, and ``top`` names the
features that make a window unusual.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any

__all__ = ["RobustBaseline", "RobustModel", "is_context_feature", "is_heavy_tailed"]

# 1.4826 * MAD estimates the standard deviation of normally distributed data.
_MAD_TO_SIGMA = 1.4826
# sqrt(pi / 2) * mean absolute deviation also estimates it; used when MAD is 0.
_MEAN_AD_TO_SIGMA = 1.2533
_SECONDS_PER_DAY = 86400.0
_SECONDS_PER_HOUR = 3600.0
# The hourly profile keeps one value per this many seconds, which bounds its memory.
_SEASONAL_STRIDE_S = 120.0


def is_heavy_tailed(name: str) -> bool:
    """Return True for byte counts and rates, which are compared on a log scale.

    Disk and network byte rates jump by orders of magnitude in normal use
    (a cache flush, a download); on a log scale such a burst is a few MADs
    rather than dozens.

    >>> is_heavy_tailed("host.disk.read_bytes_per_s.mean"), is_heavy_tailed("host.cpu.total_pct.mean")
    (True, False)
    """
    return "bytes" in name


def is_availability(name: str) -> bool:
    """Return True for up/down features (1 up, 0 down), whose every change matters.

    >>> is_availability("http.api.up.mean"), is_availability("proc.app.up.last"), is_availability("host.load.1m.mean")
    (True, True, False)
    """
    return ".up." in name


# The smallest scale of an up/down feature: a stream going from always up to
# down is then 10 robust z-scores away, above every deviation gate, where the
# general floor (0.5) would make it only 2.
_AVAILABILITY_MIN_SCALE = 0.1


def _to_scale(name: str, value: float) -> float:
    return math.log1p(max(value, 0.0)) if is_heavy_tailed(name) else value


def _from_scale(name: str, value: float) -> float:
    return math.expm1(value) if is_heavy_tailed(name) else value


def is_context_feature(name: str) -> bool:
    """Return True for context features (time of day, day of week) that are never anomalous themselves.

    >>> is_context_feature("time.hour_sin"), is_context_feature("host.cpu.total_pct.mean")
    (True, False)
    """
    return name.startswith("time.")


class _Rolling:
    """The last ``size`` values of one feature, kept sorted for the median and MAD."""

    __slots__ = ("_order", "_sorted", "_usual", "days", "last_ts")

    def __init__(self, size: int) -> None:
        self._order: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []
        self._usual: tuple[float, float] | None = None
        self.days: set[int] = set()
        self.last_ts = -math.inf

    def __len__(self) -> int:
        return len(self._sorted)

    def add(self, value: float) -> None:
        if len(self._order) == self._order.maxlen:
            oldest = self._order[0]
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._order.append(value)
        bisect.insort(self._sorted, value)
        self._usual = None

    def usual(self, min_scale: float) -> tuple[float, float]:
        """Return (median, scale); the scale never reaches 0."""
        if self._usual is None:
            values = self._sorted
            n = len(values)
            median = 0.5 * (values[(n - 1) // 2] + values[n // 2])
            deviations = sorted(abs(v - median) for v in values)
            mad = 0.5 * (deviations[(n - 1) // 2] + deviations[n // 2])
            spread = values[-1] - values[0]
            if mad > 0:
                scale = _MAD_TO_SIGMA * mad
            else:
                # Mostly one value with rare others (an error count that is usually 0).
                scale = _MEAN_AD_TO_SIGMA * sum(deviations) / n
            # A change of under 5 % of the usual level, or under min_scale, is
            # never very surprising: this also covers a constant feature.
            self._usual = (median, max(scale, 0.05 * abs(median), min_scale, 0.01 * spread, 1e-12))
        return self._usual

    def to_state(self) -> dict[str, Any]:
        return {"values": list(self._order), "days": sorted(self.days)}


class RobustBaseline:
    """Per-feature rolling median and MAD over the last ``size`` normal windows.

    Byte counts and rates are compared as ``log1p(value)`` with a scale of
    at least ``log_min_scale`` (3.0 is a factor of about 20); medians are
    reported in the feature's own unit. A feature gets no z-score until it
    has ``min_history`` values, because a median and MAD of a handful of
    windows make any ordinary value look extreme.

    Args:
        size: windows of recent history per feature.
        min_scale: the scale of a feature that never moved (in its own unit),
            unless 5 % of its median is larger.
        min_history: values a feature needs before it gets a z-score.
        log_min_scale: the smallest scale of a byte feature, on the log scale.
        seasonal_size: values kept per feature and hour of day, at most one
            per two minutes (150 is five days); 0 turns the profile off.
        min_days: distinct days an hour must have been seen on before its
            profile counts.

    >>> base = RobustBaseline(size=10)
    >>> for v in (10, 11, 9, 10, 10, 11, 9):
    ...     base.learn_one({"cpu": float(v)})
    >>> round(base.zscores({"cpu": 40.0})["cpu"], 1)
    20.2
    """

    def __init__(
        self,
        size: int = 360,
        min_scale: float = 0.5,
        seasonal_size: int = 150,
        min_days: int = 3,
        min_history: int = 5,
        log_min_scale: float = 3.0,
    ) -> None:
        self.size = size
        self.min_scale = min_scale
        self.min_history = min_history
        self.log_min_scale = log_min_scale
        self.seasonal_size = seasonal_size
        self.min_days = min_days
        self._history: dict[str, _Rolling] = {}
        self._hourly: dict[tuple[str, int], _Rolling] = {}

    def learn_one(self, features: dict[str, float], ts: float | None = None, *, is_recent: bool = True) -> None:
        """Add one window's features.

        Args:
            features: the window's feature vector.
            ts: the window's start on the local wall clock (seconds); it
                feeds the hourly profile.
            is_recent: False adds the window to the hourly profile only. An
                anomalous window goes there, so that what recurs at the same
                hour on most days becomes usual for that hour, while a
                one-off stays a minority that the median ignores.
        """
        for name, value in features.items():
            if not math.isfinite(value) or is_context_feature(name):
                continue
            value = _to_scale(name, value)
            if is_recent:
                history = self._history.get(name)
                if history is None:
                    history = self._history[name] = _Rolling(self.size)
                history.add(value)
            if ts is not None and self.seasonal_size > 0:
                hour = int(ts % _SECONDS_PER_DAY // _SECONDS_PER_HOUR)
                bucket = self._hourly.get((name, hour))
                if bucket is None:
                    bucket = self._hourly[(name, hour)] = _Rolling(self.seasonal_size)
                if ts - bucket.last_ts >= _SEASONAL_STRIDE_S:
                    bucket.add(value)
                    bucket.last_ts = ts
                    bucket.days.add(int(ts // _SECONDS_PER_DAY))

    def forget_recent(self) -> None:
        """Drop the recent history of every feature, keeping the hourly profile.

        Used when a lasting change becomes the new normal: the windows of
        the change are then learned into an empty history, so the old level
        no longer outvotes them.
        """
        self._history.clear()

    def usual(self, name: str) -> tuple[float, float] | None:
        """Return (median, scale) of a feature's recent history on its comparison scale, or None without enough history."""
        history = self._history.get(name)
        if history is None or len(history) < self.min_history:
            return None
        return self._usual_of(name, history)

    def _usual_of(self, name: str, rolling: _Rolling) -> tuple[float, float]:
        if is_heavy_tailed(name):
            median, scale = rolling.usual(self.log_min_scale)
            return median, max(scale, self.log_min_scale)
        if is_availability(name):
            return rolling.usual(_AVAILABILITY_MIN_SCALE)
        return rolling.usual(self.min_scale)

    def zscores(self, features: dict[str, float], ts: float | None = None) -> dict[str, float]:
        """Return the robust z-score of each finite, non-context feature that has history.

        With ``ts``, a feature's z-score is the smaller (in magnitude) of its
        deviation from recent windows and from the same hour on earlier days.
        """
        hour = int(ts % _SECONDS_PER_DAY // _SECONDS_PER_HOUR) if ts is not None else -1
        scores: dict[str, float] = {}
        for name, value in features.items():
            history = self._history.get(name)
            if history is None or len(history) < self.min_history or not math.isfinite(value):
                continue
            value = _to_scale(name, value)
            median, scale = self._usual_of(name, history)
            z = (value - median) / scale
            bucket = self._hourly.get((name, hour)) if hour >= 0 else None
            if bucket is not None and len(bucket.days) >= self.min_days:
                b_median, b_scale = self._usual_of(name, bucket)
                seasonal_z = (value - b_median) / b_scale
                if abs(seasonal_z) < abs(z):
                    z = seasonal_z
            scores[name] = z
        return scores

    def top(self, features: dict[str, float], k: int = 5, ts: float | None = None) -> list[dict[str, Any]]:
        """Return the ``k`` features with the largest absolute robust z-score.

        Each item is ``{"name", "value", "median", "z"}``.
        """
        ranked = sorted(self.zscores(features, ts).items(), key=lambda item: abs(item[1]), reverse=True)
        top = []
        for name, z in ranked[:k]:
            usual = self.usual(name)
            median = _from_scale(name, usual[0]) if usual else float("nan")
            top.append({"name": name, "value": features[name], "median": median, "z": round(z, 2)})
        return top

    def to_state(self) -> dict[str, Any]:
        """Return the baseline as JSON-ready data."""
        return {
            "params": [self.size, self.min_scale, self.seasonal_size, self.min_days, self.min_history, self.log_min_scale],
            "history": {name: r.to_state() for name, r in self._history.items()},
            "hourly": [[name, hour, r.to_state()] for (name, hour), r in self._hourly.items()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RobustBaseline:
        """Rebuild a baseline from ``to_state`` data."""
        size, min_scale, seasonal_size, min_days, min_history, log_min_scale = state["params"]
        base = cls(int(size), float(min_scale), int(seasonal_size), int(min_days), int(min_history), float(log_min_scale))
        for name, saved in state["history"].items():
            rolling = base._history[name] = _Rolling(base.size)
            for value in saved["values"]:
                rolling.add(float(value))
        for name, hour, saved in state["hourly"]:
            rolling = base._hourly[(name, int(hour))] = _Rolling(base.seasonal_size)
            for value in saved["values"]:
                rolling.add(float(value))
            rolling.days = {int(d) for d in saved["days"]}
        return base


class RobustModel:
    """A detector whose raw score is the largest absolute robust z-score of a window.

    Raw scores are 0 or more (higher is more anomalous) and 0 before any
    history. Context features (``time.*``) are ignored.
    """

    version = "robust-1"

    def __init__(self, baseline: RobustBaseline | None = None) -> None:
        self.baseline = baseline or RobustBaseline()

    def learn_one(self, x: dict[str, float], ts: float | None = None) -> None:
        """Learn one window as normal."""
        self.baseline.learn_one(x, ts)

    def score_one(self, x: dict[str, float], ts: float | None = None) -> float:
        """Return the largest absolute robust z-score of the window."""
        return max((abs(z) for z in self.baseline.zscores(x, ts).values()), default=0.0)
