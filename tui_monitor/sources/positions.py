"""Read positions of followed log files, and the ledger that persists them.

A read position is a byte offset in one file. The file is identified by its
device and inode and checked by a fingerprint of its first bytes. A restart
thus resumes exactly where the engine stopped, while a new file that reuses
an old inode number is read from its start.

Delivery guarantee, for lines that reach the store:

* Log lines are inserted into ``log_lines`` as they are read, but a read
  position is persisted only at window close, in the same transaction as the
  windows whose counts include those lines (``PositionLedger.take_before``).
* After a crash, ``PositionLedger.recover`` deletes the lines stored after the
  last checkpoint, and the tailer reads them again from the persisted
  position. Each complete line therefore ends up in ``log_lines`` and in the
  window counts exactly once, across any number of crashes, as long as the
  file itself is still there (see the NOTEs in ``follow.py`` for rotation).
* The counts of the window that was open at a crash or a stop are not stored;
  its lines are counted again, in the window during which they are re-read.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING

from tui_monitor.store import LogCheckpoint

if TYPE_CHECKING:
    from tui_monitor.store import FeatureStore

__all__ = ["FINGERPRINT_BYTES", "FilePosition", "PositionLedger", "fingerprint"]

logger = logging.getLogger(__name__)

# Bytes at the start of a file that identify it. A shorter file is
# identified by all its bytes, and its fingerprint grows with the file.
FINGERPRINT_BYTES = 1024


def fingerprint(head: bytes) -> str:
    """Return the fingerprint (a hex digest) of a file's first bytes.

    >>> fingerprint(b"2024-05-01 app started\\n")
    '59bbd064a270e0453637d7f0126b3325'
    >>> fingerprint(b"") == fingerprint(b"")
    True
    """
    return hashlib.blake2b(head, digest_size=16).hexdigest()


@dataclass(frozen=True)
class FilePosition:
    """The read position of one file.

    ``offset`` is the byte just past the last complete line handed on, so a
    partial last line is read again after a restart. ``fingerprint`` covers
    the file's first ``fingerprint_bytes`` bytes.
    """

    device: int
    inode: int
    offset: int
    fingerprint: str
    fingerprint_bytes: int

    @property
    def identity(self) -> tuple[int, int]:
        """The file's ``(device, inode)``."""
        return (self.device, self.inode)


@dataclass
class _Entry:
    ts: float
    path: str
    positions: list[FilePosition]
    dropped: list[FilePosition]
    last_line_id: int | None


@dataclass
class PositionLedger:
    """Store log lines as they are read and persist read positions at window close.

    Runs on the event loop; the engine owns it and its store is the engine's
    writing connection. Without a store (tests, benchmarks of the tailer
    alone) it keeps nothing but the counters.
    """

    store: FeatureStore | None = None
    lines_recorded: int = 0
    _pending: deque[_Entry] = field(default_factory=deque)

    def recover(self, *, is_shutdown: bool = False) -> int:
        """Delete lines stored after the last checkpoint (they are read again); return how many.

        At start this undoes what a crash left half done; at a clean stop it
        drops the lines of the window still open, whose counts were never
        stored, so the next run counts them once.
        """
        if self.store is None:
            return 0
        discarded = self.store.discard_uncommitted_log_lines()
        if discarded and is_shutdown:
            logger.info("%d log lines of the unfinished window will be read and counted at the next start", discarded)
        elif discarded:
            logger.info("discarded %d log lines stored after the last checkpoint; they are read again", discarded)
        return discarded

    def load(self, path: str) -> dict[tuple[int, int], FilePosition]:
        """Return the persisted positions of the followed ``path`` by file identity."""
        if self.store is None:
            return {}
        return {
            (row["device"], row["inode"]): FilePosition(
                row["device"], row["inode"], row["offset"], row["fingerprint"], row["fingerprint_bytes"]
            )
            for row in self.store.log_positions(path)
        }

    def record(
        self,
        path: str,
        stream: str,
        ts: float,
        lines: list[str],
        positions: list[FilePosition],
        dropped: list[FilePosition],
        template_ids: Sequence[int | None] | None = None,
        levels: Sequence[str | None] | None = None,
    ) -> None:
        """Store ``lines`` of ``stream`` read at ``ts`` and queue the positions they reached.

        ``template_ids`` and ``levels``, when given, hold one value per line
        and are stored with it (see ``LineTags``).
        """
        last_line_id = None
        if self.store is not None and lines:
            last_line_id = self.store.insert_log_lines(
                zip(
                    repeat(stream),
                    repeat(ts),
                    lines,
                    repeat(None) if template_ids is None else template_ids,
                    repeat(None) if levels is None else levels,
                )
            )
        self.lines_recorded += len(lines)
        if positions or dropped or last_line_id is not None:
            self._pending.append(_Entry(ts, path, positions, dropped, last_line_id))

    def commit_now(self, path: str, positions: list[FilePosition]) -> None:
        """Persist start positions of newly opened files at once.

        This is safe because no line of those files has been handed on yet.
        It keeps a restart from skipping lines of a file first seen just
        before a crash.
        """
        if self.store is not None and positions:
            self.store.save_log_checkpoint(LogCheckpoint(positions=[_row(path, p) for p in positions]))

    def take_before(self, boundary_ts: float) -> LogCheckpoint:
        """Remove and merge the queued positions of lines read before ``boundary_ts``.

        The engine passes the end of the last window it closes, so the
        checkpoint covers exactly the lines whose counts those windows hold.
        """
        latest: dict[tuple[str, int, int], FilePosition] = {}
        dropped: dict[tuple[str, int, int], None] = {}
        last_line_id: int | None = None
        while self._pending and self._pending[0].ts < boundary_ts:
            entry = self._pending.popleft()
            for position in entry.positions:
                key = (entry.path, position.device, position.inode)
                latest[key] = position
                dropped.pop(key, None)
            for closed in entry.dropped:
                key = (entry.path, closed.device, closed.inode)
                latest.pop(key, None)
                dropped[key] = None
            if entry.last_line_id is not None:
                last_line_id = entry.last_line_id
        return LogCheckpoint(
            positions=[_row(key[0], p) for key, p in latest.items()],
            dropped=list(dropped),
            last_line_id=last_line_id,
        )

    @property
    def pending_entries(self) -> int:
        """Number of queued reads whose positions are not persisted yet."""
        return len(self._pending)


def _row(path: str, p: FilePosition) -> tuple[str, int, int, int, str, int]:
    return (path, p.device, p.inode, p.offset, p.fingerprint, p.fingerprint_bytes)
