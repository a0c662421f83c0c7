"""The exception tree of tui-monitor.

Every error the project raises on purpose derives from ``TuiMonitorError``::

    TuiMonitorError
    ├── ConfigError      bad option, config key or value
    ├── StoreError       the SQLite feature store cannot be opened or written
    │   └── CorruptStoreError  the database file is corrupt
    ├── SourceError      a source cannot read its input
    ├── DetectorError    a model cannot learn or score
    ├── RuleError        a rule file is invalid
    ├── NotifyError      a notification target failed
    └── ExplanationError an anomaly cannot be explained

Messages name the bad value with ``!r``, where it came from and what to do.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorruptStoreError",
    "DetectorError",
    "ExplanationError",
    "NotifyError",
    "RuleError",
    "SourceError",
    "StoreError",
    "TuiMonitorError",
]


class TuiMonitorError(Exception):
    """Base class of every error raised by tui-monitor on purpose."""


class ConfigError(TuiMonitorError):
    """An option, config key or value is invalid."""


class StoreError(TuiMonitorError):
    """The feature store cannot be opened, migrated or written."""


class CorruptStoreError(StoreError):
    """The database file is corrupt or not a SQLite database."""


class SourceError(TuiMonitorError):
    """A source cannot read its input."""


class DetectorError(TuiMonitorError):
    """A detector cannot learn from or score a window."""


class RuleError(TuiMonitorError):
    """A rule file is invalid."""


class NotifyError(TuiMonitorError):
    """A notification target failed."""


class ExplanationError(TuiMonitorError):
    """An anomaly event cannot be explained (no history, unsupported model)."""
