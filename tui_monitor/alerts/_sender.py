"""Send notifications through Apprise in worker threads, with retries, backoff and timeouts.

Apprise's ``notify`` blocks on the network. ``send`` only queues; a
dispatcher thread runs each attempt in a small thread pool and waits at most
``attempt_timeout_s`` for it, so a failing or hanging target never blocks the
caller (the engine's event loop). Every attempt and its outcome becomes a
``NotificationAttempt`` that the owner of the store collects with ``drain``.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tui_monitor.alerts._policy import Message
from tui_monitor.alerts._targets import Target

__all__ = ["NotificationAttempt", "NotificationSender"]

logger = logging.getLogger(__name__)


@dataclass
class NotificationAttempt:
    """One try to deliver one message to one target.

    ``outcome`` is ``sent``, ``failed``, ``timeout``, ``dropped`` (queue full)
    or ``abandoned`` (the sender stopped before the retry was due).
    ``is_final`` marks the last attempt of the message for that target.
    ``target`` is the masked URL.
    """

    ts: float
    kind: str
    severity: str
    title: str
    target: str
    attempt: int
    outcome: str
    detail: str = ""
    duration_ms: float = 0.0
    is_final: bool = True
    event_id: int | None = None
    incident: str = ""


@dataclass
class _Job:
    message: Message
    target: Target
    attempt: int = 1


class _ThreadLogCapture(logging.Handler):
    """Collect Apprise's warnings logged by one thread: the reason a send failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


class NotificationSender:
    """Deliver messages to the targets that want them, off the caller's thread.

    Args:
        targets: the Apprise targets.
        retries: further attempts after a failed one.
        backoff_s: wait before the first retry; doubles each retry up to ``backoff_max_s``.
        attempt_timeout_s: give up waiting for one attempt after this long and count it as a timeout.
        queue_size: at most this many pending deliveries; beyond it new ones are dropped and recorded.
        on_attempt: called from the dispatcher thread after each attempt, e.g. to wake the store writer.
    """

    def __init__(
        self,
        targets: list[Target],
        *,
        retries: int = 3,
        backoff_s: float = 2.0,
        backoff_max_s: float = 60.0,
        attempt_timeout_s: float = 15.0,
        queue_size: int = 200,
        on_attempt: Callable[[NotificationAttempt], None] | None = None,
    ) -> None:
        self.targets = targets
        self.retries = retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.attempt_timeout_s = attempt_timeout_s
        self.queue_size = queue_size
        self._on_attempt = on_attempt
        self._heap: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._done: deque[NotificationAttempt] = deque()
        self._is_stopping = False
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="notify")
        self._thread = threading.Thread(target=self._dispatch_forever, name="notify-dispatch", daemon=True)

    def send(self, message: Message) -> int:
        """Queue ``message`` for every target that wants its tags; return how many deliveries were queued."""
        queued = 0
        with self._cond:
            for target in self.targets:
                if not target.wants(message.tags):
                    continue
                if len(self._heap) >= self.queue_size or self._is_stopping:
                    reason = "sender stopped" if self._is_stopping else f"queue full ({self.queue_size} pending)"
                    self._record(_Job(message, target), "dropped", reason, 0.0, is_final=True)
                    logger.warning("notification %r to %s dropped: %s", message.title, target.masked, reason)
                    continue
                heapq.heappush(self._heap, (time.monotonic(), next(self._seq), _Job(message, target)))
                queued += 1
            if queued and self._thread.ident is None:
                self._thread.start()  # started on first use: an engine without targets runs no threads
            self._cond.notify_all()
        return queued

    def drain(self) -> list[NotificationAttempt]:
        """Return and forget the attempts finished since the last call; safe from any thread."""
        attempts = []
        while self._done:
            attempts.append(self._done.popleft())
        return attempts

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no delivery is pending or running; return False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._heap or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Finish what can finish within ``timeout_s``; record the rest as abandoned, then stop the threads."""
        self.wait_idle(timeout_s)
        with self._cond:
            self._is_stopping = True
            for _, _, job in self._heap:
                self._record(job, "abandoned", "tui-monitor stopped before this retry was due", 0.0, is_final=True)
            self._heap.clear()
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- dispatcher thread --------------------------------------------------------

    def _dispatch_forever(self) -> None:
        while True:
            with self._cond:
                while not self._is_stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    delay = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(delay)
                if self._is_stopping:
                    return
                _, _, job = heapq.heappop(self._heap)
                self._busy += 1
            try:
                self._attempt(job)
            except Exception:
                logger.exception("notification dispatcher failed on %r; it goes on with the next one", job.message.title)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        started = time.monotonic()
        future = self._pool.submit(_deliver, job.target, job.message)
        try:
            is_sent, detail = future.result(timeout=self.attempt_timeout_s)
            outcome = "sent" if is_sent else "failed"
        except concurrent.futures.TimeoutError:
            outcome, detail = "timeout", f"no answer within {self.attempt_timeout_s:g} s"
        except Exception as exc:  # Apprise plugins may raise on malformed responses
            outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
        elapsed_ms = (time.monotonic() - started) * 1000
        can_retry = outcome != "sent" and job.attempt <= self.retries
        self._record(job, outcome, detail, elapsed_ms, is_final=not can_retry)
        if outcome == "sent":
            logger.info("notification %r sent to %s (attempt %d)", job.message.title, job.target.masked, job.attempt)
            return
        if can_retry:
            wait_s = min(self.backoff_max_s, self.backoff_s * 2 ** (job.attempt - 1))
            logger.warning(
                "notification %r to %s: %s (%s); retry %d of %d in %.3g s",
                job.message.title, job.target.masked, outcome, detail, job.attempt, self.retries, wait_s,
            )  # fmt: skip
            with self._cond:
                job.attempt += 1
                heapq.heappush(self._heap, (time.monotonic() + wait_s, next(self._seq), job))
                self._cond.notify_all()
        else:
            logger.error(
                "notification %r to %s failed after %d attempts: %s (%s)",
                job.message.title, job.target.masked, job.attempt, outcome, detail,
            )  # fmt: skip

    def _record(self, job: _Job, outcome: str, detail: str, elapsed_ms: float, *, is_final: bool) -> None:
        message = job.message
        attempt = NotificationAttempt(
            ts=time.time(),
            kind=message.kind,
            severity=message.severity,
            title=message.title,
            target=job.target.masked,
            attempt=job.attempt,
            outcome=outcome,
            detail=detail,
            duration_ms=round(elapsed_ms, 1),
            is_final=is_final,
            event_id=message.event_id,
            incident=message.incident,
        )
        self._done.append(attempt)
        if self._on_attempt is not None:
            try:
                self._on_attempt(attempt)
            except Exception:
                logger.exception("notification attempt listener failed")


def _deliver(target: Target, message: Message) -> tuple[bool, str]:
    """Send one message to one target on a pool thread; return success and Apprise's failure reason."""
    capture = _ThreadLogCapture()
    apprise_logger = logging.getLogger("apprise")
    apprise_logger.addHandler(capture)
    try:
        is_sent = bool(target.plugin.notify(body=message.body, title=message.title, notify_type=message.notify_type))
    finally:
        apprise_logger.removeHandler(capture)
    detail = " ".join(capture.messages)[-500:]
    return is_sent, "" if is_sent else (detail or "Apprise reported a failure without a reason")
