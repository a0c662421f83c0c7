"""False alarms on calm data: run the headless engine on this machine and count incidents.

Starts ``python -m tui_monitor --headless`` from this checkout with the
default detector stack, 10 s windows and no config (a fresh database in a
temporary folder, the user's config and rules folders pointed at empty
temporary ones), for ``--minutes``. Every anomaly the engine prints on
stdout is an incident. An incident that starts after the warm-up
(``--warmup`` windows) is a false alarm unless something really happened on
the machine. To tell which, the script samples the load average and the
busiest processes every 10 s.

    python bench/calm.py                 # 25 minutes: 5 of warm-up, 20 scored
    python bench/calm.py --minutes 15

The last line of output is the summary; the exit status is 1 when an
incident started after the warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent


def _busiest(count: int = 3) -> list[str]:
    """Return the ``count`` processes with the most CPU since the last call, as 'name pct'."""
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            found.append((proc.cpu_percent(None), proc.info["name"] or "?"))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    found.sort(reverse=True)
    return [f"{name} {pct:.0f}%" for pct, name in found[:count]]


def _collect(stream: IO[str] | None, into: list[str]) -> None:
    """Append every non-empty line of ``stream`` to ``into`` until it closes."""
    if stream is None:
        return
    for line in stream:
        if line.strip():
            into.append(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=25.0, help="run time in minutes (default: 25)")
    parser.add_argument("--window", type=float, default=10.0, help="window length in seconds (default: 10)")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up in windows, the engine's default (default: 30)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tui-monitor-calm-") as folder:
        root = Path(folder)
        env = dict(os.environ)
        env.update(XDG_CONFIG_HOME=str(root / "config"), XDG_DATA_HOME=str(root / "data"), XDG_STATE_HOME=str(root / "state"))
        command = [
            sys.executable, "-m", "tui_monitor", "--headless", "--db", str(root / "calm.db"),
            "--window", str(args.window), "--warmup", str(args.warmup), "--duration", f"{int(args.minutes * 60)}",
            "--log-file", str(root / "engine.log"), "--no-plugin-entry-points",
        ]  # fmt: skip
        started = time.time()
        warm_at = started + args.warmup * args.window
        print(f"running {' '.join(command[1:])}; warm-up ends after {args.warmup * args.window:.0f} s", flush=True)
        engine = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
        _busiest()
        samples: list[tuple[float, float, list[str]]] = []
        lines: list[str] = []
        reader = threading.Thread(target=_collect, args=(engine.stdout, lines), daemon=True)
        reader.start()
        try:
            while engine.poll() is None:
                time.sleep(10)
                samples.append((time.time() - started, os.getloadavg()[0], _busiest()))
        except KeyboardInterrupt:
            engine.terminate()
            engine.wait(30)
        reader.join(10)
        if engine.returncode not in (0, None):
            print(f"engine exited with status {engine.returncode}; see {root / 'engine.log'}")
            print((root / "engine.log").read_text()[-3000:])
            return 2

    incidents = [json.loads(line) for line in lines]
    opened = {}
    for event in incidents:
        opened.setdefault(event.get("id"), event)
    late = [e for e in opened.values() if float(e["window_start"]) >= warm_at]
    for event in opened.values():
        when = float(event["window_start"]) - started
        features = ", ".join(f.get("name", str(f)) if isinstance(f, dict) else str(f) for f in event.get("top_features", [])[:3])
        phase = "after warm-up" if when >= args.warmup * args.window else "during warm-up"
        print(f"  incident at {when:6.0f} s ({phase}): {event.get('stream')} score {event.get('score')} {features}")
        near = min(samples, key=lambda s: abs(s[0] - when), default=None)
        if near is not None:
            print(f"    load average {near[1]:.2f}; busiest: {', '.join(near[2])}")
    loads = [s[1] for s in samples]
    print(
        f"calm run: {args.minutes:g} min, {args.window:g} s windows, load average "
        f"{min(loads, default=0):.2f}-{max(loads, default=0):.2f}; incidents {len(opened)}, "
        f"after warm-up {len(late)}"
    )
    return 1 if late else 0


if __name__ == "__main__":
    sys.exit(main())
