"""Notification targets: Apprise URLs with optional tags, from settings or the environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from tui_monitor.alerts._mask import load_apprise, mask_url, secret_filter, secrets_of
from tui_monitor.errors import ConfigError

__all__ = ["ENV_NOTIFY_URLS", "Target", "parse_target", "targets_from"]

ENV_NOTIFY_URLS = "TUI_MONITOR_NOTIFY_URLS"

_TAGGED_RE = re.compile(r"^(?P<tags>[A-Za-z0-9_.,-]+)=(?P<url>[a-z][a-z0-9+.-]*://.*)$")


@dataclass
class Target:
    """One Apprise URL and the tags it receives.

    A target without tags receives every notification. A tagged target
    receives a notification when one of its tags is the event's severity
    (``minor``, ``major``, ``critical``) or a tag a rule added.
    """

    url: str = field(repr=False)
    tags: frozenset[str] = frozenset()
    masked: str = ""
    plugin: Any = field(default=None, repr=False)

    def wants(self, tags: set[str] | frozenset[str]) -> bool:
        """Whether this target receives a notification with ``tags``."""
        return not self.tags or bool(self.tags & tags)


def parse_target(text: str, *, origin: str = "notify URL", connect_timeout_s: float = 5.0, read_timeout_s: float = 10.0) -> Target:
    """Parse ``URL`` or ``TAG[,TAG]=URL`` into a target with an Apprise plugin ready to send.

    The URL's secrets are registered with the log filter before anything can log them.

    Raises:
        ConfigError: Apprise does not know the URL; the message shows it masked.
    """
    apprise = load_apprise()
    text = text.strip()
    tags: frozenset[str] = frozenset()
    match = _TAGGED_RE.match(text)
    if match and "://" not in match.group("tags"):
        tags = frozenset(t for t in match.group("tags").split(",") if t)
        text = match.group("url")
    secret_filter().add(secrets_of(text))
    masked = mask_url(text)
    plugin = apprise.Apprise.instantiate(text, suppress_exceptions=True)
    if plugin is None:
        raise ConfigError(
            f"invalid {origin} {masked!r}: Apprise does not recognise it; write an Apprise URL such as "
            "json://HOST:PORT/PATH or mailto://USER:PASSWORD@HOST, optionally prefixed with TAG,TAG="
        )
    # Our sender retries with backoff and records each attempt, so Apprise must not retry on its own.
    plugin.retry = 0
    if "cto=" not in text:
        plugin.socket_connect_timeout = connect_timeout_s
    if "rto=" not in text:
        plugin.socket_read_timeout = read_timeout_s
    return Target(url=text, tags=tags, masked=masked, plugin=plugin)


def targets_from(
    urls: list[str], *, environ: dict[str, str] | None = None, connect_timeout_s: float = 5.0, read_timeout_s: float = 10.0
) -> list[Target]:
    """Build targets from ``urls`` (settings) plus ``TUI_MONITOR_NOTIFY_URLS`` (whitespace-separated).

    Raises:
        ConfigError: a URL is invalid.
    """
    env = os.environ if environ is None else environ
    targets = [parse_target(url, connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s) for url in urls if url.strip()]
    for url in env.get(ENV_NOTIFY_URLS, "").split():
        origin = f"URL in {ENV_NOTIFY_URLS}"
        targets.append(parse_target(url, origin=origin, connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s))
    return targets
