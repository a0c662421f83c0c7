"""Context features (time of day, day of week) and the kind of an anomaly.

Context features let multivariate models learn daily and weekly patterns:
high CPU at 03:00 can be normal when a nightly job runs then. They are
never anomalous by themselves (``is_context_feature``).

The kind of an anomaly follows the features that deviate most:
*functional* when errors, failures, status codes or new templates lead,
*behavioural* when the mix of requests or log templates shifts, and
*performance* otherwise (resources and latency).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["KINDS", "anomaly_kind", "time_features"]

KINDS = ("performance", "functional", "behavioural")

_SECONDS_PER_DAY = 86400.0
_SECONDS_PER_WEEK = 7 * _SECONDS_PER_DAY
# 1970-01-01 was a Thursday; shift so that the week phase starts on Monday.
_EPOCH_WEEKDAY_S = 3 * _SECONDS_PER_DAY

_FUNCTIONAL_RE = re.compile(r"error|fail|exception|fatal|crit|status_[45]xx|status_code|(^|[._])up([._]|$)|new_template")
_BEHAVIOURAL_RE = re.compile(r"template|(^|[._])lines([._]|$)|level_(warn|info|debug)|messages|share|mix|ratio|entropy")


def time_features(wall_ts: float) -> dict[str, float]:
    """Return sin/cos of the time of day and of the day of week.

    Args:
        wall_ts: seconds since 1970-01-01 on the wall clock of the zone
            whose daily pattern matters (Unix time plus the UTC offset).

    >>> {k: round(v, 3) for k, v in time_features(6 * 3600.0).items()}
    {'time.day_sin': 1.0, 'time.day_cos': -0.0, 'time.week_sin': 0.223, 'time.week_cos': -0.975}
    """
    day = 2 * math.pi * (wall_ts % _SECONDS_PER_DAY) / _SECONDS_PER_DAY
    week = 2 * math.pi * ((wall_ts + _EPOCH_WEEKDAY_S) % _SECONDS_PER_WEEK) / _SECONDS_PER_WEEK
    return {
        "time.day_sin": math.sin(day),
        "time.day_cos": math.cos(day),
        "time.week_sin": math.sin(week),
        "time.week_cos": math.cos(week),
    }


def _kind_of(name: str) -> str:
    lowered = name.lower()
    if _FUNCTIONAL_RE.search(lowered):
        return "functional"
    if _BEHAVIOURAL_RE.search(lowered):
        return "behavioural"
    return "performance"


def anomaly_kind(top_features: list[dict[str, Any]], k: int = 3) -> str:
    """Return the kind of an anomaly from its top features (``name`` and robust ``z``).

    The ``k`` leading features vote with their absolute z-score.

    >>> anomaly_kind([{"name": "log.app.level_error", "z": 12.0}, {"name": "host.cpu.total_pct.mean", "z": 3.0}])
    'functional'
    >>> anomaly_kind([{"name": "host.cpu.total_pct.mean", "z": 9.0}])
    'performance'
    >>> anomaly_kind([{"name": "log.app.lines", "z": 8.0}, {"name": "http.api.up.mean", "z": -5.0}])
    'behavioural'
    >>> anomaly_kind([])
    'performance'
    """
    votes = dict.fromkeys(KINDS, 0.0)
    for feature in top_features[:k]:
        weight = abs(float(feature.get("z", 0.0)))
        votes[_kind_of(str(feature["name"]))] += weight if math.isfinite(weight) else 0.0
    best = max(KINDS, key=lambda kind: votes[kind])
    return best if votes[best] > 0 else "performance"
