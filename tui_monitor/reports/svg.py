"""Small inline SVG charts for HTML reports: no JavaScript, no plotting library.

Both charts share a time axis from ``start_ts`` to ``end_ts`` (Unix seconds)
and draw annotations as dashed vertical lines whose ``<title>`` contains the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

__all__ = ["bar_chart_svg", "line_chart_svg"]

_WIDTH = 720
_HEIGHT = 200
_LEFT = 40
_BOTTOM = 24
_TOP = 10


def _x(ts: float, start_ts: float, end_ts: float) -> float:
    span = (end_ts - start_ts) or 1.0
    return _LEFT + (_WIDTH - _LEFT - 10) * (ts - start_ts) / span


def _y(value: float, maximum: float) -> float:
    plot_height = _HEIGHT - _TOP - _BOTTOM
    return _TOP + plot_height * (1.0 - value / (maximum or 1.0))


def _frame(title: str, maximum: float, start_ts: float, end_ts: float, value_format: str) -> list[str]:
    base = _HEIGHT - _BOTTOM
    date_format = "%m-%d %H:%M" if end_ts - start_ts <= 2 * 86400 else "%Y-%m-%d"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{_LEFT}" y1="{base}" x2="{_WIDTH - 10}" y2="{base}" stroke="#888"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{base}" stroke="#888"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 10}" text-anchor="end" font-size="10">{value_format.format(maximum)}</text>',
        f'<text x="{_LEFT - 4}" y="{base}" text-anchor="end" font-size="10">0</text>',
        f'<text x="{_LEFT}" y="{_HEIGHT - 6}" font-size="10">{datetime.fromtimestamp(start_ts):{date_format}}</text>',
        f'<text x="{_WIDTH - 10}" y="{_HEIGHT - 6}" text-anchor="end" font-size="10">'
        f"{datetime.fromtimestamp(end_ts):{date_format}}</text>",
    ]


def _markers(markers: Sequence[tuple[float, str]], start_ts: float, end_ts: float) -> list[str]:
    parts = []
    for ts, text in markers:
        x = _x(ts, start_ts, end_ts)
        parts.append(
            f'<g class="annotation"><title>{escape(text)}</title>'
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_HEIGHT - _BOTTOM}" '
            'stroke="#c60" stroke-dasharray="4 3"/></g>'
        )
    return parts


def bar_chart_svg(
    title: str,
    buckets: list[tuple[float, int]],
    bucket_s: float,
    start_ts: float,
    end_ts: float,
    markers: Sequence[tuple[float, str]] = (),
) -> str:
    """Draw one bar per bucket (``(bucket start, count)``); each bar's tooltip gives its count."""
    maximum = float(max((count for _, count in buckets), default=0) or 1)
    chart_start = min([start_ts, *(b for b, _ in buckets)])
    parts = _frame(title, maximum, chart_start, end_ts, "{:.0f}")
    base = _HEIGHT - _BOTTOM
    for bucket, count in buckets:
        x0 = _x(bucket, chart_start, end_ts)
        x1 = _x(min(bucket + bucket_s, end_ts), chart_start, end_ts)
        y = _y(count, maximum)
        label = f"{datetime.fromtimestamp(bucket):%Y-%m-%d %H:%M}: {count}"
        parts.append(
            f'<rect class="bar" x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
            f'height="{base - y:.1f}" fill="#3a6ea5"><title>{escape(label)}</title></rect>'
        )
    parts += _markers(markers, chart_start, end_ts)
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart_svg(
    title: str,
    points: list[tuple[float, float]],
    start_ts: float,
    end_ts: float,
    *,
    maximum: float | None = None,
    markers: Sequence[tuple[float, str]] = (),
) -> str:
    """Draw a polyline through ``(ts, value)`` points, the y axis from 0 to ``maximum``."""
    top = maximum if maximum is not None else max((v for _, v in points), default=1.0) or 1.0
    parts = _frame(title, top, start_ts, end_ts, "{:.2g}")
    coordinates = " ".join(f"{_x(ts, start_ts, end_ts):.1f},{_y(min(v, top), top):.1f}" for ts, v in points)
    if points:
        parts.append(f'<polyline class="series" points="{coordinates}" fill="none" stroke="#a33" stroke-width="1.5"/>')
    parts += _markers(markers, start_ts, end_ts)
    parts.append("</svg>")
    return "\n".join(parts)
