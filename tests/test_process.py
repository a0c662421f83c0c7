"""Watched processes: real subprocesses selected by name, command line and pid file."""

from __future__ import annotations

import asyncio
import doctest
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

import tui_monitor.sources.process as process_module
from metrics_helpers import BURNER, LEAKER, SLEEPER, spawn, stop, tell
from tui_monitor.errors import ConfigError
from tui_monitor.sources.base import Observation, SourceState
from tui_monitor.sources.process import ProcessSource, ProcessSpec, parse_process


def _source(*specs: ProcessSpec, states: list[SourceState] | None = None) -> ProcessSource:
    sink = states if states is not None else []
    return ProcessSource(list(specs), lambda obs: None, sink.append, interval_s=0.1, down_scan_s=0.0)


def _poll_one(source: ProcessSource) -> Observation:
    (obs,) = source.poll()
    return obs


def test_process_doctests() -> None:
    assert doctest.testmod(process_module).failed == 0


def test_cmdline_regex_selects_process() -> None:
    proc, marker = spawn(SLEEPER)
    try:
        source = _source(ProcessSpec("sleeper", match_cmdline=marker))
        obs = _poll_one(source)
        assert obs.stream == "proc.sleeper"
        assert obs.gauges["up"] == 1.0
        assert obs.gauges["pids"] == 1.0
        assert obs.gauges["rss_bytes"] > 1_000_000
        assert obs.gauges["threads"] >= 1
        assert obs.gauges["open_files"] >= 3
    finally:
        stop(proc)


def test_name_selects_process(tmp_path: Path) -> None:
    name = "tm" + uuid.uuid4().hex[:10]
    exe = tmp_path / name
    exe.symlink_to(sys.executable)
    proc = subprocess.Popen([str(exe), "-c", SLEEPER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        obs = _poll_one(_source(ProcessSpec("named", match_name=name)))
        assert obs.gauges["up"] == 1.0
        assert obs.gauges["pids"] == 1.0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def test_pid_file_selects_and_restarts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pid_file = tmp_path / "app.pid"
    first, _ = spawn(SLEEPER)
    second = None
    try:
        pid_file.write_text(f"{first.pid}\n")
        source = _source(ProcessSpec("app", pid_file=str(pid_file)))
        assert _poll_one(source).gauges["up"] == 1.0

        stop(first)
        second, _ = spawn(SLEEPER)
        pid_file.write_text(f"{second.pid}\n")
        with caplog.at_level(logging.WARNING, logger="tui_monitor.sources.process"):
            obs = _poll_one(source)
        assert obs.gauges["up"] == 1.0
        assert obs.counts["restarts"] == 1.0
        assert f"new pid {second.pid}" in caplog.text
        assert source.scans == 0
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_missing_pid_file_is_down(tmp_path: Path) -> None:
    states: list[SourceState] = []
    source = _source(ProcessSpec("app", pid_file=str(tmp_path / "absent.pid")), states=states)
    obs = _poll_one(source)
    assert obs.gauges["up"] == 0.0
    assert states[-1].status == "down"


def test_restart_by_cmdline_counts_once() -> None:
    first, marker = spawn(SLEEPER)
    second = None
    try:
        source = _source(ProcessSpec("svc", match_cmdline=marker))
        assert _poll_one(source).counts["restarts"] == 0.0
        stop(first)
        second, _ = spawn(SLEEPER, marker)
        obs = _poll_one(source)
        assert obs.gauges["up"] == 1.0
        assert obs.counts["restarts"] == 1.0
        assert _poll_one(source).counts["restarts"] == 0.0
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_gone_process_shows_down() -> None:
    proc, marker = spawn(SLEEPER)
    states: list[SourceState] = []
    source = _source(ProcessSpec("svc", match_cmdline=marker), states=states)
    assert _poll_one(source).gauges["up"] == 1.0
    stop(proc)
    obs = _poll_one(source)
    assert obs.gauges["up"] == 0.0
    assert obs.gauges["pids"] == 0.0
    assert "rss_bytes" not in obs.gauges
    assert states[-1].status == "down"


def test_zombie_counts_as_down() -> None:
    marker = f"tuimon-{uuid.uuid4().hex[:12]}"
    source = _source(ProcessSpec("short", match_cmdline=marker))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)", marker])
    try:
        assert _poll_one(source).gauges["up"] == 1.0
        # Not reaped: the child stays a zombie until wait() below.
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
        obs = _poll_one(source)
        assert obs.gauges["up"] == 0.0
        fresh = _poll_one(_source(ProcessSpec("short", match_cmdline=marker)))
        assert fresh.gauges["up"] == 0.0
    finally:
        child.wait(timeout=10)


def test_rss_grows_with_leak() -> None:
    proc, marker = spawn(LEAKER)
    try:
        source = _source(ProcessSpec("leaker", match_cmdline=marker))
        before = _poll_one(source).gauges["rss_bytes"]
        tell(proc, "grow 20")
        after = _poll_one(source).gauges["rss_bytes"]
        assert after - before > 18 * (1 << 20)
    finally:
        stop(proc)


def test_cpu_first_sample_then_busy() -> None:
    proc, marker = spawn(BURNER)
    try:
        source = _source(ProcessSpec("burner", match_cmdline=marker))
        first = _poll_one(source)
        assert "cpu_pct" not in first.gauges
        assert "ctx_switches_per_s" not in first.gauges
        time.sleep(0.5)
        second = _poll_one(source)
        # Far below 100 % on a loaded machine, far above an idle process.
        assert second.gauges["cpu_pct"] > 10.0
        assert second.gauges["ctx_switches_per_s"] >= 0.0
        assert second.gauges["io.read_bytes_per_s"] >= 0.0
    finally:
        stop(proc)


def test_live_process_is_not_rescanned() -> None:
    proc, marker = spawn(SLEEPER)
    try:
        source = ProcessSource([ProcessSpec("s", match_cmdline=marker)], lambda o: None, lambda s: None, rescan_s=60)
        for _ in range(5):
            source.poll()
        assert source.scans == 1
    finally:
        stop(proc)


def test_access_denied_feature_missing_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # The tests run as root, which may read every process: simulate the denial.
    def denied(self: psutil.Process) -> None:
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "io_counters", denied)
    proc, marker = spawn(SLEEPER)
    try:
        source = _source(ProcessSpec("s", match_cmdline=marker))
        with caplog.at_level(logging.WARNING, logger="tui_monitor.sources.process"):
            for _ in range(3):
                obs = _poll_one(source)
        assert "io.read_bytes_per_s" not in obs.gauges
        assert obs.gauges["up"] == 1.0
        assert caplog.text.count("access denied") == 1
    finally:
        stop(proc)


def test_own_process_never_matches() -> None:
    source = _source(ProcessSpec("me", match_cmdline="pytest"))
    source.poll()
    assert os.getpid() not in source.watched[0].pids


@pytest.mark.parametrize("text", ["", "=", "name=", "=~x"])
def test_parse_process_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_process(text)


def test_spec_needs_one_selector() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        ProcessSpec("x", match_name="a", pid_file="/run/a.pid")


def test_spec_rejects_bad_regex() -> None:
    with pytest.raises(ConfigError, match="invalid match_cmdline"):
        ProcessSpec("x", match_cmdline="(")


def test_each_process_polled_at_its_interval() -> None:
    proc, marker = spawn(SLEEPER)
    try:
        specs = [ProcessSpec("fast", match_cmdline=marker, interval_s=0.05), ProcessSpec("slow", match_cmdline=marker, interval_s=60)]
        source = ProcessSource(specs, lambda o: None, lambda s: None, interval_s=1.0)
        assert {obs.stream for obs in source.poll(only_due=True)} == {"proc.fast", "proc.slow"}
        time.sleep(0.1)
        assert [obs.stream for obs in source.poll(only_due=True)] == ["proc.fast"]
        assert source.tick_s == 0.05
    finally:
        stop(proc)


async def test_run_emits_until_cancelled() -> None:
    proc, marker = spawn(SLEEPER)
    seen: list[Observation] = []
    try:
        source = ProcessSource([ProcessSpec("s", match_cmdline=marker)], seen.append, lambda s: None, interval_s=0.05)
        task = asyncio.create_task(source.run())
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        stop(proc)
    assert len(seen) >= 3
    assert seen[-1].gauges["up"] == 1.0


def test_pid_file_of_exited_process_no_restarts(tmp_path: Path) -> None:
    pid_file = tmp_path / "app.pid"
    proc, _ = spawn(SLEEPER)
    pid_file.write_text(f"{proc.pid}\n")
    source = _source(ProcessSpec("app", pid_file=str(pid_file)))
    assert _poll_one(source).gauges["up"] == 1.0
    stop(proc)
    polls = [_poll_one(source) for _ in range(3)]
    assert [obs.gauges["up"] for obs in polls] == [0.0, 0.0, 0.0]
    assert sum(obs.counts["restarts"] for obs in polls) == 0.0


def test_pid_file_naming_zombie_is_down(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    try:
        pid_file = tmp_path / "app.pid"
        pid_file.write_text(f"{child.pid}\n")
        source = _source(ProcessSpec("app", pid_file=str(pid_file)))
        assert _poll_one(source).gauges["up"] == 1.0
        # Not reaped: the child stays a zombie until wait() below.
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        polls = [_poll_one(source) for _ in range(3)]
        assert [obs.gauges["up"] for obs in polls] == [0.0, 0.0, 0.0]
        assert sum(obs.counts["restarts"] for obs in polls) == 0.0
    finally:
        child.wait(timeout=10)
