"""Run the engine without a terminal UI: one JSON line per anomaly event on stdout."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import TextIO

from tui_monitor.engine import Engine, EventChanged, Update
from tui_monitor.settings import Settings
from tui_monitor.store import FeatureStore

__all__ = ["run_headless"]

logger = logging.getLogger(__name__)


async def run_headless(settings: Settings, store: FeatureStore, *, duration_s: float | None, out: TextIO = sys.stdout) -> None:
    """Run the engine until SIGINT, SIGTERM or ``duration_s``; print opened events as JSON lines.

    Events that a rule or maintenance window suppressed are stored but not printed.
    """

    def print_event(update: Update) -> None:
        if isinstance(update, EventChanged) and update.change == "opened":
            if update.outcome is not None and update.outcome.suppressed_by:
                return  # stored, but a rule or maintenance window silenced it
            out.write(json.dumps(update.event.to_json()) + "\n")
            out.flush()

    engine = Engine(settings, store, on_update=print_event)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop_on_signal, engine, sig)
    try:
        await engine.run(duration_s=duration_s)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _stop_on_signal(engine: Engine, sig: signal.Signals) -> None:
    logger.info("received %s; stopping", sig.name)
    engine.stop()
