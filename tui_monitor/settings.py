"""Run-time settings with defaults that monitor this machine with no config file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from tui_monitor.errors import ConfigError

__all__ = ["EndpointSpec", "Settings", "default_db_path", "parse_endpoint"]

_NAME_RE = re.compile(r"[^A-Za-z0-9_]+")


def default_db_path() -> Path:
    """Return the feature store's default path in the user's data folder."""
    return Path(platformdirs.user_data_dir("tui-monitor")) / "monitor.db"


def sanitize_name(text: str) -> str:
    """Turn free text into a feature-name segment.

    >>> sanitize_name("api.example:8080")
    'api_example_8080'
    """
    cleaned = _NAME_RE.sub("_", text).strip("_").lower()
    return cleaned or "unnamed"


@dataclass(frozen=True)
class EndpointSpec:
    """One HTTP endpoint to check: a stream name and the URL."""

    name: str
    url: str


def parse_endpoint(text: str) -> EndpointSpec:
    """Parse ``--url`` text, either ``URL`` or ``NAME=URL``.

    The stream name defaults to the host and port, so that
    ``http://127.0.0.1:8080/health`` becomes stream ``http.127_0_0_1_8080``.

    >>> parse_endpoint("api=http://127.0.0.1:8080/health")
    EndpointSpec(name='api', url='http://127.0.0.1:8080/health')

    Raises:
        ConfigError: the URL is not an absolute http or https URL.
    """
    name = ""
    url = text
    head, sep, tail = text.partition("=")
    if sep and "://" not in head:
        name, url = head, tail

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (urlsplit checks the port only when it is read)
    except ValueError as exc:
        # An unclosed IPv6 bracket or a port outside 0-65535.
        raise ConfigError(f"invalid --url {text!r}: {exc}; e.g. api=http://127.0.0.1:8080/health") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"invalid --url {text!r}: expected an absolute http:// or https:// URL, "
            "optionally prefixed with NAME=, e.g. api=http://127.0.0.1:8080/health"
        )
    return EndpointSpec(name=sanitize_name(name or parts.netloc), url=url)


@dataclass
class Settings:
    """Everything the engine needs to run.

    Times are in seconds. ``warmup_windows`` is how many closed windows each
    stream's detector learns from before it may raise an anomaly.
    Retention is in days per kind of row (``*_retention_days``); plugins
    load from ``plugin_dirs`` and, unless ``is_entry_point_plugins`` is
    false, from installed packages' entry points.
    """

    db_path: Path = field(default_factory=default_db_path)
    log_paths: list[str] = field(default_factory=list)
    endpoints: list[EndpointSpec] = field(default_factory=list)
    window_s: float = 10.0
    host_interval_s: float = 1.0
    endpoint_interval_s: float = 5.0
    endpoint_timeout_s: float = 5.0
    log_poll_s: float = 0.25
    log_coalesce_s: float = 0.25
    warmup_windows: int = 30
    threshold: float = 0.98
    min_deviation_z: float = 6.0
    debounce_n: int = 2
    debounce_m: int = 3
    seed: int = 42
    samples_retention_days: float = 2.0
    windows_retention_days: float = 30.0
    events_retention_days: float = 365.0
    retention_interval_s: float = 600.0
    plugin_dirs: list[Path] = field(default_factory=list)
    plugin_options: dict[str, dict[str, str]] = field(default_factory=dict)
    is_entry_point_plugins: bool = True

    def validate(self) -> None:
        """Check value ranges.

        Raises:
            ConfigError: a value is out of range, naming the option and the fix.
        """
        positive = {
            "--window": self.window_s,
            "--interval": self.host_interval_s,
            "--url-interval": self.endpoint_interval_s,
            "--url-timeout": self.endpoint_timeout_s,
        }
        for option, value in positive.items():
            if not value > 0:
                raise ConfigError(f"invalid {option} {value!r}: expected a number of seconds above 0")
        if self.host_interval_s > self.window_s:
            raise ConfigError(
                f"invalid --interval {self.host_interval_s!r}: the host poll interval must not "
                f"exceed the window ({self.window_s!r} s); lower --interval or raise --window"
            )
        if self.warmup_windows < 1:
            raise ConfigError(f"invalid --warmup {self.warmup_windows!r}: expected a whole number of windows, 1 or more")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"invalid --threshold {self.threshold!r}: expected a calibrated score between 0 and 1")
        retention = {
            "--keep-samples": self.samples_retention_days,
            "--keep-windows": self.windows_retention_days,
            "--keep-events": self.events_retention_days,
        }
        for option, days in retention.items():
            if not days > 0:
                raise ConfigError(f"invalid {option} {days!r}: expected a number of days above 0, e.g. 2 or 0.5")
        if not 1 <= self.debounce_n <= self.debounce_m:
            raise ConfigError(
                f"invalid debounce {self.debounce_n!r} of {self.debounce_m!r}: "
                "expected 1 <= N <= M, e.g. 2 of 3 windows"
            )
