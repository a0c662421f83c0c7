"""The log pane: the recent stored lines of one log stream, coloured by level, with templates.

``LogScreen`` reads lines in a worker thread on its own read-only
connection, so the screen never waits on the engine's writes. Each line is
stored with the level and template id the engine's log pipeline found when
it read the line. The template's current text comes from the engine's
miner on the event loop (a template widens as it learns), or, in an
attached UI without miners, from the store's ``templates`` table as of the
engine's last save.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from tui_monitor.errors import StoreError
from tui_monitor.sources.logfile import detect_level
from tui_monitor.store import FeatureStore

if TYPE_CHECKING:
    from tui_monitor.engine import Engine

__all__ = ["LEVEL_FILTERS", "LogLine", "LogScreen", "filter_lines", "load_log_lines", "scroll_diff"]

logger = logging.getLogger(__name__)

# Lines shown at most, and lines read per load so that a filter still finds
# matches older than the shown ones.
SHOWN_LINES = 500
READ_LINES = 5000
REFRESH_S = 2.0
# Lowest level each filter keeps; a line without a level counts as info.
LEVEL_FILTERS = {"all": "debug", "warn": "warn", "error": "error"}
_RANK = {"debug": 0, "info": 1, "warn": 2, "error": 3}
_STYLE = {"error": "red", "warn": "yellow", "debug": "dim"}


@dataclass(frozen=True)
class LogLine:
    """One stored log line: its row id, read time (Unix seconds), text, level (or None) and template id (or None)."""

    id: int
    ts: float
    line: str
    level: str | None
    template_id: int | None = None


def filter_lines(lines: Iterable[LogLine], text: str = "", level: str = "all", limit: int = SHOWN_LINES) -> list[LogLine]:
    """Return the last ``limit`` lines that contain ``text`` (any case) at ``level`` or above.

    Args:
        lines: lines oldest first.
        text: substring to look for; empty keeps every line.
        level: a key of ``LEVEL_FILTERS``: ``all``, ``warn`` (warnings and errors) or ``error``.
        limit: lines kept at most, the newest.

    >>> rows = [LogLine(1, 0.0, "INFO up", "info"), LogLine(2, 1.0, "ERROR Disk full", "error")]
    >>> [row.id for row in filter_lines(rows, text="disk")]
    [2]
    >>> [row.id for row in filter_lines(rows, level="warn")]
    [2]
    >>> [row.id for row in filter_lines(rows, limit=1)]
    [2]
    """
    needle = text.casefold()
    floor = _RANK[LEVEL_FILTERS[level]]
    matching = [
        row
        for row in lines
        if _RANK.get(row.level or "info", 1) >= floor and (not needle or needle in row.line.casefold())
    ]
    return matching[-limit:] if limit > 0 else []


def scroll_diff(old_ids: Sequence[int], new_ids: Sequence[int]) -> tuple[int, int] | None:
    """Return how ``new_ids`` follows from ``old_ids`` by scrolling, or None if it does not.

    Scrolling drops rows from the top and appends rows at the bottom. The
    result is ``(dropped, kept)``: rows to remove from the top of the old
    list, and rows of the old list still shown (the new rows start there).

    >>> scroll_diff([1, 2, 3], [2, 3, 4, 5])
    (1, 2)
    >>> scroll_diff([1, 2, 3], [1, 2, 3, 4])
    (0, 3)
    >>> scroll_diff([1, 2, 3], [1, 3]) is None
    True
    >>> scroll_diff([], [1]) is None
    True
    """
    if not old_ids or not new_ids or new_ids[0] not in old_ids:
        return None
    dropped = list(old_ids).index(new_ids[0])
    kept = len(old_ids) - dropped
    if list(old_ids[dropped:]) != list(new_ids[:kept]):
        return None
    return dropped, kept


def log_streams(conn: sqlite3.Connection) -> list[str]:
    """Return the distinct streams of ``log_lines``, one index seek each."""
    rows = conn.execute(
        "WITH RECURSIVE s(name) AS ("
        " SELECT min(stream) FROM log_lines"
        " UNION ALL SELECT (SELECT min(stream) FROM log_lines WHERE stream > s.name) FROM s WHERE s.name IS NOT NULL"
        ") SELECT name FROM s WHERE name IS NOT NULL"
    )
    return [row[0] for row in rows]


def load_log_lines(
    db_path: Path, stream: str | None, limit: int = READ_LINES
) -> tuple[list[str], list[LogLine], dict[int, str]]:
    """Read the stored log streams, the last ``limit`` lines of ``stream`` (oldest first) and its saved templates.

    Runs in a worker thread on its own read-only connection. A store without
    a ``log_lines`` table gives no streams and no lines. Lines stored before
    the store kept levels and template ids get ``detect_level``'s level and
    no template.
    """
    store = FeatureStore(db_path, readonly=True)
    try:
        if "log_lines" not in store.db.table_names():
            return [], [], {}
        conn = store.db.conn
        streams = log_streams(conn)
        if stream is None:
            return streams, [], {}
        if "template_id" not in {column[1] for column in conn.execute("PRAGMA table_info(log_lines)")}:
            rows = conn.execute(
                "SELECT id, ts, line, NULL, NULL FROM log_lines WHERE stream = ? ORDER BY ts DESC, id DESC LIMIT ?",
                (stream, limit),
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT id, ts, line, level, template_id FROM log_lines WHERE stream = ? ORDER BY ts DESC, id DESC LIMIT ?",
                (stream, limit),
            ).fetchall()
        lines = [
            LogLine(line_id, ts, line, level if template_id is not None else detect_level(line), template_id)
            for line_id, ts, line, level, template_id in reversed(rows)
        ]
        templates = {row["template_id"]: row["template"] for row in store.templates(stream)}
        return streams, lines, templates
    finally:
        store.close()


class LogScreen(Screen[None]):
    """The recent lines of one log stream, filtered by text and level.

    Args:
        db_path: the feature store to read.
        engine: the running engine, for source lag and template miners; an
            attached UI's engine has no miners, and templates are shown as saved.
    """

    BINDINGS = [
        Binding("escape,l", "close", "Back"),
        Binding("left_square_bracket", "cycle(-1)", "Prev stream"),
        Binding("right_square_bracket", "cycle(1)", "Next stream"),
        Binding("e", "level('error')", "Errors"),
        Binding("w", "level('warn')", "Warn+"),
        Binding("a", "level('all')", "All"),
        Binding("r", "refresh", "Refresh"),
    ]
    DEFAULT_CSS = """
    LogScreen #log-header { height: 1; padding: 0 1; background: $boost; }
    LogScreen #log-lines { height: 1fr; }
    LogScreen #log-detail { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, db_path: Path, engine: Engine) -> None:
        super().__init__()
        self.db_path = db_path
        self.engine = engine
        self.streams: list[str] = []
        self.stream: str | None = None
        self.text = ""
        self.level = "all"
        self.lines: list[LogLine] = []
        self.shown: list[LogLine] = []
        self.loads = 0
        self._saved_templates: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("loading…", id="log-header")
        yield Input(placeholder="filter: text in the line (enter returns to the lines)", id="log-filter")
        yield DataTable(id="log-lines", cursor_type="row", zebra_stripes=True)
        yield Static("", id="log-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#log-lines", DataTable)
        table.add_column("read", key="read")
        table.add_column("tpl", key="template_id")
        table.add_column("line", key="line")
        table.add_column("template", key="template")
        table.focus()
        self.reload()
        self.set_interval(REFRESH_S, self.reload)

    # -- loading ------------------------------------------------------------------

    def reload(self) -> None:
        """Read the chosen stream's recent lines in a worker thread."""
        self._load(self.stream)

    @work(thread=True, exclusive=True, group="logs", exit_on_error=False)
    def _load(self, stream: str | None) -> None:
        try:
            streams, lines, templates = load_log_lines(self.db_path, stream)
        except (StoreError, sqlite3.Error) as exc:
            logger.warning("log pane: reading %s failed: %s", self.db_path, exc)
            self.app.call_from_thread(self._show_failure, str(exc))
            return
        self.app.call_from_thread(self._show, stream, streams, lines, templates)

    def _show_failure(self, reason: str) -> None:
        if not self.is_attached:
            return
        self.loads += 1
        self.query_one("#log-header", Static).update(Text(f"reading the log lines failed: {reason}", style="red"))

    def _show(self, stream: str | None, streams: list[str], lines: list[LogLine], templates: dict[int, str]) -> None:
        if not self.is_attached:
            return  # The screen was closed while the worker read.
        self.loads += 1
        self.streams = sorted(set(streams) | {name for name in self.engine.sources if name.startswith("log.")})
        if stream != self.stream:
            return  # The stream changed during this load, so the next load reads the new one.
        if self.stream is None and self.streams:
            self.stream = self.streams[0]
            self.reload()
            return
        self.lines = lines
        self._saved_templates = templates
        self._draw()

    def _draw(self) -> None:
        shown = filter_lines(self.lines, self.text, self.level)
        old_ids = [row.id for row in self.shown]
        new_ids = [row.id for row in shown]
        if new_ids != old_ids or not shown:
            self._fill_table(shown, scroll_diff(old_ids, new_ids))
        self.shown = shown
        self._draw_header()

    def _fill_table(self, shown: list[LogLine], diff: tuple[int, int] | None) -> None:
        """Show ``shown``: scroll by ``diff`` (see ``scroll_diff``) or, when None, rebuild the table."""
        table = self.query_one("#log-lines", DataTable)
        is_at_end = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        selected = self.shown[table.cursor_row].id if 0 <= table.cursor_row < len(self.shown) else None
        if diff is None:
            table.clear()
            added = shown
        else:
            # Kept rows keep the template text they were drawn with. The
            # detail line and the next rebuild show a widened template.
            dropped, kept = diff
            for row in self.shown[:dropped]:
                table.remove_row(str(row.id))
            added = shown[kept:]
        for row in added:
            table.add_row(*self._cells(row), key=str(row.id))

        keys = [row.id for row in shown]
        if selected in keys and not is_at_end:
            table.move_cursor(row=keys.index(selected))
        elif shown:
            table.move_cursor(row=len(shown) - 1)

    def _cells(self, row: LogLine) -> tuple[Text, Text, Text, Text]:
        style = _STYLE.get(row.level or "", "")
        template = self.template_of(row)
        return (
            Text(time.strftime("%H:%M:%S", time.localtime(row.ts)), style=style),
            Text(f"#{template[0]}" if template else "", style="dim"),
            Text(row.line, style=style),
            Text(template[1] if template else "", style="dim"),
        )

    def template_of(self, row: LogLine) -> tuple[int, str] | None:
        """Return the id and current text of the template stored with ``row``, or None.

        The engine's miner gives the id the template is known by now (it may
        have been merged into another) and its current text; without a
        miner for the stream, the text saved in the store.
        """
        if row.template_id is None:
            return None
        pipeline = self.engine.log_pipelines.pipelines.get(self.stream or "")
        if pipeline is None:
            return row.template_id, self._saved_templates.get(row.template_id, "")
        template_id = pipeline.miner.resolve(row.template_id)
        return template_id, pipeline.miner.template(template_id) or self._saved_templates.get(template_id, "")

    def _draw_header(self) -> None:
        source = self.engine.sources.get(self.stream or "")
        parts = [
            self.stream or "no log streams stored yet",
            source.detail if source is not None and source.detail else "not followed by this engine",
            f"{len(self.shown)} of the last {len(self.lines)} lines",
            f"level {self.level}",
        ]
        if self.text:
            parts.append(f"text {self.text!r}")
        if len(self.streams) > 1:
            parts.append("[ ] stream")
        self.query_one("#log-header", Static).update(" │ ".join(parts))

    # -- controls -------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#log-lines")
    def _row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        row = next((row for row in self.shown if str(row.id) == message.row_key.value), None)
        detail = self.query_one("#log-detail", Static)
        if row is None:
            detail.update("")
            return
        template = self.template_of(row)
        described = f"template #{template[0]}: {template[1]}" if template else "template: none matched"
        detail.update(Text(f"{row.level or 'no level'} │ {described}"))

    @on(Input.Changed, "#log-filter")
    def _text_changed(self, message: Input.Changed) -> None:
        self.text = message.value.strip()
        self._draw()

    @on(Input.Submitted, "#log-filter")
    def _text_submitted(self) -> None:
        self.query_one("#log-lines", DataTable).focus()

    def action_level(self, level: str) -> None:
        """Show errors only (``error``), warnings and errors (``warn``) or every line (``all``)."""
        self.level = level
        self._draw()

    def action_cycle(self, step: int) -> None:
        """Show the next (1) or previous (-1) log stream."""
        if not self.streams:
            return
        index = self.streams.index(self.stream) if self.stream in self.streams else -step
        self.stream = self.streams[(index + step) % len(self.streams)]
        self.lines = []
        self._draw()
        self.reload()

    def action_refresh(self) -> None:
        """Read the lines again now."""
        self.reload()

    def action_close(self) -> None:
        """Return to the live view."""
        self.dismiss()
