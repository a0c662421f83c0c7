"""Watched processes via psutil: CPU, memory, threads, open files, I/O and restarts.

Each watched process is one stream, ``proc.<name>``. A process is selected
by its name, a regular expression searched in its command line, or a pid
file. When several processes match (a server and its workers), their values
are summed and ``pids`` counts them.

Polling stays cheap because the matched ``psutil.Process`` objects are
cached. The process table is scanned again only when a cached process has
gone, while nothing matches (at most every ``down_scan_s``), and every
``rescan_s`` to pick up new workers. One scan serves every watched process
that needs it in that poll.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil

from tui_monitor.errors import ConfigError
from tui_monitor.settings import sanitize_name
from tui_monitor.sources.base import Observation, ObservationSink, SourceState, StateSink
from tui_monitor.sources.host import RateTracker

__all__ = ["ProcessSource", "ProcessSpec", "WatchedProcess", "parse_process"]

logger = logging.getLogger(__name__)

# Attributes read by a scan of the process table; psutil reads them in one pass.
_SCAN_ATTRS = ["pid", "name", "exe", "cmdline"]


@dataclass(frozen=True)
class ProcessSpec:
    """One process to watch, selected by exactly one of ``match_name``, ``match_cmdline`` or ``pid_file``.

    ``match_name`` is compared with the process name and the base name of
    its executable and first argument (Linux cuts process names to 15
    characters). ``match_cmdline`` is a regular expression searched in the
    command line joined by spaces. ``interval_s`` None means the engine-wide
    process interval.
    """

    name: str
    match_name: str | None = None
    match_cmdline: str | None = None
    pid_file: str | None = None
    interval_s: float | None = None

    def __post_init__(self) -> None:
        chosen = [k for k in ("match_name", "match_cmdline", "pid_file") if getattr(self, k)]
        if len(chosen) != 1:
            raise ConfigError(
                f"process {self.name!r}: expected exactly one of match_name, match_cmdline or pid_file, "
                f"got {chosen or 'none'}; e.g. match_name = \"nginx\""
            )
        if self.match_cmdline is not None:
            try:
                re.compile(self.match_cmdline)
            except re.error as exc:
                raise ConfigError(
                    f"process {self.name!r}: invalid match_cmdline regex {self.match_cmdline!r}: {exc}; "
                    "fix the pattern, e.g. 'python .*worker\\.py'"
                ) from exc

    @property
    def stream(self) -> str:
        """The stream name, ``proc.<name>``."""
        return f"proc.{sanitize_name(self.name)}"

    @property
    def selector(self) -> str:
        """How the process is selected, for log lines and the UI."""
        if self.pid_file:
            return f"pid file {self.pid_file}"
        if self.match_cmdline:
            return f"command line ~ {self.match_cmdline!r}"
        return f"name {self.match_name!r}"


def parse_process(text: str) -> ProcessSpec:
    """Parse ``--proc`` text, ``NAME``, ``STREAM=NAME``, ``STREAM=~REGEX`` or ``STREAM=@PIDFILE``.

    >>> parse_process("nginx")
    ProcessSpec(name='nginx', match_name='nginx', match_cmdline=None, pid_file=None, interval_s=None)
    >>> parse_process("api=~gunicorn .*app:main").match_cmdline
    'gunicorn .*app:main'
    >>> parse_process("db=@/run/postgres.pid").pid_file
    '/run/postgres.pid'
    """
    name, sep, selector = text.partition("=")
    if not sep:
        name, selector = text, text
    if not name or not selector:
        raise ConfigError(f"invalid --proc {text!r}: expected NAME, STREAM=NAME, STREAM=~REGEX or STREAM=@PIDFILE")
    if selector.startswith("~"):
        return ProcessSpec(name=name, match_cmdline=selector[1:])
    if selector.startswith("@"):
        return ProcessSpec(name=name, pid_file=selector[1:])
    return ProcessSpec(name=name, match_name=selector)


class _Tracked:
    """One matched process with the state its rates need."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc = proc
        self.rates = RateTracker()
        self.has_cpu_baseline = False


class WatchedProcess:
    """The poll state of one ``ProcessSpec``: matched pids, rates, restarts and warnings given.

    Not thread-safe; ``ProcessSource`` calls it on the event loop.
    """

    def __init__(self, spec: ProcessSpec, *, rescan_s: float = 30.0, down_scan_s: float = 5.0) -> None:
        self.spec = spec
        self.stream = spec.stream
        self.rescan_s = rescan_s
        self.down_scan_s = down_scan_s
        self._pattern = re.compile(spec.match_cmdline) if spec.match_cmdline else None
        self._tracked: dict[int, _Tracked] = {}
        self._has_been_up = False
        self._last_scan = float("-inf")
        self._denied: set[str] = set()
        self._self_pid = os.getpid()
        self.restarts = 0
        self._restarts_emitted = 0
        self._pid_file_pid: int | None = None

    # -- selection ---------------------------------------------------------------

    def needs_scan(self, now: float) -> bool:
        """Whether this poll must scan the process table (a pid file never needs one).

        ``now`` is monotonic time in seconds. While nothing matches, the
        table is scanned at most every ``down_scan_s``; while something
        matches, every ``rescan_s`` to pick up new workers.
        """
        if self.spec.pid_file:
            return False
        period = self.rescan_s if self._tracked else self.down_scan_s
        return now - self._last_scan >= period

    def matches(self, info: dict[str, object]) -> bool:
        """Return whether a scanned process (psutil ``info`` dict) is selected by this spec."""
        if info.get("pid") == self._self_pid:
            return False
        cmdline = info.get("cmdline") or []
        assert isinstance(cmdline, list)
        if self._pattern is not None:
            return bool(cmdline) and self._pattern.search(" ".join(cmdline)) is not None
        names = {info.get("name"), os.path.basename(str(info.get("exe") or ""))}
        if cmdline:
            names.add(os.path.basename(cmdline[0]))
        return self.spec.match_name in names

    def take_scan(self, found: Iterable[psutil.Process], now: float) -> None:
        """Adopt the processes a scan found for this spec."""
        self._last_scan = now
        for proc in found:
            if proc.pid not in self._tracked:
                self._adopt(proc)

    def _read_pid_file(self) -> None:
        assert self.spec.pid_file is not None
        try:
            with open(self.spec.pid_file, encoding="ascii") as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError, UnicodeDecodeError):
            # Missing or half-written pid file: the process counts as down.
            self._tracked.clear()
            return
        if pid in self._tracked:
            return
        self._tracked.clear()
        if pid == self._pid_file_pid:
            return  # the pid it names has exited: down until the file changes
        self._pid_file_pid = pid
        try:
            proc = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return
        if _is_alive(proc):
            self._adopt(proc)

    def _adopt(self, proc: psutil.Process) -> None:
        # NOTE: any pid that appears after the first match counts as a restart,
        # so a server that forks new workers reports them as restarts too.
        if self._has_been_up:
            self.restarts += 1
            logger.warning("process %s restarted: new pid %d (%s)", self.stream, proc.pid, self.spec.selector)
        else:
            logger.info("process %s found: pid %d (%s)", self.stream, proc.pid, self.spec.selector)
        self._tracked[proc.pid] = _Tracked(proc)

    def _drop_gone(self) -> None:
        for pid, tracked in list(self._tracked.items()):
            if not _is_alive(tracked.proc):
                logger.info("process %s: pid %d exited", self.stream, pid)
                del self._tracked[pid]
                # Look for its successor in this very poll.
                self._last_scan = float("-inf")

    # -- reading -----------------------------------------------------------------

    def refresh(self) -> None:
        """Drop processes that exited and re-read the pid file, before a possible scan."""
        if self.spec.pid_file:
            self._read_pid_file()
        self._drop_gone()

    def read(self, now: float) -> Observation:
        """Read the tracked processes' metrics into one observation."""
        gauges: dict[str, float] = {}
        for tracked in list(self._tracked.values()):
            try:
                values = self._read_one(tracked, now)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                del self._tracked[tracked.proc.pid]
                self._last_scan = float("-inf")
                continue
            # NOTE: a pid seen for the first time has no rates yet, so the summed
            # rates of a multi-process match dip for one poll after a worker restarts.
            for name, value in values.items():
                gauges[name] = gauges.get(name, 0.0) + value

        gauges["up"] = 1.0 if self._tracked else 0.0
        gauges["pids"] = float(len(self._tracked))
        if self._tracked:
            self._has_been_up = True
        counts = {"restarts": float(self.restarts - self._restarts_emitted)}
        self._restarts_emitted = self.restarts
        return Observation(self.stream, now, gauges=gauges, counts=counts)

    def _read_one(self, tracked: _Tracked, now: float) -> dict[str, float]:
        proc = tracked.proc
        values: dict[str, float] = {}
        counters: dict[str, float] = {}
        with proc.oneshot():
            cpu = self._guarded("cpu_pct", proc.cpu_percent)
            if cpu is not None and tracked.has_cpu_baseline:
                values["cpu_pct"] = float(cpu)
            tracked.has_cpu_baseline = cpu is not None

            memory = self._guarded("rss_bytes", proc.memory_info)
            if memory is not None:
                values["rss_bytes"] = float(memory.rss)
            threads = self._guarded("threads", proc.num_threads)
            if threads is not None:
                values["threads"] = float(threads)
            fds = self._guarded("open_files", _open_handles(proc))
            if fds is not None:
                values["open_files"] = float(fds)

            io = self._guarded("io rates", getattr(proc, "io_counters", None))
            if io is not None:
                counters["io.read_bytes_per_s"] = float(io.read_bytes)
                counters["io.write_bytes_per_s"] = float(io.write_bytes)
            switches = self._guarded("ctx_switches_per_s", proc.num_ctx_switches)
            if switches is not None:
                counters["ctx_switches_per_s"] = float(switches.voluntary + switches.involuntary)
        values.update(tracked.rates.update(counters, now))
        return values

    def _guarded(self, feature: str, read: Callable[[], Any] | None) -> Any:
        """Call ``read``; on AccessDenied or a platform without it, warn once and return None."""
        if read is None:
            self._warn_once(feature, "not available on this platform")
            return None
        try:
            return read()
        except psutil.AccessDenied:
            self._warn_once(feature, "access denied (run as the process's user or root to read it)")
            return None

    def _warn_once(self, feature: str, reason: str) -> None:
        if feature not in self._denied:
            self._denied.add(feature)
            logger.warning("process %s: %s is missing: %s", self.stream, feature, reason)

    @property
    def pids(self) -> list[int]:
        """The pids matched right now."""
        return sorted(self._tracked)


def _open_handles(proc: psutil.Process) -> Callable[[], int] | None:
    if hasattr(proc, "num_fds"):
        return proc.num_fds
    return getattr(proc, "num_handles", None)


def _is_alive(proc: psutil.Process) -> bool:
    """Whether ``proc`` still runs: not exited, not a zombie, and not a reused pid."""
    try:
        # is_running() compares the creation time too, so a reused pid is not alive.
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


class ProcessSource:
    """Poll every watched process; one task for all of them.

    Each process is polled every its own ``interval_s`` (default
    ``interval_s``); the loop ticks at the shortest interval.
    """

    name = "processes"

    def __init__(
        self,
        specs: list[ProcessSpec],
        emit: ObservationSink,
        report: StateSink,
        *,
        interval_s: float = 2.0,
        rescan_s: float = 30.0,
        down_scan_s: float = 5.0,
    ) -> None:
        self._emit = emit
        self._report = report
        self.watched = [WatchedProcess(spec, rescan_s=rescan_s, down_scan_s=down_scan_s) for spec in specs]
        self._intervals = {w.stream: spec.interval_s or interval_s for w, spec in zip(self.watched, specs, strict=True)}
        self._due: dict[str, float] = {w.stream: 0.0 for w in self.watched}
        self.tick_s = min(self._intervals.values(), default=interval_s)
        self.scans = 0

    def poll(self, now: float | None = None, *, only_due: bool = False) -> list[Observation]:
        """Poll the watched processes (those due, with ``only_due``) and return their observations."""
        now = time.time() if now is None else now
        clock = time.monotonic()
        polled = [w for w in self.watched if not only_due or self._due[w.stream] <= clock + 1e-3]
        for watched in polled:
            watched.refresh()

        scanning = [w for w in polled if w.needs_scan(clock)]
        if scanning:
            self._scan(scanning, clock)

        observations = []
        for watched in polled:
            self._due[watched.stream] = clock + self._intervals[watched.stream]
            obs = watched.read(now)
            observations.append(obs)
            self._report_state(watched, obs)
        return observations

    def _scan(self, scanning: list[WatchedProcess], clock: float) -> None:
        self.scans += 1
        found: dict[str, list[psutil.Process]] = {w.stream: [] for w in scanning}
        for proc in psutil.process_iter(_SCAN_ATTRS):
            info = proc.info
            if info.get("name") is None and not info.get("cmdline"):
                continue
            for watched in scanning:
                if watched.matches(info):
                    found[watched.stream].append(proc)
        for watched in scanning:
            # A zombie is found by the scan but is no longer running.
            alive = [proc for proc in found[watched.stream] if _is_alive(proc)]
            watched.take_scan(alive, clock)

    def _report_state(self, watched: WatchedProcess, obs: Observation) -> None:
        if obs.gauges.get("up"):
            pids = watched.pids
            shown = ", ".join(str(pid) for pid in pids[:3]) + (" …" if len(pids) > 3 else "")
            self._report(SourceState(watched.stream, "running", f"pid {shown}"))
        else:
            self._report(SourceState(watched.stream, "down", f"no process with {watched.spec.selector}"))

    async def run(self) -> None:
        """Poll until cancelled."""
        logger.info("source %s started: %d processes, ticking every %.3g s", self.name, len(self.watched), self.tick_s)
        next_at = time.monotonic()
        while True:
            try:
                for obs in self.poll(only_due=True):
                    self._emit(obs)
            except (psutil.Error, OSError) as exc:
                logger.warning("source %s: poll failed: %s; retrying next tick", self.name, exc)
            next_at += self.tick_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
