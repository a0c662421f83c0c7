"""HTTP endpoint checks: status code, latency and up/down."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from tui_monitor.settings import EndpointSpec
from tui_monitor.sources.base import Observation, ObservationSink, SourceState, StateSink

__all__ = ["EndpointSource"]

logger = logging.getLogger(__name__)


class EndpointSource:
    """GET ``spec.url`` every ``interval_s`` seconds with a ``timeout_s`` timeout.

    A check is up when the server answers with a status below 500. Gauges:
    ``latency_ms`` (only for answered checks) and ``up`` (1 or 0); counts:
    ``checks``, ``failures``, ``status_4xx``, ``status_5xx``.
    """

    def __init__(
        self,
        spec: EndpointSpec,
        emit: ObservationSink,
        report: StateSink,
        *,
        interval_s: float = 5.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.spec = spec
        self.stream = f"http.{spec.name}"
        self.name = self.stream
        self._emit = emit
        self._report = report
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._last_error: str | None = None

    async def check(self, client: httpx.AsyncClient) -> Observation:
        """Run one check and return its observation."""
        started = time.perf_counter()
        now = time.time()
        counts = {"checks": 1.0, "failures": 0.0, "status_4xx": 0.0, "status_5xx": 0.0}
        gauges: dict[str, float] = {}
        try:
            response = await client.get(self.spec.url)
        except httpx.HTTPError as exc:
            counts["failures"] = 1.0
            gauges["up"] = 0.0
            self._down(_describe(exc))
            return Observation(self.stream, now, gauges=gauges, counts=counts)

        latency_ms = (time.perf_counter() - started) * 1000.0
        status = response.status_code
        gauges["latency_ms"] = latency_ms
        gauges["status_code"] = float(status)
        if 400 <= status < 500:
            counts["status_4xx"] = 1.0
        if status >= 500:
            counts["status_5xx"] = 1.0
            counts["failures"] = 1.0
            gauges["up"] = 0.0
            self._down(f"HTTP {status}")
        else:
            gauges["up"] = 1.0
            if self._last_error is not None:
                logger.info("endpoint %s is up again (HTTP %d)", self.stream, status)
            self._last_error = None
            self._report(SourceState(self.stream, "running", f"HTTP {status}, {latency_ms:.0f} ms"))
        return Observation(self.stream, now, gauges=gauges, counts=counts)

    def _down(self, reason: str) -> None:
        if reason != self._last_error:
            logger.warning("endpoint %s (%s) is down: %s", self.stream, self.spec.url, reason)
        self._last_error = reason
        self._report(SourceState(self.stream, "down", reason))

    async def run(self) -> None:
        """Check until cancelled."""
        timeout = httpx.Timeout(self.timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
            logger.info("source %s started: GET %s every %.3g s", self.stream, self.spec.url, self.interval_s)
            next_at = time.monotonic()
            while True:
                self._emit(await self.check(client))
                next_at += self.interval_s
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        return f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}"
