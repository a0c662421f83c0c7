"""LogSource on real files: globs, rotated siblings, lag, backpressure and stored positions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_monitor.engine import Engine
from tui_monitor.parsing import LogPipelines
from tui_monitor.settings import Settings
from tui_monitor.sources import DirectoryWatcher, LogSource, Observation, SourceState
from tui_monitor.sources.positions import PositionLedger
from tui_monitor.store import FeatureStore, LogCheckpoint


class Recorder:
    """Collects what a LogSource emits and reports."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.states: list[SourceState] = []
        self.lines: list[tuple[str, str]] = []

    def emit(self, obs: Observation) -> None:
        self.observations.append(obs)

    def report(self, state: SourceState) -> None:
        self.states.append(state)

    def on_lines(self, stream: str, lines: list[str]) -> None:
        self.lines.extend((stream, line) for line in lines)

    def count(self, name: str) -> float:
        return sum(obs.counts.get(name, 0.0) for obs in self.observations)


@pytest.fixture
def watcher() -> Iterator[DirectoryWatcher]:
    watcher = DirectoryWatcher()
    yield watcher
    watcher.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeatureStore]:
    store = FeatureStore(tmp_path / "monitor.db")
    yield store
    store.close()


def make_source(pattern: Path | str, watcher: DirectoryWatcher, **kwargs: object) -> tuple[LogSource, Recorder]:
    recorder = Recorder()
    source = LogSource(str(pattern), recorder.emit, recorder.report, watcher, on_lines=recorder.on_lines, **kwargs)  # type: ignore[arg-type]
    return source, recorder


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def test_source_counts_levels(tmp_path: Path, watcher: DirectoryWatcher) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    source, recorder = make_source(log, watcher)
    source.read_once()
    append(log, "ERROR boom\nWARN slow\nINFO ok\nplain\n")
    source.read_once()
    assert recorder.count("lines") == 4
    assert recorder.count("level_error") == 1
    assert recorder.count("level_warn") == 1


def test_source_glob_reads_new_files_whole(tmp_path: Path, watcher: DirectoryWatcher) -> None:
    (tmp_path / "a.log").write_text("before start\n")
    source, recorder = make_source(tmp_path / "*.log", watcher)
    source.read_once()
    (tmp_path / "b.log").write_text("b1\nb2\n")
    append(tmp_path / "a.log", "a1\n")
    source.read_once()
    assert sorted(recorder.lines) == [("log.a", "a1"), ("log.b", "b1"), ("log.b", "b2")]


def test_source_glob_skips_rotated_sibling(tmp_path: Path, watcher: DirectoryWatcher) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    source, recorder = make_source(tmp_path / "app.log*", watcher, rotated_grace_s=0.0)
    source.read_once()
    append(log, "one\n")
    log.rename(tmp_path / "app.log.1")  # still matches the glob
    append(log, "two\n")
    for _ in range(3):  # drain, drop after the grace, then discover again
        source.read_once()
    assert [line for _, line in recorder.lines] == ["one", "two"]


def test_source_reports_lag_then_caught_up(tmp_path: Path, watcher: DirectoryWatcher) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    source, recorder = make_source(log, watcher, budget_bytes=64 * 1024)
    source.read_once()
    append(log, ("y" * 99 + "\n") * 5001)
    assert source.read_once()
    assert "KiB behind" in recorder.states[-1].detail
    assert source.lag_bytes["log.app"] == log.stat().st_size - 64 * 1024
    while source.read_once(discover=False):
        pass
    assert recorder.states[-1].detail == "following"
    assert len(recorder.lines) == 5001


def test_source_logs_large_lag_once(tmp_path: Path, watcher: DirectoryWatcher, caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    source, _ = make_source(log, watcher)
    source.read_once()
    append(log, ("z" * 1023 + "\n") * 10 * 1024)  # 10 MiB, read 1 MiB per pass
    with caplog.at_level("INFO", logger="tui_monitor.sources.logfile"):
        while source.read_once(discover=False):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["log log.app is 9.0 MiB behind; the pipeline reads slower than the file grows"]
    assert caplog.records[-1].getMessage() == "log log.app caught up"


def test_source_waiting_then_failed_then_running(tmp_path: Path, watcher: DirectoryWatcher) -> None:
    log = tmp_path / "app.log"
    source, recorder = make_source(log, watcher)
    source.read_once()
    assert recorder.states[-1].status == "waiting"
    log.mkdir()
    source.read_once()
    assert recorder.states[-1].status == "failed"
    log.rmdir()
    log.write_text("back\n")
    source.read_once()
    assert recorder.states[-1].status == "running"
    assert recorder.lines == [("log.app", "back")]


async def test_source_run_waits_while_backlogged(tmp_path: Path, watcher: DirectoryWatcher) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    is_full = False
    source, recorder = make_source(log, watcher, poll_s=0.05, coalesce_s=0.01, is_backlogged=lambda: is_full)
    task = asyncio.create_task(source.run())
    try:
        await asyncio.sleep(0.2)  # the first pass opens the file at its end
        is_full = True
        append(log, "held back\n")
        await asyncio.sleep(0.3)
        assert recorder.lines == []
        is_full = False
        for _ in range(100):
            await asyncio.sleep(0.02)
            if recorder.lines:
                break
        assert recorder.lines == [("log.app", "held back")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# -- stored positions ---------------------------------------------------------


def test_ledger_persists_positions_only_at_checkpoint(tmp_path: Path, watcher: DirectoryWatcher, store: FeatureStore) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    ledger = PositionLedger(store)
    source, _ = make_source(log, watcher, ledger=ledger)
    source.read_once()
    assert store.log_positions(str(log))[0]["offset"] == 0  # start position at once
    append(log, "one\ntwo\n")
    source.read_once()
    assert store.log_positions(str(log))[0]["offset"] == 0
    store.write_window_batch([], [], log_checkpoint=ledger.take_before(float("inf")))
    assert store.log_positions(str(log))[0]["offset"] == len("one\ntwo\n")
    assert store.committed_log_lines() == ["one", "two"]


def test_ledger_crash_before_checkpoint_rereads_once(tmp_path: Path, watcher: DirectoryWatcher, store: FeatureStore) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    ledger = PositionLedger(store)
    source, _ = make_source(log, watcher, ledger=ledger)
    source.read_once()
    append(log, "committed\n")
    source.read_once()
    store.write_window_batch([], [], log_checkpoint=ledger.take_before(float("inf")))
    append(log, "read but not committed\n")
    source.read_once()  # then the process dies: no checkpoint

    restarted = PositionLedger(store)
    assert restarted.recover() == 1
    source2, recorder2 = make_source(log, watcher, ledger=restarted)
    source2.read_once()
    store.write_window_batch([], [], log_checkpoint=restarted.take_before(float("inf")))
    assert recorder2.lines == [("log.app", "read but not committed")]
    assert store.committed_log_lines() == ["committed", "read but not committed"]


def test_engine_checkpoint_covers_closed_windows_only(tmp_path: Path, store: FeatureStore) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    engine = Engine(Settings(db_path=store.path, log_paths=[str(log)], window_s=10.0), store)
    engine.aggregator.start(1000.0)
    for ts, line in ((1001.0, "in first window"), (1012.0, "in second window")):
        engine.ledger.record(str(log), "log.app", ts, [line], [], [])
        engine.aggregator.add(Observation("log.app", ts, counts={"lines": 1.0}))
    engine.close_windows(1010.5)
    assert store.committed_log_lines() == ["in first window"]
    engine.close_windows(1020.5)
    assert store.committed_log_lines() == ["in first window", "in second window"]


def test_store_discards_lines_after_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = FeatureStore(path)
    first = store.insert_log_lines([("log.app", 1.0, "kept")])
    store.save_log_checkpoint(LogCheckpoint(last_line_id=first))
    store.insert_log_lines([("log.app", 2.0, "not checkpointed")])
    store.close()
    reopened = FeatureStore(path)
    assert reopened.discard_uncommitted_log_lines() == 1
    assert reopened.committed_log_lines("log.app") == ["kept"]
    reopened.close()


def test_source_stores_pipeline_tags_around_dropped_lines(tmp_path: Path, watcher: DirectoryWatcher, store: FeatureStore) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    pipelines = LogPipelines()
    source = LogSource(
        str(log), Recorder().emit, Recorder().report, watcher, ledger=PositionLedger(store), on_lines=pipelines.tag,
        line_filter=lambda stream, lines: [line for line in lines if "health" not in line],
    )  # fmt: skip
    source.read_once()
    append(log, "ERROR disk 3 failed\nINFO GET /health 200\n  at disk.py:12\nWARN slow query 17 ms\n")
    source.read_once()

    rows = store.db.conn.execute("SELECT line, level, template_id FROM log_lines ORDER BY id").fetchall()
    assert [row[0] for row in rows] == ["ERROR disk 3 failed", "INFO GET /health 200", "  at disk.py:12", "WARN slow query 17 ms"]
    # The dropped line is stored without tags; the continuation line gets its record's template.
    assert [row[1] for row in rows] == ["error", None, None, "warn"]
    assert rows[1][2] is None
    assert rows[2][2] == rows[0][2]
    assert rows[3][2] not in (None, rows[0][2])


def test_source_counts_the_pipeline_levels(tmp_path: Path, watcher: DirectoryWatcher) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    recorder = Recorder()
    source = LogSource(str(log), recorder.emit, recorder.report, watcher, on_lines=LogPipelines().tag)
    source.read_once()
    # A level word inside a JSON message is not the record's level.
    append(log, '{"msg": "retry after ERROR 503", "level": "info"}\n{"level": "error", "msg": "gave up"}\n')
    source.read_once()
    assert recorder.count("level_error") == 1
    assert recorder.count("level_info") == 1
