"""Each line format parses to the right time, level, message and fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tui_monitor.errors import ConfigError
from tui_monitor.parsing.formats import detect_format, get_parser
from tui_monitor.parsing.layouts import (
    parse_access,
    parse_plain,
    parse_python,
    parse_python_basic,
    parse_syslog3164,
    parse_syslog5424,
)
from tui_monitor.parsing.structured import parse_json, parse_logfmt
from tui_monitor.parsing.timestamps import TimeParser

NOON = datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()
CLOCK = TimeParser(tz=UTC, now=lambda: datetime(2024, 6, 1, tzinfo=UTC).timestamp())


# -- JSON lines ---------------------------------------------------------------


@pytest.mark.parametrize("time_key", ["ts", "time", "timestamp", "@timestamp"])
def test_json_time_keys(time_key: str) -> None:
    record = parse_json(f'{{"{time_key}": "2024-05-01T12:00:00Z", "msg": "up"}}', CLOCK)
    assert record is not None
    assert record.ts == NOON


@pytest.mark.parametrize(("level_key", "value", "expected"), [("level", "warning", "warn"), ("lvl", "ERROR", "error"), ("severity", "debug", "debug"), ("level", 30, "info"), ("level", 50, "error"), ("level", 3, "error")])
def test_json_level_keys(level_key: str, value: object, expected: str) -> None:
    text = f'"{value}"' if isinstance(value, str) else str(value)
    record = parse_json(f'{{"{level_key}": {text}, "msg": "x"}}', CLOCK)
    assert record is not None
    assert record.level == expected


@pytest.mark.parametrize("message_key", ["msg", "message"])
def test_json_message_keys(message_key: str) -> None:
    record = parse_json(f'{{"{message_key}": "disk full", "path": "/var"}}', CLOCK)
    assert record is not None
    assert record.message == "disk full"
    assert record.fields == {"path": "/var"}


def test_json_epoch_milliseconds() -> None:
    record = parse_json('{"ts": 1714564800500, "msg": "x"}', CLOCK)
    assert record is not None
    assert record.ts == NOON + 0.5


def test_json_zone_offset() -> None:
    record = parse_json('{"time": "2024-05-01T14:00:00+02:00", "msg": "x"}', CLOCK)
    assert record is not None
    assert record.ts == NOON


def test_json_ecs_nested_level() -> None:
    record = parse_json('{"@timestamp": "2024-05-01T12:00:00Z", "log": {"level": "error"}, "message": "x"}', CLOCK)
    assert record is not None
    assert record.level == "error"


def test_json_without_message_uses_fields() -> None:
    record = parse_json('{"event_id": 7, "user": "ann"}', CLOCK)
    assert record is not None
    assert record.message == "event_id=7 user=ann"


@pytest.mark.parametrize("line", ["[1, 2]", '{"broken": ', "plain words", '"just a string"'])
def test_json_rejects_non_objects(line: str) -> None:
    assert parse_json(line, CLOCK) is None


# -- logfmt -------------------------------------------------------------------


def test_logfmt_fields_and_quotes() -> None:
    record = parse_logfmt('ts=2024-05-01T12:00:00Z level=warn msg="slow query" took=1.5s table=users', CLOCK)
    assert record is not None
    assert record.ts == NOON
    assert record.level == "warn"
    assert record.message == "slow query"
    assert record.fields == {"took": "1.5s", "table": "users"}


def test_logfmt_escaped_quote() -> None:
    record = parse_logfmt(r'level=info msg="say \"hi\"" n=1', CLOCK)
    assert record is not None
    assert record.message == 'say "hi"'


def test_logfmt_empty_value() -> None:
    record = parse_logfmt("level=info user= msg=ok", CLOCK)
    assert record is not None
    assert record.fields == {"user": ""}


@pytest.mark.parametrize("line", ["hello world", "a=1", "a=1 and more words", 'a="unclosed b=2'])
def test_logfmt_rejects_prose(line: str) -> None:
    assert parse_logfmt(line, CLOCK) is None


# -- syslog -------------------------------------------------------------------


def test_syslog3164_without_pri() -> None:
    record = parse_syslog3164("May  1 12:00:00 web1 sshd[4242]: Accepted publickey for ann", CLOCK)
    assert record is not None
    assert record.ts == NOON
    assert record.message == "Accepted publickey for ann"
    assert record.fields == {"host": "web1", "app": "sshd", "pid": "4242"}
    assert record.level is None


def test_syslog3164_pri_gives_level() -> None:
    record = parse_syslog3164("<34>May  1 12:00:00 mymachine su: 'su root' failed for lonvick", CLOCK)
    assert record is not None
    assert record.level == "error"  # 34 = facility 4 (auth), severity 2 (critical)
    assert record.fields["facility"] == 4
    assert record.fields["app"] == "su"


def test_syslog3164_level_word_in_message() -> None:
    record = parse_syslog3164("May  1 12:00:00 web1 app[1]: WARNING low memory", CLOCK)
    assert record is not None
    assert record.level == "warn"


def test_syslog3164_without_tag() -> None:
    record = parse_syslog3164("May  1 12:00:00 web1 last message repeated 3 times", CLOCK)
    assert record is not None
    assert record.message == "last message repeated 3 times"


def test_syslog3164_year_from_clock_at_new_year() -> None:
    clock = TimeParser(tz=UTC, now=lambda: datetime(2027, 1, 1, 0, 1, tzinfo=UTC).timestamp())
    record = parse_syslog3164("Dec 31 23:59:58 web1 cron[1]: done", clock)
    assert record is not None
    assert record.ts == datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC).timestamp()


def test_syslog3164_iso_stamp() -> None:
    record = parse_syslog3164("2024-05-01T14:00:00.000+02:00 web1 kernel: eth0 up", CLOCK)
    assert record is not None
    assert record.ts == NOON
    assert record.fields["app"] == "kernel"


def test_syslog_iso_level_word_is_not_host() -> None:
    record = parse_syslog3164("2024-05-01T12:00:00Z ERROR payment failed", CLOCK)
    assert record is not None
    assert record.level == "error"
    assert "host" not in record.fields
    assert record.message == "payment failed"


def test_syslog5424_full() -> None:
    line = '<165>1 2024-05-01T12:00:00.003Z host1 evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="App"] An application event'
    record = parse_syslog5424(line, CLOCK)
    assert record is not None
    assert record.ts == pytest.approx(NOON + 0.003)
    assert record.level == "info"  # severity 5, notice
    assert record.message == "An application event"
    assert record.fields["exampleSDID@32473"] == {"iut": "3", "eventSource": "App"}
    assert record.fields["msgid"] == "ID47"


def test_syslog5424_nil_values() -> None:
    record = parse_syslog5424("<11>1 - - - - - - nothing known", CLOCK)
    assert record is not None
    assert record.ts is None
    assert record.level == "error"
    assert record.fields == {"facility": 1, "severity": 3}


def test_syslog5424_bom_stripped() -> None:
    record = parse_syslog5424("<14>1 2024-05-01T12:00:00Z h a - - - \ufeffhello", CLOCK)
    assert record is not None
    assert record.message == "hello"


# -- access logs --------------------------------------------------------------


def test_access_common() -> None:
    line = '127.0.0.1 - frank [01/May/2024:14:00:00 +0200] "GET /apache_pb.gif HTTP/1.0" 200 2326'
    record = parse_access(line, CLOCK)
    assert record is not None
    assert record.ts == NOON
    assert record.fields["status"] == 200
    assert record.fields["bytes"] == 2326
    assert record.fields["method"] == "GET"
    assert record.fields["path"] == "/apache_pb.gif"
    assert record.fields["user"] == "frank"
    assert record.level == "info"


def test_access_combined() -> None:
    line = '10.0.0.2 - - [01/May/2024:12:00:00 +0000] "POST /api HTTP/1.1" 503 - "https://example.org/" "curl/8.0"'
    record = parse_access(line, CLOCK)
    assert record is not None
    assert record.fields["status"] == 503
    assert record.fields["bytes"] == 0
    assert record.fields["agent"] == "curl/8.0"
    assert record.fields["referer"] == "https://example.org/"
    assert record.level == "error"


def test_access_4xx_is_warn() -> None:
    record = parse_access('h - - [01/May/2024:12:00:00 +0000] "GET /x HTTP/1.1" 404 10', CLOCK)
    assert record is not None
    assert record.level == "warn"


@pytest.mark.parametrize(("extra", "expected_ms"), [("0.250", 250.0), ("rt=0.003", 3.0), ("1500", 1.5), ("request_time=2", 0.002)])
def test_access_request_time(extra: str, expected_ms: float) -> None:
    line = f'h - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" {extra}'
    record = parse_access(line, CLOCK)
    assert record is not None
    assert record.fields["request_time_ms"] == pytest.approx(expected_ms)


def test_access_escaped_quote_in_agent() -> None:
    line = r'h - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "say \"hi\""'
    record = parse_access(line, CLOCK)
    assert record is not None
    assert record.fields["agent"] == r"say \"hi\""


def test_access_rejects_bad_date() -> None:
    assert parse_access('h - - [99/Foo/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 5', CLOCK) is None


# -- Python logging -----------------------------------------------------------


def test_python_default_layout() -> None:
    record = parse_python("2024-05-01 12:00:00,250 ERROR app.db: connection lost", CLOCK)
    assert record is not None
    assert record.ts == NOON + 0.25
    assert record.level == "error"
    assert record.message == "connection lost"
    assert record.fields == {"logger": "app.db"}


def test_python_dashed_layout() -> None:
    record = parse_python("2024-05-01 12:00:00,000 - app.web - WARNING - slow request", CLOCK)
    assert record is not None
    assert record.level == "warn"
    assert record.message == "slow request"


def test_python_unknown_level_rejected() -> None:
    assert parse_python("2024-05-01 12:00:00,000 HELLO app: x", CLOCK) is None


def test_python_basic_config_layout() -> None:
    record = parse_python_basic("WARNING:root:disk almost full: 91%", CLOCK)
    assert record is not None
    assert record.ts is None
    assert record.level == "warn"
    assert record.message == "disk almost full: 91%"
    assert record.fields == {"logger": "root"}


# -- plain text ---------------------------------------------------------------


def test_plain_iso_header() -> None:
    record = parse_plain("2024-05-01T12:00:00Z [worker-3] ERROR Job: job 42 failed", CLOCK)
    assert record.ts == NOON
    assert record.level == "error"
    assert record.message == "job 42 failed"


def test_plain_syslog_like_header() -> None:
    record = parse_plain("May  1 12:00:00 combo kernel: oom-killer invoked", CLOCK)
    assert record.ts == NOON
    assert record.message == "oom-killer invoked"


def test_plain_logback_layout() -> None:
    record = parse_plain("2024-05-01 12:00:00.250 [main] WARN com.example.Pool - pool 80% used", CLOCK)
    assert record.ts == NOON + 0.25
    assert record.level == "warn"
    assert record.message == "pool 80% used"


def test_plain_go_log_layout() -> None:
    record = parse_plain("2024/05/01 12:00:00 listening on :8080", CLOCK)
    assert record.ts == NOON
    assert record.message == "listening on :8080"


def test_plain_klog_layout() -> None:
    record = parse_plain("E0501 12:00:00.123456       1 reflector.go:138] failed to list pods", CLOCK)
    assert record.level == "error"
    assert record.message == "failed to list pods"


def test_plain_tab_separated_layout() -> None:
    record = parse_plain("2024-05-01T12:00:00.000Z\tINFO\tserver/main.go:12\tstarted", CLOCK)
    assert record.ts == NOON
    assert record.level == "info"
    assert record.message == "server/main.go:12\tstarted"


def test_plain_no_header() -> None:
    record = parse_plain("nothing to see", CLOCK)
    assert record.ts is None
    assert record.level is None
    assert record.message == "nothing to see"


# -- detection ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['{"level": "info", "msg": "a"}'] * 3, "json"),
        (["ts=1 level=info msg=a", "ts=2 level=warn msg=b"], "logfmt"),
        (["May  1 12:00:00 h app[1]: a", "May  1 12:00:01 h app[1]: b"], "syslog"),
        (["<14>1 2024-05-01T12:00:00Z h a - - - x"], "syslog5424"),
        (['h - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 5'], "access"),
        (["2024-05-01 12:00:00,000 INFO a: b"], "python"),
        (["INFO:root:started", "ERROR:root:failed"], "python_basic"),
        (["some text", "more text"], "plain"),
        (["", "   "], "plain"),
    ],
)
def test_detect_format(lines: list[str], expected: str) -> None:
    assert detect_format(lines, CLOCK) == expected


def test_detect_skips_traceback_lines() -> None:
    lines = ["2024-05-01 12:00:00,000 ERROR a: b", "Traceback (most recent call last):", '  File "x", line 1']
    assert detect_format(lines, CLOCK) == "python"


def test_detect_mixed_file_falls_back_to_plain() -> None:
    lines = ['{"msg": "a"}', "text", "more text", "again text"]
    assert detect_format(lines, CLOCK) == "plain"


def test_unknown_format_name_raises() -> None:
    with pytest.raises(ConfigError, match="'xml'"):
        get_parser("xml")
