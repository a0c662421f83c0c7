"""The pipeline fed by a real LogSource following a real file."""

from __future__ import annotations

from pathlib import Path

from tui_monitor.parsing import LogPipelines, LogRecord
from tui_monitor.sources.logfile import DirectoryWatcher, LogSource


def test_log_source_feeds_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("", encoding="utf-8")
    pipelines = LogPipelines()
    records: list[LogRecord] = []
    watcher = DirectoryWatcher()
    source = LogSource(
        str(path),
        lambda obs: None,
        lambda state: None,
        watcher,
        on_lines=lambda stream, lines: records.extend(pipelines.feed(stream, lines)),
    )
    try:
        source.read_once()
        with path.open("a", encoding="utf-8") as handle:
            handle.write("2024-05-01 12:00:00,000 ERROR app.db: query failed\nTraceback (most recent call last):\n")
        source.read_once()
        with path.open("a", encoding="utf-8") as handle:
            handle.write('  File "db.py", line 3, in run\nTimeoutError: 5 s\n2024-05-01 12:00:09,000 INFO app.db: ok\n')
        source.read_once()
    finally:
        watcher.stop()

    features = pipelines.window_features("log.app")
    assert pipelines.pipeline("log.app").format == "python"
    assert [r.line_count for r in records] == [4]
    assert records[0].level == "error"
    assert features["log.app.lines"] == 5.0
    assert features["log.app.level_error"] == 1.0
