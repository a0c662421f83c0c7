"""Storage faults: what a failed SQLite call means, and setting a corrupt file aside.

The writer meets four kinds of trouble, distinguished by SQLite's primary
result code (``sqlite3.Error.sqlite_errorname``, Python 3.11+):

- ``locked``: another connection holds the write lock longer than the busy
  timeout (``SQLITE_BUSY``, ``SQLITE_LOCKED``).
- ``full``: the file system is full, or the file reached ``max_page_count``
  (``SQLITE_FULL``).
- ``corrupt``: the file is not a database or a page is malformed
  (``SQLITE_CORRUPT``, ``SQLITE_NOTADB``).
- ``failed``: anything else (I/O errors, a read-only file, ...).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

__all__ = ["FAULT_CORRUPT", "FAULT_FAILED", "FAULT_FULL", "FAULT_LOCKED", "classify_error", "is_corruption", "set_aside_corrupt"]

logger = logging.getLogger(__name__)

FAULT_LOCKED = "locked"
FAULT_FULL = "full"
FAULT_CORRUPT = "corrupt"
FAULT_FAILED = "failed"

_FAULT_OF_CODE = {
    "SQLITE_BUSY": FAULT_LOCKED,
    "SQLITE_LOCKED": FAULT_LOCKED,
    "SQLITE_FULL": FAULT_FULL,
    "SQLITE_CORRUPT": FAULT_CORRUPT,
    "SQLITE_NOTADB": FAULT_CORRUPT,
}

# The WAL and shared-memory files belong to the database file: a corrupt
# file is set aside together with them, so a recovery tool finds all three.
_COMPANION_SUFFIXES = ("", "-wal", "-shm")


def classify_error(exc: sqlite3.Error) -> str:
    """Return the fault kind of a SQLite error: ``locked``, ``full``, ``corrupt`` or ``failed``.

    Extended codes (``SQLITE_BUSY_SNAPSHOT``, ``SQLITE_CORRUPT_INDEX``) count as
    their primary code.
    """
    name = getattr(exc, "sqlite_errorname", None) or ""
    primary = "_".join(name.split("_")[:2])
    return _FAULT_OF_CODE.get(primary, FAULT_FAILED)


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` reports that the database file is corrupt or not a database."""
    return classify_error(exc) == FAULT_CORRUPT


def set_aside_corrupt(path: Path, *, now: float | None = None) -> Path:
    """Rename a corrupt database (and its ``-wal`` and ``-shm``) to ``NAME.corrupt-<UTC time>``.

    Nothing is deleted: the renamed files can still be salvaged with
    ``sqlite3 NAME.corrupt-... .recover``.

    Returns:
        The new path of the database file.

    Raises:
        OSError: a file cannot be renamed; the files renamed so far keep their new names.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while any(Path(f"{target}{suffix}").exists() for suffix in _COMPANION_SUFFIXES):
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    for suffix in _COMPANION_SUFFIXES:
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    logger.warning("database %s is corrupt: kept as %s; starting a fresh database", path, target)
    return target
