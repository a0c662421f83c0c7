"""Crash safety: SIGKILL the headless engine at random moments and check the store each time.

The rig lives in ``bench/crash.py``, which runs the same cycle 50 times.
Here five kills alternate a random moment during ingestion with a kill as
soon as the WAL changes, which is during or just after a window write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.crash import CrashRig, has_partial_transaction

KILLS = ("ingest", "write", "ingest", "write", "write")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[CrashRig]:
    opened = CrashRig(tmp_path, lines_per_s=200.0, seed=7)
    yield opened
    opened.close()


@pytest.mark.slow
def test_store_survives_repeated_sigkill(rig: CrashRig) -> None:
    for mode in KILLS:
        record = rig.run_cycle(mode)
        assert record.check.problems == [], f"after kill {record.cycle} ({mode})"

    final = rig.kills[-1].check
    assert final.integrity == "ok"
    assert final.duplicate_windows == 0
    assert 0 < final.lines_stored <= final.lines_written
    # Each cycle waits for at least one new stored window before its kill.
    assert final.windows >= len(KILLS)


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
