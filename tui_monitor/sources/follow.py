"""Follow one log file across rotation and truncation, byte-exact.

``FileFollower`` is synchronous and does no waiting; the log source calls
``read_lines`` when watchdog or its stat timer says the file may have changed.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass

__all__ = ["FileFollower", "ReadResult"]

logger = logging.getLogger(__name__)

# Bytes read per call: a burst is read in several calls rather than all at once,
# so one large file cannot starve the event loop; the rest waits on disk.
READ_CHUNK_BYTES = 1 << 20

# Longest line kept whole; a longer one is cut at this size and counted.
MAX_LINE_BYTES = 64 * 1024


@dataclass
class ReadResult:
    """Lines read by one call, and what happened to the file meanwhile."""

    lines: list[str]
    rotated: bool = False
    truncated: bool = False
    truncated_lines: int = 0
    has_more: bool = False


class FileFollower:
    """Read complete lines appended to ``path``, following rotation.

    Rotation by rename-and-create is detected by the path's inode changing;
    the old file is drained to its end before the new one is opened from its
    start. A file that shrinks below the read position was truncated in place
    (copytruncate or ``> file``) and is read again from its start.

    Args:
        path: the file to follow; it may not exist yet.
        from_end: start at the end of a file that exists when first opened
            (like ``tail -f``); a file that appears later is read from its start.
    """

    def __init__(self, path: str, *, from_end: bool = True) -> None:
        self.path = path
        self._from_end = from_end
        self._file: int | None = None
        self._inode: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""

    @property
    def is_open(self) -> bool:
        """Whether the file is open."""
        return self._file is not None

    @property
    def offset(self) -> int:
        """Byte offset of the next read in the open file."""
        return self._offset

    def close(self) -> None:
        """Close the file; a partial last line is dropped."""
        if self._file is not None:
            os.close(self._file)
        self._file = None
        self._inode = None

    def read_lines(self) -> ReadResult:
        """Read what was appended since the last call.

        Raises:
            PermissionError: the file exists but cannot be read.
        """
        if self._file is None and not self._open(first=True):
            return ReadResult([])

        result = ReadResult([])
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None

        if current is not None and (current.st_dev, current.st_ino) != self._inode:
            # Rotated: finish the old file, then switch to the new one.
            result.lines.extend(self._drain_old())
            result.rotated = True
            self.close()
            self._partial = b""
            self._open(first=False)
            if self._file is None:
                return result

        assert self._file is not None
        size = os.fstat(self._file).st_size
        if size < self._offset:
            logger.warning("log %s was truncated (size %d < offset %d); reading from the start", self.path, size, self._offset)
            self._offset = 0
            self._partial = b""
            result.truncated = True

        data = os.pread(self._file, READ_CHUNK_BYTES, self._offset)
        self._offset += len(data)
        result.has_more = self._offset < size
        lines, cut = self._split(data)
        result.lines.extend(lines)
        result.truncated_lines += cut
        return result

    def _open(self, *, first: bool) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            self._from_end = False  # the file appears later: read it whole
            return False
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise PermissionError(exc.errno, f"cannot read {self.path!r}: {exc.strerror}") from exc
            raise
        info = os.fstat(fd)
        self._file = fd
        self._inode = (info.st_dev, info.st_ino)
        self._offset = info.st_size if (first and self._from_end) else 0
        self._partial = b""
        return True

    def _drain_old(self) -> list[str]:
        assert self._file is not None
        lines: list[str] = []
        while True:
            data = os.pread(self._file, READ_CHUNK_BYTES, self._offset)
            if not data:
                break
            self._offset += len(data)
            chunk_lines, _ = self._split(data)
            lines.extend(chunk_lines)
        if self._partial:
            # The old file ended without a newline: its last line is complete now.
            lines.append(self._decode(self._partial))
            self._partial = b""
        return lines

    def _split(self, data: bytes) -> tuple[list[str], int]:
        if not data:
            return [], 0
        pieces = (self._partial + data).split(b"\n")
        self._partial = pieces.pop()
        cut = 0
        if len(self._partial) > MAX_LINE_BYTES:
            # NOTE: the remainder of an over-long line is discarded as it
            # arrives; only its first MAX_LINE_BYTES are kept.
            self._partial = self._partial[:MAX_LINE_BYTES]
        lines = []
        for raw in pieces:
            if len(raw) > MAX_LINE_BYTES:
                raw = raw[:MAX_LINE_BYTES]
                cut += 1
            lines.append(self._decode(raw))
        return lines, cut

    @staticmethod
    def _decode(raw: bytes) -> str:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode("utf-8", errors="replace")
