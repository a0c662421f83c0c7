"""The notifier: the policy decides what to send, the sender delivers it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui_monitor.alerts._policy import Message, NotifyPolicy
from tui_monitor.alerts._sender import NotificationAttempt, NotificationSender
from tui_monitor.alerts._targets import Target

if TYPE_CHECKING:
    from tui_monitor.rules import RuleOutcome
    from tui_monitor.store import EventRecord

__all__ = ["Notifier"]

logger = logging.getLogger(__name__)


class Notifier:
    """Turn event changes into notifications and deliver them without blocking the caller.

    ``on_event`` and ``tick`` run on the engine's event loop and only queue
    work; ``drain`` returns the finished attempts for the store.
    """

    def __init__(
        self,
        targets: list[Target],
        *,
        policy: NotifyPolicy | None = None,
        on_attempt: Callable[[NotificationAttempt], None] | None = None,
        retries: int = 3,
        backoff_s: float = 2.0,
        attempt_timeout_s: float = 15.0,
    ) -> None:
        self.targets = targets
        self.policy = policy or NotifyPolicy()
        self.sender = NotificationSender(
            targets, retries=retries, backoff_s=backoff_s, attempt_timeout_s=attempt_timeout_s, on_attempt=on_attempt
        )
        self.messages_sent = 0
        if targets:
            logger.info("notifications go to %s", ", ".join(t.masked for t in targets))

    def on_event(self, event: EventRecord, outcome: RuleOutcome, ts: float) -> list[Message]:
        """Queue the messages this change of ``event`` calls for and return them."""
        return self._send(self.policy.on_event(event, outcome, ts))

    def tick(self, ts: float) -> list[Message]:
        """Send a digest of rate-limited messages when the limit allows; call once per window."""
        return self._send(self.policy.tick(ts))

    def _send(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self.sender.send(message)
            self.messages_sent += 1
        return messages

    def drain(self) -> list[NotificationAttempt]:
        """Return the attempts finished since the last call."""
        return self.sender.drain()

    def close(self, timeout_s: float = 5.0) -> None:
        """Let pending deliveries finish for up to ``timeout_s``, then stop."""
        self.sender.close(timeout_s)
