"""Acceptance: the engine notifies a real HTTP receiver through Apprise exactly as the rules say."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _receiver import Receiver, scored

from tui_monitor.engine import Engine
from tui_monitor.settings import Settings
from tui_monitor.store import FeatureStore, notifications_since

T0 = 1_780_000_000.0

RULES = """
rules:
  - name: quiet disk
    match: {stream: disk}
    suppress: true
  - name: api pages
    match: {stream: http.api}
    severity: critical
    tags: [oncall]
"""


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.stop()


def _receiver(receivers: list[Receiver], status: int = 200) -> Receiver:
    receiver = Receiver(status)
    receivers.append(receiver)
    return receiver


def _engine(tmp_path: Path, urls: list[str], rules: str = "", **options: float) -> Engine:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    if rules:
        (rules_dir / "main.yaml").write_text(rules)
    settings = Settings(db_path=tmp_path / "m.db", rules_dir=rules_dir, notify_urls=urls, notify_backoff_s=0.05, notify_timeout_s=1.0)
    for key, value in options.items():
        setattr(settings, key, value)
    engine = Engine(settings, FeatureStore(settings.db_path))
    engine.notifier.sender.backoff_s = settings.notify_backoff_s
    return engine


def _finish(engine: Engine) -> list[dict[str, object]]:
    assert engine.notifier.sender.wait_idle(10.0)
    engine._save_notifications()
    return list(reversed(notifications_since(engine.store, 0)))


def test_notify_scripted_incidents_match_rules(tmp_path: Path, receivers: list[Receiver]) -> None:
    everyone, oncall = _receiver(receivers), _receiver(receivers)
    engine = _engine(tmp_path, [everyone.url(), f"oncall={oncall.url()}"], RULES)
    script = [
        scored("host", T0, "opened"),
        scored("host", T0 + 10, "updated"),
        scored("disk", T0 + 10, "opened"),
        scored("http.api", T0 + 20, "opened", score=0.985),
        scored("host", T0 + 30, "resolved", is_hot=False),
        scored("http.api", T0 + 40, "resolved", is_hot=False),
        scored("disk", T0 + 50, "resolved", is_hot=False),
    ]
    for step in script:
        engine._track_incident(step)
    rows = _finish(engine)

    titles = [p["title"] for p in everyone.payloads]
    assert titles == [
        "[MAJOR] anomaly on host (performance)",
        "[CRITICAL] anomaly on http.api (performance)",
        "[RESOLVED] anomaly on host (performance)",
        "[RESOLVED] anomaly on http.api (performance)",
    ]
    assert [p["title"] for p in oncall.payloads] == titles[1::2]
    assert len(rows) == 6
    assert all(row["outcome"] == "sent" for row in rows)


def test_notify_body_has_reasons(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = _receiver(receivers)
    engine = _engine(tmp_path, [receiver.url()])
    engine._track_incident(scored("host", T0, "opened", score=0.9995))
    _finish(engine)
    body = receiver.payloads[0]["message"]
    assert "stream: host" in body
    assert "kind: performance" in body
    assert "score: 1.000" in body or "score: 0.999" in body
    assert "severity: critical" in body
    assert "started: " in body
    assert "- cpu.total_pct = 97.5 (usual 12, z +9.1)" in body
    assert receiver.payloads[0]["type"] == "failure"


def test_notify_repeats_while_open(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = _receiver(receivers)
    engine = _engine(tmp_path, [receiver.url()], notify_repeat_s=60.0)
    engine.notifier.policy.repeat_s = 60.0
    engine._track_incident(scored("host", T0, "opened"))
    for i in range(1, 14):  # 130 s of updates: repeats at +60 and +120
        engine._track_incident(scored("host", T0 + 10 * i, "updated"))
    _finish(engine)
    kinds = [p["title"].split("]")[1].strip().split(":")[0] for p in receiver.payloads]
    assert kinds == ["anomaly on host (performance)", "still open", "still open"]


def test_notify_rate_limit_sends_digest(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = _receiver(receivers)
    engine = _engine(tmp_path, [receiver.url()])
    engine.notifier.policy.rate_limit = 2
    engine.notifier.policy.rate_window_s = 60.0
    for i, stream in enumerate(("a", "b", "c", "d")):
        engine._track_incident(scored(stream, T0 + i, "opened"))
    engine.notifier.tick(T0 + 30)
    assert engine.notifier.sender.wait_idle(5.0)
    sent_before_window = len(receiver.payloads)
    engine.notifier.tick(T0 + 75)  # the first two went out at T0 + 10 and T0 + 11
    _finish(engine)
    titles = [p["title"] for p in receiver.payloads]
    assert sent_before_window == 2
    assert titles[2] == "[DIGEST] 2 held notifications"
    assert "anomaly on c" in receiver.payloads[2]["message"]
    assert "anomaly on d" in receiver.payloads[2]["message"]
    assert len(titles) == 3


@pytest.mark.parametrize("status", [500, 429])
def test_notify_error_status_retries_then_fails(tmp_path: Path, receivers: list[Receiver], status: int) -> None:
    receiver = _receiver(receivers, status)
    engine = _engine(tmp_path, [receiver.url()], notify_retries=2)
    engine.notifier.sender.retries = 2
    engine._track_incident(scored("host", T0, "opened"))
    rows = _finish(engine)
    assert len(receiver.requests) == 3
    assert [row["outcome"] for row in rows] == ["failed", "failed", "failed"]
    assert [row["is_final"] for row in rows] == [0, 0, 1]
    assert str(status) in str(rows[-1]["detail"])


def test_notify_recovers_after_one_failure(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = _receiver(receivers)
    receiver.statuses = [503]
    engine = _engine(tmp_path, [receiver.url()])
    engine._track_incident(scored("host", T0, "opened"))
    rows = _finish(engine)
    assert [row["outcome"] for row in rows] == ["failed", "sent"]
    assert len(receiver.payloads) == 2


@pytest.mark.slow
def test_notify_hanging_target_never_blocks_engine(tmp_path: Path, receivers: list[Receiver]) -> None:
    hanging, healthy = _receiver(receivers, 0), _receiver(receivers)
    engine = _engine(tmp_path, [hanging.url(), healthy.url()], notify_retries=1)
    engine.notifier.sender.retries = 1
    engine.notifier.sender.attempt_timeout_s = 0.3
    for target in engine.notifier.targets:
        target.plugin.socket_read_timeout = 2.0  # longer than our attempt timeout: ours must fire
    slowest = 0.0
    for i in range(5):
        started = time.monotonic()
        engine._track_incident(scored(f"s{i}", T0 + i, "opened"))
        slowest = max(slowest, time.monotonic() - started)
    is_healthy_served_early = healthy.wait_for(5, timeout_s=1.5)
    rows = _finish(engine)
    hung = [row for row in rows if row["target"].endswith(f"{hanging.server_address[1]}/hook")]
    assert slowest < 0.2
    assert is_healthy_served_early
    assert len(healthy.payloads) == 5
    assert {row["outcome"] for row in hung} == {"timeout"}
    assert len(hung) == 10
    assert sum(row["is_final"] for row in hung) == 5


def test_notify_no_secret_in_logs_or_listing(tmp_path: Path, receivers: list[Receiver], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    from tui_monitor.alerts._commands import print_notifications

    receiver = _receiver(receivers)
    receiver.statuses = [500]
    secrets = ["Passw0rdSecret", "Tok3nPathSecret99", "HeaderSecret123"]
    port = receiver.server_address[1]
    url = f"json://alice:{secrets[0]}@127.0.0.1:{port}/hooks/{secrets[1]}?+X-Api-Key={secrets[2]}"
    caplog.set_level(logging.DEBUG)
    engine = _engine(tmp_path, [url])
    engine._track_incident(scored("host", T0, "opened"))
    engine._track_incident(scored("host", T0 + 10, "resolved", is_hot=False))
    _finish(engine)
    engine.store.close()
    print_notifications(tmp_path / "m.db", 10 * 365 * 86400.0)
    listing = capsys.readouterr().out
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)

    assert receiver.requests[0]["headers"]["X-Api-Key"] == secrets[2]
    assert "json://alice:****@127.0.0.1" in listing
    assert any("hooks/****" in r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
        assert secret not in listing


async def test_engine_run_stores_attempts_at_shutdown(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = _receiver(receivers)
    engine = _engine(tmp_path, [receiver.url()])
    engine._track_incident(scored("host", T0, "opened"))
    await engine.run(duration_s=0.2)
    rows = notifications_since(engine.store, 0)
    assert [(row["kind"], row["outcome"]) for row in rows] == [("opened", "sent")]
    assert len(receiver.payloads) == 1
