"""The log pane: pure filtering, loading from a store, and the screen on a followed log file."""

from __future__ import annotations

import doctest
from pathlib import Path

from textual.widgets import DataTable, Input, Static

import tui_monitor.ui.logs

from test_ui import make_app
from tui_monitor.parsing.templates import TemplateMiner
from tui_monitor.store import FeatureStore
from tui_monitor.ui.logs import LogLine, LogScreen, filter_lines, load_log_lines

ROWS = [
    LogLine(1, 10.0, "2026-12-04 10:00:00 DEBUG cache warm", "debug"),
    LogLine(2, 11.0, "plain line without a level", None),
    LogLine(3, 12.0, "2026-12-04 10:00:02 WARN Disk at 91%", "warn"),
    LogLine(4, 13.0, "2026-12-04 10:00:03 ERROR disk full on /var", "error"),
]


def _ids(rows: list[LogLine]) -> list[int]:
    return [row.id for row in rows]


def test_filter_lines_keeps_all_by_default() -> None:
    assert _ids(filter_lines(ROWS)) == [1, 2, 3, 4]


def test_filter_lines_text_ignores_case() -> None:
    assert _ids(filter_lines(ROWS, text="DISK")) == [3, 4]


def test_filter_lines_warn_keeps_warnings_and_errors() -> None:
    assert _ids(filter_lines(ROWS, level="warn")) == [3, 4]


def test_filter_lines_error_only() -> None:
    assert _ids(filter_lines(ROWS, level="error")) == [4]


def test_filter_lines_combines_text_and_level() -> None:
    assert _ids(filter_lines(ROWS, text="cache", level="warn")) == []


def test_filter_lines_keeps_newest_within_limit() -> None:
    assert _ids(filter_lines(ROWS, limit=2)) == [3, 4]


def test_filter_lines_zero_limit_keeps_nothing() -> None:
    assert filter_lines(ROWS, limit=0) == []


def test_load_log_lines_reads_newest_oldest_first(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    rows = [("log.a", float(second), f"ERROR a{second}") for second in range(10)]
    store.insert_log_lines([("log.b", 1.0, "b1"), *rows])
    store.close()
    streams, lines, _ = load_log_lines(tmp_path / "monitor.db", "log.a", limit=3)
    assert streams == ["log.a", "log.b"]
    assert [row.line for row in lines] == ["ERROR a7", "ERROR a8", "ERROR a9"]
    # Rows stored without a template id get their level from the line itself.
    assert lines[0].level == "error"
    assert lines[0].template_id is None


def test_load_log_lines_uses_stored_levels_and_templates(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    store.insert_log_lines(
        [
            ("log.a", 1.0, "job failed: ERROR in step 3", 7, "warn"),
            ("log.a", 1.0, "  at step 3", 7, None),
        ]
    )
    store.save_miner_state("log.a", b"state", 2, [(7, "job failed: ERROR in step <*>", 2)])
    store.close()
    _, lines, templates = load_log_lines(tmp_path / "monitor.db", "log.a")
    # The level the pipeline found wins over a level word inside the message.
    assert [(row.level, row.template_id) for row in lines] == [("warn", 7), (None, 7)]
    assert templates == {7: "job failed: ERROR in step <*>"}


def test_load_log_lines_unknown_stream_is_empty(tmp_path: Path) -> None:
    FeatureStore(tmp_path / "monitor.db").close()
    assert load_log_lines(tmp_path / "monitor.db", "log.none") == ([], [], {})


def test_logs_doctests() -> None:
    result = doctest.testmod(tui_monitor.ui.logs)
    assert result.attempted > 0
    assert result.failed == 0


def test_miner_match_learns_nothing() -> None:
    miner = TemplateMiner()
    learned = miner.add("user 17 logged in from 10.0.0.1")
    match = miner.match("user 42 logged in from 10.0.0.9")
    assert match is not None
    assert match.template_id == learned.template_id
    assert miner.match("completely different words here") is None
    assert miner.lines_seen == 1


async def _until(pilot: object, condition: object, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.1)  # type: ignore[attr-defined]
    raise AssertionError("condition not met in time")


def _lines(table: DataTable) -> list[str]:
    return [str(table.get_row_at(index)[2]) for index in range(table.row_count)]


async def test_log_screen_shows_filters_and_closes(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    app = make_app(tmp_path, log)

    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        with log.open("a") as f:
            f.write("2026-12-04 10:00:00 INFO request served in 12 ms\n")
            f.write("2026-12-04 10:00:01 WARN request slow: 900 ms\n")
            f.write("2026-12-04 10:00:02 ERROR database connection lost\n")
            f.write("2026-12-04 10:00:03 INFO request served in 15 ms\n")
        await _until(pilot, lambda: len(app.store.db.conn.execute("SELECT id FROM log_lines").fetchall()) >= 4)

        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        table = screen.query_one("#log-lines", DataTable)
        await _until(pilot, lambda: table.row_count == 4)
        assert "database connection lost" in _lines(table)[2]
        assert table.get_row_at(2)[2].style == "red"
        assert table.get_row_at(1)[2].style == "yellow"
        header = str(screen.query_one("#log-header", Static).render())
        assert "log.app" in header
        assert "behind" in header or "following" in header
        await _until(pilot, lambda: str(table.get_row_at(3)[1]).startswith("#"))
        assert "request served in" in str(table.get_row_at(3)[3])
        assert "template #" in str(screen.query_one("#log-detail", Static).render())

        screen.query_one("#log-filter", Input).focus()
        await pilot.press(*"SERVED", "enter")
        assert len(_lines(table)) == 2
        assert all("served" in line for line in _lines(table))
        assert table.has_focus

        screen.query_one("#log-filter", Input).value = ""
        await pilot.pause()
        await pilot.press("e")
        assert _lines(table) == ["2026-12-04 10:00:02 ERROR database connection lost"]
        screen.query_one("#log-filter", Input).value = "no such text"
        await pilot.pause()
        assert table.row_count == 0
        screen.query_one("#log-filter", Input).value = ""
        await pilot.pause()
        assert _lines(table) == ["2026-12-04 10:00:02 ERROR database connection lost"]
        await pilot.press("w")
        assert len(_lines(table)) == 2
        await pilot.press("a")
        assert len(_lines(table)) == 4

        with log.open("a") as f:
            f.write("2026-12-04 10:00:04 ERROR database connection lost again\n")
        await _until(pilot, lambda: table.row_count == 5)
        assert "lost again" in _lines(table)[4]
        assert table.cursor_row == 4

        await pilot.press("escape")
        assert not isinstance(app.screen, LogScreen)
        await pilot.press("q")
    app.store.close()


async def test_log_screen_reports_missing_store(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async with app.run_test(size=(100, 30)) as pilot:
        screen = LogScreen(tmp_path / "missing.db", app.engine)
        await app.push_screen(screen)
        await _until(pilot, lambda: screen.loads >= 1)
        header = str(screen.query_one("#log-header", Static).render())
        assert "reading the log lines failed" in header
        assert "missing.db" in header
        await pilot.press("q")
    app.store.close()

