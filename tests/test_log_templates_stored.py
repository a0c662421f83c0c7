"""Each log line is stored with its level and template; new templates raise an event."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from test_engine import wait_for
from tui_monitor.detectors.novelty import MODEL_VERSION
from tui_monitor.engine import Engine, EventChanged, Update
from tui_monitor.parsing import LogPipeline, MinerSettings, TemplateMiner
from tui_monitor.settings import Settings
from tui_monitor.store import FeatureStore


def usual_lines(count: int, start: int = 0) -> list[str]:
    """Lines of three templates, with numbers that vary."""
    lines = []
    for i in range(start, start + count):
        kind = i % 3
        if kind == 0:
            lines.append(f"2024-05-01 12:00:{i % 60:02d},{i % 1000:03d} INFO app.http: served /items/{i} in {i % 97} ms")
        elif kind == 1:
            lines.append(f"2024-05-01 12:00:{i % 60:02d},{i % 1000:03d} WARNING app.cache: miss for key item:{i * 7}")
        else:
            lines.append(f"2024-05-01 12:00:{i % 60:02d},{i % 1000:03d} ERROR app.db: query {i} failed after {i % 5} retries")
    return lines


def count(store: FeatureStore, sql: str) -> int:
    return int(store.db.conn.execute(sql).fetchone()[0])


async def test_engine_stores_templates_and_new_template_event(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    store = FeatureStore(tmp_path / "monitor.db")
    updates: list[Update] = []
    settings = Settings(
        db_path=tmp_path / "monitor.db", window_s=1.0, host_interval_s=0.5,
        log_paths=[str(log)], log_poll_s=0.1, log_coalesce_s=0.05, warmup_windows=3,
    )  # fmt: skip
    engine = Engine(settings, store, on_update=updates.append)
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0.5)

    # Past the miner's warm-up of 1,000 messages, then one message of a new kind.
    with log.open("a") as f:
        f.write("\n".join(usual_lines(1500)) + "\n")
    assert await wait_for(lambda: count(store, "SELECT count(*) FROM log_lines") == 1500, timeout_s=15.0)
    await asyncio.sleep(1.5)  # the window with the usual lines closes without news
    with log.open("a") as f:
        f.write("2024-05-01 12:01:00,000 ERROR app.disk: volume /srv/data is read-only, refusing writes\n")

    def new_template_events() -> list[EventChanged]:
        return [u for u in updates if isinstance(u, EventChanged) and u.event.model_version == MODEL_VERSION]

    assert await wait_for(lambda: any(u.change == "resolved" for u in new_template_events()), timeout_s=15.0)
    engine.stop()
    await task

    # Exactly one event: opened at the window with the new message, resolved at the next.
    events = new_template_events()
    assert [u.change for u in events] == ["opened", "resolved"]
    event = events[0].event
    assert event.kind == "functional"
    assert event.top_features[0] == {"name": "log.app.new_templates", "value": 1.0, "median": 0.0}
    assert "volume <*> is read-only, refusing writes" in event.top_features[1]["template"]
    stored = store.events_since(0.0)
    assert [(e.model_version, e.state) for e in stored if e.model_version == MODEL_VERSION] == [(MODEL_VERSION, "resolved")]
    assert [e.severity for e in stored if e.model_version == MODEL_VERSION] == ["minor"]
    window = [w for w in store.windows_since("log.app", 0.0) if w.features.get("log.app.new_templates")]
    assert len(window) == 1
    assert window[0].start == event.window_start

    # Every line is stored with its level and its record's template.
    rows = store.db.conn.execute("SELECT line, level, template_id FROM log_lines ORDER BY id").fetchall()
    assert len(rows) == 1501
    assert {level for _, level, _ in rows} == {"info", "warn", "error"}
    templates = {line.split(" ")[3]: set() for line, _, _ in rows}
    for line, _, template_id in rows:
        templates[line.split(" ")[3]].add(template_id)
    assert all(len(ids) == 1 for ids in templates.values()), templates
    assert len({next(iter(ids)) for ids in templates.values()}) == 4
    new_id = templates["app.disk:"].pop()
    assert json.loads(store.db.conn.execute("SELECT top_features FROM events WHERE id = ?", (event.id,)).fetchone()[0])[1][
        "name"
    ] == f"log.app.template.t{new_id}"
    store.close()


def test_tag_matches_feed() -> None:
    lines = usual_lines(3000)
    lines[100:100] = [
        "2024-05-01 12:00:00,000 ERROR app.worker: job failed",
        "Traceback (most recent call last):",
        '  File "/srv/app/jobs.py", line 42, in run',
        "ValueError: invalid literal for int() with base 10: 'x'",
    ]
    by_feed, by_tag = LogPipeline("log.app"), LogPipeline("log.app")
    records = []
    tagged = []
    for at in range(0, len(lines), 250):
        records += by_feed.feed(lines[at : at + 250])
        tags = by_tag.tag(lines[at : at + 250])
        tagged += list(zip(tags.levels, tags.template_ids, strict=True))
    records += by_feed.flush()

    assert by_tag.miner.shape_hits > 2900  # the tag path skipped parsing for known shapes
    assert by_feed.window_features() == by_tag.window_features()
    # The traceback's four lines carry the template of the record they belong to.
    assert [template for _, template in tagged[100:104]] == [records[100].template_id] * 4
    assert [level for level, _ in tagged[100:104]] == ["error", None, None, None]
    starts = [entry for entry in tagged if entry[0] is not None]
    assert starts == [(r.level, r.template_id) for r in records]


def test_miner_cache_hit_never_new() -> None:
    miner = TemplateMiner(MinerSettings(warmup_lines=0))
    first = miner.mine("connection 17 reset by peer")
    again = miner.mine("connection 42 reset by peer")
    assert first[2] is True
    assert again[2] is False
    assert miner.shape_hits == 1
    assert miner.lines_seen == 2
    assert miner.templates() == [(first[1], "connection <*> reset by peer", 2)]


def test_miner_cache_kept_digit_tokens() -> None:
    miner = TemplateMiner(MinerSettings(warmup_lines=0))
    # "user1" and "user2" have one shape, but Drain keeps different words apart.
    user1 = miner.mine("login of user1 accepted")
    user2 = miner.mine("login of user2 accepted")
    assert user1[1] != user2[1]
    assert miner.shape_hits == 0
    # Both variants of the shape are cached, each with its own template.
    assert miner.mine("login of user1 accepted")[1] == user1[1]
    assert miner.mine("login of user2 accepted")[1] == user2[1]
    assert miner.shape_hits == 2
    assert miner.mine("sshd ssh2 session 17 opened")[2] is True
    assert miner.mine("sshd ssh2 session 42 opened")[2] is False
    assert miner.shape_hits == 3


def test_tag_parses_json_lines_always() -> None:
    pipeline = LogPipeline("log.app")
    # pino's numeric levels: lines of one shape with different levels.
    lines = [f'{{"level": {30 if i % 2 else 50}, "msg": "job {i} done"}}' for i in range(40)]
    tags = pipeline.tag(lines)
    assert tags.levels == ["info" if i % 2 else "error" for i in range(40)]
    assert pipeline.miner.shape_hits == 38  # the message cache still skips the miner's work
