"""LogPipeline: detection, multi-line joining, template ids, features, persistence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui_monitor.errors import ConfigError
from tui_monitor.parsing import LogPipeline, LogPipelines, MinerSettings
from tui_monitor.store import FeatureStore

NOW = datetime(2024, 6, 1, tzinfo=UTC).timestamp()


def _pipeline(**options: object) -> LogPipeline:
    return LogPipeline("log.app", tz=UTC, now=lambda: NOW, **options)  # type: ignore[arg-type]


PYTHON_TRACEBACK = [
    "2024-05-01 12:00:00,000 INFO app: started",
    "2024-05-01 12:00:01,000 ERROR app: request failed",
    "Traceback (most recent call last):",
    '  File "app.py", line 10, in handle',
    "    reply = compute()",
    "ValueError: bad input",
    "2024-05-01 12:00:02,000 INFO app: still alive",
]


def test_python_traceback_joined() -> None:
    pipeline = _pipeline()
    records = pipeline.feed(PYTHON_TRACEBACK) + pipeline.flush()
    assert [r.message for r in records] == ["started", "request failed", "still alive"]
    assert records[1].line_count == 5
    assert records[1].raw.endswith("ValueError: bad input")


def test_traceback_split_across_feeds() -> None:
    pipeline = _pipeline()
    first = pipeline.feed(PYTHON_TRACEBACK[:3])
    second = pipeline.feed(PYTHON_TRACEBACK[3:])
    assert [r.message for r in first] == ["started"]
    assert second[0].line_count == 5


def test_last_record_held_until_flush() -> None:
    pipeline = _pipeline()
    assert len(pipeline.feed(PYTHON_TRACEBACK[:1])) == 0
    assert len(pipeline.flush()) == 1


def test_record_released_at_window_close_is_returned() -> None:
    pipeline = _pipeline()
    pipeline.feed(["INFO:app:first"])
    assert pipeline.window_features()["log.app.records"] == 1.0
    records = pipeline.feed(["INFO:app:second"])
    assert [r.message for r in records] == ["first"]
    assert pipeline.window_features()["log.app.records"] == 1.0


def test_java_stack_trace_joined() -> None:
    lines = [
        "2024-05-01 12:00:00 ERROR [main] com.example.App: request failed",
        "java.lang.IllegalStateException: closed",
        "\tat com.example.Db.query(Db.java:42)",
        "\tat com.example.App.main(App.java:7)",
        "Caused by: java.io.IOException: broken pipe",
        "\tat com.example.Net.send(Net.java:9)",
        "\t... 3 more",
        "2024-05-01 12:00:01 INFO [main] com.example.App: retrying",
    ]
    pipeline = _pipeline()
    records = pipeline.feed(lines) + pipeline.flush()
    assert len(records) == 2
    assert records[0].line_count == 7
    assert records[0].level == "error"


def test_plain_exception_line_alone_is_own_record() -> None:
    pipeline = _pipeline(log_format="plain")
    records = pipeline.feed(["first message", "KeyError: 'x'"]) + pipeline.flush()
    assert len(records) == 2


def test_syslog_line_without_header_continues() -> None:
    lines = ["May  1 12:00:00 h app[1]: multi", "line message", "May  1 12:00:01 h app[1]: next"]
    pipeline = _pipeline()
    records = pipeline.feed(lines) + pipeline.flush()
    assert [r.line_count for r in records] == [2, 1]


def test_json_garbage_line_is_plain_record() -> None:
    pipeline = _pipeline()
    records = pipeline.feed(['{"msg": "a"}', '{"msg": "b"}', "not json at all"]) + pipeline.flush()
    assert [r.format for r in records] == ["json", "json", "plain"]


def test_blank_lines_skipped() -> None:
    pipeline = _pipeline()
    records = pipeline.feed(["", "hello there", "   ", "\r"]) + pipeline.flush()
    assert len(records) == 1


def test_crlf_stripped() -> None:
    pipeline = _pipeline()
    records = pipeline.feed(["INFO:root:up\r\n"]) + pipeline.flush()
    assert records[0].message == "up"


def test_format_override() -> None:
    pipeline = _pipeline(log_format="plain")
    records = pipeline.feed(['{"msg": "a"}']) + pipeline.flush()
    assert records[0].format == "plain"


def test_bad_format_override_raises() -> None:
    with pytest.raises(ConfigError, match="'yaml'"):
        _pipeline(log_format="yaml")


def test_redetects_when_format_changes() -> None:
    pipeline = _pipeline()
    pipeline.feed(['{"msg": "a"}'])
    pipeline.feed([f"2024-05-01 12:00:{i:02d},000 INFO app: line {i}" for i in range(25)])
    assert pipeline.format == "python"


def test_redetects_after_header_format() -> None:
    pipeline = _pipeline()
    pipeline.feed(["May  1 12:00:00 h app[1]: up"])
    records = pipeline.feed([f'{{"level": "info", "msg": "event {i}"}}' for i in range(30)])
    assert pipeline.format == "json"
    assert records[-1].format == "json"


def test_headerless_message_keeps_format() -> None:
    pipeline = _pipeline()
    pipeline.feed(["2024-05-01 12:00:00,000 INFO app: config:"])
    pipeline.feed([f"key{i} = value{i}" for i in range(40)])
    assert pipeline.format == "python"


def test_same_message_shape_same_template() -> None:
    pipeline = _pipeline()
    lines = [f"2024-05-01 12:00:0{i},000 INFO app: user {i} logged in from 10.0.0.{i}" for i in range(5)]
    records = pipeline.feed(lines) + pipeline.flush()
    assert len({r.template_id for r in records}) == 1


def test_new_template_signal_after_warmup() -> None:
    pipeline = _pipeline(settings=MinerSettings(warmup_lines=3))
    warm = pipeline.feed([f"INFO:app:tick {i}" for i in range(4)])
    records = pipeline.feed(["ERROR:app:disk quota exceeded on volume 3", "INFO:app:tick 5"])
    records += pipeline.flush()
    assert not any(r.is_new_template for r in warm)
    assert [r.is_new_template for r in records] == [False, True, False]  # tick 3, the news, tick 5


def test_window_features_names_and_reset() -> None:
    pipeline = _pipeline()
    pipeline.feed(PYTHON_TRACEBACK)
    features = pipeline.window_features()
    assert features["log.app.lines"] == 7.0
    assert features["log.app.records"] == 3.0
    assert features["log.app.level_error"] == 1.0
    assert features["log.app.error_ratio"] == pytest.approx(1 / 3)
    assert pipeline.window_features()["log.app.lines"] == 0.0


def test_access_window_features() -> None:
    lines = [
        f'h - - [01/May/2024:12:00:00 +0000] "GET /item/{i} HTTP/1.1" {status} 100 "-" "ua" {ms / 1000:.3f}'
        for i, (status, ms) in enumerate([(200, 10), (200, 20), (404, 30), (500, 40), (200, 50)])
    ]
    pipeline = _pipeline()
    pipeline.feed(lines)
    features = pipeline.window_features()
    assert features["log.app.requests"] == 5.0
    assert features["log.app.status_4xx_ratio"] == 0.2
    assert features["log.app.status_5xx_ratio"] == 0.2
    assert features["log.app.bytes"] == 500.0
    assert features["log.app.latency_ms.p50"] == pytest.approx(30.0)
    assert features["log.app.latency_ms.max"] == pytest.approx(50.0)
    assert features["log.app.latency_ms.p95"] == pytest.approx(48.0)


def test_template_ids_survive_restart(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    first = _pipeline(store=store)
    before = first.feed(["INFO:app:cache warmed in 12 ms", "INFO:app:listening on port 8080", "INFO:app:x"])
    first.save()
    store.close()

    store = FeatureStore(tmp_path / "monitor.db")
    second = _pipeline(store=store, settings=MinerSettings(warmup_lines=0))
    after = second.feed(["INFO:app:cache warmed in 99 ms", "INFO:app:listening on port 9090", "INFO:app:y"])
    assert [r.template_id for r in after[:2]] == [r.template_id for r in before[:2]]
    assert not any(r.is_new_template for r in after[:2])
    store.close()


def test_saved_templates_listed(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    pipeline = _pipeline(store=store)
    pipeline.feed([f"INFO:app:job {i} done" for i in range(3)] + ["INFO:app:bye"])
    pipeline.save()
    rows = store.templates("log.app")
    assert rows[0]["template"] == "job <*> done"
    assert rows[0]["count"] == 3
    store.close()


def test_window_features_saves_periodically(tmp_path: Path) -> None:
    clock = [NOW]
    store = FeatureStore(tmp_path / "monitor.db")
    pipeline = LogPipeline("log.app", store=store, now=lambda: clock[0], save_every_s=60.0)
    pipeline.feed(["hello world"])
    pipeline.window_features()
    assert store.load_miner_state("log.app") is None
    clock[0] += 61.0
    pipeline.window_features()
    assert store.load_miner_state("log.app") is not None
    store.close()


def test_save_failure_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    pipeline = _pipeline(store=store)
    pipeline.feed(["hello world", "again"])
    store.db.conn.execute("DROP TABLE miner_state")
    pipeline.save()
    assert "cannot save templates" in caplog.text
    store.close()


def test_pipelines_route_by_stream() -> None:
    pipelines = LogPipelines(formats={"log.web": "plain"}, tz=UTC)
    pipelines.feed("log.web", ['{"msg": "a"}'])
    pipelines.feed("log.api", ['{"msg": "a"}'])
    assert pipelines.pipeline("log.web").format == "plain"
    assert pipelines.pipeline("log.api").format == "json"
    assert pipelines.window_features("log.api")["log.api.records"] == 1.0


def test_pipelines_bad_override_raises() -> None:
    with pytest.raises(ConfigError):
        LogPipelines(formats={"log.web": "csv"})


def test_store_schema_has_template_tables(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    names = set(store.db.table_names())
    store.close()
    assert {"miner_state", "templates"} <= names


def test_corrupt_miner_state_starts_afresh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # An unreadable state must not stop the log stream: the miner starts empty and logs a warning.
    store = FeatureStore(tmp_path / "monitor.db")
    store.save_miner_state("log.app", b"not a state", 1, [])
    try:
        pipeline = _pipeline(store=store)
        records = pipeline.feed(["2024-05-01 10:00:00 INFO app: request 1 served\n", "2024-05-01 10:00:01 INFO app: request 2 served\n"])
    finally:
        store.close()
    assert pipeline.miner.lines_seen >= 1
    assert len(records) >= 1
    assert "mining templates afresh" in caplog.text
