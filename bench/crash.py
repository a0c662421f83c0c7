"""Kill the headless engine with SIGKILL many times and check the store after each kill.

A writer process appends numbered lines to one log file at ``--lines-per-s``
for the whole run. Each cycle starts ``python -m tui_monitor --headless``
from this checkout on the same database and log, waits until it stored a
window, and kills it with SIGKILL, in one of two ways:

- ``ingest``: at a random moment while lines are being read and counted;
- ``write``: as soon as the ``-wal`` file changes, that is during or within
  a few hundred microseconds after a window write.

After each kill the store is checked before anything reopens it. The checks
are ``PRAGMA integrity_check`` and the ``_migrations`` table against the
code's migrations. The unique ``(stream, start)`` index of ``windows`` must
exist, and no window may be duplicated. Every window stored before the kill
must still be there unchanged. The lines counted in stored windows must add
up to no more than the lines written. The WAL is also parsed to see whether the kill
left a transaction half written (frames after the last commit frame).

Log read positions are not stored yet, so lines written while the engine is
down are skipped, never counted twice: "stored <= written" is the invariant.

Example:
    python bench/crash.py --kills 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tui_monitor.store import MIGRATIONS  # noqa: E402

WRITER = """
import sys, time
rate = float(sys.argv[2])
with open(sys.argv[1], "a", buffering=1) as log:
    n = 0
    start = time.monotonic()
    while True:
        n += 1
        level = "ERROR" if n % 50 == 0 else "INFO"
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {level} app: request {n} served\\n")
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
"""

_STREAM = "log.app"
_LINES_FEATURE = "log.app.lines"


@dataclass
class StoreCheck:
    """Findings of one check of the database."""

    integrity: str
    migrations: list[str]
    has_unique_index: bool
    duplicate_windows: int
    windows: int
    lines_stored: int
    lines_written: int
    changed_windows: int

    @property
    def problems(self) -> list[str]:
        """Violated invariants, in words; empty when the store is sound."""
        found = []
        if self.integrity != "ok":
            found.append(f"integrity_check: {self.integrity}")
        expected = [name for name, _ in MIGRATIONS]
        if self.migrations != expected:
            found.append(f"migrations {self.migrations} != {expected}")
        if not self.has_unique_index:
            found.append("unique (stream, start) index on windows is missing")
        if self.duplicate_windows:
            found.append(f"{self.duplicate_windows} duplicated windows")
        if self.lines_stored > self.lines_written:
            found.append(f"{self.lines_stored} lines stored > {self.lines_written} written")
        if self.changed_windows:
            found.append(f"{self.changed_windows} windows stored before the kill vanished or changed")
        return found


@dataclass
class KillRecord:
    """One kill: how it was aimed, where in the window it landed and what the check found."""

    cycle: int
    mode: str
    offset_s: float
    has_partial_transaction: bool
    startup_s: float
    check: StoreCheck


@dataclass
class CrashRig:
    """A log writer, a database and the engine restarted on them again and again."""

    folder: Path
    lines_per_s: float = 200.0
    window_s: float = 1.0
    seed: int = 1
    kills: list[KillRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db = self.folder / "monitor.db"
        self.log = self.folder / "app.log"
        self.log.touch()
        self._rng = random.Random(self.seed)
        self._writer = subprocess.Popen([sys.executable, "-c", WRITER, str(self.log), str(self.lines_per_s)])
        self._known_windows: dict[tuple[str, float], str] = {}

    def close(self) -> None:
        """Stop the writer (by its pid)."""
        self._writer.kill()
        self._writer.wait()

    def lines_written(self) -> int:
        """Complete lines in the log file so far."""
        return self.log.read_bytes().count(b"\n")

    def _start_engine(self, cycle: int) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        command = [
            sys.executable, "-m", "tui_monitor", "--headless", "--db", str(self.db), "--log", str(self.log),
            "--window", str(self.window_s), "--interval", "0.1", "--duration", "600",
            "--log-file", str(self.folder / f"engine-{cycle}.log"),
            "--plugins", str(self.folder / "no-plugins"), "--no-plugin-entry-points",
        ]  # fmt: skip
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def run_cycle(self, mode: str | None = None) -> KillRecord:
        """Start the engine, let it store a window, SIGKILL it and check the store."""
        cycle = len(self.kills) + 1
        mode = mode or self._rng.choice(("ingest", "write"))
        windows_before = _count_windows(self.db)
        started = time.monotonic()
        engine = self._start_engine(cycle)
        try:
            _wait_until(lambda: _count_windows(self.db) > windows_before, timeout_s=60.0, process=engine)
            startup_s = time.monotonic() - started
            if mode == "ingest":
                time.sleep(self._rng.uniform(0.0, 2.0 * self.window_s))
            else:
                _wait_for_wal_change(self.db, timeout_s=5.0 * self.window_s)
            killed_at = time.time()
            engine.send_signal(signal.SIGKILL)
        finally:
            if engine.poll() is None:
                engine.kill()
            engine.wait()
        partial = has_partial_transaction(self.db)
        check = self.check()
        record = KillRecord(cycle, mode, killed_at % self.window_s, partial, startup_s, check)
        self.kills.append(record)
        return record

    def check(self) -> StoreCheck:
        """Check the store as a restart finds it, then open it as the engine does."""
        lines_written = self.lines_written()
        conn = sqlite3.connect(self.db)
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            migrations = [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY applied_at, rowid")]
            index_sql = [row[0] or "" for row in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'windows'")]
            has_unique = any("UNIQUE" in sql.upper() and "stream" in sql and "start" in sql for sql in index_sql)
            duplicates = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM windows GROUP BY stream, start HAVING count(*) > 1)"
            ).fetchone()[0]
            rows = conn.execute("SELECT stream, start, features FROM windows").fetchall()
        finally:
            conn.close()
        stored = {(stream, start): features for stream, start, features in rows}
        changed = sum(1 for key, features in self._known_windows.items() if stored.get(key) != features)
        self._known_windows = stored
        lines_stored = sum(int(json.loads(features).get(_LINES_FEATURE, 0)) for (stream, _), features in stored.items() if stream == _STREAM)

        from tui_monitor.store import FeatureStore

        FeatureStore(self.db).close()  # opens, quick-checks and migrates as a restart does
        return StoreCheck(integrity, migrations, has_unique, duplicates, len(stored), lines_stored, lines_written, changed)


def has_partial_transaction(db: Path) -> bool:
    """Report whether the WAL ends with frames after its last commit frame (a transaction cut short).

    Frames count when their salts match the WAL header; checksums are not verified.
    """
    wal = Path(f"{db}-wal")
    try:
        data = wal.read_bytes()
    except FileNotFoundError:
        return False
    if len(data) < 32:
        return False
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    frame_size = 24 + page_size
    last_is_commit = True
    offset = 32
    while offset + frame_size <= len(data):
        header = data[offset : offset + 24]
        if header[8:16] != salts:
            break
        last_is_commit = struct.unpack(">I", header[4:8])[0] != 0
        offset += frame_size
    return not last_is_commit


def _count_windows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return 0
    try:
        return int(conn.execute("SELECT count(*) FROM windows").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _wait_until(condition: object, *, timeout_s: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        if process.poll() is not None:
            raise RuntimeError(f"the engine exited with status {process.returncode} before storing a window")
        time.sleep(0.05)
    raise TimeoutError(f"the engine stored no window within {timeout_s:g} s")


def _wait_for_wal_change(db: Path, *, timeout_s: float) -> None:
    """Return as soon as the WAL file's size or modification time changes."""
    wal = Path(f"{db}-wal")

    def signature() -> tuple[int, int]:
        try:
            info = os.stat(wal)
        except FileNotFoundError:
            return (-1, -1)
        return (info.st_size, info.st_mtime_ns)

    before = signature()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if signature() != before:
            return
    raise TimeoutError(f"the WAL of {db} did not change within {timeout_s:g} s")


def summarise(rig: CrashRig) -> dict[str, object]:
    """Return the headline figures of a run."""
    kills = rig.kills
    last = kills[-1].check if kills else None
    return {
        "kills": len(kills),
        "write_kills": sum(k.mode == "write" for k in kills),
        "partial_transactions": sum(k.has_partial_transaction for k in kills),
        "checks_failed": sum(bool(k.check.problems) for k in kills),
        "lines_written": last.lines_written if last else 0,
        "lines_stored": last.lines_stored if last else 0,
        "windows": last.windows if last else 0,
        "median_startup_s": sorted(k.startup_s for k in kills)[len(kills) // 2] if kills else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="engine runs killed with SIGKILL (default: 50)")
    parser.add_argument("--lines-per-s", type=float, default=200.0, help="log lines written per second (default: 200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments and modes (default: 1)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tui-monitor-crash-") as tmp:
        rig = CrashRig(Path(tmp), lines_per_s=args.lines_per_s, seed=args.seed)
        try:
            for _ in range(args.kills):
                record = rig.run_cycle()
                check = record.check
                status = "ok" if not check.problems else "; ".join(check.problems)
                print(
                    f"kill {record.cycle:3d} {record.mode:6s} at +{record.offset_s:.3f} s in the window, "
                    f"partial transaction: {'yes' if record.has_partial_transaction else 'no '}, "
                    f"windows {check.windows}, lines stored/written {check.lines_stored}/{check.lines_written}: {status}"
                )
        finally:
            rig.close()
    figures = summarise(rig)
    written = int(figures["lines_written"])  # type: ignore[call-overload]
    stored = int(figures["lines_stored"])  # type: ignore[call-overload]
    ratio = stored / written if written else 0.0
    print(
        f"summary: kills={figures['kills']} write_kills={figures['write_kills']} "
        f"partial_transactions={figures['partial_transactions']} checks_failed={figures['checks_failed']} "
        f"lines_stored={stored} lines_written={written} stored_ratio={ratio:.3f} windows={figures['windows']} "
        f"median_startup_s={figures['median_startup_s']:.2f}"
    )
    return 1 if figures["checks_failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
