"""Prometheus scrapes: fetch a ``/metrics`` page and turn its series into features.

Each scrape target is one stream, ``prom.<name>``. The page is parsed with
prometheus_client's parser: the text exposition format, or OpenMetrics when
the response's Content-Type names it. Per series:

- counters become per-second rates, ``<family>_per_s{labels}``; a counter
  that went down (a restart of the target) yields no rate for that scrape;
- gauges and untyped samples are kept as they are, ``<family>{labels}``;
- histograms become ``<family>.p50|p95|p99{labels}``, estimated from the
  bucket increases since the previous scrape by linear interpolation within
  a bucket (as PromQL's ``histogram_quantile`` over a rate does), and
  ``<family>.count_per_s{labels}``;
- summaries keep their quantiles, ``<family>.p50{labels}``, and
  ``<family>.count_per_s{labels}``.

NaN and infinite values are dropped, never passed on. The number of series
per target is capped (``max_series``); series beyond the cap are dropped
with one warning, and the series admitted first stay.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from dataclasses import dataclass

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from tui_monitor.errors import ConfigError
from tui_monitor.settings import Secret, parse_endpoint, sanitize_name
from tui_monitor.sources.base import Observation, ObservationSink, SourceState, StateSink
from tui_monitor.sources.endpoint import describe_error, redact_url
from tui_monitor.sources.host import RateTracker

__all__ = ["ScrapeConverter", "ScrapeSource", "ScrapeSpec", "histogram_quantile", "parse_scrape", "series_name"]

logger = logging.getLogger(__name__)

QUANTILES = (0.5, 0.95, 0.99)

_LABEL_VALUE_RE = re.compile(r"[^A-Za-z0-9_.:/-]+")
_MAX_LABEL_VALUE_CHARS = 40
_MAX_REDIRECTS = 5
_ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=1"


@dataclass(frozen=True)
class ScrapeSpec:
    """One Prometheus target: its name, the URL of its metrics page and its limits.

    ``include`` and ``exclude`` are regular expressions matched against
    metric family names (``include`` first). Times are in seconds; None
    means the engine-wide default.
    """

    name: str
    url: str
    interval_s: float | None = None
    timeout_s: float | None = None
    headers: tuple[tuple[str, str | Secret], ...] = ()
    # Each series becomes about three window features, and the engine scores
    # windows on its event loop: 1,500 features cost 16-49 ms per window on a
    # loaded 2-core machine (bench/poll_cost.py).
    max_series: int = 100
    include: str | None = None
    exclude: str | None = None
    max_body_bytes: int = 10 << 20

    def __post_init__(self) -> None:
        for key in ("include", "exclude"):
            pattern = getattr(self, key)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"scrape {self.name!r}: invalid {key} regex {pattern!r}: {exc}; fix the pattern") from exc

    @property
    def stream(self) -> str:
        """The stream name, ``prom.<name>``."""
        return f"prom.{sanitize_name(self.name)}"


def parse_scrape(text: str) -> ScrapeSpec:
    """Parse ``--scrape`` text, ``URL`` or ``NAME=URL``, like ``--url``.

    >>> parse_scrape("app=http://127.0.0.1:9100/metrics").stream
    'prom.app'

    Raises:
        ConfigError: the URL is not an absolute http or https URL.
    """
    try:
        endpoint = parse_endpoint(text)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("--url", "--scrape", 1)) from None
    return ScrapeSpec(name=endpoint.name, url=endpoint.url)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Estimate the ``q`` quantile from cumulative ``(upper_bound, count)`` buckets.

    Buckets must be sorted by upper bound and end with ``+Inf``. The value
    is interpolated linearly inside the bucket that contains the rank; a rank
    in the ``+Inf`` bucket returns the highest finite bound, and the lowest
    bucket is taken to start at 0 when its bound is positive. Returns NaN
    when there are no observations.

    >>> histogram_quantile(0.5, [(0.1, 5.0), (0.5, 8.0), (math.inf, 10.0)])
    0.1
    >>> round(histogram_quantile(0.7, [(0.1, 5.0), (0.5, 8.0), (math.inf, 10.0)]), 4)
    0.3667
    >>> histogram_quantile(0.99, [(0.1, 5.0), (0.5, 8.0), (math.inf, 10.0)])
    0.5
    """
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return math.nan
    total = buckets[-1][1]
    if not total > 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    upper, count = buckets[index]
    if index == 0:
        if upper <= 0:
            return upper
        lower, below = 0.0, 0.0
    else:
        lower, below = buckets[index - 1]
    in_bucket = count - below
    if in_bucket <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / in_bucket


def series_name(base: str, labels: dict[str, str]) -> str:
    """Return a readable feature name for a series: the base and its sorted labels.

    Label values keep letters, digits and ``_.:/-``; other runs become ``_``
    and long values are cut.

    >>> series_name("http_requests_per_s", {"method": "GET", "code": "200"})
    'http_requests_per_s{code=200,method=GET}'
    >>> series_name("up", {})
    'up'
    >>> series_name("req", {"path": '/a "b" c'})
    'req{path=/a_b_c}'
    """
    if not labels:
        return base
    parts = []
    for key in sorted(labels):
        value = _LABEL_VALUE_RE.sub("_", labels[key]).strip("_")[:_MAX_LABEL_VALUE_CHARS]
        parts.append(f"{key}={value}")
    return f"{base}{{{','.join(parts)}}}"


def _quantile_suffix(q: float) -> str:
    """Name a quantile: 0.5 is ``p50``, 0.999 is ``p99_9``."""
    text = f"{q * 100:.6g}"
    return "p" + text.replace(".", "_")


class ScrapeConverter:
    """Turn successive scrapes of one target into gauges; it keeps the state that rates need.

    Args:
        stream: the stream name used in messages.
        max_series: the maximum number of series (label sets per family) admitted.
        include: regex a family name must match to be kept.
        exclude: regex of family names to drop.
    """

    def __init__(self, stream: str, *, max_series: int = 100, include: str | None = None, exclude: str | None = None) -> None:
        self.stream = stream
        self.max_series = max_series
        self._include = re.compile(include) if include else None
        self._exclude = re.compile(exclude) if exclude else None
        self._counters = RateTracker()
        self._buckets: dict[str, list[tuple[float, float]]] = {}
        self._admitted: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self.dropped_series = 0
        self._has_warned_cap = False

    @property
    def series_count(self) -> int:
        """How many series were admitted so far."""
        return len(self._admitted)

    def convert(self, text: str, now: float, *, is_openmetrics: bool = False) -> dict[str, float]:
        """Parse one scrape taken at ``now`` (Unix seconds) and return finite gauges by feature name.

        Raises:
            ValueError: the text is not in the exposition format.
        """
        parse = parse_openmetrics if is_openmetrics else parse_prometheus
        gauges: dict[str, float] = {}
        counters: dict[str, float] = {}
        histograms: dict[str, list[tuple[float, float]]] = {}
        self.dropped_series = 0
        for family in parse(text):
            if not self._is_selected(family.name):
                continue
            kind = family.type
            if kind == "counter":
                self._take_counter(family, counters)
            elif kind in ("gauge", "unknown", "untyped"):
                self._take_gauge(family, gauges)
            elif kind == "histogram":
                self._take_histogram(family, histograms, counters)
            elif kind == "summary":
                self._take_summary(family, gauges, counters)
            # info, stateset and gaugehistogram families carry no value to watch.

        gauges.update(self._counters.update(counters, now))
        gauges.update(self._quantiles(histograms))
        self._warn_cap()
        return {name: value for name, value in gauges.items() if math.isfinite(value)}

    def _is_selected(self, family: str) -> bool:
        if self._include is not None and not self._include.search(family):
            return False
        return self._exclude is None or not self._exclude.search(family)

    def _admit(self, family: str, labels: dict[str, str]) -> bool:
        key = (family, tuple(sorted(labels.items())))
        if key in self._admitted:
            return True
        if len(self._admitted) >= self.max_series:
            self.dropped_series += 1
            return False
        self._admitted.add(key)
        return True

    def _warn_cap(self) -> None:
        if self.dropped_series and not self._has_warned_cap:
            self._has_warned_cap = True
            logger.warning(
                "scrape %s: more than max_series=%d series; dropped %d and kept the first %d; "
                "raise max_series or narrow the scrape with include/exclude",
                self.stream, self.max_series, self.dropped_series, self.max_series,
            )  # fmt: skip

    def _take_counter(self, family: Metric, counters: dict[str, float]) -> None:
        for sample in family.samples:
            if sample.name.endswith("_created") or not _is_finite(sample.value):
                continue
            if self._admit(family.name, sample.labels):
                counters[series_name(f"{family.name}_per_s", sample.labels)] = float(sample.value)

    def _take_gauge(self, family: Metric, gauges: dict[str, float]) -> None:
        for sample in family.samples:
            if _is_finite(sample.value) and self._admit(sample.name, sample.labels):
                gauges[series_name(sample.name, sample.labels)] = float(sample.value)

    def _take_histogram(self, family: Metric, histograms: dict[str, list[tuple[float, float]]], counters: dict[str, float]) -> None:
        name = family.name
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            if not self._admit(name, labels):
                continue
            if sample.name == f"{name}_bucket":
                bound = float(sample.labels.get("le", "nan"))
                histograms.setdefault(series_name(name, labels), []).append((bound, float(sample.value)))
            elif sample.name == f"{name}_count" and _is_finite(sample.value):
                counters[series_name(f"{name}.count_per_s", labels)] = float(sample.value)

    def _take_summary(self, family: Metric, gauges: dict[str, float], counters: dict[str, float]) -> None:
        name = family.name
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "quantile"}
            if not self._admit(name, labels) or not _is_finite(sample.value):
                continue
            if sample.name == name and "quantile" in sample.labels:
                suffix = _quantile_suffix(float(sample.labels["quantile"]))
                gauges[series_name(f"{name}.{suffix}", labels)] = float(sample.value)
            elif sample.name == f"{name}_count":
                counters[series_name(f"{name}.count_per_s", labels)] = float(sample.value)

    def _quantiles(self, histograms: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
        """Estimate quantiles of the observations made between the previous scrape and this one."""
        gauges: dict[str, float] = {}
        previous_all, self._buckets = self._buckets, {}
        for key, buckets in histograms.items():
            buckets.sort()
            if any(not math.isfinite(count) or math.isnan(bound) for bound, count in buckets):
                continue
            self._buckets[key] = buckets
            previous = previous_all.get(key)
            if previous is None or [b for b, _ in previous] != [b for b, _ in buckets]:
                continue  # first scrape of this series, or its buckets changed
            delta = [(bound, count - before) for (bound, count), (_, before) in zip(buckets, previous, strict=True)]
            if any(count < 0 for _, count in delta):
                continue  # the target restarted: its counts went back to 0
            base, _, labels = key.partition("{")
            for q in QUANTILES:
                value = histogram_quantile(q, delta)
                if math.isfinite(value):
                    gauges[f"{base}.{_quantile_suffix(q)}" + (f"{{{labels}" if labels else "")] = value
        return gauges


def _is_finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class ScrapeSource:
    """Scrape ``spec.url`` every ``interval_s`` seconds; one stream, ``prom.<name>``.

    Besides the target's own series, gauges ``scrape.up`` (1 or 0) and
    ``scrape.series`` describe the scrape itself. The scrape's duration is
    shown in the source state but is no feature: on a loaded machine it
    mostly measures this process's own scheduling.
    """

    def __init__(
        self,
        spec: ScrapeSpec,
        emit: ObservationSink,
        report: StateSink,
        *,
        interval_s: float = 10.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.spec = spec
        self.stream = spec.stream
        self.name = self.stream
        self._emit = emit
        self._report = report
        self.interval_s = spec.interval_s or interval_s
        self.timeout_s = spec.timeout_s or timeout_s
        self.converter = ScrapeConverter(self.stream, max_series=spec.max_series, include=spec.include, exclude=spec.exclude)
        self._last_error: str | None = None

    async def scrape(self, client: httpx.AsyncClient, now: float | None = None) -> Observation:
        """Fetch and convert one scrape taken at ``now`` (Unix seconds, default the current time).

        A failed scrape yields ``scrape.up`` 0 only.
        """
        now = time.time() if now is None else now
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                text, is_openmetrics = await self._fetch(client)
            gauges = await asyncio.to_thread(self.converter.convert, text, now, is_openmetrics=is_openmetrics)
        except (httpx.HTTPError, TimeoutError, ValueError, _ScrapeFailed) as exc:
            reason = _describe(exc)
            if reason != self._last_error:
                logger.warning("scrape %s (%s) failed: %s", self.stream, redact_url(self.spec.url), reason)
            self._last_error = reason
            self._report(SourceState(self.stream, "down", reason))
            return Observation(self.stream, now, gauges={"scrape.up": 0.0})

        duration_ms = (time.perf_counter() - started) * 1000.0
        series = self.converter.series_count
        gauges.update({"scrape.up": 1.0, "scrape.series": float(series)})
        if self._last_error is not None:
            logger.info("scrape %s succeeded again", self.stream)
        self._last_error = None
        detail = f"{series} series, {duration_ms:.0f} ms"
        if self.converter.dropped_series:
            detail += f", {self.converter.dropped_series} dropped over max_series={self.spec.max_series}"
        self._report(SourceState(self.stream, "running", detail))
        return Observation(self.stream, now, gauges=gauges)

    async def _fetch(self, client: httpx.AsyncClient) -> tuple[str, bool]:
        headers = {"Accept": _ACCEPT, **{k: _reveal(v) for k, v in self.spec.headers}}
        async with client.stream("GET", self.spec.url, headers=headers) as response:
            if response.status_code != 200:
                raise _ScrapeFailed(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > self.spec.max_body_bytes:
                    raise _ScrapeFailed(f"page larger than max_body_bytes={self.spec.max_body_bytes}; raise it or use include")
            is_openmetrics = "openmetrics" in response.headers.get("content-type", "")
            return body.decode("utf-8", errors="replace"), is_openmetrics

    def make_client(self) -> httpx.AsyncClient:
        """Build the HTTP client with this target's timeout."""
        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), follow_redirects=True, max_redirects=_MAX_REDIRECTS)

    async def run(self) -> None:
        """Scrape until cancelled."""
        async with self.make_client() as client:
            logger.info("source %s started: scraping %s every %.3g s", self.stream, redact_url(self.spec.url), self.interval_s)
            next_at = time.monotonic()
            while True:
                self._emit(await self.scrape(client))
                next_at += self.interval_s
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))


class _ScrapeFailed(Exception):
    """A scrape received a response it cannot use."""


def _reveal(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValueError):
        return f"invalid exposition format: {exc}"
    if isinstance(exc, _ScrapeFailed):
        return str(exc)
    return describe_error(exc, max_redirects=_MAX_REDIRECTS)
