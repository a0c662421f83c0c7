"""The log pipeline of one stream: lines in, records with templates out, window features.

``LogPipeline`` runs on the engine's event loop thread. Its only I/O is
``save`` (also called from ``window_features`` once a minute), which writes
the miner state to the feature store in one small transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import tzinfo
from typing import TYPE_CHECKING

from tui_monitor.errors import StoreError
from tui_monitor.parsing.features import LogWindowFeatures
from tui_monitor.parsing.formats import DETECT_LINES, FORMATS, detect_format, get_parser
from tui_monitor.parsing.layouts import parse_plain
from tui_monitor.parsing.multiline import looks_like_continuation
from tui_monitor.parsing.records import LogRecord
from tui_monitor.parsing.templates import MinerSettings, TemplateMiner
from tui_monitor.parsing.timestamps import TimeParser

if TYPE_CHECKING:
    from tui_monitor.store import FeatureStore

__all__ = ["LogPipeline", "LogPipelines"]

logger = logging.getLogger(__name__)

# Formats whose every line starts with a header: a line without one continues
# the record before it (a message with embedded newlines).
_HEADER_FORMATS = frozenset({"python", "syslog", "syslog5424"})
# Consecutive lines the detected format failed to parse before detecting again.
_REDETECT_AFTER = 20
# Physical lines joined into one record at most; a longer event is split.
_MAX_JOINED_LINES = 500
# Characters of a message given to the template miner.
_MAX_MINED_CHARS = 2000


class LogPipeline:
    """Parse, join and mine the lines of one log stream, and count its windows.

    Args:
        stream: the stream name (``log.app``); features are named after it.
        log_format: a name from ``FORMATS`` or ``auto`` to detect it from the
            first lines (and again if it stops matching).
        store: where the template miner's state is loaded from and saved to;
            None keeps it in memory only.
        settings: template miner settings.
        tz: zone of timestamps written without one; None for the local zone.
        now: the clock, in epoch seconds (year-less stamps, save interval).
        top_templates: templates that get their own feature.
        save_every_s: minimum seconds between automatic saves of the miner.

    Raises:
        ConfigError: ``log_format`` is not ``auto`` or a known format.
    """

    def __init__(
        self,
        stream: str,
        *,
        log_format: str = "auto",
        store: FeatureStore | None = None,
        settings: MinerSettings | None = None,
        tz: tzinfo | None = None,
        now: Callable[[], float] = time.time,
        top_templates: int = 20,
        save_every_s: float = 60.0,
    ) -> None:
        self.stream = stream
        self.is_auto = log_format == "auto"
        self.format: str | None = None if self.is_auto else log_format
        if self.format is not None:
            get_parser(self.format)
        self._store = store
        self._clock = TimeParser(tz=tz, now=now)
        self._now = now
        self._save_every_s = save_every_s
        state = store.load_miner_state(stream) if store is not None else None
        try:
            self.miner = TemplateMiner(settings, state)
        except StoreError as exc:
            # A miner that cannot resume must not stop the stream. Its lines are
            # still counted, and the next save replaces the unreadable state.
            logger.warning("log %s: %s; mining templates afresh, so template ids start over", stream, exc)
            self.miner = TemplateMiner(settings)
        self._features = LogWindowFeatures(stream, top_templates)
        self._pending: LogRecord | None = None
        self._outbox: list[LogRecord] = []  # released by window_features, not yet returned
        self._pending_lines: list[str] = []
        self._misses = 0
        self._recent: deque[str] = deque(maxlen=DETECT_LINES)
        self._last_save = now()
        self._lines_at_save = self.miner.lines_seen

    def feed(self, lines: Iterable[str]) -> list[LogRecord]:
        """Parse complete lines and return the records they completed.

        The last record is held back until a line that starts a new record
        arrives (it may still get continuation lines), or until ``flush``.
        Records released by ``window_features`` come first in the next result.
        """
        lines = [line.rstrip("\r\n") for line in lines]
        if self.format is None:
            self._detect(lines)
        done, self._outbox = self._outbox, []
        for line in lines:
            if not line.strip():
                continue
            self._recent.append(line)
            record = self._parse(line)
            if record is None:
                self._join(line, done)
            else:
                self._start(record, done)
        return done

    def _detect(self, lines: list[str]) -> None:
        sample = [line for line in lines if line.strip() and not looks_like_continuation(line)]
        if sample:
            self.format = detect_format(sample, self._clock)
            logger.info("log %s: detected format %s", self.stream, self.format)

    def _parse(self, line: str) -> LogRecord | None:
        """Parse a line that starts a record, or return None for a continuation line."""
        fmt = self.format or "plain"
        is_after_multiline = len(self._pending_lines) > 1
        if fmt == "plain":
            if self._pending is not None and looks_like_continuation(line, is_after_multiline=is_after_multiline):
                return None
            return parse_plain(line, self._clock)

        record = FORMATS[fmt](line, self._clock)
        if record is not None:
            self._misses = 0
            return record
        is_continuation = looks_like_continuation(line, is_after_multiline=is_after_multiline)
        if not is_continuation:
            self._misses += 1
            if self.is_auto and self._misses >= _REDETECT_AFTER:
                self._redetect()
        if self._pending is not None and (fmt in _HEADER_FORMATS or is_continuation):
            return None
        return parse_plain(line, self._clock)

    def _redetect(self) -> None:
        """Detect the format again from the last lines; switch only to a structured one.

        A long message without headers (a pretty-printed value) also fails the
        format line after line, and must not turn a Python log into plain text.
        """
        self._misses = 0
        found = detect_format(list(self._recent), self._clock)
        if found in (self.format, "plain"):
            return
        logger.warning("log %s: lines no longer match format %s; now reading them as %s", self.stream, self.format, found)
        self.format = found

    def _join(self, line: str, done: list[LogRecord]) -> None:
        if self._pending is None or len(self._pending_lines) >= _MAX_JOINED_LINES:
            self._start(parse_plain(line, self._clock), done)
            return
        self._pending_lines.append(line)

    def _start(self, record: LogRecord, done: list[LogRecord]) -> None:
        self._release(done)
        self._pending = record
        self._pending_lines = [record.raw]

    def _release(self, done: list[LogRecord]) -> None:
        record = self._pending
        if record is None:
            return
        if len(self._pending_lines) > 1:
            record.raw = "\n".join(self._pending_lines)
        match = self.miner.add(record.message[:_MAX_MINED_CHARS])
        record.template_id = match.template_id
        record.is_new_template = match.is_new
        if match.is_new:
            logger.debug("log %s: new template t%d: %s", self.stream, match.template_id, match.template)
        self._features.add(record)
        done.append(record)
        self._pending = None
        self._pending_lines = []

    def flush(self) -> list[LogRecord]:
        """Release the record held back for continuation lines, if any.

        Returns it after any records that ``window_features`` released and no
        ``feed`` has returned yet.
        """
        done, self._outbox = self._outbox, []
        self._release(done)
        return done

    def window_features(self) -> dict[str, float]:
        """Close the window: return its features and start counting a new one.

        The held-back record is released first and counted in this window, so
        a multi-line event still being written when the window closes is split
        in two. The released record is returned by the next ``feed`` or
        ``flush``. The miner is saved when ``save_every_s`` has passed and it
        learned something.
        """
        self._release(self._outbox)
        features = self._features.collect()
        if self._now() - self._last_save >= self._save_every_s:
            self.save()
        return features

    def save(self) -> None:
        """Write the miner state and templates to the store, if it changed.

        A store error is logged, not raised: mining goes on in memory and the
        next save tries again.
        """
        if self._store is None or self.miner.lines_seen == self._lines_at_save:
            return
        try:
            self._store.save_miner_state(
                self.stream, self.miner.save_state(), self.miner.lines_seen, self.miner.templates()
            )
        except (StoreError, sqlite3.Error, OSError) as exc:
            logger.warning("log %s: cannot save templates (%s); will retry", self.stream, exc)
            return
        self._last_save = self._now()
        self._lines_at_save = self.miner.lines_seen

    def template(self, template_id: int) -> str | None:
        """Return the text of a template of this stream, or None."""
        return self.miner.template(template_id)


class LogPipelines:
    """One ``LogPipeline`` per stream, made on first use.

    ``feed`` has the signature of the log source's line callback.

    Args:
        formats: format override per stream; others use ``default_format``.
        default_format: ``auto`` or a format name.
        **options: passed to every ``LogPipeline``.
    """

    def __init__(self, formats: dict[str, str] | None = None, default_format: str = "auto", **options: object) -> None:
        self._formats = dict(formats or {})
        self._default_format = default_format
        self._options = options
        self.pipelines: dict[str, LogPipeline] = {}
        for name in [default_format, *self._formats.values()]:
            if name != "auto":
                get_parser(name)

    def pipeline(self, stream: str) -> LogPipeline:
        """Return the pipeline of ``stream``, making it on first use."""
        found = self.pipelines.get(stream)
        if found is None:
            log_format = self._formats.get(stream, self._default_format)
            found = LogPipeline(stream, log_format=log_format, **self._options)  # type: ignore[arg-type]
            self.pipelines[stream] = found
        return found

    def feed(self, stream: str, lines: list[str]) -> list[LogRecord]:
        """Feed lines of ``stream``; return the records they completed."""
        return self.pipeline(stream).feed(lines)

    def window_features(self, stream: str) -> dict[str, float]:
        """Return and reset the window features of ``stream``."""
        return self.pipeline(stream).window_features()

    def save(self) -> None:
        """Save every stream's template miner."""
        for pipeline in self.pipelines.values():
            pipeline.save()
