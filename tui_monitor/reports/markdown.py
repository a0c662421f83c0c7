"""Render a report as Markdown, with text charts."""

from __future__ import annotations

from datetime import datetime

from tui_monitor.reports.data import ReportData
from tui_monitor.retention import format_bytes

__all__ = ["bar", "render_markdown", "sparkline"]

_BAR_WIDTH = 30
_SPARKS = "▁▂▃▄▅▆▇█"


def bar(value: float, maximum: float, width: int = _BAR_WIDTH) -> str:
    """Return a bar of block characters proportional to ``value / maximum``.

    >>> bar(5, 10, width=10)
    '█████'
    >>> bar(0, 0)
    ''
    """
    if maximum <= 0 or value <= 0:
        return ""
    return "█" * max(1, round(width * value / maximum))


def sparkline(values: list[float], low: float = 0.0, high: float = 1.0) -> str:
    """Return one character per value between ``low`` and ``high``.

    >>> sparkline([0.0, 0.5, 1.0])
    '▁▅█'
    """
    span = (high - low) or 1.0
    chars = []
    for value in values:
        level = min(max((value - low) / span, 0.0), 1.0)
        chars.append(_SPARKS[round(level * (len(_SPARKS) - 1))])
    return "".join(chars)


def _when(ts: float, bucket_s: float = 0.0) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d" if bucket_s >= 86400 else "%Y-%m-%d %H:%M")


def _count_table(title: str, rows: list[tuple[str, int]], total: int) -> list[str]:
    lines = [f"### {title}", ""]
    if not rows:
        return [*lines, "No events.", ""]
    lines += [f"| {title.split()[-1]} | events | share |", "|---|---:|---:|"]
    lines += [f"| {key} | {count} | {100 * count / total:.0f} % |" for key, count in rows]
    return [*lines, ""]


def render_markdown(data: ReportData) -> str:
    """Return the whole report as a Markdown document."""
    lines = [
        f"# tui-monitor report: {_when(data.start_ts)} to {_when(data.end_ts)}",
        "",
        f"Database `{data.db_path}` ({format_bytes(data.db_size_bytes)}): "
        f"{data.event_count} anomaly events over {data.window_count} stored windows.",
        "",
        "## Events",
        "",
        *_count_table("By kind", data.by_kind, data.event_count),
        *_count_table("By severity", data.by_severity, data.event_count),
        *_count_table("By stream", data.by_stream[:10], data.event_count),
        "## Top features",
        "",
    ]
    if data.top_features:
        lines += ["Features most often among an event's first three reasons:", ""]
        lines += [f"1. `{name}`: {count} event{'' if count == 1 else 's'}" for name, count in data.top_features]
    else:
        lines.append("No events, so no features to rank.")
    lines += ["", *_labels_section(data), *_notifications_section(data), *_trend_section(data), *_annotations_section(data)]
    return "\n".join(lines).rstrip() + "\n"


def _labels_section(data: ReportData) -> list[str]:
    lines = ["## Labels and precision", ""]
    labels = data.labels
    if labels is None:
        return [*lines, "This database has no labels table yet, so precision cannot be computed.", ""]
    lines += [f"- {value}: {count}" for value, count in labels.counts.items()]
    lines.append(f"- unlabelled: {labels.unlabelled}")
    precision = "n/a (no confirmed or false-positive labels)" if labels.precision is None else f"{labels.precision:.2f}"
    return [*lines, "", f"Precision (confirmed / (confirmed + false positives)): {precision}", ""]


def _notifications_section(data: ReportData) -> list[str]:
    lines = ["## Notifications", ""]
    if data.notifications is None:
        return [*lines, "This database records no notifications.", ""]
    return [*lines, f"Sent: {data.notifications.sent}. Failed: {data.notifications.failed}.", ""]


def _trend_section(data: ReportData) -> list[str]:
    unit = "day" if data.bucket_s >= 86400 else "hour"
    peak = max((count for _, count in data.events_trend), default=0)
    lines = [f"## Trend per {unit}", "", "```"]
    marks = _annotation_marks(data)
    for start, count in data.events_trend:
        note = f"  ◆ {marks[start]}" if start in marks else ""
        lines.append(f"{_when(start, data.bucket_s):16}  {count:4d} {bar(count, peak)}{note}")
    lines += ["```", ""]
    if data.score_trend:
        lines += [
            f"Maximum window score per {unit} (0 to 1): `{sparkline([peak for _, _, peak in data.score_trend])}`",
            "",
        ]
    return lines


def _annotation_marks(data: ReportData) -> dict[float, str]:
    marks: dict[float, str] = {}
    for annotation in data.annotations:
        start = data.events_trend[0][0] if data.events_trend else 0.0
        bucket = start + ((annotation.ts - start) // data.bucket_s) * data.bucket_s
        marks[bucket] = f"{marks[bucket]}; {annotation.text}" if bucket in marks else annotation.text
    return marks


def _annotations_section(data: ReportData) -> list[str]:
    lines = ["## Annotations", ""]
    if not data.annotations:
        return [*lines, "None in this period.", ""]
    lines += [f"- {_when(a.ts)} {a.user}: {a.text}" for a in data.annotations]
    return [*lines, ""]
