"""The engine stores the detector's verdicts: anomaly kind on events, scores on windows."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from tui_monitor.engine import Engine
from tui_monitor.settings import Settings
from tui_monitor.sources import Observation
from tui_monitor.store import FeatureStore


def test_engine_event_carries_kind_from_detector(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "m.db", window_s=10.0, warmup_windows=20, persist_models=False, batch_interval_s=0)
    store = FeatureStore(settings.db_path)
    engine = Engine(settings, store)
    t0 = 1_700_000_000.0
    engine.aggregator.start(t0)
    engine._started_at = t0
    rng = random.Random(0)
    for i in range(200):
        ts = t0 + 10 * i + 1
        errors = 80.0 if i in (150, 151, 152) else float(rng.randint(0, 1))
        counts = {"lines": float(rng.randint(90, 110)), "level_error": errors}
        engine.aggregator.add(Observation("log.app", ts, counts=counts))
        engine.close_windows(t0 + 10 * (i + 1))
    events = store.events_since(0)
    store.close()
    assert [e.kind for e in events] == ["functional"]


async def test_engine_saves_and_restores_detectors(tmp_path: Path) -> None:
    settings = Settings(
        db_path=tmp_path / "m.db",
        window_s=0.5,
        host_interval_s=0.1,
        warmup_windows=2,
        model_key_path=tmp_path / "model.key",
        batch_interval_s=0,
    )
    store = FeatureStore(settings.db_path)
    await Engine(settings, store).run(duration_s=2.0)
    assert [row["stream"] for row in store.load_models()] == ["host"]

    engine = Engine(settings, store)
    await engine.run(duration_s=0.1)
    store.close()
    assert engine.detectors["host"].windows_seen > 0


async def test_engine_saves_batch_model_after_fit(tmp_path: Path) -> None:
    # Saved as soon as it is fitted, not only at shutdown, so a crash keeps the fit.
    settings = Settings(
        db_path=tmp_path / "m.db",
        window_s=0.2,
        host_interval_s=0.05,
        warmup_windows=1,
        model_key_path=tmp_path / "model.key",
        batch_interval_s=0.3,
        batch_min_windows=4,
    )
    store = FeatureStore(settings.db_path)
    engine = Engine(settings, store)
    running = asyncio.create_task(engine.run(duration_s=30.0))
    reader = FeatureStore(settings.db_path, readonly=True)
    saved_kinds: set[str] = set()
    try:
        for _ in range(200):
            await asyncio.sleep(0.05)
            saved_kinds = {row["kind"] for row in reader.load_models() if row["stream"] == "host"}
            if "batch" in saved_kinds or running.done():
                break
        is_running = not running.done()
    finally:
        reader.close()
        engine.stop()
        await running
        store.close()

    assert is_running, "the engine stopped before the check"
    assert "batch" in saved_kinds
    assert engine.windows_closed < 3600  # far from the periodic save
