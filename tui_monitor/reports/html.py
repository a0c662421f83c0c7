"""Render a report as one self-contained HTML page with inline SVG charts."""

from __future__ import annotations

from datetime import datetime
from html import escape

from tui_monitor.reports.data import ReportData
from tui_monitor.reports.svg import bar_chart_svg, line_chart_svg
from tui_monitor.retention import format_bytes

__all__ = ["render_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 760px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; }
td.n { text-align: right; }
svg { display: block; margin: 0.5em 0 1.5em; }
"""


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _count_table(title: str, rows: list[tuple[str, int]], total: int) -> str:
    if not rows:
        return f"<h3>{escape(title)}</h3><p>No events.</p>"
    body = "".join(
        f"<tr><td>{escape(key)}</td><td class='n'>{count}</td><td class='n'>{100 * count / total:.0f} %</td></tr>"
        for key, count in rows
    )
    return f"<h3>{escape(title)}</h3><table><tr><th></th><th>events</th><th>share</th></tr>{body}</table>"


def render_html(data: ReportData) -> str:
    """Return the whole report as an HTML document; charts are ``<svg>`` elements."""
    title = f"tui-monitor report: {_when(data.start_ts)} to {_when(data.end_ts)}"
    markers = [(a.ts, f"{a.user}: {a.text}") for a in data.annotations]
    unit = "day" if data.bucket_s >= 86400 else "hour"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{_STYLE}</style></head><body>',
        f"<h1>{escape(title)}</h1>",
        f"<p>Database <code>{escape(str(data.db_path))}</code> ({format_bytes(data.db_size_bytes)}): "
        f"{data.event_count} anomaly events over {data.window_count} stored windows.</p>",
        "<h2>Events</h2>",
        _count_table("By kind", data.by_kind, data.event_count),
        _count_table("By severity", data.by_severity, data.event_count),
        _count_table("By stream", data.by_stream[:10], data.event_count),
        "<h2>Top features</h2>",
        _top_features(data),
        "<h2>Labels and precision</h2>",
        _labels(data),
        "<h2>Notifications</h2>",
        _notifications(data),
        f"<h2>Trend per {unit}</h2>",
        bar_chart_svg(f"Anomaly events per {unit}", data.events_trend, data.bucket_s, data.start_ts, data.end_ts, markers),
        line_chart_svg(
            f"Maximum window score per {unit}",
            [(start + data.bucket_s / 2, peak) for start, _, peak in data.score_trend],
            data.start_ts,
            data.end_ts,
            maximum=1.0,
            markers=markers,
        ),
        "<h2>Annotations</h2>",
        _annotations(data),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _top_features(data: ReportData) -> str:
    if not data.top_features:
        return "<p>No events, so no features to rank.</p>"
    items = "".join(f"<li><code>{escape(name)}</code>: {count} events</li>" for name, count in data.top_features)
    return f"<p>Features most often among an event's first three reasons:</p><ol>{items}</ol>"


def _labels(data: ReportData) -> str:
    labels = data.labels
    if labels is None:
        return "<p>This database has no labels table yet, so precision cannot be computed.</p>"
    rows = [(value, count) for value, count in labels.counts.items()] + [("unlabelled", labels.unlabelled)]
    items = "".join(f"<li>{escape(value)}: {count}</li>" for value, count in rows)
    precision = "n/a (no confirmed or false-positive labels)" if labels.precision is None else f"{labels.precision:.2f}"
    return f"<ul>{items}</ul><p>Precision (confirmed / (confirmed + false positives)): {precision}</p>"


def _notifications(data: ReportData) -> str:
    if data.notifications is None:
        return "<p>This database records no notifications.</p>"
    return f"<p>Sent: {data.notifications.sent}. Failed: {data.notifications.failed}.</p>"


def _annotations(data: ReportData) -> str:
    if not data.annotations:
        return "<p>None in this period.</p>"
    items = "".join(f"<li>{_when(a.ts)} {escape(a.user)}: {escape(a.text)}</li>" for a in data.annotations)
    return f"<ul>{items}</ul>"
