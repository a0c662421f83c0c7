"""HTTP health checks: status, latency, body and JSON conditions, TLS expiry.

Each endpoint is one stream, ``http.<name>``, and one task. A server that
accepts the connection and never responds delays only its own checks,
because every check ends by its total timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tui_monitor.settings import EndpointSpec, Secret
from tui_monitor.sources.base import Observation, ObservationSink, SourceState, StateSink

__all__ = ["EndpointSource", "describe_error", "json_path_get", "redact_url"]

logger = logging.getLogger(__name__)

_PATH_TOKEN_RE = re.compile(r"""\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[["']([^"']*)["']\]""")


def redact_url(url: str) -> str:
    """Return ``url`` with the password of its user info masked, for log lines.

    >>> redact_url("https://bob:hunter22@127.0.0.1:8443/health")
    'https://bob:****@127.0.0.1:8443/health'
    >>> redact_url("http://127.0.0.1/metrics")
    'http://127.0.0.1/metrics'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:****@{host}"))


def json_path_get(document: Any, path: str) -> Any:
    """Return the value at a simple JSON path, or raise KeyError when it is absent.

    Paths start with ``$`` and go on with ``.key``, ``[index]`` or ``["key"]``.

    >>> json_path_get({"checks": [{"status": "ok"}]}, "$.checks[0].status")
    'ok'
    >>> json_path_get({"a b": 1}, '$["a b"]')
    1

    Raises:
        KeyError: a step of the path is not in the document.
        ValueError: the path is not of that form.
    """
    if not path.startswith("$"):
        raise ValueError(f"invalid JSON path {path!r}: expected it to start with $, e.g. $.status")
    position = 1
    value = document
    while position < len(path):
        match = _PATH_TOKEN_RE.match(path, position)
        if match is None:
            raise ValueError(f"invalid JSON path {path!r} at character {position}: expected .key, [index] or [\"key\"]")
        key, index, quoted = match.groups()
        step: str | int
        if index is not None:
            step = int(index)
        elif key is not None:
            step = key
        else:
            step = quoted
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            raise KeyError(path) from None
        position = match.end()
    return value


@dataclass
class _Answer:
    status: int
    body: bytes
    redirects: int
    cert_days: float | None


class EndpointSource:
    """Check ``spec.url`` every ``interval_s`` seconds.

    A check is up when the status is in ``spec.expect_status`` (by default
    any status below 500), ``spec.body_regex`` matches the body and the JSON
    condition holds. Only the first ``spec.max_body_bytes`` of the body are
    read. Redirects are followed up to ``spec.max_redirects``.

    Gauges: ``up`` (1 or 0), ``latency_ms`` (for checks that got a response,
    headers and body read), ``status_code``, ``status_class`` (2 for 2xx and so on),
    ``redirects`` and, for https with a verified certificate,
    ``tls_cert_days_left``. Counts: ``checks``, ``failures``, ``timeouts``,
    ``status_2xx`` to ``status_5xx``.
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
        self.interval_s = spec.interval_s or interval_s
        self.timeout_s = spec.timeout_s or timeout_s
        self._body_re = re.compile(spec.body_regex.encode()) if spec.body_regex else None
        self._last_error: str | None = None

    def make_client(self) -> httpx.AsyncClient:
        """Build the HTTP client with this endpoint's timeouts, redirect limit and TLS trust."""
        timeout = httpx.Timeout(self.timeout_s, connect=self.spec.connect_timeout_s or self.timeout_s)
        verify: ssl.SSLContext | bool = True
        if not self.spec.verify_tls:
            verify = False
        elif self.spec.ca_file:
            verify = ssl.create_default_context(cafile=self.spec.ca_file)
        return httpx.AsyncClient(
            timeout=timeout, follow_redirects=True, max_redirects=self.spec.max_redirects, verify=verify
        )

    async def check(self, client: httpx.AsyncClient) -> Observation:
        """Run one check and return its observation."""
        started = time.perf_counter()
        now = time.time()
        counts = {"checks": 1.0, "failures": 0.0, "timeouts": 0.0}
        counts.update({f"status_{n}xx": 0.0 for n in range(2, 6)})
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await self._request(client)
        except (httpx.HTTPError, TimeoutError) as exc:
            counts["failures"] = 1.0
            if isinstance(exc, TimeoutError | httpx.TimeoutException):
                counts["timeouts"] = 1.0
            self._down(describe_error(exc, self.spec.max_redirects))
            return Observation(self.stream, now, gauges={"up": 0.0}, counts=counts)

        latency_ms = (time.perf_counter() - started) * 1000.0
        status = answer.status
        gauges = {
            "latency_ms": latency_ms,
            "status_code": float(status),
            "status_class": float(status // 100),
            "redirects": float(answer.redirects),
        }
        if answer.cert_days is not None:
            gauges["tls_cert_days_left"] = answer.cert_days
        if 2 <= status // 100 <= 5:
            counts[f"status_{status // 100}xx"] = 1.0

        problem = self._judge(answer)
        if problem is not None:
            counts["failures"] = 1.0
            gauges["up"] = 0.0
            self._down(problem)
        else:
            gauges["up"] = 1.0
            if self._last_error is not None:
                logger.info("endpoint %s is up again (HTTP %d)", self.stream, status)
            self._last_error = None
            self._report(SourceState(self.stream, "running", f"HTTP {status}, {latency_ms:.0f} ms"))
        return Observation(self.stream, now, gauges=gauges, counts=counts)

    async def _request(self, client: httpx.AsyncClient) -> _Answer:
        headers = {key: (value.reveal() if isinstance(value, Secret) else value) for key, value in self.spec.headers}
        async with client.stream(self.spec.method, self.spec.url, headers=headers) as response:
            cert_days = _cert_days_left(response)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) >= self.spec.max_body_bytes:
                    del body[self.spec.max_body_bytes :]
                    break
            return _Answer(response.status_code, bytes(body), len(response.history), cert_days)

    def _judge(self, answer: _Answer) -> str | None:
        """Return why a check that got a response is down, or None when it is up."""
        expected = self.spec.expect_status
        if expected and answer.status not in expected:
            return f"HTTP {answer.status}, expected {', '.join(map(str, expected))}"
        if not expected and answer.status >= 500:
            return f"HTTP {answer.status}"
        if self._body_re is not None and self._body_re.search(answer.body) is None:
            return f"body does not match {self.spec.body_regex!r}"
        if self.spec.json_path is not None:
            return self._judge_json(answer.body)
        return None

    def _judge_json(self, body: bytes) -> str | None:
        path = self.spec.json_path
        assert path is not None
        try:
            value = json_path_get(json.loads(body), path)
        except ValueError:
            return "body is not valid JSON"
        except KeyError:
            return f"JSON path {path} not found"
        expected = self.spec.json_expect
        if expected is None:
            return None if value else f"JSON {path} is {value!r}, expected a true value"
        if value != expected:
            return f"JSON {path} is {value!r}, expected {expected!r}"
        return None

    def _down(self, reason: str) -> None:
        if reason != self._last_error:
            logger.warning("endpoint %s (%s) is down: %s", self.stream, redact_url(self.spec.url), reason)
        self._last_error = reason
        self._report(SourceState(self.stream, "down", reason))

    async def run(self) -> None:
        """Check until cancelled."""
        async with self.make_client() as client:
            logger.info(
                "source %s started: %s %s every %.3g s", self.stream, self.spec.method, redact_url(self.spec.url), self.interval_s
            )
            next_at = time.monotonic()
            while True:
                self._emit(await self.check(client))
                next_at += self.interval_s
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def _cert_days_left(response: httpx.Response) -> float | None:
    """Return days until the server certificate expires, or None for http or an unverified certificate."""
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    # getpeercert() returns the parsed fields only when the certificate was verified.
    cert = ssl_object.getpeercert()
    if not cert or "notAfter" not in cert:
        return None
    return (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400.0


def describe_error(exc: BaseException, max_redirects: int) -> str:
    """Describe a failed request in a few words for the source state and the log."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"more than {max_redirects} redirects"
    if isinstance(exc, httpx.ConnectError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        return f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}"
