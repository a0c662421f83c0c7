"""Rotation matrix and crash recovery: a writer subprocess at >= 5,000 lines/s, real files.

Each test compares the lines read with the lines written: no line lost, none
read twice.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tui_monitor.sources import DirectoryWatcher, LogSource, SourceState

# The writer paces itself to RATE lines/s in batches and rotates its log every
# ROTATE_EVERY lines. Styles that need the log's owner to stop writing
# (copytruncate, truncate) print PAUSE and wait for a line on stdin.
WRITER = r'''
import os, sys, time

path, style, total, rate, rotate_every = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
levels = ["INFO", "WARN", "ERROR", "DEBUG"]
generation = 0


def target(gen):
    return f"{path}.t{gen}" if style == "symlink" else path


def open_log(gen):
    return os.open(target(gen), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def rotate(fd, gen):
    if style in ("copytruncate", "truncate"):
        print(f"PAUSE {gen}", flush=True)
        sys.stdin.readline()
        return fd
    os.close(fd)
    if style == "rename":
        os.rename(path, f"{path}.{gen}")
    elif style == "delete":
        os.unlink(path)
    new_fd = open_log(gen + 1)
    if style == "symlink":
        os.symlink(target(gen + 1), path + ".tmp")
        os.replace(path + ".tmp", path)
    return new_fd


fd = open_log(0)
batch = 25
started = time.monotonic()
for first in range(0, total, batch):
    data = "".join(
        f"{i:07d} {levels[i % 4]} payload {'x' * (i % 97)} é\n" for i in range(first, min(first + batch, total))
    )
    os.write(fd, data.encode())
    if first and first % rotate_every == 0:
        fd = rotate(fd, generation)
        generation += 1
    delay = started + (first + batch) / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
os.close(fd)
print(f"DONE {total / (time.monotonic() - started):.0f}", flush=True)
'''

TOTAL = 15_000
RATE = 6_000
ROTATE_EVERY = 5_000  # two rotations, about 0.8 s apart


def expected_lines(total: int) -> list[str]:
    levels = ["INFO", "WARN", "ERROR", "DEBUG"]
    return [f"{i:07d} {levels[i % 4]} payload {'x' * (i % 97)} é" for i in range(total)]


@pytest.fixture
def writer_script(tmp_path: Path) -> Path:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return script


@pytest.fixture
def watcher() -> Iterator[DirectoryWatcher]:
    watcher = DirectoryWatcher()
    yield watcher
    watcher.stop()


async def _read_line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), timeout=30)).decode().strip()


@pytest.mark.slow
@pytest.mark.parametrize("style", ["rename", "copytruncate", "truncate", "delete", "symlink"])
async def test_rotation_loses_and_repeats_nothing(
    style: str, tmp_path: Path, writer_script: Path, watcher: DirectoryWatcher
) -> None:
    log = tmp_path / "app.log"
    if style == "symlink":
        Path(f"{log}.t0").write_text("")
        log.symlink_to(f"{log}.t0")
    else:
        log.write_text("")
    read: list[str] = []
    states: list[SourceState] = []
    source = LogSource(
        str(log), lambda _obs: None, states.append, watcher, on_lines=lambda _stream, lines: read.extend(lines)
    )
    task = asyncio.create_task(source.run())
    await asyncio.sleep(0.3)  # the first pass opens the empty file

    writer = await asyncio.create_subprocess_exec(
        sys.executable, str(writer_script), str(log), style, str(TOTAL), str(RATE), str(ROTATE_EVERY),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert writer.stdout is not None and writer.stdin is not None
    try:
        while (message := await _read_line(writer.stdout)).startswith("PAUSE"):
            # NOTE: copytruncate loses whatever the writer appends between the
            # tailer's last read and the truncate, so the writer pauses and the
            # test truncates only once the tailer has read everything.
            written = log.stat().st_size
            await _wait_for(lambda: _offset(source) == written)
            if style == "copytruncate":
                Path(f"{log}.1").write_bytes(log.read_bytes())
            os.truncate(log, 0)
            writer.stdin.write(b"go\n")
            await writer.stdin.drain()
        assert message.startswith("DONE")
        assert float(message.split()[1]) >= 5_000
        await _wait_for(lambda: len(read) >= TOTAL, timeout_s=20)
        await asyncio.sleep(0.5)  # a repeated line would arrive now
    finally:
        if writer.returncode is None:
            writer.kill()
        await writer.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    duplicates = [line for line, n in collections.Counter(read).items() if n > 1]
    assert duplicates == []
    assert set(read) == set(expected_lines(TOTAL))
    assert all(state.status in ("running", "waiting") for state in states)


def _offset(source: LogSource) -> int:
    return next(iter(source._followers.values())).offset


async def _wait_for(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


# -- crash recovery with the real engine ---------------------------------------


def _monitor(db: Path, log: Path, duration_s: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_monitor", "--headless", "--db", str(db), "--log", str(log),
         "--window", "1", "--duration", str(duration_s)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )  # fmt: skip


def _query(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # not created yet


def _wait(condition: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


_COMMITTED = "SELECT line FROM log_lines WHERE id <= (SELECT last_line_id FROM log_checkpoints WHERE id = 1)"


@pytest.mark.slow
def test_sigkill_restart_loses_and_repeats_nothing(tmp_path: Path, writer_script: Path) -> None:
    db, log = tmp_path / "monitor.db", tmp_path / "app.log"
    log.write_text("")
    total = 20_000
    first = _monitor(db, log, 60)
    writer = None
    second = None
    try:
        # The writer starts once the engine has opened the log and stored its start position.
        _wait(lambda: _query(db, "SELECT count(*) FROM log_positions WHERE path = ?", (str(log),)) == [(1,)], 30)
        writer = subprocess.Popen(
            [sys.executable, str(writer_script), str(log), "rename", str(total), str(RATE), str(total // 2)],
            stdout=subprocess.PIPE,
        )
        _wait(lambda: len(_query(db, _COMMITTED)) > 2_000, 15)  # mid-stream, after a checkpoint
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        assert len(_query(db, _COMMITTED)) < total  # killed mid-stream

        second = _monitor(db, log, 60)
        assert writer.stdout is not None
        assert writer.stdout.readline().startswith(b"DONE")
        _wait(lambda: len(_query(db, _COMMITTED)) >= total, 40)
        time.sleep(1.5)  # a repeated line would be committed by now
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0
    finally:
        for process in (first, writer, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        if writer is not None and writer.stdout is not None:
            writer.stdout.close()

    lines = [row[0] for row in _query(db, _COMMITTED)]
    duplicates = [line for line, n in collections.Counter(lines).items() if n > 1]
    assert duplicates == []
    assert set(lines) == set(expected_lines(total))
    assert _query(db, "SELECT count(*) FROM log_lines") == [(total,)]
    counted = _query(db, "SELECT sum(json_extract(features, '$.\"log.app.lines\"')) FROM windows WHERE stream = 'log.app'")
    assert counted == [(total,)]  # the window counts are exactly-once too
