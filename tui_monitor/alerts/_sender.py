"""Send notifications through Apprise in worker threads, with retries, backoff and timeouts.

Apprise's ``notify`` blocks on the network. ``send`` only queues. A
dispatcher thread hands each attempt to a small thread pool and counts an
attempt that runs longer than ``attempt_timeout_s`` as timed out. So a
failing or hanging target blocks neither the caller (the engine's event
loop) nor deliveries to other targets, until hung attempts fill the pool. Every attempt and its outcome becomes a
``NotificationAttempt`` that the owner of the store collects with ``drain``.
"""

from __future__ import annotations

import concurrent.futures
import functools
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
    seq: int
    attempt: int = 1


@dataclass(eq=False)
class _Flight:
    """One attempt handed to the pool; ``started`` is set when a pool thread begins it."""

    job: _Job
    started: float | None = None
    is_claimed: bool = False


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
        self._flights: list[_Flight] = []
        self._done: deque[NotificationAttempt] = deque()
        self._is_stopping = False
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="notify")
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
                    self._record(_Job(message, target, -1), "dropped", reason, 0.0, is_final=True)
                    logger.warning("notification %r to %s dropped: %s", message.title, target.masked, reason)
                    continue
                job = _Job(message, target, next(self._seq))
                heapq.heappush(self._heap, (time.monotonic(), job.seq, job))
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
                while not self._is_stopping:
                    now = time.monotonic()
                    self._expire(now)
                    job = self._next_job(now)
                    if job is not None:
                        break
                    self._cond.wait(self._next_wake(now))
                if self._is_stopping or job is None:
                    return
                flight = _Flight(job)
                self._flights.append(flight)
                self._busy += 1
            try:
                future = self._pool.submit(_deliver, job.target, job.message, flight)
            except RuntimeError:  # the pool shut down while stopping
                return
            future.add_done_callback(functools.partial(self._finish, flight))

    def _next_job(self, now: float) -> _Job | None:
        """Remove and return the next due job, keeping each target's messages in order.

        A target takes one attempt at a time, and its oldest message (by
        ``seq``, which a retry keeps) goes first, so "resolved" never
        overtakes "opened" even while "opened" waits for a retry.
        """
        due = [entry for entry in self._ready_heads() if entry[0] <= now]
        if not due:
            return None
        chosen = min(due, key=lambda entry: (entry[0], entry[1]))
        self._heap.remove(chosen)
        heapq.heapify(self._heap)
        return chosen[2]

    def _ready_heads(self) -> list[tuple[float, int, _Job]]:
        """Return the oldest queued job of each target that has no attempt running."""
        busy = {id(f.job.target) for f in self._flights}
        heads: dict[int, tuple[float, int, _Job]] = {}
        for entry in self._heap:
            key = id(entry[2].target)
            if key not in busy and (key not in heads or entry[2].seq < heads[key][2].seq):
                heads[key] = entry
        return list(heads.values())

    def _next_wake(self, now: float) -> float | None:
        """Return seconds until the next retry is due or a running attempt times out (None: wait for work)."""
        times = [due for due, _, _ in self._ready_heads()]
        times.extend(f.started + self.attempt_timeout_s for f in self._flights if f.started is not None)
        if any(f.started is None for f in self._flights):
            times.append(now + 0.1)  # a pool thread sets ``started`` without waking us: look again soon
        return max(0.0, min(times) - now) if times else None

    def _expire(self, now: float) -> None:
        """Count attempts running longer than ``attempt_timeout_s`` as timed out; their threads are left to finish."""
        for flight in list(self._flights):
            if not flight.is_claimed and flight.started is not None and now - flight.started > self.attempt_timeout_s:
                flight.is_claimed = True
                self._conclude(flight.job, "timeout", f"no answer within {self.attempt_timeout_s:g} s", now - flight.started)
                self._settle(flight)

    def _finish(self, flight: _Flight, future: concurrent.futures.Future[tuple[bool, str]]) -> None:
        """Record a finished attempt; runs on the pool thread that made it."""
        with self._cond:
            if flight.is_claimed:
                return  # already counted as a timeout
            flight.is_claimed = True
        elapsed_s = time.monotonic() - (flight.started or time.monotonic())
        try:
            is_sent, detail = future.result()
            outcome = "sent" if is_sent else "failed"
        except Exception as exc:  # Apprise plugins may raise on malformed responses
            outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
        # Conclude before settling: a retry is queued before the target counts as free.
        self._conclude(flight.job, outcome, detail, elapsed_s)
        self._settle(flight)

    def _settle(self, flight: _Flight) -> None:
        with self._cond:
            self._flights.remove(flight)
            self._busy -= 1
            self._cond.notify_all()

    def _conclude(self, job: _Job, outcome: str, detail: str, elapsed_s: float) -> None:
        """Record one attempt's outcome, then schedule a retry with backoff or log the final failure."""
        can_retry = outcome != "sent" and job.attempt <= self.retries and not self._is_stopping
        self._record(job, outcome, detail, elapsed_s * 1000, is_final=not can_retry)
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
                heapq.heappush(self._heap, (time.monotonic() + wait_s, job.seq, job))
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


def _deliver(target: Target, message: Message, flight: _Flight) -> tuple[bool, str]:
    """Send one message to one target on a pool thread; return success and Apprise's failure reason."""
    flight.started = time.monotonic()
    capture = _ThreadLogCapture()
    apprise_logger = logging.getLogger("apprise")
    apprise_logger.addHandler(capture)
    try:
        is_sent = bool(target.plugin.notify(body=message.body, title=message.title, notify_type=message.notify_type))
    finally:
        apprise_logger.removeHandler(capture)
    detail = " ".join(capture.messages)[-500:]
    return is_sent, "" if is_sent else (detail or "Apprise reported a failure without a reason")
