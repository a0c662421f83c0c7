"""Notifications through Apprise: targets, the when-to-notify policy, delivery with retries, masking.

``Notifier`` is the engine's entry point. ``NotifyPolicy`` is the pure
decision logic that ``tui-monitor rules test`` replays. ``mask_url`` and
``secret_filter`` keep notification URLs and tokens out of logs and screens.
"""

from __future__ import annotations

from tui_monitor.alerts._mask import MASK, SecretFilter, mask_text, mask_url, secret_filter, secrets_of
from tui_monitor.alerts._notifier import Notifier
from tui_monitor.alerts._policy import Message, NotifyPolicy, format_body, format_title
from tui_monitor.alerts._sender import NotificationAttempt, NotificationSender
from tui_monitor.alerts._targets import ENV_NOTIFY_URLS, Target, parse_target, targets_from

__all__ = [
    "ENV_NOTIFY_URLS",
    "MASK",
    "Message",
    "NotificationAttempt",
    "NotificationSender",
    "Notifier",
    "NotifyPolicy",
    "SecretFilter",
    "Target",
    "format_body",
    "format_title",
    "mask_text",
    "mask_url",
    "parse_target",
    "secret_filter",
    "secrets_of",
    "targets_from",
]
