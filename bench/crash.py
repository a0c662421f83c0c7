"""Kill the headless engine with SIGKILL many times and check the store after each kill.

A writer process appends numbered lines to one log file at ``--lines-per-s``
for the whole run. Each cycle starts ``python -m tui_monitor --headless``
from this checkout on the same database and log, waits until it stored a
window, and kills it with SIGKILL, aimed in one of four ways:

- ``ingest``: at a random moment while lines are being read and counted;
- ``write``: as soon as the ``-wal`` file changes, that is during or within
  a few hundred microseconds after a window write;
- ``batch-fit``: while the batch trainer fits an IsolationForest in its
  worker thread, a random 0-100 ms after the engine logs the fit's start;
- ``retrain``: while the feedback loop retrains a stream, a random 0-300 ms
  after the engine logs the retraining's start (reading windows, the fit),
  or a random 0-150 ms after it logs the end of the fit (skops
  serialization, validation and the registry write).

The engine runs with settings that make fits frequent (``FIT_SETTINGS``):
a batch training pass every 2 s once a stream has 10 normal windows, a
retraining every 3 s of window time, 3 warm-up windows. After each kill the
engine's log tells whether the fit was still running when the kill landed.

After each kill the store is checked before the engine reopens it. The
checks are ``PRAGMA integrity_check`` and the ``_migrations`` table against
the code's migrations. The unique ``(stream, start)`` index of ``windows``
must exist, and no window may be duplicated. Every window stored before the
kill must still be there unchanged. Log lines are counted exactly once: the
stored lines up to the last checkpoint must be the file's lines up to the
stored read position, numbered without gap or repeat, and the stored windows
must count exactly as many. Every saved detector state must pass its
signature check and unpickle, every promoted registry model must load with
skops, and the engine's log must show no model that failed to load. The WAL
is also parsed to see whether the kill left a transaction half written
(frames after the last commit frame).

Example:
    python bench/crash.py --kills 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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

# Runs the real command line, with Settings fields that have no option set
# from a JSON object (argv[1]); the remaining arguments are the command line.
ENGINE = """
import json, sys
from pathlib import Path
from tui_monitor import cli

overrides = json.loads(sys.argv[1])
settings_from_args = cli._settings_from

def with_overrides(args):
    settings = settings_from_args(args)
    for name, value in overrides.items():
        setattr(settings, name, Path(value) if name.endswith("_path") else value)
    return settings

cli._settings_from = with_overrides
raise SystemExit(cli.main(sys.argv[2:]))
"""

# Settings that make the batch trainer and the feedback loop fit often.
FIT_SETTINGS: dict[str, float | int] = {"batch_interval_s": 2.0, "batch_min_windows": 10, "retrain_interval_s": 3.0}
WARMUP_WINDOWS = 3

MODES = ("ingest", "write", "batch-fit", "retrain")

# For each fit-aimed mode: the log lines a kill may be aimed after, each
# with the longest random delay between the line and the kill, and the lines
# that end the work. The first line is the one that starts the work. A
# retraining logs "trained ..." once its fit is done and the skops
# serialization, validation and registry write begin, so its kills land in
# either phase.
_FIT_MARKERS: dict[str, tuple[list[tuple[re.Pattern[str], float]], tuple[str, ...]]] = {
    "batch-fit": (
        [(re.compile(r"stream (\S+): fitting an IsolationForest"), 0.1)],
        ("fitted in", "batch fit skipped"),
    ),
    "retrain": (
        [
            (re.compile(r"retraining (\S+) \(\w+\) in a worker thread"), 0.3),
            (re.compile(r"trained IsolationForest on (\S+?):"), 0.15),
        ],
        ("registered ", "skipped", "failed"),
    ),
}
_MODEL_FAILURE_MARKERS = ("model not loaded", "models not restored", "not loaded:")

_STREAM = "log.app"
_LINES_FEATURE = "log.app.lines"
_LINE_NUMBER = re.compile(r"request (\d+) served")


@dataclass
class StoreCheck:
    """Findings of one check of the database and of the engine's log."""

    integrity: str
    migrations: list[str]
    has_unique_index: bool
    duplicate_windows: int
    windows: int
    lines_written: int
    changed_windows: int
    lines: LineCheck
    models: ModelCheck

    @property
    def lines_stored(self) -> int:
        """Log lines stored up to the last checkpoint."""
        return self.lines.stored

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
        if self.changed_windows:
            found.append(f"{self.changed_windows} windows stored before the kill vanished or changed")
        found += self.lines.problems
        found += self.models.problems
        return found


@dataclass
class LineCheck:
    """Stored log lines against the log file, up to the stored read position."""

    stored: int
    counted_in_windows: int
    lines_before_position: int
    gaps: int
    repeats: int
    first_number: int

    @property
    def problems(self) -> list[str]:
        """Lost, repeated or miscounted lines, in words."""
        found = []
        if self.gaps:
            found.append(f"{self.gaps} stored lines are not the successor of the line before (lines lost)")
        if self.repeats:
            found.append(f"{self.repeats} lines stored more than once")
        if self.stored and self.first_number + self.stored - 1 != self.lines_before_position:
            found.append(
                f"stored lines end at line {self.first_number + self.stored - 1}, "
                f"but the stored read position is after line {self.lines_before_position}"
            )
        if self.counted_in_windows != self.stored:
            found.append(f"windows count {self.counted_in_windows} lines, {self.stored} lines are stored")
        return found


@dataclass
class ModelCheck:
    """Saved detector states and promoted registry models, loaded as a restart loads them."""

    detector_states: int
    promoted_models: int
    registered_models: int
    failures: list[str]

    @property
    def problems(self) -> list[str]:
        """Models that did not load, in words."""
        return list(self.failures)


@dataclass
class KillRecord:
    """One kill: how it was aimed, where in the window it landed and what the check found."""

    cycle: int
    mode: str
    offset_s: float
    has_partial_transaction: bool
    startup_s: float
    check: StoreCheck
    # For fit-aimed kills: "running", "storing" (a retraining after its fit) or "finished".
    fit_state: str = ""


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

    def drain(self, timeout_s: float = 120.0) -> StoreCheck:
        """Run the engine once more after ``close`` until it stored every line, stop it with SIGTERM and check.

        After the last kill, this shows that the lines written while the
        engine was down, or read but not yet checkpointed, are stored once.
        """
        cycle = len(self.kills) + 1
        size = self.log.stat().st_size
        engine = self._start_engine(cycle)
        try:
            _wait_until(lambda: _stored_position(self.db, str(self.log)) >= size, timeout_s=timeout_s, process=engine, what="stored every line")
            engine.send_signal(signal.SIGTERM)
            engine.wait(timeout=60.0)
        finally:
            if engine.poll() is None:
                engine.kill()
            engine.wait()
        return self.check(cycle)

    def _start_engine(self, cycle: int) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        overrides = {**FIT_SETTINGS, "model_key_path": str(self.folder / "model.key")}
        command = [
            sys.executable, "-c", ENGINE, json.dumps(overrides),
            "--headless", "--db", str(self.db), "--log", str(self.log),
            "--window", str(self.window_s), "--interval", "0.1", "--duration", "600", "--warmup", str(WARMUP_WINDOWS),
            "--log-file", str(self._engine_log(cycle)),
            "--plugins", str(self.folder / "no-plugins"), "--no-plugin-entry-points",
        ]  # fmt: skip
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _engine_log(self, cycle: int) -> Path:
        return self.folder / f"engine-{cycle}.log"

    def run_cycle(self, mode: str | None = None) -> KillRecord:
        """Start the engine, let it store a window, SIGKILL it aimed as ``mode`` sets, and check the store."""
        cycle = len(self.kills) + 1
        mode = mode or self._rng.choice(MODES)
        if mode not in MODES:
            raise ValueError(f"unknown kill mode {mode!r}: expected one of {', '.join(MODES)}")
        windows_before = _count_windows(self.db)
        started = time.monotonic()
        engine = self._start_engine(cycle)
        fit_state = ""
        aim_index = 0
        try:
            _wait_until(lambda: _count_windows(self.db) > windows_before, timeout_s=60.0, process=engine)
            startup_s = time.monotonic() - started
            if mode == "ingest":
                time.sleep(self._rng.uniform(0.0, 2.0 * self.window_s))
            elif mode == "write":
                _wait_for_wal_change(self.db, timeout_s=5.0 * self.window_s)
            else:
                # Aiming at the first, second or third fit lets earlier fits of the
                # run finish, so saved and registered models exist to be checked.
                aims = _FIT_MARKERS[mode][0]
                aim_index = self._rng.randrange(len(aims))
                aim, max_delay_s = aims[aim_index]
                nth = self._rng.randint(1, 3)
                _wait_for_log_line(self._engine_log(cycle), aim, nth=nth, timeout_s=90.0, process=engine)
                time.sleep(self._rng.uniform(0.0, max_delay_s))
            killed_at = time.time()
            engine.send_signal(signal.SIGKILL)
        finally:
            if engine.poll() is None:
                engine.kill()
            engine.wait()
        if mode in _FIT_MARKERS:
            fit_state = fit_state_at_kill(self._engine_log(cycle).read_text(errors="replace"), mode)
            if fit_state == "running" and aim_index > 0:
                fit_state = "storing"  # the fit was done, its serialization and registry write were not
        partial = has_partial_transaction(self.db)
        check = self.check(cycle)
        record = KillRecord(cycle, mode, killed_at % self.window_s, partial, startup_s, check, fit_state)
        self.kills.append(record)
        return record

    def check(self, cycle: int | None = None) -> StoreCheck:
        """Check the store as a restart finds it, then open it as the engine does.

        With ``cycle``, that engine's log is searched for models that failed to load.
        """
        log_bytes = self.log.read_bytes()
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
            stored = {(stream, start): features for stream, start, features in rows}
            counted = sum(int(json.loads(features).get(_LINES_FEATURE, 0)) for (stream, _), features in stored.items() if stream == _STREAM)
            lines = _check_lines(conn, str(self.log), log_bytes, counted)
            models = _check_models(conn, self.folder / "model.key")
        finally:
            conn.close()
        if cycle is not None:
            engine_log = self._engine_log(cycle).read_text(errors="replace")
            models.failures += [line for line in engine_log.splitlines() if any(m in line for m in _MODEL_FAILURE_MARKERS)]
        changed = sum(1 for key, features in self._known_windows.items() if stored.get(key) != features)
        self._known_windows = stored

        from tui_monitor.store import FeatureStore

        FeatureStore(self.db).close()  # opens, quick-checks and migrates as a restart does
        return StoreCheck(
            integrity, migrations, has_unique, duplicates, len(stored), log_bytes.count(b"\n"), changed, lines, models
        )


def _check_lines(conn: sqlite3.Connection, path: str, log_bytes: bytes, counted_in_windows: int) -> LineCheck:
    """Compare the lines stored up to the last checkpoint with the file up to the stored read position."""
    position = conn.execute("SELECT max(offset) FROM log_positions WHERE path = ?", (path,)).fetchone()[0] or 0
    numbers = [
        int(match.group(1)) if (match := _LINE_NUMBER.search(line)) else -1
        for (line,) in conn.execute(
            "SELECT line FROM log_lines WHERE stream = ? AND id <= "
            "coalesce((SELECT last_line_id FROM log_checkpoints WHERE id = 1), 0) ORDER BY id",
            (_STREAM,),
        )
    ]
    gaps = sum(1 for before, after in zip(numbers, numbers[1:], strict=False) if after > before + 1 or before < 0)
    repeats = len(numbers) - len(set(numbers))
    return LineCheck(
        stored=len(numbers),
        counted_in_windows=counted_in_windows,
        lines_before_position=log_bytes[:position].count(b"\n"),
        gaps=gaps,
        repeats=repeats,
        first_number=numbers[0] if numbers else 0,
    )


def _check_models(conn: sqlite3.Connection, key_path: Path) -> ModelCheck:
    """Load every saved detector state and every promoted registry model as a restart does."""
    from tui_monitor.detectors.persist import unpickle_verified
    from tui_monitor.errors import TuiMonitorError
    from tui_monitor.feedback.registry import list_versions, load_model

    failures: list[str] = []
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    states = conn.execute("SELECT stream, kind, payload, signature FROM detector_state").fetchall() if "detector_state" in tables else []
    key = key_path.read_bytes() if key_path.exists() else b""
    for stream, kind, payload, signature in states:
        try:
            unpickle_verified(payload, signature, key)
        except Exception as exc:
            failures.append(f"saved {kind} state of {stream} does not load: {exc!r}")
    versions = list_versions(conn) if "models" in tables else []
    promoted = [version for version in versions if version.status == "promoted"]
    for version in promoted:
        try:
            load_model(conn, version.id)
        except TuiMonitorError as exc:
            failures.append(f"promoted model {version.id} of {version.stream} does not load: {exc}")
    return ModelCheck(len(states), len(promoted), len(versions), failures)


def fit_state_at_kill(engine_log: str, mode: str) -> str:
    """Return ``running`` when the last fit the engine logged for ``mode`` had not ended at the kill.

    A fit ends with one of the mode's end lines for the same stream, after its start line.
    """
    aims, end_markers = _FIT_MARKERS[mode]
    starts = list(aims[0][0].finditer(engine_log))
    if not starts:
        return ""
    last = starts[-1]
    stream = last.group(1)
    after = engine_log[last.end() :].splitlines()
    ended = any(stream in line and any(marker in line for marker in end_markers) for line in after)
    return "finished" if ended else "running"


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


def _stored_position(db: Path, path: str) -> int:
    """Return the stored read position of ``path`` in bytes, or -1 when none is stored yet."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return -1
    try:
        row = conn.execute("SELECT max(offset) FROM log_positions WHERE path = ?", (path,)).fetchone()
        return -1 if row is None or row[0] is None else int(row[0])
    except sqlite3.Error:
        return -1
    finally:
        conn.close()


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


def _wait_until(
    condition: Callable[[], bool], *, timeout_s: float, process: subprocess.Popen[bytes], what: str = "stored a window"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise RuntimeError(f"the engine exited with status {process.returncode} before it {what}")
        time.sleep(0.05)
    raise TimeoutError(f"the engine had not {what} after {timeout_s:g} s")


def _wait_for_log_line(
    path: Path, pattern: re.Pattern[str], *, nth: int = 1, timeout_s: float, process: subprocess.Popen[bytes]
) -> None:
    """Return as soon as the ``nth`` line matching ``pattern`` is in the engine's log file (polled every 2 ms)."""
    deadline = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen = path.read_text(errors="replace")
        except FileNotFoundError:
            pass
        if len(pattern.findall(seen)) >= nth:
            return
        if process.poll() is not None:
            raise RuntimeError(f"the engine exited with status {process.returncode} before logging {pattern.pattern!r}")
        time.sleep(0.002)
    raise TimeoutError(f"the engine did not log {pattern.pattern!r} {nth} times within {timeout_s:g} s")


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


def summarise(rig: CrashRig, final: StoreCheck | None = None) -> dict[str, object]:
    """Return the headline figures of a run; ``final`` is the check after ``CrashRig.drain``."""
    kills = rig.kills
    last = final or (kills[-1].check if kills else None)
    logs = "\n".join(path.read_text(errors="replace") for path in sorted(rig.folder.glob("engine-*.log")))
    figures: dict[str, object] = {"kills": len(kills)}
    for mode in MODES:
        figures[f"{mode}_kills"] = sum(k.mode == mode for k in kills)
    figures.update(
        {
            "kills_during_a_fit": sum(k.fit_state in ("running", "storing") for k in kills),
            "kills_while_storing_a_retrained_model": sum(k.fit_state == "storing" for k in kills),
            "partial_transactions": sum(k.has_partial_transaction for k in kills),
            "checks_failed": sum(bool(k.check.problems) for k in kills) + (1 if final is not None and final.problems else 0),
            "batch_fits_finished": logs.count("fitted in"),
            "retrains_registered": len(re.findall(r"registered \w+ model \d+", logs)),
            "lines_written": last.lines_written if last else 0,
            "lines_stored": last.lines_stored if last else 0,
            "first_stored_line": last.lines.first_number if last else 0,
            "windows": last.windows if last else 0,
            "detector_states": last.models.detector_states if last else 0,
            "registered_models": last.models.registered_models if last else 0,
            "median_startup_s": sorted(k.startup_s for k in kills)[len(kills) // 2] if kills else 0.0,
        }
    )
    return figures


def _print_kill(record: KillRecord) -> None:
    check = record.check
    status = "ok" if not check.problems else "; ".join(check.problems)
    fit = f" ({record.fit_state} fit)" if record.fit_state else ""
    print(
        f"kill {record.cycle:3d} {record.mode:9s}{fit} at +{record.offset_s:.3f} s in the window, "
        f"partial transaction: {'yes' if record.has_partial_transaction else 'no '}, windows {check.windows}, "
        f"lines stored/written {check.lines_stored}/{check.lines_written}, "
        f"models {check.models.detector_states} states + {check.models.promoted_models} promoted: {status}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="engine runs killed with SIGKILL (default: 50)")
    parser.add_argument("--lines-per-s", type=float, default=200.0, help="log lines written per second (default: 200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments and modes (default: 1)")
    parser.add_argument("--mode", choices=MODES, default=None, help="aim every kill this way (default: a random mode per kill)")
    args = parser.parse_args()
    # SIGTERM then unwinds through the finally blocks, which stop the writer and the engine.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.kills < 1:
        parser.error(f"invalid --kills {args.kills!r}: expected 1 or more")

    with tempfile.TemporaryDirectory(prefix="tui-monitor-crash-") as tmp:
        rig = CrashRig(Path(tmp), lines_per_s=args.lines_per_s, seed=args.seed)
        try:
            for _ in range(args.kills):
                _print_kill(rig.run_cycle(args.mode))
        finally:
            rig.close()
        final = rig.drain()
        print(f"after the writer stopped, one clean run stored {final.lines_stored} of {final.lines_written} lines: "
              + ("ok" if not final.problems else "; ".join(final.problems)))
        figures = summarise(rig, final)
    print("summary: " + " ".join(f"{name}={value:.2f}" if isinstance(value, float) else f"{name}={value}" for name, value in figures.items()))
    return 1 if figures["checks_failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
