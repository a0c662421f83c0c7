"""Host metrics from psutil: CPU, load, memory, swap, disk and network I/O.

Counters (disk and network bytes) become per-second rates between two polls.
A counter that goes backwards (a reset or wrap) yields no rate for that poll
rather than a negative or huge one; the first poll yields no rates at all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import psutil

from tui_monitor.sources.base import Observation, ObservationSink, SourceState, StateSink

__all__ = ["HostSource", "RateTracker"]

logger = logging.getLogger(__name__)

STREAM = "host"


class RateTracker:
    """Turn monotonic counters into per-second rates.

    >>> rates = RateTracker()
    >>> rates.update({"bytes": 100.0}, now=10.0)
    {}
    >>> rates.update({"bytes": 300.0}, now=12.0)
    {'bytes': 100.0}
    >>> rates.update({"bytes": 50.0}, now=13.0)  # counter reset: no rate
    {}
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._last_ts: float | None = None

    def update(self, counters: dict[str, float], now: float) -> dict[str, float]:
        """Record counter values at ``now``; return rates for counters that grew or held."""
        rates: dict[str, float] = {}
        elapsed = None if self._last_ts is None else now - self._last_ts
        for name, value in counters.items():
            previous = self._last.get(name)
            if previous is not None and elapsed and elapsed > 0 and value >= previous:
                rates[name] = (value - previous) / elapsed
        self._last = dict(counters)
        self._last_ts = now
        return rates


class HostSource:
    """Poll host metrics every ``interval_s`` seconds.

    Each poll costs well under a millisecond (psutil reads ``/proc``), so it
    runs on the event loop.
    """

    name = STREAM

    def __init__(self, interval_s: float, emit: ObservationSink, report: StateSink) -> None:
        self.interval_s = interval_s
        self._emit = emit
        self._report = report
        self._rates = RateTracker()

    def poll(self) -> Observation:
        """Take one reading of every host metric."""
        now = time.time()
        gauges: dict[str, float] = {"cpu.total_pct": psutil.cpu_percent(interval=None)}

        times = psutil.cpu_times_percent(interval=None)
        gauges["cpu.user_pct"] = times.user
        gauges["cpu.system_pct"] = times.system
        gauges["cpu.iowait_pct"] = getattr(times, "iowait", 0.0)
        gauges["load.1m"] = os.getloadavg()[0]
        gauges["mem.used_pct"] = psutil.virtual_memory().percent
        gauges["swap.used_pct"] = psutil.swap_memory().percent

        counters: dict[str, float] = {}
        disk = psutil.disk_io_counters()
        if disk is not None:
            counters["disk.read_bytes_per_s"] = float(disk.read_bytes)
            counters["disk.write_bytes_per_s"] = float(disk.write_bytes)
        net = psutil.net_io_counters()
        if net is not None:
            counters["net.sent_bytes_per_s"] = float(net.bytes_sent)
            counters["net.recv_bytes_per_s"] = float(net.bytes_recv)
        gauges.update(self._rates.update(counters, now))
        return Observation(stream=STREAM, ts=now, gauges=gauges)

    async def run(self) -> None:
        """Poll until cancelled."""
        self.poll()  # primes psutil's CPU percentages and the rate counters
        self._report(SourceState(self.name, "running", f"every {self.interval_s:g} s"))
        logger.info("source %s started, polling every %.3g s", self.name, self.interval_s)
        next_at = time.monotonic()
        while True:
            next_at += self.interval_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            try:
                self._emit(self.poll())
            except (psutil.Error, OSError) as exc:
                logger.warning("source %s: poll failed: %s", self.name, exc)
                self._report(SourceState(self.name, "failed", str(exc)))
