"""The sender's edges: a full queue drops and records, closing abandons pending retries."""

from __future__ import annotations

from _receiver import Receiver

from tui_monitor.alerts import Message, NotificationSender, parse_target


def _message(title: str = "[MAJOR] anomaly on host (performance)") -> Message:
    return Message("opened", title, "body", "major", frozenset({"major"}), 0.0)


def test_sender_drops_when_queue_full() -> None:
    receiver = Receiver(0)  # never answers, so the first delivery stays in flight
    sender = NotificationSender([parse_target(receiver.url(), read_timeout_s=0.3)], retries=0, attempt_timeout_s=0.3, queue_size=1)
    try:
        queued = [sender.send(_message(f"m{i}")) for i in range(3)]
        assert sender.wait_idle(5.0)
        outcomes = sorted((a.title, a.outcome) for a in sender.drain())
    finally:
        sender.close(0.1)
        receiver.stop()
    assert queued[0] == 1
    assert ("m2", "dropped") in outcomes or ("m1", "dropped") in outcomes


def test_sender_close_abandons_pending_retry() -> None:
    receiver = Receiver(500)
    sender = NotificationSender([parse_target(receiver.url())], retries=3, backoff_s=30.0)
    sender.send(_message())
    assert receiver.wait_for(1)
    sender.close(0.3)
    receiver.stop()
    outcomes = [(a.outcome, a.is_final) for a in sender.drain()]
    assert outcomes == [("failed", False), ("abandoned", True)]
