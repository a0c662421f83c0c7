"""Property tests: no parser raises anything but a tui-monitor error on any text."""

from __future__ import annotations

from datetime import UTC

from hypothesis import given, settings
from hypothesis import strategies as st

from tui_monitor.errors import TuiMonitorError
from tui_monitor.parsing import FORMATS, LogPipeline, TimeParser, detect_format, mask_message, split_header
from tui_monitor.parsing.records import LogRecord

CLOCK = TimeParser(tz=UTC)

# Text with the characters log layouts are made of, so parsers get past their
# first checks more often than with uniformly random text.
_LOGGY = st.text(
    alphabet=st.sampled_from(list('{}[]<>"=:- \t|/.,0123456789TZabcINFOERWGDjan\\') + ["\u00e9", "\ufeff", "\x00"]),
    max_size=120,
)
_TEXT = st.one_of(st.text(max_size=200), _LOGGY)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_every_parser_returns_record_or_none(line: str) -> None:
    for parser in FORMATS.values():
        try:
            record = parser(line, CLOCK)
        except TuiMonitorError:
            continue
        assert record is None or isinstance(record, LogRecord)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXT, max_size=8))
def test_detect_format_names_a_format(lines: list[str]) -> None:
    assert detect_format(lines, CLOCK) in FORMATS


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_split_header_rejoins_to_line(line: str) -> None:
    header, message = split_header(line)
    assert message in line
    assert header in line


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_mask_message_never_raises(line: str) -> None:
    assert isinstance(mask_message(line), str)


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, max_size=10))
def test_pipeline_accepts_any_lines(lines: list[str]) -> None:
    pipeline = LogPipeline("log.fuzz", tz=UTC)
    records = pipeline.feed(lines) + pipeline.flush()
    features = pipeline.window_features()
    assert features["log.fuzz.records"] == 0.0 or features["log.fuzz.records"] == float(len(records))
    assert all(r.template_id is not None for r in records)


_LINE = st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=80)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_LINE, st.sampled_from(["  at x", "Traceback (most recent call last):", "KeyError: 1", "{}"])), max_size=15))
def test_pipeline_keeps_every_line(lines: list[str]) -> None:
    pipeline = LogPipeline("log.fuzz", tz=UTC)
    records = pipeline.feed(lines) + pipeline.flush()
    kept = [line.rstrip("\r\n") for line in lines]
    assert sum(record.line_count for record in records) == sum(1 for line in kept if line.strip())
