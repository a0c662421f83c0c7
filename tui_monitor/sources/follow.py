"""Follow one log file across rotation, truncation and restarts, byte-exact.

``FileFollower`` is synchronous and never waits: the log source calls
``read_lines`` when a watchdog event or its stat timer reports that the
file may have changed. Each call costs a few syscalls per open file (stat of the path,
fstat, one read of up to ``READ_CHUNK_BYTES`` and, when the file grew, one
read of its first KiB), never one per line.

What it survives, each checked by a test on real files:

* rename-and-create rotation and a symlink switched to another file: the
  path's identity (device, inode) changes; the old file stays open and is
  drained until it has been quiet for ``rotated_grace_s``, then dropped;
* delete and recreate: the deleted file is read to its end through the
  descriptor still open, and closed once quiet even if no new file comes;
* copytruncate and truncation in place: the size drops below the read
  offset, or the first bytes no longer match the fingerprint;
* a file that appears later, and a restart (see ``positions.py``).
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass, field

from tui_monitor.sources.positions import FINGERPRINT_BYTES, FilePosition, fingerprint

__all__ = ["MAX_LINE_BYTES", "READ_CHUNK_BYTES", "FileFollower", "ReadResult", "split_lines"]

logger = logging.getLogger(__name__)

# Maximum bytes read per call. A burst is read over several calls, so one
# large file cannot starve the event loop, and the rest waits on disk.
READ_CHUNK_BYTES = 1 << 20

# Maximum line length in bytes. A longer line is cut to its first
# MAX_LINE_BYTES bytes and counted in ``ReadResult.truncated_lines``.
MAX_LINE_BYTES = 64 * 1024

_BOM = b"\xef\xbb\xbf"


def split_lines(block: bytes, *, at_file_start: bool = False) -> tuple[list[str], int]:
    """Split a block of complete lines (ending with a newline) into text lines.

    Invalid UTF-8 becomes U+FFFD, a CRLF ending is removed while a lone CR
    inside a line is kept, a UTF-8 BOM at the start of a file is removed, and
    a line over ``MAX_LINE_BYTES`` bytes is cut to that size.

    Returns:
        The lines and how many of them were cut.

    >>> split_lines(b"\\xef\\xbb\\xbfone\\r\\ntw\\ro\\n\\xff!\\n", at_file_start=True)
    (['one', 'tw\\ro', '\\ufffd!'], 0)
    """
    if at_file_start and block.startswith(_BOM):
        block = block[len(_BOM) :]
    text = block.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    lines.pop()  # the empty piece after the final newline
    # A line of more than MAX_LINE_BYTES // 4 characters may exceed the cap
    # in bytes (at most 4 bytes per character): check those in bytes.
    if len(block) > MAX_LINE_BYTES and lines and max(map(len, lines)) > MAX_LINE_BYTES // 4:
        return _split_capped(block)
    return lines, 0


def _split_capped(block: bytes) -> tuple[list[str], int]:
    pieces = block.split(b"\n")
    pieces.pop()
    lines: list[str] = []
    cut = 0
    for raw in pieces:
        if len(raw) > MAX_LINE_BYTES:
            end = MAX_LINE_BYTES
            # Back up to a character boundary (UTF-8 continuation bytes are 0b10xxxxxx).
            while end > MAX_LINE_BYTES - 3 and raw[end] & 0xC0 == 0x80:
                end -= 1
            raw = raw[:end]
            cut += 1
        elif raw.endswith(b"\r"):
            raw = raw[:-1]
        lines.append(raw.decode("utf-8", errors="replace"))
    return lines, cut


@dataclass
class ReadResult:
    """Lines read by one call, the positions they reached and what happened to the files.

    ``positions`` has an entry for each file whose position or fingerprint
    changed. ``opened`` contains the start positions of files opened by this
    call, and ``dropped`` the last positions of rotated-away files that were
    read to their end and closed. ``error`` is the first read error of an
    open file; the lines read before it are still in ``lines``. ``lag_bytes`` is how many bytes are on disk but not read yet.
    """

    lines: list[str] = field(default_factory=list)
    positions: list[FilePosition] = field(default_factory=list)
    opened: list[FilePosition] = field(default_factory=list)
    dropped: list[FilePosition] = field(default_factory=list)
    rotated: bool = False
    truncated: bool = False
    truncated_lines: int = 0
    has_more: bool = False
    lag_bytes: int = 0
    error: OSError | None = None


class _OpenFile:
    """One open file: its descriptor, identity and how far it has been read."""

    def __init__(self, fd: int, info: os.stat_result, offset: int) -> None:
        self.fd = fd
        self.identity = (info.st_dev, info.st_ino)
        self.size = info.st_size
        self.checked_size = info.st_size  # size when the head was last compared
        self.read_offset = offset
        self.line_offset = offset  # just past the last complete line
        self.partial = b""
        self.is_partial_cut = False
        self.fingerprint = ""
        self.fingerprint_bytes = -1
        self.reported: tuple[int, str] | None = None
        self.quiet_since: float | None = None

    def position(self) -> FilePosition:
        return FilePosition(*self.identity, self.line_offset, self.fingerprint, self.fingerprint_bytes)

    def read_head(self) -> bytes:
        return os.pread(self.fd, min(self.size, FINGERPRINT_BYTES), 0)

    def update_fingerprint(self) -> bool:
        """Compare the head with the fingerprint and extend it while the file is short.

        Returns False, leaving the fingerprint as it was, when the known first
        bytes changed: the file was truncated and written again.
        """
        head = self.read_head()
        self.checked_size = self.size
        if self.fingerprint_bytes >= 0:
            known = head[: self.fingerprint_bytes]
            if len(known) < self.fingerprint_bytes or fingerprint(known) != self.fingerprint:
                return False
            if len(head) == self.fingerprint_bytes:
                return True
        self.fingerprint = fingerprint(head)
        self.fingerprint_bytes = len(head)
        return True

    def matches(self, stored: FilePosition) -> bool:
        head = os.pread(self.fd, stored.fingerprint_bytes, 0)
        return len(head) == stored.fingerprint_bytes and fingerprint(head) == stored.fingerprint


class FileFollower:
    """Read complete lines appended to ``path``, following rotation and truncation.

    Args:
        path: the file to follow; it may not exist yet, and it may be a symlink.
        from_end: start at the end of the file found by the first call, like
            ``tail -f``, unless a position is stored for ``path``. Files opened
            later are always read from their start.
        stored: persisted positions of ``path`` by file identity
            (``PositionLedger.load``). A file found with a matching identity
            and fingerprint resumes at its offset; stored files found renamed
            beside ``path`` (rotated while the engine was down) are drained
            first.
        rotated_grace_s: how long a rotated-away file is kept open after it
            stopped growing, for writers that reopen their log late.
    """

    def __init__(
        self,
        path: str,
        *,
        from_end: bool = True,
        stored: dict[tuple[int, int], FilePosition] | None = None,
        rotated_grace_s: float = 5.0,
    ) -> None:
        self.path = path
        self._from_end = from_end
        self._stored = dict(stored or {})
        self._has_history = bool(self._stored)
        self._rotated_grace_s = rotated_grace_s
        self._current: _OpenFile | None = None
        self._draining: list[_OpenFile] = []
        self._is_first_call = True

    @property
    def is_open(self) -> bool:
        """Whether a file at ``path`` is open."""
        return self._current is not None

    @property
    def offset(self) -> int:
        """Byte offset of the next read in the current file (0 when none is open)."""
        return 0 if self._current is None else self._current.read_offset

    def identities(self) -> list[tuple[int, int]]:
        """Return the ``(device, inode)`` of every open file, rotated-away ones included."""
        files = [*self._draining, *([self._current] if self._current else [])]
        return [f.identity for f in files]

    def close(self) -> None:
        """Close every open file.

        Partial last lines are not handed on. The positions never covered
        them, so a restart reads them again.
        """
        for f in [*self._draining, *([self._current] if self._current else [])]:
            os.close(f.fd)
        self._draining = []
        self._current = None

    def read_lines(self, budget_bytes: int = READ_CHUNK_BYTES) -> ReadResult:
        """Read up to ``budget_bytes`` of what was appended since the last call.

        Rotated-away files are read before the current one, so lines come in
        the order they were written as long as the writer moved on to the new
        file only after the rotation.

        Raises:
            PermissionError: a file at ``path`` exists but cannot be opened.
            OSError: another error while opening it (the caller retries later).
        """
        result = ReadResult()
        if self._is_first_call:
            self._recover_rotated(result)
            self._is_first_call = False
        self._check_path(result)
        self._from_end = False  # only the file found by the first call starts at its end

        budget = budget_bytes
        try:
            for old in list(self._draining):
                old.size = os.fstat(old.fd).st_size
                budget -= self._read(old, budget, result)
                if old.read_offset >= old.size:
                    self._maybe_drop(old, result)

            current = self._current
            if current is not None:
                current.size = os.fstat(current.fd).st_size
                self._check_truncation(current, result)
                self._read(current, budget, result)
        except OSError as exc:
            # Lines already read stay in the result: their offsets have moved on.
            result.error = exc
            current = self._current

        for f in [*self._draining, *([current] if current else [])]:
            behind = max(0, f.size - f.read_offset)
            result.lag_bytes += behind
            result.has_more = result.has_more or behind > 0
            self._report_position(f, result)
        return result

    # -- opening and rotation -------------------------------------------------

    def _check_path(self, result: ReadResult) -> None:
        try:
            info = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            if self._current is not None:
                # Deleted or renamed away: drain it like a rotated file, so a
                # deleted file's disk space is not held open forever.
                logger.info("log %s was removed or renamed; reading the old file to its end", self.path)
                self._draining.append(self._current)
                self._current = None
            return
        identity = (info.st_dev, info.st_ino)
        if self._current is not None and identity == self._current.identity:
            return

        for old in self._draining:
            if old.identity == identity:
                # Switched back (a symlink pointed at an older file again).
                self._draining.remove(old)
                self._retire_current(result)
                old.quiet_since = None
                self._current = old
                return

        opened = self._open()
        if opened is None:
            return
        self._retire_current(result)
        self._current = opened
        result.opened.append(opened.position())

    def _retire_current(self, result: ReadResult) -> None:
        if self._current is not None:
            logger.info("log %s was rotated; draining the old file, then following the new one", self.path)
            self._draining.append(self._current)
            self._current = None
            result.rotated = True

    def _open(self) -> _OpenFile | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            return None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise IsADirectoryError(0, f"{self.path!r} is not a regular file; give the path of a log file")
        f = _OpenFile(fd, info, 0)
        f.update_fingerprint()
        f.read_offset = f.line_offset = self._start_offset(f)
        return f

    def _start_offset(self, f: _OpenFile) -> int:
        stored = self._stored.pop(f.identity, None)
        is_first = self._from_end
        self._from_end = False
        if stored is not None:
            if not f.matches(stored):
                logger.info("log %s: the file's first bytes changed since the last run; reading it from the start", self.path)
                return 0
            if stored.offset > f.size:
                logger.warning("log %s shrank below the stored position %d; reading it from the start", self.path, stored.offset)
                return 0
            return stored.offset
        if self._has_history:
            return 0  # followed before, and this file is new since
        return f.size if is_first else 0

    def _recover_rotated(self, result: ReadResult) -> None:
        """Drain stored files that were renamed beside ``path`` while the engine was down."""
        if not self._stored:
            return
        current_identity: tuple[int, int] | None
        try:
            info = os.stat(self.path)
            current_identity = (info.st_dev, info.st_ino)
        except (FileNotFoundError, NotADirectoryError):
            current_identity = None

        folders = {os.path.dirname(os.path.abspath(self.path)), os.path.dirname(os.path.realpath(self.path))}
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                identity = (info.st_dev, info.st_ino)
                stored = self._stored.get(identity)
                if stored is None or identity == current_identity or not stat.S_ISREG(info.st_mode):
                    continue
                self._open_rotated(entry.path, stored, result)

        for identity in list(self._stored):
            if identity != current_identity:
                result.dropped.append(self._stored.pop(identity))

    def _open_rotated(self, path: str, stored: FilePosition, result: ReadResult) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        f = _OpenFile(fd, os.fstat(fd), stored.offset)
        # The identity check catches a file renamed again between scandir and open.
        if f.identity != stored.identity or not f.matches(stored) or stored.offset > f.size:
            os.close(fd)
            return
        f.update_fingerprint()
        del self._stored[f.identity]
        logger.info("log %s was rotated to %s while stopped; reading it from offset %d", self.path, path, stored.offset)
        self._draining.append(f)
        result.opened.append(f.position())

    def _maybe_drop(self, f: _OpenFile, result: ReadResult) -> None:
        now = time.monotonic()
        if f.quiet_since is None:
            f.quiet_since = now
            return
        if now - f.quiet_since < self._rotated_grace_s:
            return
        # The old file ended without a newline: its last line is complete now.
        self._flush_partial(f, result)
        os.close(f.fd)
        self._draining.remove(f)
        result.dropped.append(f.position())

    def _check_truncation(self, f: _OpenFile, result: ReadResult) -> None:
        if f.size < f.read_offset:
            reason = f"size {f.size} < offset {f.read_offset}"
        elif f.size != f.checked_size and not f.update_fingerprint():
            reason = "its first bytes changed"
        else:
            return
        # NOTE: lines appended after the last read and before the truncation
        # are lost. With copytruncate, lines written between the copy and the
        # truncate are in neither file, so no tailer can see them. Earlier
        # unread lines are in the copy, which this follower does not read.
        logger.warning("log %s was truncated (%s); reading it from the start", self.path, reason)
        f.read_offset = f.line_offset = 0
        f.partial = b""
        f.is_partial_cut = False
        f.fingerprint_bytes = -1
        f.update_fingerprint()
        result.truncated = True

    # -- reading --------------------------------------------------------------

    def _read(self, f: _OpenFile, budget: int, result: ReadResult) -> int:
        if budget <= 0:
            return 0
        data = os.pread(f.fd, budget, f.read_offset)
        if not data:
            return 0
        f.quiet_since = None
        chunk_offset = f.read_offset
        f.read_offset += len(data)
        f.size = max(f.size, f.read_offset)

        newline = data.rfind(b"\n")
        if newline < 0:
            self._extend_partial(f, data)
            return len(data)

        at_file_start = f.line_offset == 0
        if f.is_partial_cut:
            # The rest of an over-long line ends at the first newline: skip it.
            self._flush_partial(f, result)
            block = data[data.find(b"\n") + 1 : newline + 1]
            at_file_start = False
        elif f.partial:
            block = f.partial + data[: newline + 1]
        else:
            block = data[: newline + 1]
        f.line_offset = chunk_offset + newline + 1
        f.partial = b""
        self._extend_partial(f, data[newline + 1 :])

        lines, cut = split_lines(block, at_file_start=at_file_start)
        result.lines.extend(lines)
        result.truncated_lines += cut
        return len(data)

    @staticmethod
    def _extend_partial(f: _OpenFile, data: bytes) -> None:
        if not data or f.is_partial_cut:
            return
        f.partial += data
        if len(f.partial) > MAX_LINE_BYTES:
            # Keep the head of an over-long line (one byte more, to find a
            # character boundary); the rest is skipped up to its newline.
            f.partial = f.partial[: MAX_LINE_BYTES + 1]
            f.is_partial_cut = True

    @staticmethod
    def _flush_partial(f: _OpenFile, result: ReadResult) -> None:
        """Hand on the partial line as complete (cut when over-long) and clear it."""
        if f.partial:
            lines, cut = split_lines(f.partial + b"\n", at_file_start=f.line_offset == 0)
            result.lines.extend(lines)
            result.truncated_lines += cut
        f.partial = b""
        f.is_partial_cut = False

    @staticmethod
    def _report_position(f: _OpenFile, result: ReadResult) -> None:
        state = (f.line_offset, f.fingerprint)
        if state != f.reported:
            f.reported = state
            result.positions.append(f.position())
