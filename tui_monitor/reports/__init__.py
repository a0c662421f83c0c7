"""Reports: a period of the feature store summarised in Markdown or HTML.

Rendering reads the store on its own read-only connection, so it can run in
a worker thread (the UI does) while the engine writes.
"""

from __future__ import annotations

from pathlib import Path

from tui_monitor.errors import ConfigError
from tui_monitor.reports.data import ReportData, collect_report
from tui_monitor.reports.html import render_html
from tui_monitor.reports.markdown import render_markdown
from tui_monitor.store import FeatureStore

__all__ = ["FORMATS", "ReportData", "collect_report", "render_html", "render_markdown", "render_report"]

FORMATS = ("md", "html")


def render_report(db_path: Path, *, since_s: float, fmt: str = "md", now: float | None = None) -> str:
    """Render the report of the last ``since_s`` seconds of the store at ``db_path``.

    Raises:
        ConfigError: ``fmt`` is not ``md`` or ``html``.
        StoreError: the database does not exist or cannot be read.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"invalid report format {fmt!r}: expected md or html")
    store = FeatureStore(db_path, readonly=True)
    try:
        data = collect_report(store.db.conn, store.path, since_s=since_s, now=now)
    finally:
        store.close()
    return render_html(data) if fmt == "html" else render_markdown(data)
