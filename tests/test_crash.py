"""Crash safety: SIGKILL the headless engine at random moments and during model fits.

The rig lives in ``bench/crash.py``, which runs the same cycle 50 times with
random modes. Here six kills cover every mode once or more: a random moment
during ingestion, a window write, a batch IsolationForest fit and a
retraining of the feedback loop. A last clean run then stores every line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.crash import CrashRig, fit_state_at_kill, has_partial_transaction, summarise

# Ingestion and writes first: the fits need stored windows to train on.
KILLS = ("ingest", "write", "batch-fit", "retrain", "write", "batch-fit")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[CrashRig]:
    opened = CrashRig(tmp_path, lines_per_s=200.0, seed=7)
    yield opened
    opened.close()


@pytest.mark.slow
def test_store_survives_sigkill_during_fits(rig: CrashRig) -> None:
    for mode in KILLS:
        record = rig.run_cycle(mode)
        assert record.check.problems == [], f"after kill {record.cycle} ({mode})"
        if mode in ("batch-fit", "retrain"):
            assert record.fit_state in ("running", "storing", "finished"), f"kill {record.cycle} was not aimed at a fit"

    rig.close()
    final = rig.drain()
    figures = summarise(rig, final)

    assert final.problems == []
    assert final.integrity == "ok"
    assert final.duplicate_windows == 0
    # Every line from the first one followed is stored once, none after the writer stopped is missing.
    assert final.lines_stored > 0
    assert final.lines.first_number + final.lines_stored - 1 == final.lines_written
    assert figures["batch_fits_finished"] > 0
    # Each cycle waits for at least one new stored window before its kill.
    assert final.windows >= len(KILLS)


def test_fit_state_reads_the_engine_log() -> None:
    running = "INFO x: stream host: fitting an IsolationForest on 12 windows\n"
    finished = running + "INFO x: stream host: IsolationForest iforest-12x3-1 fitted in 0.10 s\n"
    other_stream = running + "INFO x: stream log.app: IsolationForest iforest-12x3-1 fitted in 0.10 s\n"

    assert fit_state_at_kill(running, "batch-fit") == "running"
    assert fit_state_at_kill(finished, "batch-fit") == "finished"
    assert fit_state_at_kill(other_stream, "batch-fit") == "running"
    assert fit_state_at_kill("", "batch-fit") == ""


def test_partial_transaction_detected(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "m.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    wal = Path(f"{db}-wal")
    committed = wal.read_bytes()
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()

    # A copy of the last frame with its commit field zeroed looks like a cut-short transaction.
    last = bytearray(committed[-(24 + page_size) :])
    last[4:8] = b"\0\0\0\0"
    wal.write_bytes(committed + bytes(last))

    assert has_partial_transaction(db)
    wal.write_bytes(committed)
    assert not has_partial_transaction(db)
