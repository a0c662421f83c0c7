"""The log pipeline of one stream: lines in, records with templates out, window features.

``LogPipeline`` runs on the engine's event loop thread. Its only I/O is
``save`` (also called from ``window_features`` once a minute), which writes
the miner state to the feature store in one small transaction.

Two ways in: ``feed`` returns ``LogRecord`` objects (tools, tests), and
``tag`` returns only each line's level and template id (the engine, which
stores them with the lines). ``tag`` skips parsing for a line whose shape
(``shape_key``: digits turned into 0) it has parsed before, when the
format's level never depends on digits: such a line starts a record with the
cached level and template. One pipeline is fed one way.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from drain3.drain import LogCluster

from tui_monitor.errors import StoreError
from tui_monitor.parsing.features import LogWindowFeatures
from tui_monitor.parsing.formats import DETECT_LINES, FORMATS, detect_format, get_parser
from tui_monitor.parsing.layouts import parse_plain
from tui_monitor.parsing.multiline import looks_like_continuation
from tui_monitor.parsing.records import LogRecord
from tui_monitor.parsing.templates import (
    DIGITS_TO_ZERO,
    SHAPE_CACHE_SIZE,
    MinerSettings,
    TemplateMiner,
    find_entry,
    kept_digit_tokens,
    store_entry,
)
from tui_monitor.parsing.timestamps import TimeParser

if TYPE_CHECKING:
    from tui_monitor.store import FeatureStore

__all__ = ["LineTags", "LogPipeline", "LogPipelines"]

logger = logging.getLogger(__name__)

# Formats whose every line starts with a header: a line without one continues
# the record before it (a message with embedded newlines).
_HEADER_FORMATS = frozenset({"python", "syslog", "syslog5424"})
# Formats whose level comes from a word, so that lines of one shape share it.
# JSON levels may be numbers (pino's 30 and 50), access logs take theirs
# from the status and syslog5424 from the priority: those are parsed always.
_SHAPE_FORMATS = frozenset({"plain", "python", "python_basic", "logfmt", "syslog"})
# Consecutive lines the detected format failed to parse before detecting again.
_REDETECT_AFTER = 20
# Physical lines joined into one record at most; a longer event is split.
_MAX_JOINED_LINES = 500
# Characters of a message given to the template miner.
_MAX_MINED_CHARS = 2000


@dataclass(slots=True)
class LineTags:
    """The level and template id of each line of one batch, in the batch's order.

    ``levels[i]`` is the level of the record that line ``i`` starts. It is
    None for a continuation line, a blank line or a record without a level.
    ``template_ids[i]`` is the template of the record that line ``i``
    belongs to, and None for a blank line.
    """

    levels: list[str | None]
    template_ids: list[int | None]


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
        self._outbox: list[LogRecord] = []  # released by window_features, not yet returned
        # The record still open for continuation lines: its physical lines
        # (0 when none is open), what the features count, and for ``feed``
        # the record itself with its raw lines.
        self._open_lines = 0
        self._open_level: str | None = None
        self._open_template: int | None = None
        self._open_is_new = False
        self._open_access: dict[str, Any] | None = None
        self._open_record: LogRecord | None = None
        self._open_raw: list[str] = []
        # line shape -> (level, Drain cluster id, the cluster, its kept digit
        # tokens), or a list of those (see store_entry)
        self._shapes: dict[bytes, Any] = {}
        self._evictions_seen = 0
        self._roots: dict[int, int] = {}  # cluster id -> template id, until the miner's templates change
        self._changes_seen = 0
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
        done, self._outbox = self._outbox, []
        self._consume(list(lines), done)
        return done

    def tag(self, lines: list[str]) -> LineTags:
        """Parse, join and mine complete lines; return each line's level and template id.

        The same work as ``feed`` without building records: a line of a
        shape seen before costs a dictionary lookup.
        """
        self._outbox.clear()
        return self._consume(lines, None)

    def _consume(self, lines: list[str], done: list[LogRecord] | None) -> LineTags:
        if self.format is None:
            self._detect([line.rstrip("\r\n") for line in lines])
        levels: list[str | None] = []
        template_ids: list[int | None] = []
        shapes = self._shapes if done is None and self.format in _SHAPE_FORMATS else None
        miner = self.miner
        roots = self._roots
        count = self._features.count
        recent = self._recent
        digits_to_zero = DIGITS_TO_ZERO
        # Cache hits are counted in the miner before anything else reaches
        # it; their clusters are marked as used once per batch.
        hits = 0
        touched: set[int] = set()
        if miner.template_changes != self._changes_seen:
            self._changes_seen = miner.template_changes
            roots.clear()

        for line in lines:
            key = None
            if shapes is not None:
                key = line.encode("utf-8", "surrogatepass").translate(digits_to_zero)  # shape_key, inlined
                hit = shapes.get(key)
                if hit is not None and (hit.__class__ is list or hit[3]):
                    hit = find_entry(hit, line)  # the template keeps tokens with digits
                if hit is not None:
                    # A record start of a known shape. _release and _open are
                    # inlined, since this runs once per line.
                    level, cluster_id, cluster, _ = hit
                    cluster.size += 1
                    hits += 1
                    touched.add(cluster_id)
                    template_id = roots.get(cluster_id)
                    if template_id is None:
                        template_id = roots[cluster_id] = miner.resolve(cluster_id)
                    if self._open_lines:
                        count(self._open_level, self._open_template, self._open_is_new, self._open_lines, self._open_access)
                        self._open_access = None
                    self._open_lines = 1
                    self._open_level = level
                    self._open_template = template_id
                    self._open_is_new = False
                    self._misses = 0
                    recent.append(line)
                    levels.append(level)
                    template_ids.append(template_id)
                    continue

            if hits:
                miner.count_hits(hits, ())
                hits = 0
            found = self._parse_line(line, key, done)
            if miner.template_changes != self._changes_seen:
                self._changes_seen = miner.template_changes
                roots.clear()
            levels.append(found[0])
            template_ids.append(found[1])
        miner.count_hits(hits, touched)
        return LineTags(levels, template_ids)

    def _parse_line(self, line: str, key: bytes | None, done: list[LogRecord] | None) -> tuple[str | None, int | None]:
        """Handle one line the shape cache did not know; return its level and template id."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return None, None
        self._recent.append(line)
        record = self._parse(line)
        if record is None:
            if self._open_lines and self._open_lines < _MAX_JOINED_LINES:
                self._open_lines += 1
                if done is not None:
                    self._open_raw.append(line)
                return None, self._open_template
            record = parse_plain(line, self._clock)
        cluster_id = self._open(record, done)
        if self.miner.evictions != self._evictions_seen:
            self._evictions_seen = self.miner.evictions
            self._shapes.clear()  # entries may hold a dropped cluster
        cluster = self.miner.cluster(cluster_id)
        if key is not None and cluster is not None and self._is_shape_cacheable(record, line):
            entry = (record.level, cluster_id, cluster, kept_digit_tokens(cluster))
            store_entry(self._shapes, key, entry, SHAPE_CACHE_SIZE)
        return record.level, record.template_id

    def _is_shape_cacheable(self, record: LogRecord, line: str) -> bool:
        """Return whether every line of this shape starts a record with this level, whatever came before."""
        if record.format != self.format or self.format not in _SHAPE_FORMATS:
            # The format's parser failed (a fallback that depends on the lines
            # before), or the format changed in this batch to one not cached.
            return False
        if record.format == "plain":
            return not looks_like_continuation(line, is_after_multiline=True)
        return "severity" not in record.fields  # a syslog priority sets the level from digits

    def _detect(self, lines: list[str]) -> None:
        sample = [line for line in lines if line.strip() and not looks_like_continuation(line)]
        if sample:
            self.format = detect_format(sample, self._clock)
            self._shapes.clear()
            logger.info("log %s: detected format %s", self.stream, self.format)

    def _parse(self, line: str) -> LogRecord | None:
        """Parse a line that starts a record, or return None for a continuation line."""
        fmt = self.format or "plain"
        is_after_multiline = self._open_lines > 1
        if fmt == "plain":
            if self._open_lines and looks_like_continuation(line, is_after_multiline=is_after_multiline):
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
        if self._open_lines and (fmt in _HEADER_FORMATS or is_continuation):
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
        self._shapes.clear()

    def _open(self, record: LogRecord, done: list[LogRecord] | None) -> int:
        """Release the open record, mine ``record`` and open it; return its Drain cluster id.

        The template comes from the first line's message alone, so it is
        known at once and every line of the record is stored with it.
        """
        self._release(done)
        cluster_id, template_id, is_new = self.miner.mine(record.message[:_MAX_MINED_CHARS])
        record.template_id = template_id
        record.is_new_template = is_new
        if is_new:
            logger.debug("log %s: new template t%d: %s", self.stream, template_id, self.miner.template(template_id))
        self._open_lines = 1
        self._open_level = record.level
        self._open_template = template_id
        self._open_is_new = is_new
        self._open_access = record.fields if record.format == "access" else None
        if done is not None:
            self._open_record = record
            self._open_raw = [record.raw]
        return cluster_id

    def _release(self, done: list[LogRecord] | None) -> None:
        """Count the open record in the window and, for ``feed``, hand it to ``done``."""
        if not self._open_lines:
            return
        self._features.count(self._open_level, self._open_template, self._open_is_new, self._open_lines, self._open_access)
        record = self._open_record
        if done is not None and record is not None:
            if len(self._open_raw) > 1:
                record.raw = "\n".join(self._open_raw)
            done.append(record)
        self._open_lines = 0
        self._open_access = None
        self._open_record = None

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

    def new_templates(self) -> list[tuple[int, str, int]]:
        """Return (id, text, records in the window) of the templates first seen in the window closed last.

        Ids are as the template is known now (``TemplateMiner.resolve``); at most 20.
        """
        counts = self._features.template_counts
        found = []
        for template_id in self._features.new_template_ids:
            current = self.miner.resolve(template_id)
            found.append((current, self.miner.template(current) or "", counts.get(template_id, 0)))
        return found

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

    def tag(self, stream: str, lines: list[str]) -> LineTags:
        """Feed lines of ``stream``; return each line's level and template id (see ``LogPipeline.tag``)."""
        return self.pipeline(stream).tag(lines)

    def window_features(self, stream: str) -> dict[str, float]:
        """Return and reset the window features of ``stream``."""
        return self.pipeline(stream).window_features()

    def save(self) -> None:
        """Save every stream's template miner."""
        for pipeline in self.pipelines.values():
            pipeline.save()
