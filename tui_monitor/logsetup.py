"""Logging set-up: stderr in headless mode, a file while the UI owns the terminal."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

__all__ = ["configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(*, level: int = logging.INFO, log_file: Path | None = None) -> None:
    """Send the project's log records to stderr, or to ``log_file`` when given.

    The file rotates at 5 MB and keeps three old files.
    """
    handler: logging.Handler
    if log_file is None:
        handler = logging.StreamHandler()
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger("tui_monitor")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
