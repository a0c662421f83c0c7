"""Health checks against real HTTP and HTTPS servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import doctest
import http.server
import logging
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tui_monitor.sources.endpoint as endpoint_module
from metrics_helpers import Route, ScriptedServer
from tui_monitor.settings import EndpointSpec, Secret
from tui_monitor.sources.base import Observation, SourceState
from tui_monitor.sources.endpoint import EndpointSource, json_path_get


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer().start()
    yield srv
    srv.close()


async def _check(spec: EndpointSpec, states: list[SourceState] | None = None, timeout_s: float = 2.0) -> Observation:
    sink = states if states is not None else []
    source = EndpointSource(spec, lambda obs: None, sink.append, timeout_s=timeout_s)
    async with source.make_client() as client:
        return await source.check(client)


def test_endpoint_doctests() -> None:
    assert doctest.testmod(endpoint_module).failed == 0


async def test_ok_is_up_with_latency(server: ScriptedServer) -> None:
    server.routes["/health"] = Route()
    obs = await _check(EndpointSpec("api", server.url("/health")))
    assert obs.gauges["up"] == 1.0
    assert obs.gauges["latency_ms"] > 0
    assert obs.gauges["status_class"] == 2.0
    assert obs.counts["status_2xx"] == 1.0
    assert obs.counts["failures"] == 0.0


async def test_slow_latency_measured(server: ScriptedServer) -> None:
    server.routes["/health"] = Route(delay_s=0.3)
    obs = await _check(EndpointSpec("api", server.url("/health")))
    assert obs.gauges["latency_ms"] >= 290


async def test_500_is_down(server: ScriptedServer) -> None:
    server.routes["/health"] = Route(status=500, body=b"internal error")
    states: list[SourceState] = []
    obs = await _check(EndpointSpec("api", server.url("/health")), states)
    assert obs.gauges["up"] == 0.0
    assert obs.counts["status_5xx"] == 1.0
    assert obs.counts["failures"] == 1.0
    assert states[-1].detail == "HTTP 500"


async def test_expected_status_list(server: ScriptedServer) -> None:
    server.routes["/health"] = Route(status=204, body=b"")
    up = await _check(EndpointSpec("api", server.url("/health"), expect_status=(200, 204)))
    down = await _check(EndpointSpec("api", server.url("/health"), expect_status=(200,)))
    assert up.gauges["up"] == 1.0
    assert down.gauges["up"] == 0.0


async def test_hang_times_out(server: ScriptedServer) -> None:
    server.routes["/health"] = Route(is_hanging=True)
    states: list[SourceState] = []
    obs = await _check(EndpointSpec("api", server.url("/health")), states, timeout_s=0.3)
    assert obs.gauges == {"up": 0.0}
    assert obs.counts["timeouts"] == 1.0
    assert states[-1].detail == "timed out"


async def test_hang_does_not_block_others(server: ScriptedServer) -> None:
    server.routes["/hang"] = Route(is_hanging=True)
    server.routes["/ok"] = Route()
    seen: list[Observation] = []
    hanging = EndpointSource(EndpointSpec("hang", server.url("/hang")), seen.append, lambda s: None, interval_s=5, timeout_s=1.0)
    healthy = EndpointSource(EndpointSpec("ok", server.url("/ok")), seen.append, lambda s: None, interval_s=0.05, timeout_s=1.0)
    tasks = [asyncio.create_task(hanging.run()), asyncio.create_task(healthy.run())]
    await asyncio.sleep(0.6)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ok_checks = [obs for obs in seen if obs.stream == "http.ok" and obs.gauges.get("up") == 1.0]
    assert len(ok_checks) >= 5


async def test_redirects_followed(server: ScriptedServer) -> None:
    server.routes["/old"] = Route(status=302, headers={"Location": "/new"}, body=b"")
    server.routes["/new"] = Route()
    obs = await _check(EndpointSpec("api", server.url("/old")))
    assert obs.gauges["up"] == 1.0
    assert obs.gauges["redirects"] == 1.0


async def test_redirect_limit(server: ScriptedServer) -> None:
    server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"}, body=b"")
    states: list[SourceState] = []
    obs = await _check(EndpointSpec("api", server.url("/loop"), max_redirects=3), states)
    assert obs.gauges["up"] == 0.0
    assert states[-1].detail == "more than 3 redirects"


async def test_body_regex(server: ScriptedServer) -> None:
    server.routes["/health"] = Route(body=b"status: degraded\n")
    states: list[SourceState] = []
    good = await _check(EndpointSpec("api", server.url("/health"), body_regex=r"status: (ok|degraded)"))
    bad = await _check(EndpointSpec("api", server.url("/health"), body_regex=r"status: ok"), states)
    assert good.gauges["up"] == 1.0
    assert bad.gauges["up"] == 0.0
    assert "body does not match" in states[-1].detail


async def test_json_path_condition(server: ScriptedServer) -> None:
    server.routes["/health"] = Route(body=b'{"checks": [{"name": "db", "status": "down"}], "ready": true}')
    states: list[SourceState] = []
    ready = await _check(EndpointSpec("api", server.url("/health"), json_path="$.ready"))
    db = await _check(EndpointSpec("api", server.url("/health"), json_path="$.checks[0].status", json_expect="ok"), states)
    missing = await _check(EndpointSpec("api", server.url("/health"), json_path="$.nope"))
    assert ready.gauges["up"] == 1.0
    assert db.gauges["up"] == 0.0
    assert states[-1].detail == "JSON $.checks[0].status is 'down', expected 'ok'"
    assert missing.gauges["up"] == 0.0


async def test_json_condition_on_non_json(server: ScriptedServer) -> None:
    server.routes["/health"] = Route(body=b"<html>")
    states: list[SourceState] = []
    obs = await _check(EndpointSpec("api", server.url("/health"), json_path="$.ok"), states)
    assert obs.gauges["up"] == 0.0
    assert states[-1].detail == "body is not valid JSON"


async def test_method_and_secret_header_sent(server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    server.routes["/health"] = Route(status=503)
    spec = EndpointSpec("api", server.url("/health"), method="HEAD", headers=(("X-Api-Key", Secret("topsecret-value")),))
    with caplog.at_level(logging.DEBUG):
        await _check(spec)
    method, _, headers = server.requests[-1]
    assert method == "HEAD"
    assert headers["X-Api-Key"] == "topsecret-value"
    assert "topsecret-value" not in caplog.text


async def test_body_cap_reads_prefix(server: ScriptedServer) -> None:
    server.routes["/big"] = Route(body=b"x" * 100_000 + b"MARKER")
    obs = await _check(EndpointSpec("api", server.url("/big"), max_body_bytes=1000, body_regex="MARKER"))
    assert obs.gauges["up"] == 0.0


async def test_refused_is_down(refused_url: str) -> None:
    states: list[SourceState] = []
    obs = await _check(EndpointSpec("api", refused_url), states)
    assert obs.gauges["up"] == 0.0
    assert states[-1].status == "down"


def test_json_path_rejects_bad_syntax() -> None:
    with pytest.raises(ValueError, match="invalid JSON path"):
        json_path_get({}, "status")


# -- TLS ------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "30", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/", cert
    httpd.shutdown()
    httpd.server_close()


async def test_tls_cert_days_left(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    obs = await _check(EndpointSpec("tls", url, ca_file=str(cert)))
    assert obs.gauges["up"] == 1.0
    assert 29.0 < obs.gauges["tls_cert_days_left"] <= 30.0


async def test_tls_untrusted_is_down(tls_server: tuple[str, Path]) -> None:
    url, _ = tls_server
    states: list[SourceState] = []
    obs = await _check(EndpointSpec("tls", url), states)
    assert obs.gauges["up"] == 0.0
    assert "CERTIFICATE_VERIFY_FAILED" in states[-1].detail or "certificate" in states[-1].detail.lower()
