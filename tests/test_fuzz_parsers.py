"""Property-based tests of the text parsers: any input gives a value or the project's own error.

Each parser gets arbitrary text, and text built from the fragments it looks
for, so that hypothesis spends its examples near the interesting cases.
"""

from __future__ import annotations

import argparse
import math
import re
from urllib.parse import urlsplit

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tui_monitor.cli import parse_duration
from tui_monitor.errors import ConfigError
from tui_monitor.settings import parse_endpoint
from tui_monitor.sources.logfile import LEVELS, detect_level

EXAMPLES = 300

LEVEL_WORDS = ["ERROR", "WARN", "WARNING", "INFO", "DEBUG", "TRACE", "FATAL", "CRIT", "NOTICE", "error", "Warning"]
KEY_FORMS = ["level=", "lvl=", "severity:", '"level": "', "'level':'", "LEVEL=", "level = "]


log_lines = st.one_of(
    st.text(max_size=400),
    st.lists(
        st.one_of(st.sampled_from(LEVEL_WORDS), st.sampled_from(KEY_FORMS), st.text(max_size=30), st.just(" ")),
        max_size=30,
    ).map("".join),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(log_lines)
@example("x" * 195 + " ERROR")
@example("level=\udcff")
def test_detect_level_returns_known_level(line: str) -> None:
    level = detect_level(line)

    assert level is None or level in LEVELS


@settings(max_examples=EXAMPLES, deadline=None)
@given(log_lines)
def test_detect_level_reads_first_200_chars(line: str) -> None:
    assert detect_level(line) == detect_level(line[:200])


URL_PARTS = ["http://", "https://", "ftp://", "api=", "=", "[", "]", "::1", "127.0.0.1", ":8080", ":99999", ":-1", "/health", "?q=1", "#f", "@", "%", " "]

url_texts = st.one_of(
    st.text(max_size=120),
    st.lists(st.one_of(st.sampled_from(URL_PARTS), st.text(max_size=8)), max_size=12).map("".join),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(url_texts)
@example("http://[::1")
@example("http://127.0.0.1:99999/health")
@example("api=http://[v1.x]/")
@example("HTTP://0")
def test_parse_endpoint_spec_or_config_error(text: str) -> None:
    try:
        spec = parse_endpoint(text)
    except ConfigError as exc:
        assert repr(text) in str(exc)
        return

    assert re.fullmatch(r"[a-z0-9_]+", spec.name)
    # Schemes are case-insensitive (RFC 3986), so HTTP://host is a valid http URL.
    assert urlsplit(spec.url).scheme in ("http", "https")
    assert urlsplit(spec.url).netloc


DURATION_PARTS = ["1", "90", "0", "1.5", ".5", "1e3", "9" * 400, "s", "m", "h", "d", "w", "y", " ", "-", "+", "nan", "inf"]

duration_texts = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(DURATION_PARTS), st.text(max_size=4)), max_size=6).map("".join),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(duration_texts)
@example("9" * 400 + "w")
@example("\u0663h")
def test_parse_duration_finite_or_type_error(text: str) -> None:
    # ArgumentTypeError is argparse's contract for type= functions: argparse
    # turns it into a usage message and exit status 2.
    try:
        seconds = parse_duration(text)
    except argparse.ArgumentTypeError as exc:
        assert repr(text) in str(exc)
        return

    assert math.isfinite(seconds)
    assert seconds >= 0.0
