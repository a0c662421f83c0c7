"""End to end: a leaking process and an endpoint turning slow become anomaly events.

Real processes (a leaking one, and an app server in its own process) produce
every observation. The test drives ``Engine.close_windows`` with window times
of its own, so 95 windows take seconds instead of minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from metrics_helpers import LEAKER, SLEEPER, spawn, spawn_app_server, stop, tell
from tui_monitor.engine import Engine, EventChanged, Update, WindowScored
from tui_monitor.settings import EndpointSpec, Settings
from tui_monitor.sources.endpoint import EndpointSource
from tui_monitor.sources.process import ProcessSource, ProcessSpec
from tui_monitor.sources.prometheus import ScrapeSource, ScrapeSpec
from tui_monitor.store import FeatureStore, WindowRecord

WINDOW_S = 10.0
SAMPLES_PER_WINDOW = 2
NORMAL_WINDOWS = 80


@pytest.fixture
def app_url() -> Iterator[str]:
    proc, url = spawn_app_server()
    yield url
    stop(proc)


class _Rig:
    """The engine and the sources whose observations the test stamps with window times."""

    def __init__(self, tmp_path: Path, app_url: str, marker: str) -> None:
        self.settings = Settings(
            db_path=tmp_path / "monitor.db",
            window_s=WINDOW_S,
            warmup_windows=10,
            # Loopback latency on a loaded 2-core machine jitters by several ms,
            # which reaches robust z-scores near 5; the slowdown below is near
            # z 300 and the leak above z 30, so 8 separates them with margin.
            min_deviation_z=8.0,
            # HalfSpaceTrees gives every point far outside the learned range
            # the same top raw score, so a few load spikes during the normal
            # phase tie with the slowdown and lower its calibrated rank.
            threshold=0.95,
            # A jitter incident during the normal phase would start a
            # 60-window alert episode that keeps the slowdown from opening
            # its own incident; this test is about detection, not cooldown.
            cooldown_windows=3,
            endpoints=[EndpointSpec("api", f"{app_url}/health")],
            processes=[ProcessSpec("leaker", match_cmdline=marker)],
            scrapes=[ScrapeSpec("app", f"{app_url}/metrics")],
        )
        self.store = FeatureStore(self.settings.db_path)
        self.updates: list[Update] = []
        self.engine = Engine(self.settings, self.store, on_update=self.updates.append)
        self.processes = ProcessSource(self.settings.processes, lambda o: None, lambda s: None)
        self.endpoint = EndpointSource(self.settings.endpoints[0], lambda o: None, lambda s: None, timeout_s=2.0)
        self.scrape = ScrapeSource(self.settings.scrapes[0], lambda o: None, lambda s: None)
        self.t0 = 1_700_000_000.0
        self.engine.aggregator.start(self.t0)
        self.windows = 0

    async def prime(self, http: httpx.AsyncClient) -> None:
        """Take one sample of each source and drop it, as the engine drops its first partial window.

        The first check also pays for connecting, which is no latency of the endpoint.
        """
        self.processes.poll(now=self.t0)
        await self.endpoint.check(http)
        await self.scrape.scrape(http, now=self.t0)

    async def run_window(self, http: httpx.AsyncClient) -> None:
        start = self.t0 + self.windows * WINDOW_S
        for i in range(SAMPLES_PER_WINDOW):
            ts = start + (i + 0.5) * WINDOW_S / SAMPLES_PER_WINDOW
            observations = [*self.processes.poll(now=ts), await self.endpoint.check(http), await self.scrape.scrape(http, now=ts)]
            for obs in observations:
                obs.ts = ts
                self.engine.aggregator.add(obs)
        self.windows += 1
        self.engine.close_windows(self.t0 + self.windows * WINDOW_S)

    def hot_windows(self, stream: str, since: int) -> list[list[str]]:
        """Top feature names of the hot windows of ``stream`` from window index ``since`` on."""
        start = self.t0 + since * WINDOW_S
        scored = [u for u in self.updates if isinstance(u, WindowScored) and u.window.stream == stream]
        return [[f["name"] for f in u.decision.top_features] for u in scored if u.window.start >= start and u.decision.is_hot]

    def describe(self, stream: str, since: int) -> str:
        """One line per scored window of ``stream`` from window index ``since`` on, for failure messages."""
        start = self.t0 + since * WINDOW_S
        lines = []
        for u in self.updates:
            if isinstance(u, WindowScored) and u.window.stream == stream and u.window.start >= start:
                top = ", ".join(f"{f['name']}={f['value']:.4g} (z {f['z']})" for f in u.decision.top_features[:2])
                d = u.decision
                lines.append(f"window {(u.window.start - self.t0) / WINDOW_S:.0f}: raw {d.raw_score:.3f} score {d.score:.3f} hot {d.is_hot}: {top}")
        return "\n".join(lines)

    def opened(self) -> dict[str, list[str]]:
        events = [u.event for u in self.updates if isinstance(u, EventChanged) and u.change == "opened"]
        return {event.stream: [f["name"] for f in event.top_features] for event in events}


@dataclass
class _Scenario:
    rig: _Rig
    opened_while_normal: dict[str, list[str]]
    leak_from: int
    slow_from: int
    stored_streams: set[str]
    prom_windows: list[WindowRecord]


async def _run_scenario(tmp_path: Path, app_url: str) -> _Scenario:
    """Run normal windows, then a leak in the watched process, then a slow endpoint."""
    leaker, marker = spawn(LEAKER)
    rig = _Rig(tmp_path, app_url, marker)
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            await rig.prime(http)
            for _ in range(NORMAL_WINDOWS):
                await rig.run_window(http)
            opened_while_normal = rig.opened()

            leak_from = rig.windows
            for _ in range(4):
                tell(leaker, "grow 16")
                await rig.run_window(http)
            for _ in range(2):
                await rig.run_window(http)

            slow_from = rig.windows
            await http.get(f"{app_url}/control?delay=0.15")
            for _ in range(3):
                await rig.run_window(http)
        stored = {event.stream for event in rig.store.events_since(rig.t0 - 1)}
        prom_windows = rig.store.windows_since("prom.app", rig.t0 - 1)
    finally:
        stop(leaker)
        rig.store.close()
    return _Scenario(rig, opened_while_normal, leak_from, slow_from, stored, prom_windows)


@pytest.mark.slow
async def test_leak_detected_end_to_end(tmp_path: Path, app_url: str) -> None:
    run = await _run_scenario(tmp_path, app_url)
    rig = run.rig

    # RSS and the scraped series are steady while normal. Loopback latency
    # may jitter on a loaded machine, so http.api is left to the test below.
    assert "proc.leaker" not in run.opened_while_normal, rig.describe("proc.leaker", 0)
    assert "prom.app" not in rig.opened(), rig.describe("prom.app", 0)
    leak_hot = rig.hot_windows("proc.leaker", run.leak_from)
    assert len(leak_hot) >= 2, rig.describe("proc.leaker", run.leak_from - 3)
    assert any("proc.leaker.rss_bytes.mean" in names for names in leak_hot)
    assert "proc.leaker" in rig.opened()
    assert "proc.leaker" in run.stored_streams
    assert run.prom_windows[-1].features["prom.app.jobs_per_s.mean"] == pytest.approx(50 / (WINDOW_S / SAMPLES_PER_WINDOW))


@pytest.mark.slow
async def test_slow_endpoint_detected_end_to_end(tmp_path: Path, app_url: str) -> None:
    run = await _run_scenario(tmp_path, app_url)
    rig = run.rig

    slow_hot = rig.hot_windows("http.api", run.slow_from)
    assert len(slow_hot) >= 2, rig.describe("http.api", run.slow_from - 5)
    assert all(any("latency_ms" in name for name in names[:2]) for names in slow_hot)
    assert rig.engine.detectors["http.api"].state == "anomalous"
    assert "http.api" in run.stored_streams


@pytest.mark.slow
async def test_engine_runs_new_sources(tmp_path: Path, app_url: str) -> None:
    sleeper, marker = spawn(SLEEPER)
    settings = Settings(
        db_path=tmp_path / "monitor.db",
        window_s=1.0,
        host_interval_s=0.25,
        process_interval_s=0.25,
        endpoint_interval_s=0.25,
        scrape_interval_s=0.25,
        endpoints=[EndpointSpec("api", f"{app_url}/health")],
        processes=[ProcessSpec("sleeper", match_cmdline=marker), ProcessSpec("absent", match_cmdline="no-such-process-x9")],
        scrapes=[ScrapeSpec("app", f"{app_url}/metrics")],
    )
    store = FeatureStore(settings.db_path)
    engine = Engine(settings, store)
    try:
        await engine.run(duration_s=2.6)
        streams = {stream: store.windows_since(stream, 0) for stream in ("proc.sleeper", "proc.absent", "http.api", "prom.app", "host")}
    finally:
        stop(sleeper)
        store.close()

    for stream, windows in streams.items():
        assert windows, f"no window stored for {stream}"
    assert streams["proc.sleeper"][-1].features["proc.sleeper.up.last"] == 1.0
    assert streams["proc.absent"][-1].features["proc.absent.up.last"] == 0.0
    assert streams["http.api"][-1].features["http.api.up.mean"] == 1.0
    assert streams["prom.app"][-1].features["prom.app.jobs_per_s.mean"] > 0
    assert engine.sources["proc.absent"].status == "down"
    assert engine.sources["prom.app"].status == "running"
