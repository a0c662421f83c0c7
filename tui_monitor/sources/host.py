"""Host metrics from psutil: CPU, load, memory, swap, disk and network I/O, file systems.

Counters (disk and network bytes) become per-second rates between two polls.
A counter that goes backwards (a reset or wrap) yields no rate for that poll
rather than a negative or huge one; the first poll yields no rates at all.
Per-disk and per-interface rates are opt-in. CPU frequency and temperatures
are read where psutil can; a machine without sensors simply lacks those
features.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import psutil

from tui_monitor.settings import sanitize_name
from tui_monitor.sources.base import Observation, ObservationSink, SourceState, StateSink

__all__ = ["HostSource", "RateTracker"]

logger = logging.getLogger(__name__)

STREAM = "host"

# File system types that are not storage a person fills: snaps, images, RAM.
_PSEUDO_FS = frozenset({"squashfs", "iso9660", "tmpfs", "devtmpfs", "overlay", "ramfs", "nsfs", "tracefs"})
# Block devices whose I/O is not traffic to a real disk.
_VIRTUAL_DISK_PREFIXES = ("loop", "ram", "zram", "dm-", "sr")
# Mounts are listed again at most this often; statvfs on each costs microseconds.
_MOUNTS_REFRESH_S = 60.0
# Sensors change slowly and cost a sysfs read each.
_MAX_TEMPERATURES = 16


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

    def __init__(
        self,
        interval_s: float,
        emit: ObservationSink,
        report: StateSink,
        *,
        filesystems: bool = True,
        per_disk: bool | list[str] = False,
        per_interface: bool | list[str] = False,
        sensors: bool = True,
    ) -> None:
        self.interval_s = interval_s
        self._emit = emit
        self._report = report
        self._rates = RateTracker()
        self.filesystems = filesystems
        self.per_disk = per_disk
        self.per_interface = per_interface
        self.sensors = sensors
        self._mounts: list[tuple[str, str]] = []
        self._mounts_at = float("-inf")

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
        if self.sensors:
            gauges.update(_cpu_frequency())
            gauges.update(_temperatures())
        if self.filesystems:
            gauges.update(self._filesystems(time.monotonic()))

        counters: dict[str, float] = {}
        disk = psutil.disk_io_counters()
        if disk is not None:
            counters["disk.read_bytes_per_s"] = float(disk.read_bytes)
            counters["disk.write_bytes_per_s"] = float(disk.write_bytes)
        net = psutil.net_io_counters()
        if net is not None:
            counters["net.sent_bytes_per_s"] = float(net.bytes_sent)
            counters["net.recv_bytes_per_s"] = float(net.bytes_recv)
        if self.per_disk:
            counters.update(self._per_disk())
        if self.per_interface:
            counters.update(self._per_interface())
        gauges.update(self._rates.update(counters, now))
        return Observation(stream=STREAM, ts=now, gauges=gauges)

    def _filesystems(self, clock: float) -> dict[str, float]:
        """Return ``fs.<mount>.used_pct`` for each real mount; ``/`` is named ``root``."""
        if clock - self._mounts_at >= _MOUNTS_REFRESH_S:
            self._mounts = _real_mounts()
            self._mounts_at = clock
        gauges: dict[str, float] = {}
        for mountpoint, name in self._mounts:
            try:
                gauges[f"fs.{name}.used_pct"] = psutil.disk_usage(mountpoint).percent
            except OSError:
                continue  # unmounted since the list was made, or not readable
        return gauges

    def _per_disk(self) -> dict[str, float]:
        counters: dict[str, float] = {}
        selected = self.per_disk if isinstance(self.per_disk, list) else None
        for device, io in (psutil.disk_io_counters(perdisk=True) or {}).items():
            if selected is None and device.startswith(_VIRTUAL_DISK_PREFIXES):
                continue
            if selected is not None and device not in selected:
                continue
            name = sanitize_name(device)
            counters[f"disk.{name}.read_bytes_per_s"] = float(io.read_bytes)
            counters[f"disk.{name}.write_bytes_per_s"] = float(io.write_bytes)
        return counters

    def _per_interface(self) -> dict[str, float]:
        counters: dict[str, float] = {}
        selected = self.per_interface if isinstance(self.per_interface, list) else None
        for nic, io in psutil.net_io_counters(pernic=True).items():
            if (selected is None and nic == "lo") or (selected is not None and nic not in selected):
                continue
            name = sanitize_name(nic)
            counters[f"net.{name}.sent_bytes_per_s"] = float(io.bytes_sent)
            counters[f"net.{name}.recv_bytes_per_s"] = float(io.bytes_recv)
        return counters

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


def mount_name(mountpoint: str) -> str:
    """Name a mount point for a feature: ``/`` is ``root``, ``/var/lib`` is ``var_lib``.

    >>> mount_name("/"), mount_name("/var/lib")
    ('root', 'var_lib')
    """
    return "root" if mountpoint == "/" else sanitize_name(mountpoint)


def _real_mounts() -> list[tuple[str, str]]:
    """List (mount point, feature name) of mounted storage, one per device."""
    mounts: list[tuple[str, str]] = []
    devices: set[str] = set()
    try:
        partitions = psutil.disk_partitions(all=False)
    except OSError as exc:
        logger.warning("cannot list mounted file systems: %s; fs.* features are missing", exc)
        return mounts
    for part in partitions:
        if part.fstype in _PSEUDO_FS or part.mountpoint.startswith("/snap/") or part.device in devices:
            continue
        devices.add(part.device)
        mounts.append((part.mountpoint, mount_name(part.mountpoint)))
    return mounts


def _cpu_frequency() -> dict[str, float]:
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError, AttributeError):
        return {}
    if freq is None or not freq.current:
        return {}
    return {"cpu.freq_mhz": float(freq.current)}


def _temperatures() -> dict[str, float]:
    """Return ``temp.<chip>[.<label>]_c`` in degrees Celsius; empty where there are no sensors."""
    read = getattr(psutil, "sensors_temperatures", None)
    if read is None:
        return {}
    try:
        chips = read()
    except (OSError, NotImplementedError):
        return {}
    gauges: dict[str, float] = {}
    for chip, entries in sorted(chips.items()):
        for i, entry in enumerate(entries):
            label = sanitize_name(entry.label) if entry.label else str(i)
            gauges[f"temp.{sanitize_name(chip)}.{label}_c"] = float(entry.current)
            if len(gauges) >= _MAX_TEMPERATURES:
                return gauges
    return gauges
