"""Prometheus scrapes: parsing, rates, quantiles, caps, and a real /metrics server."""

from __future__ import annotations

import doctest
import logging
import math
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tui_monitor.sources.prometheus as prometheus_module
from metrics_helpers import Route, ScriptedServer
from tui_monitor.errors import ConfigError
from tui_monitor.sources.base import SourceState
from tui_monitor.sources.prometheus import ScrapeConverter, ScrapeSource, ScrapeSpec, histogram_quantile, parse_scrape


def metrics_page(requests_get: int = 1000, requests_post: int = 10, buckets: tuple[int, int, int, int] = (50, 80, 95, 100)) -> str:
    """A page like a real app's: counters, gauges, a histogram, a summary, escaped labels and NaN."""
    b01, b05, b1, total = buckets
    return f"""\
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{{method="GET",code="200"}} {requests_get}
http_requests_total{{method="POST",code="500"}} {requests_post}
http_requests_created{{method="GET",code="200"}} 1.7e9
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
queue_depth 7
# TYPE temperature_celsius gauge
temperature_celsius{{sensor="a \\"quoted\\" one\\\\x\\nnext"}} 41.5
# TYPE broken_ratio gauge
broken_ratio NaN
# TYPE ceiling gauge
ceiling +Inf
# HELP request_duration_seconds Request latency.
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{{route="/api",le="0.1"}} {b01}
request_duration_seconds_bucket{{route="/api",le="0.5"}} {b05}
request_duration_seconds_bucket{{route="/api",le="1"}} {b1}
request_duration_seconds_bucket{{route="/api",le="+Inf"}} {total}
request_duration_seconds_sum{{route="/api"}} 12.5
request_duration_seconds_count{{route="/api"}} {total}
# HELP rpc_seconds RPC latency.
# TYPE rpc_seconds summary
rpc_seconds{{quantile="0.5"}} 0.05
rpc_seconds{{quantile="0.99"}} NaN
rpc_seconds_sum 3.0
rpc_seconds_count 60
# TYPE process_start_time_seconds untyped
process_start_time_seconds 1.7e9
"""


def test_prometheus_doctests() -> None:
    assert doctest.testmod(prometheus_module).failed == 0


def test_first_scrape_has_no_rates() -> None:
    gauges = ScrapeConverter("prom.app").convert(metrics_page(), now=100.0)
    assert not any("_per_s" in name for name in gauges)
    assert not any(".p95" in name and name.startswith("request_duration") for name in gauges)
    assert gauges["queue_depth"] == 7.0


def test_counter_becomes_rate() -> None:
    converter = ScrapeConverter("prom.app")
    converter.convert(metrics_page(requests_get=1000), now=100.0)
    gauges = converter.convert(metrics_page(requests_get=1500), now=110.0)
    assert gauges["http_requests_per_s{code=200,method=GET}"] == 50.0
    assert gauges["http_requests_per_s{code=500,method=POST}"] == 0.0


def test_counter_reset_gives_no_rate() -> None:
    converter = ScrapeConverter("prom.app")
    converter.convert(metrics_page(requests_get=1000), now=100.0)
    after_reset = converter.convert(metrics_page(requests_get=20), now=110.0)
    assert "http_requests_per_s{code=200,method=GET}" not in after_reset
    resumed = converter.convert(metrics_page(requests_get=120), now=120.0)
    assert resumed["http_requests_per_s{code=200,method=GET}"] == 10.0


def test_histogram_quantiles_from_increase() -> None:
    converter = ScrapeConverter("prom.app")
    converter.convert(metrics_page(buckets=(50, 80, 95, 100)), now=100.0)
    # 100 new observations: 10 below 0.1 s, 10 in 0.1-0.5 s, 80 in 0.5-1 s.
    gauges = converter.convert(metrics_page(buckets=(60, 100, 195, 200)), now=110.0)
    assert gauges["request_duration_seconds.p50{route=/api}"] == pytest.approx(0.5 + 0.5 * 30 / 80)
    assert gauges["request_duration_seconds.p95{route=/api}"] == pytest.approx(0.5 + 0.5 * 75 / 80)
    assert gauges["request_duration_seconds.count_per_s{route=/api}"] == 10.0


def test_histogram_reset_gives_no_quantile() -> None:
    converter = ScrapeConverter("prom.app")
    converter.convert(metrics_page(buckets=(50, 80, 95, 100)), now=100.0)
    gauges = converter.convert(metrics_page(buckets=(1, 2, 3, 4)), now=110.0)
    assert not any(name.startswith("request_duration_seconds.p") for name in gauges)


def test_histogram_without_new_observations() -> None:
    converter = ScrapeConverter("prom.app")
    converter.convert(metrics_page(), now=100.0)
    gauges = converter.convert(metrics_page(), now=110.0)
    assert "request_duration_seconds.p50{route=/api}" not in gauges
    assert gauges["request_duration_seconds.count_per_s{route=/api}"] == 0.0


def test_summary_quantiles_and_nan() -> None:
    gauges = ScrapeConverter("prom.app").convert(metrics_page(), now=100.0)
    assert gauges["rpc_seconds.p50"] == 0.05
    assert "rpc_seconds.p99" not in gauges


def test_nan_and_inf_never_emitted() -> None:
    converter = ScrapeConverter("prom.app")
    converter.convert(metrics_page(), now=100.0)
    gauges = converter.convert(metrics_page(requests_get=1100), now=110.0)
    assert all(math.isfinite(value) for value in gauges.values())
    assert "broken_ratio" not in gauges
    assert "ceiling" not in gauges


def test_escaped_label_value_is_readable() -> None:
    gauges = ScrapeConverter("prom.app").convert(metrics_page(), now=100.0)
    assert gauges["temperature_celsius{sensor=a_quoted_one_x_next}"] == 41.5


def test_untyped_sample_kept_as_gauge() -> None:
    gauges = ScrapeConverter("prom.app").convert(metrics_page(), now=100.0)
    assert gauges["process_start_time_seconds"] == 1.7e9


def test_cardinality_cap_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    page = "# TYPE hits counter\n" + "".join(f'hits_total{{user="u{i}"}} {i}\n' for i in range(50))
    converter = ScrapeConverter("prom.app", max_series=10)
    with caplog.at_level(logging.WARNING, logger="tui_monitor.sources.prometheus"):
        converter.convert(page, now=100.0)
        gauges = converter.convert(page, now=110.0)
    assert len(gauges) == 10
    assert converter.dropped_series == 40
    assert caplog.text.count("max_series=10") == 1


def test_include_and_exclude_filter_families() -> None:
    converter = ScrapeConverter("prom.app", include="^(queue|temperature)", exclude="temperature")
    gauges = converter.convert(metrics_page(), now=100.0)
    assert list(gauges) == ["queue_depth"]


def test_invalid_page_raises_value_error() -> None:
    with pytest.raises(ValueError):
        ScrapeConverter("prom.app").convert('metric{label="unclosed} 1\n', now=1.0)


def test_quantile_in_inf_bucket_is_top_bound() -> None:
    assert histogram_quantile(0.99, [(0.1, 0.0), (1.0, 1.0), (math.inf, 100.0)]) == 1.0


def test_quantile_of_empty_histogram_is_nan() -> None:
    assert math.isnan(histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]))


def test_parse_scrape_rejects_bad_url() -> None:
    with pytest.raises(ConfigError, match="--scrape"):
        parse_scrape("app=127.0.0.1:9100/metrics")


def test_spec_rejects_bad_include() -> None:
    with pytest.raises(ConfigError, match="include"):
        ScrapeSpec("app", "http://127.0.0.1/metrics", include="(")


# -- a real /metrics server -------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer().start()
    yield srv
    srv.close()


def _scrape_source(spec: ScrapeSpec, states: list[SourceState]) -> ScrapeSource:
    return ScrapeSource(spec, lambda obs: None, states.append, interval_s=1.0, timeout_s=1.0)


async def test_scrape_real_server(server: ScriptedServer) -> None:
    server.routes["/metrics"] = Route(body=metrics_page(requests_get=100).encode())
    states: list[SourceState] = []
    source = _scrape_source(ScrapeSpec("app", server.url("/metrics")), states)
    async with source.make_client() as client:
        first = await source.scrape(client)
        server.routes["/metrics"] = Route(body=metrics_page(requests_get=300).encode())
        second = await source.scrape(client)
    assert first.stream == "prom.app"
    assert first.gauges["scrape.up"] == 1.0
    assert second.gauges["http_requests_per_s{code=200,method=GET}"] > 0
    assert second.gauges["scrape.series"] > 5
    assert states[-1].status == "running"


async def test_scrape_500_is_down(server: ScriptedServer) -> None:
    server.routes["/metrics"] = Route(status=500, body=b"boom")
    states: list[SourceState] = []
    source = _scrape_source(ScrapeSpec("app", server.url("/metrics")), states)
    async with source.make_client() as client:
        obs = await source.scrape(client)
    assert obs.gauges == {"scrape.up": 0.0}
    assert states[-1].detail == "HTTP 500"


async def test_scrape_garbage_is_down(server: ScriptedServer) -> None:
    server.routes["/metrics"] = Route(body=b'metric{label="unclosed} 1\n')
    states: list[SourceState] = []
    source = _scrape_source(ScrapeSpec("app", server.url("/metrics")), states)
    async with source.make_client() as client:
        obs = await source.scrape(client)
    assert obs.gauges["scrape.up"] == 0.0
    assert states[-1].detail.startswith("invalid exposition format")


async def test_scrape_hang_times_out(server: ScriptedServer) -> None:
    server.routes["/metrics"] = Route(is_hanging=True)
    states: list[SourceState] = []
    source = _scrape_source(ScrapeSpec("app", server.url("/metrics"), timeout_s=0.3), states)
    async with source.make_client() as client:
        obs = await source.scrape(client)
    assert obs.gauges["scrape.up"] == 0.0
    assert states[-1].detail == "timed out"


async def test_scrape_body_cap(server: ScriptedServer) -> None:
    server.routes["/metrics"] = Route(body=metrics_page().encode())
    states: list[SourceState] = []
    source = _scrape_source(ScrapeSpec("app", server.url("/metrics"), max_body_bytes=100), states)
    async with source.make_client() as client:
        obs = await source.scrape(client)
    assert obs.gauges["scrape.up"] == 0.0
    assert "max_body_bytes" in states[-1].detail


@given(
    counts=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=8),
    q_low=st.floats(min_value=0.0, max_value=1.0),
    q_high=st.floats(min_value=0.0, max_value=1.0),
)
def test_quantile_monotonic_and_bounded(counts: list[int], q_low: float, q_high: float) -> None:
    bounds = [0.1 * (i + 1) for i in range(len(counts))]
    cumulative = [float(sum(counts[: i + 1])) for i in range(len(counts))]
    buckets = [*zip(bounds, cumulative, strict=True), (math.inf, cumulative[-1] + 1.0)]
    low, high = sorted((q_low, q_high))
    assert histogram_quantile(low, buckets) <= histogram_quantile(high, buckets)
    assert 0.0 <= histogram_quantile(high, buckets) <= bounds[-1]


async def test_scrape_openmetrics_page(server: ScriptedServer) -> None:
    body = b"# TYPE jobs counter\njobs_total 5\n# TYPE depth gauge\ndepth 2.5\n# EOF\n"
    server.routes["/metrics"] = Route(body=body, headers={"Content-Type": "application/openmetrics-text; version=1.0.0"})
    states: list[SourceState] = []
    source = _scrape_source(ScrapeSpec("app", server.url("/metrics")), states)
    async with source.make_client() as client:
        obs = await source.scrape(client)
    assert obs.gauges["scrape.up"] == 1.0
    assert obs.gauges["depth"] == 2.5
