"""Run-time settings with defaults that monitor this machine with no config file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import platformdirs

from tui_monitor.errors import ConfigError

if TYPE_CHECKING:
    from tui_monitor.detectors.config import DetectorConfig
    from tui_monitor.sources.process import ProcessSpec
    from tui_monitor.sources.prometheus import ScrapeSpec

__all__ = ["EndpointSpec", "Secret", "Settings", "default_db_path", "default_rules_dir", "mask_secret", "parse_endpoint"]

_NAME_RE = re.compile(r"[^A-Za-z0-9_]+")


def default_db_path() -> Path:
    """Return the feature store's default path in the user's data folder."""
    return Path(platformdirs.user_data_dir("tui-monitor")) / "monitor.db"


def default_rules_dir() -> Path:
    """Return the default rules folder: ``rules`` in the user's config folder."""
    return Path(platformdirs.user_config_dir("tui-monitor")) / "rules"


def sanitize_name(text: str) -> str:
    """Turn free text into a feature-name segment.

    >>> sanitize_name("api.example:8080")
    'api_example_8080'
    """
    cleaned = _NAME_RE.sub("_", text).strip("_").lower()
    return cleaned or "unnamed"


def mask_secret(value: str) -> str:
    """Return ``value`` with all but its first two characters hidden.

    >>> mask_secret("s3cr3t-token-value")
    's3****'
    >>> mask_secret("abc")
    '****'
    """
    return (value[:2] if len(value) >= 8 else "") + "****"


@dataclass(frozen=True)
class Secret:
    """A secret value (token, password, header value) whose text shows masked.

    ``str()``, ``repr()`` and f-strings give the masked form, so a secret
    that reaches a log line or an error message stays hidden; ``reveal()``
    returns the value for the one place that sends it.
    """

    value: str = field(repr=False)

    def reveal(self) -> str:
        """Return the secret's text."""
        return self.value

    def __str__(self) -> str:
        return mask_secret(self.value)

    def __repr__(self) -> str:
        return f"Secret({mask_secret(self.value)!r})"


@dataclass(frozen=True)
class EndpointSpec:
    """One HTTP endpoint to check: a stream name, the URL and the check's rules.

    With ``expect_status`` empty a check is up when the status is below 500.
    Times are in seconds; None means the engine-wide default.
    """

    name: str
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str | Secret], ...] = ()
    expect_status: tuple[int, ...] = ()
    body_regex: str | None = None
    json_path: str | None = None
    json_expect: str | float | bool | None = None
    interval_s: float | None = None
    timeout_s: float | None = None
    connect_timeout_s: float | None = None
    max_redirects: int = 5
    max_body_bytes: int = 1 << 20
    ca_file: str | None = None
    verify_tls: bool = True


def parse_endpoint(text: str) -> EndpointSpec:
    """Parse ``--url`` text, either ``URL`` or ``NAME=URL``.

    The stream name defaults to the host and port, so that
    ``http://127.0.0.1:8080/health`` becomes stream ``http.127_0_0_1_8080``.

    >>> spec = parse_endpoint("api=http://127.0.0.1:8080/health")
    >>> spec.name, spec.url
    ('api', 'http://127.0.0.1:8080/health')

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
    ``log_file`` is the app's own log (None: stderr when headless, a file
    in the user's log folder with the UI); ``duration_s`` stops the run
    (None: run until stopped). Retention is in days per kind of row
    (``*_retention_days``); plugins load from ``plugin_dirs`` and, unless
    ``is_entry_point_plugins`` is false, from installed packages' entry points. Retraining runs every
    ``retrain_interval_s`` on the last ``retrain_span_s`` of windows, after
    ``retrain_after_labels`` new labels of a stream, and ``drift_min_windows``
    windows after drift; a gradient-boosting model joins once a stream has
    ``supervised_min_labels`` events of each of true anomaly and false positive.
    """

    db_path: Path = field(default_factory=default_db_path)
    log_paths: list[str] = field(default_factory=list)
    endpoints: list[EndpointSpec] = field(default_factory=list)
    processes: list[ProcessSpec] = field(default_factory=list)
    scrapes: list[ScrapeSpec] = field(default_factory=list)
    window_s: float = 10.0
    host_interval_s: float = 1.0
    endpoint_interval_s: float = 5.0
    endpoint_timeout_s: float = 5.0
    process_interval_s: float = 2.0
    scrape_interval_s: float = 10.0
    host_filesystems: bool = True
    host_per_disk: bool | list[str] = False
    host_per_interface: bool | list[str] = False
    host_sensors: bool = True
    config_path: Path | None = None
    log_poll_s: float = 0.25
    log_coalesce_s: float = 0.25
    warmup_windows: int = 30
    threshold: float = 0.995
    min_deviation_z: float = 4.0
    debounce_n: int = 2
    debounce_m: int = 3
    seed: int = 42
    # Detector stack; see DetectorConfig for what each setting means.
    models: tuple[str, ...] = ("robust", "hst")
    ensemble: str = "max"
    threshold_mode: str = "static"
    cooldown_windows: int = 60
    detector_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_interval_s: float = 3600.0
    batch_min_windows: int = 360
    persist_models: bool = True
    model_key_path: Path | None = None
    samples_retention_days: float = 2.0
    windows_retention_days: float = 30.0
    events_retention_days: float = 365.0
    retention_interval_s: float = 600.0
    plugin_dirs: list[Path] = field(default_factory=list)
    plugin_options: dict[str, dict[str, str]] = field(default_factory=dict)
    is_entry_point_plugins: bool = True
    rules_dir: Path = field(default_factory=default_rules_dir)
    # How the process runs: without the UI, for a limited time, where it logs.
    is_headless: bool = False
    duration_s: float | None = None
    log_file: Path | None = None
    is_verbose: bool = False
    can_reset_corrupt_db: bool = False
    # Apprise URLs, each optionally prefixed with TAG,TAG=; TUI_MONITOR_NOTIFY_URLS adds more.
    # They carry tokens, some expanded from the environment, so repr() leaves them out.
    notify_urls: list[str] = field(default_factory=list, repr=False)
    notify_repeat_s: float = 3600.0
    notify_rate_limit: int = 10
    notify_rate_window_s: float = 600.0
    notify_retries: int = 3
    notify_backoff_s: float = 2.0
    notify_timeout_s: float = 15.0

    # Feedback: retraining triggers and the supervised model (times in window seconds).
    retrain_interval_s: float = 6 * 3600.0
    retrain_span_s: float = 86400.0
    retrain_after_labels: int = 3
    supervised_min_labels: int = 5
    drift_min_windows: int = 20
    drift_cooldown_windows: int = 360

    def detector_config(self) -> DetectorConfig:
        """Return the default detector configuration these settings describe."""
        # Imported here so that reading settings loads no detector code; the
        # package loads its river-backed models only on first use.
        from tui_monitor.detectors.config import DetectorConfig

        return DetectorConfig(
            models=tuple(self.models),
            ensemble=self.ensemble,
            threshold=self.threshold,
            threshold_mode=self.threshold_mode,
            min_deviation_z=self.min_deviation_z,
            debounce_n=self.debounce_n,
            debounce_m=self.debounce_m,
            cooldown_windows=self.cooldown_windows,
            warmup_windows=self.warmup_windows,
            batch=self.batch_interval_s > 0,
            seed=self.seed,
        )

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
        for pattern in self.log_paths:
            if not any(char in pattern for char in "*?[") and Path(pattern).expanduser().is_dir():
                raise ConfigError(f"invalid --log {pattern!r}: it is a folder; pass a file, or a glob such as '{pattern.rstrip('/')}/*.log'")
        retention = {
            "--keep-samples": self.samples_retention_days,
            "--keep-windows": self.windows_retention_days,
            "--keep-events": self.events_retention_days,
        }
        for option, days in retention.items():
            if not days > 0:
                raise ConfigError(f"invalid {option} {days!r}: expected a number of days above 0, e.g. 2 or 0.5")
        notify_limits = {
            "notify_repeat_s": (self.notify_repeat_s, 0.0),
            "notify_rate_limit": (self.notify_rate_limit, 1),
            "notify_rate_window_s": (self.notify_rate_window_s, 1.0),
            "notify_retries": (self.notify_retries, 0),
            "notify_backoff_s": (self.notify_backoff_s, 0.0),
            "notify_timeout_s": (self.notify_timeout_s, 0.1),
        }
        for name, (value, minimum) in notify_limits.items():
            if value < minimum:
                raise ConfigError(f"invalid {name} {value!r}: expected {minimum!r} or more")
        if not 1 <= self.debounce_n <= self.debounce_m:
            raise ConfigError(
                f"invalid debounce {self.debounce_n!r} of {self.debounce_m!r}: "
                "expected 1 <= N <= M, e.g. 2 of 3 windows"
            )
