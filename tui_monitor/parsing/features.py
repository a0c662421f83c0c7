"""Per-window features of one log stream.

Names are ``<stream>.<metric>``, for stream ``log.app``:

- ``log.app.lines`` physical lines, ``log.app.records`` events after joining;
- ``log.app.level_error``, ``.level_warn``, ``.level_info``, ``.level_debug``
  and ``log.app.error_ratio`` (error records / records, 0 when none);
- ``log.app.new_templates``: templates first seen in the window, after warm-up;
- ``log.app.template.t<id>``: records of each of the most frequent templates
  (a bounded set, ranked by a decaying count so names stay stable) and
  ``log.app.template.other`` for the rest;
- for access logs: ``requests``, ``status_4xx_ratio``, ``status_5xx_ratio``,
  ``bytes`` and, when lines carry a request time, ``latency_ms.p50``,
  ``latency_ms.p95`` and ``latency_ms.max``.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from typing import Any

from tui_monitor.parsing.records import LEVELS, LogRecord

__all__ = ["LogWindowFeatures", "percentile"]

# Templates first seen in one window that are kept by id for the
# "new template" event; the feature counts all of them.
_MAX_NEW_IDS = 20
# Each closed window multiplies the template ranking counts by this, so a
# template frequent an hour ago gives way to one frequent now.
_RANK_DECAY = 0.98


def percentile(sorted_values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of sorted values, interpolating linearly.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.5
    >>> percentile([7.0], 0.95)
    7.0
    """
    if not sorted_values:
        return math.nan
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


class LogWindowFeatures:
    """Count one stream's records and turn each window into named features.

    Args:
        stream: the stream name, such as ``log.app``.
        top_templates: how many templates get their own feature.
    """

    def __init__(self, stream: str, top_templates: int = 20) -> None:
        self.stream = stream
        self.top_templates = top_templates
        self._rank: dict[int, float] = {}
        self._has_access = False
        self.new_template_ids: list[int] = []
        """Ids of the templates first seen in the window ``collect`` closed last (at most 20)."""
        self.template_counts: dict[int, int] = {}
        """Records of each of those templates in that window."""
        self._reset()

    def _reset(self) -> None:
        self._lines = 0
        self._levels: Counter[str] = Counter()
        self._records = 0
        self._new_templates = 0
        self._new_ids: list[int] = []
        self._templates: Counter[int] = Counter()
        self._requests = 0
        self._status_4xx = 0
        self._status_5xx = 0
        self._bytes = 0
        self._latencies_ms: list[float] = []

    def add(self, record: LogRecord) -> None:
        """Count one record in the open window."""
        access = record.fields if record.format == "access" else None
        self.count(record.level, record.template_id, record.is_new_template, record.line_count, access)

    def count(
        self,
        level: str | None,
        template_id: int | None,
        is_new_template: bool,
        lines: int,
        access_fields: dict[str, Any] | None = None,
    ) -> None:
        """Count one record given by its parts: ``access_fields`` are an access-log record's fields."""
        self._records += 1
        self._lines += lines
        if level is not None:
            self._levels[level] += 1
        if template_id is not None:
            self._templates[template_id] += 1
            self._rank[template_id] = self._rank.get(template_id, 0.0) + 1.0
        if is_new_template:
            self._new_templates += 1
            if template_id is not None and len(self._new_ids) < _MAX_NEW_IDS:
                self._new_ids.append(template_id)
        if access_fields is not None:
            status = access_fields.get("status")
            if isinstance(status, int):
                self._count_request(access_fields, status)

    def _count_request(self, fields: dict[str, Any], status: int) -> None:
        self._has_access = True
        self._requests += 1
        if 400 <= status < 500:
            self._status_4xx += 1
        elif status >= 500:
            self._status_5xx += 1
        self._bytes += int(fields.get("bytes", 0))
        latency_ms = fields.get("request_time_ms")
        if latency_ms is not None:
            self._latencies_ms.append(float(latency_ms))

    def collect(self) -> dict[str, float]:
        """Return the open window's features and start a new window."""
        prefix = self.stream + "."
        features: dict[str, float] = {
            prefix + "lines": float(self._lines),
            prefix + "records": float(self._records),
        }
        for level in LEVELS:
            features[f"{prefix}level_{level}"] = float(self._levels[level])
        features[prefix + "error_ratio"] = self._levels["error"] / self._records if self._records else 0.0
        features[prefix + "new_templates"] = float(self._new_templates)
        features.update(self._template_features(prefix))
        if self._has_access:
            features.update(self._access_features(prefix))

        for template_id in list(self._rank):
            self._rank[template_id] *= _RANK_DECAY
            if self._rank[template_id] < 0.01:
                del self._rank[template_id]
        self.new_template_ids = self._new_ids
        self.template_counts = {template_id: self._templates[template_id] for template_id in self._new_ids}
        self._reset()
        return features

    def _template_features(self, prefix: str) -> dict[str, float]:
        top = heapq.nlargest(self.top_templates, self._rank.items(), key=lambda item: (item[1], -item[0]))
        tracked = {template_id for template_id, _ in top}
        features = {f"{prefix}template.t{template_id}": float(self._templates[template_id]) for template_id in sorted(tracked)}
        other = sum(count for template_id, count in self._templates.items() if template_id not in tracked)
        features[prefix + "template.other"] = float(other)
        return features

    def _access_features(self, prefix: str) -> dict[str, float]:
        requests = self._requests
        features = {
            prefix + "requests": float(requests),
            prefix + "status_4xx_ratio": self._status_4xx / requests if requests else 0.0,
            prefix + "status_5xx_ratio": self._status_5xx / requests if requests else 0.0,
            prefix + "bytes": float(self._bytes),
        }
        if self._latencies_ms:
            latencies = sorted(self._latencies_ms)
            features[prefix + "latency_ms.p50"] = percentile(latencies, 0.5)
            features[prefix + "latency_ms.p95"] = percentile(latencies, 0.95)
            features[prefix + "latency_ms.max"] = latencies[-1]
        return features
