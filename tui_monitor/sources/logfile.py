"""Log file sources: follow files (paths or globs) and count lines per level.

Appended lines are found by a stat every ``poll_s`` (250 ms by default).
Watchdog events for created, moved and deleted files wake a source at once,
so rotation and new files are handled without waiting; wake-ups are
coalesced, and a file is read at most once per ``coalesce_s``. The stat
poll is also the fallback for file systems where inotify misses events.

Backpressure: each pass reads at most ``budget_bytes`` per file and hands the
lines on synchronously, so the only buffer is one chunk per file. When the
pipeline is slower than the writers, the unread bytes wait on disk, the
passes follow each other as fast as the pipeline allows, and the lag (bytes
behind, per file) shows in the source's state detail.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from tui_monitor.parsing.pipeline import LineTags
from tui_monitor.settings import sanitize_name
from tui_monitor.sources.base import Observation, ObservationSink, SourceState, StateSink
from tui_monitor.sources.follow import READ_CHUNK_BYTES, FileFollower, ReadResult
from tui_monitor.sources.positions import FilePosition, fingerprint

if TYPE_CHECKING:
    from tui_monitor.sources.positions import PositionLedger

__all__ = ["LEVELS", "DirectoryWatcher", "LogSource", "detect_level", "stream_name_for"]

logger = logging.getLogger(__name__)

LEVELS = ("error", "warn", "info", "debug")

# A changing lag is reported at most this often per stream, so that a long
# catch-up does not flood the UI with state changes.
_LAG_REPORT_S = 1.0

# A lag above this is logged as a warning once, and catching up again as info.
LAG_WARNING_BYTES = 8 << 20

# Identities of files already read to their end in this run, kept so that a
# glob such as ``app.log*`` does not read a rotated file a second time.
_MAX_RETIRED = 4096

# Upper-case level words as most layouts print them (Python logging, log4j,
# syslog-style, Go's log), plus key/value forms such as level=error and
# "level": "warning" in logfmt and JSON lines.
_LEVEL_RE = re.compile(
    r"""\b(?P<upper>FATAL|CRITICAL|CRIT|EMERG|ALERT|SEVERE|ERROR|ERR|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)\b
      | (?:level|lvl|severity)["']?\s*[:=]\s*["']?(?P<kv>[A-Za-z]+)""",
    re.VERBOSE,
)
_LEVEL_OF_WORD = {
    "fatal": "error", "critical": "error", "crit": "error", "emerg": "error", "alert": "error",
    "severe": "error", "error": "error", "err": "error", "panic": "error",
    "warning": "warn", "warn": "warn",
    "notice": "info", "info": "info", "information": "info",
    "debug": "debug", "trace": "debug",
}  # fmt: skip


def detect_level(line: str) -> str | None:
    """Return ``error``, ``warn``, ``info`` or ``debug`` for a log line, or None.

    Only the first 200 characters are searched, where layouts put the level.

    >>> detect_level("2024-05-01 12:00:00,123 ERROR app: failed")
    'error'
    >>> detect_level('{"ts": 1, "level": "warning", "msg": "slow"}')
    'warn'
    >>> detect_level("no level here") is None
    True
    """
    match = _LEVEL_RE.search(line, 0, 200)
    if match is None:
        return None
    word = match.group("upper") or match.group("kv") or ""
    return _LEVEL_OF_WORD.get(word.lower())


def stream_name_for(path: str) -> str:
    """Return the stream name of a log file: ``log.`` and its sanitized stem.

    >>> stream_name_for("/var/log/nginx/access.log")
    'log.access'
    """
    name = Path(path).name
    for suffix in (".log", ".txt", ".json", ".jsonl"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return "log." + sanitize_name(name)


# Watchdog wakes sources for files that appear, move or vanish (rotation);
# appends are found by the stat poll. Handling every modify event costs about
# 1 % of a core at 50 lines/s in watchdog's own thread (bench/overhead.py),
# while a 250 ms stat poll costs a tenth of that and adds at most 250 ms.
_STRUCTURE_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]


class _WakeHandler(FileSystemEventHandler):
    def __init__(self, watcher: DirectoryWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._watcher.notify()


class DirectoryWatcher:
    """One watchdog observer shared by all log sources.

    Every event in a watched folder wakes every source; sources then stat
    their own files, which is cheap, and the wake-up is coalesced.
    """

    def __init__(self) -> None:
        self._observer = Observer()
        self._observer.daemon = True
        self._folders: set[str] = set()
        self._events: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._lock = threading.Lock()
        self._started = False

    def watch(self, folder: str) -> None:
        """Watch ``folder`` (not recursively) if it exists and is new."""
        folder = os.path.abspath(folder)
        if folder in self._folders or not os.path.isdir(folder):
            return
        try:
            self._observer.schedule(_WakeHandler(self), folder, recursive=False, event_filter=_STRUCTURE_EVENTS)
        except OSError as exc:
            # inotify limits or permissions: the stat fallback still works.
            logger.warning("cannot watch %s for changes (%s); falling back to polling", folder, exc)
            return
        self._folders.add(folder)
        if not self._started:
            self._observer.start()
            self._started = True

    def subscribe(self) -> asyncio.Event:
        """Return an event that is set whenever a watched folder changes."""
        event = asyncio.Event()
        with self._lock:
            self._events.append((asyncio.get_running_loop(), event))
        return event

    def notify(self) -> None:
        """Set every subscriber's event; safe to call from any thread.

        An event that is already set is left alone, so a burst of file
        changes wakes the event loop once rather than once per change.
        Reading ``is_set`` from this thread can race with the loop clearing
        it, but sources clear the event before they read the files, so a
        change seen as "already set" is still read.
        """
        with self._lock:
            subscribers = list(self._events)
        for loop, event in subscribers:
            if not event.is_set() and not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def stop(self) -> None:
        """Stop the observer thread."""
        if self._started:
            self._observer.stop()
            self._observer.join(timeout=2.0)
            self._started = False


class LogSource:
    """Follow every file matching ``pattern`` and emit line counts per level.

    Each file is its own stream (``log.<stem>``). New files that match a glob
    are picked up on the next stat and read from their start. Files found at
    start without a stored position are read from their end. A plain path
    that does not exist yet is waited for. A file already followed under
    another name (a rotated file that still matches the glob) is skipped.

    Args:
        ledger: stores the lines and persists read positions; None keeps
            positions in memory only.
        from_end: start files found at the first discovery at their end
            when no position is stored for them (like ``tail -f``).
        rotated_grace_s: how long a rotated-away file is kept open after it
            stopped growing.
        budget_bytes: maximum bytes read per file per pass.
        is_backlogged: returns True while the consumer of ``on_lines`` cannot
            take more; the source then reads later instead of buffering.
        on_lines: receives each batch of lines of a stream, after ``line_filter``;
            when it returns ``LineTags`` (the log pipeline's ``tag``), their
            levels are counted instead of ``detect_level``'s and the template
            ids and levels are stored with the lines.
        line_filter: returns the lines to keep (rules that drop health-check
            or debug noise); the others are counted as ``dropped_lines``.
    """

    def __init__(
        self,
        pattern: str,
        emit: ObservationSink,
        report: StateSink,
        watcher: DirectoryWatcher,
        *,
        poll_s: float = 0.25,
        coalesce_s: float = 0.25,
        on_lines: Callable[[str, list[str]], object] | None = None,
        line_filter: Callable[[str, list[str]], list[str]] | None = None,
        ledger: PositionLedger | None = None,
        from_end: bool = True,
        rotated_grace_s: float = 5.0,
        budget_bytes: int = READ_CHUNK_BYTES,
        is_backlogged: Callable[[], bool] | None = None,
    ) -> None:
        self.pattern = os.path.expanduser(pattern)
        self.name = pattern
        self._emit = emit
        self._report = report
        self._watcher = watcher
        self._on_lines = on_lines
        self._line_filter = line_filter
        self._poll_s = poll_s
        self._coalesce_s = coalesce_s
        self._followers: dict[str, FileFollower] = {}
        self._streams: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self._is_glob = glob.has_magic(self.pattern)
        self._ledger = ledger
        self._from_end = from_end
        self._rotated_grace_s = rotated_grace_s
        self._budget_bytes = budget_bytes
        self._is_backlogged = is_backlogged
        self._has_discovered = False
        self._retired: dict[tuple[int, int], FilePosition] = {}
        self._last_detail: dict[str, tuple[float, str]] = {}
        self._lagging: set[str] = set()
        self.lag_bytes: dict[str, int] = {}
        """Bytes on disk not read yet, per stream."""

    def streams(self) -> list[str]:
        """Stream names known so far; the engine declares them up front."""
        if not self._is_glob:
            return [stream_name_for(self.pattern)]
        return sorted(self._streams.values())

    def _discover(self) -> None:
        paths = sorted(glob.glob(self.pattern)) if self._is_glob else [self.pattern]
        claimed = {identity for follower in self._followers.values() for identity in follower.identities()}
        for path in paths:
            if path in self._followers:
                continue
            if os.path.isdir(path):
                if not self._is_glob and path not in self._failed:
                    message = f"{path!r} is a folder; pass a file, or a glob such as '{path}/*.log'"
                    logger.error("log %s", message)
                    self._failed[path] = message
                    self._report(SourceState(stream_name_for(path), "failed", "is a folder, not a file"))
                continue
            if self._is_glob and self._is_followed_elsewhere(path, claimed):
                continue
            # Files present at the first discovery start at their end (unless
            # a position is stored); files that appear later are read whole.
            from_end = self._from_end and not self._has_discovered
            stored = self._ledger.load(path) if self._ledger is not None else {}
            self._followers[path] = FileFollower(
                path, from_end=from_end, stored=stored, rotated_grace_s=self._rotated_grace_s
            )
            self._streams[path] = stream_name_for(path)
            self._watcher.watch(os.path.dirname(path) or ".")
        self._has_discovered = True

    def _is_followed_elsewhere(self, path: str, claimed: set[tuple[int, int]]) -> bool:
        try:
            info = os.stat(path)
        except OSError:
            return False
        identity = (info.st_dev, info.st_ino)
        if identity in claimed:
            return True
        known = self._retired.get(identity)
        if known is None:
            return False
        # The inode number may have been reused by a new file: compare the head.
        try:
            with open(path, "rb") as f:
                head = f.read(known.fingerprint_bytes)
        except OSError:
            return False
        return len(head) == known.fingerprint_bytes and fingerprint(head) == known.fingerprint

    def read_once(self, *, discover: bool = True) -> bool:
        """Read every followed file once; return True when data is still pending.

        Args:
            discover: expand the glob first; passes that only continue a
                backlog skip it.
        """
        if discover or not self._has_discovered:
            self._discover()
        pending = False
        for path, follower in self._followers.items():
            stream = self._streams[path]
            try:
                result = follower.read_lines(self._budget_bytes)
            except OSError as exc:
                self._fail(path, stream, exc)
                continue
            pending = pending or result.has_more
            self._hand_on(path, stream, result)
            if result.error is not None:
                self._fail(path, stream, result.error)
                continue
            if path in self._failed:
                del self._failed[path]
                logger.info("log %s is readable again", path)
            self._report_state(stream, follower, result.lag_bytes)
        return pending

    def _fail(self, path: str, stream: str, exc: OSError) -> None:
        if self._failed.get(path) != str(exc):
            logger.error("log %s: %s; other sources go on, retrying every %.3g s", path, exc, self._poll_s)
            self._failed[path] = str(exc)
            self._report(SourceState(stream, "failed", f"unreadable: {exc.strerror or exc}"))

    def _hand_on(self, path: str, stream: str, result: ReadResult) -> None:
        ts = time.time()
        if self._ledger is not None:
            self._ledger.commit_now(path, result.opened)
        lines = result.lines
        if lines and self._line_filter is not None:
            # Dropped lines are still stored and checkpointed below; they only
            # stay out of the counts and the parsing pipeline.
            lines = self._line_filter(stream, lines)
        tags = None
        if lines and self._on_lines is not None:
            found = self._on_lines(stream, lines)
            tags = found if isinstance(found, LineTags) and len(found.levels) == len(lines) else None
        # The observation and the ledger entry share ``ts``, so the positions
        # are persisted with the window that counts these lines.
        observation = _count_levels(stream, lines, result.truncated_lines, ts, tags)
        if len(lines) != len(result.lines):
            observation.counts["dropped_lines"] = float(len(result.lines) - len(lines))
        self._emit(observation)
        if self._ledger is not None:
            if tags is not None and len(lines) != len(result.lines):
                tags = _align(result.lines, lines, tags)
            self._ledger.record(
                path, stream, ts, result.lines, result.positions, result.dropped,
                template_ids=None if tags is None else tags.template_ids,
                levels=None if tags is None else tags.levels,
            )  # fmt: skip
        for position in result.dropped:
            self._retired[position.identity] = position
            if len(self._retired) > _MAX_RETIRED:
                del self._retired[next(iter(self._retired))]

    def _report_state(self, stream: str, follower: FileFollower, lag_bytes: int) -> None:
        self.lag_bytes[stream] = lag_bytes
        if lag_bytes > LAG_WARNING_BYTES and stream not in self._lagging:
            self._lagging.add(stream)
            behind = describe_lag(lag_bytes).removeprefix("following, ")
            logger.warning("log %s is %s; the pipeline reads slower than the file grows", stream, behind)
        elif lag_bytes == 0 and stream in self._lagging:
            self._lagging.discard(stream)
            logger.info("log %s caught up", stream)
        if not follower.is_open:
            self._report(SourceState(stream, "waiting", "file not found yet"))
            return
        detail = describe_lag(lag_bytes)
        now = time.monotonic()
        last_at, last_detail = self._last_detail.get(stream, (float("-inf"), ""))
        is_transition = lag_bytes == 0 or last_detail in ("", "following")
        if detail != last_detail and (is_transition or now - last_at >= _LAG_REPORT_S):
            self._last_detail[stream] = (now, detail)
            last_detail = detail
        self._report(SourceState(stream, "running", last_detail))

    async def run(self) -> None:
        """Follow files until cancelled."""
        wake = self._watcher.subscribe()
        self._watcher.watch(os.path.dirname(self.pattern) or ".")
        logger.info("source log %s started", self.pattern)
        pending = False
        while True:
            if self._is_backlogged is not None and self._is_backlogged():
                await asyncio.sleep(self._coalesce_s)  # the consumer is behind: read later
                continue
            pending = self.read_once(discover=not pending)
            if pending:
                await asyncio.sleep(0)  # more to read: yield, then go on
                continue
            try:
                await asyncio.wait_for(wake.wait(), timeout=self._poll_s)
            except TimeoutError:
                pass
            wake.clear()
            # Coalesce a burst of events into one read.
            await asyncio.sleep(self._coalesce_s)


def describe_lag(lag_bytes: int) -> str:
    """Return the state detail of a followed file that is ``lag_bytes`` behind.

    >>> describe_lag(0)
    'following'
    >>> describe_lag(3_500_000)
    'following, 3.3 MiB behind'
    """
    if lag_bytes <= 0:
        return "following"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if lag_bytes >= size:
            return f"following, {lag_bytes / size:.1f} {unit} behind"
    return f"following, {lag_bytes} bytes behind"


def _count_levels(stream: str, lines: list[str], truncated_lines: int, ts: float, tags: LineTags | None = None) -> Observation:
    """Count lines and lines per level: the levels the pipeline found, or ``detect_level`` without one."""
    counts: dict[str, float] = {"lines": float(len(lines))}
    for level in LEVELS:
        counts[f"level_{level}"] = 0.0
    levels = tags.levels if tags is not None else map(detect_level, lines)
    for found, count in Counter(levels).items():
        if found is not None:
            counts[f"level_{found}"] += float(count)
    if truncated_lines:
        counts["truncated_lines"] = float(truncated_lines)
    return Observation(stream=stream, ts=ts, counts=counts)


def _align(all_lines: list[str], kept: list[str], tags: LineTags) -> LineTags:
    """Spread the tags of ``kept`` (a filtered subsequence of ``all_lines``) over ``all_lines``.

    The filter returns the same string objects it kept, so identity finds them.
    """
    levels: list[str | None] = [None] * len(all_lines)
    template_ids: list[int | None] = [None] * len(all_lines)
    at = 0
    for index, line in enumerate(all_lines):
        if at < len(kept) and kept[at] is line:
            levels[index] = tags.levels[at]
            template_ids[index] = tags.template_ids[at]
            at += 1
    return LineTags(levels, template_ids)
