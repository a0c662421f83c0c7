"""The explanation of one anomaly event: SHAP attributions and usual ranges.

An attribution is in the units of the explained model output. Its sign is
fixed for every model: positive means the feature pushed the window towards
anomalous, negative means it pulled the window towards normal. The sum of
all attributions equals ``output - expected_value`` (SHAP additivity).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Attribution", "Explanation", "UsualRange"]


@dataclass(frozen=True)
class UsualRange:
    """The usual values of one feature over the recent normal history.

    ``count`` is the number of normal windows the figures come from; with
    ``count == 0`` every figure is NaN.
    """

    median: float
    p5: float
    p95: float
    count: int

    def contains(self, value: float) -> bool:
        """Return whether ``value`` lies within p5..p95 (False without history).

        >>> UsualRange(3.2, 1.0, 6.5, 100).contains(97.1)
        False
        """
        return self.count > 0 and self.p5 <= value <= self.p95


@dataclass(frozen=True)
class Attribution:
    """One feature's share of the anomaly score, with its value and usual range.

    ``shap`` is in the units of the explained output; positive pushes
    towards anomalous.
    """

    name: str
    value: float
    shap: float
    usual: UsualRange

    def to_json(self) -> dict[str, Any]:
        """Return the attribution as a JSON-ready dict (NaN becomes None)."""
        return {
            "name": self.name,
            "value": _finite_or_none(self.value),
            "shap": _finite_or_none(self.shap),
            "median": _finite_or_none(self.usual.median),
            "p5": _finite_or_none(self.usual.p5),
            "p95": _finite_or_none(self.usual.p95),
            "count": self.usual.count,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attribution:
        """Build an attribution from ``to_json`` output."""
        usual = UsualRange(
            median=_float_or_nan(data.get("median")),
            p5=_float_or_nan(data.get("p5")),
            p95=_float_or_nan(data.get("p95")),
            count=int(data.get("count") or 0),
        )
        return cls(str(data["name"]), _float_or_nan(data.get("value")), _float_or_nan(data.get("shap")), usual)


@dataclass
class Explanation:
    """SHAP attributions of one event's window, largest absolute value first.

    Attributes:
        event_id: the id of the explained event in the store.
        stream: the stream of the event.
        method: ``tree`` (exact TreeExplainer) or ``kernel`` / ``permutation``
            (model-agnostic estimates).
        model_version: the version of the explained model.
        expected_value: the mean model output over the background, in the
            same anomaly-positive units as ``output``.
        output: the model output for the window; higher is more anomalous.
        attributions: one per feature, sorted by absolute ``shap``, largest first.
        history_windows: how many recent normal windows the background and the
            usual ranges come from.
        elapsed_ms: wall time spent computing, in milliseconds.
        created_at: Unix time in seconds.
    """

    event_id: int
    stream: str
    method: str
    model_version: str
    expected_value: float
    output: float
    attributions: list[Attribution]
    history_windows: int = 0
    elapsed_ms: float = 0.0
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.attributions = sorted(self.attributions, key=lambda a: abs(a.shap), reverse=True)

    @property
    def additivity_gap(self) -> float:
        """Return ``sum(shap) - (output - expected_value)``, which SHAP keeps near 0."""
        return math.fsum(a.shap for a in self.attributions) - (self.output - self.expected_value)

    def top(self, k: int = 3, *, is_positive_only: bool = True) -> list[Attribution]:
        """Return the ``k`` largest attributions, only those pushing towards anomalous by default."""
        chosen = [a for a in self.attributions if a.shap > 0 or not is_positive_only]
        return chosen[:k]

    def to_row(self) -> dict[str, Any]:
        """Return the explanation as a row of the store's ``explanations`` table."""
        return {
            "event_id": self.event_id,
            "stream": self.stream,
            "method": self.method,
            "model_version": self.model_version,
            "expected_value": self.expected_value,
            "output": self.output,
            "attributions": json.dumps([a.to_json() for a in self.attributions]),
            "history_windows": self.history_windows,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "created_at": self.created_at,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Explanation:
        """Build an explanation from a row of the ``explanations`` table."""
        return cls(
            event_id=int(row["event_id"]),
            stream=row["stream"],
            method=row["method"],
            model_version=row["model_version"] or "",
            expected_value=float(row["expected_value"]),
            output=float(row["output"]),
            attributions=[Attribution.from_json(item) for item in json.loads(row["attributions"] or "[]")],
            history_windows=int(row["history_windows"] or 0),
            elapsed_ms=float(row["elapsed_ms"] or 0.0),
            created_at=float(row["created_at"]),
        )


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _float_or_nan(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan
