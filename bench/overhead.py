"""Measure tui-monitor's own cost: CPU % of one core and peak RSS, headless.

Runs ``tui-monitor --headless`` for ``--seconds`` with the host polled every
``--interval`` seconds, one log file appended by a writer process at
``--lines-per-s``, and one HTTP endpoint served on 127.0.0.1 by this script.
The first ``--settle`` seconds (imports, first windows) are excluded from the
CPU figure. The last line of output is the summary.

Example:
    python bench/overhead.py --seconds 60
"""

from __future__ import annotations

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys, time
rate = float(sys.argv[2])
with open(sys.argv[1], "a", buffering=1) as log:
    n = 0
    start = time.monotonic()
    while True:
        n += 1
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} INFO app: request {n} served\\n")
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
"""


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured run time in seconds (default: 60)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after start left out of the CPU figure (default: 10)")
    parser.add_argument("--interval", type=float, default=1.0, help="host poll interval in seconds (default: 1)")
    parser.add_argument("--window", type=float, default=10.0, help="window in seconds (default: 10)")
    parser.add_argument("--lines-per-s", type=float, default=50.0, help="log lines written per second (default: 50)")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/health"

    with tempfile.TemporaryDirectory(prefix="tui-monitor-bench-") as tmp:
        log = Path(tmp) / "app.log"
        log.touch()
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(args.lines_per_s)])
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        command = [
            sys.executable, "-m", "tui_monitor", "--headless", "--db", str(Path(tmp) / "bench.db"),
            "--log", str(log), "--url", url, "--interval", str(args.interval), "--window", str(args.window),
            "--duration", str(args.settle + args.seconds + 5),
        ]  # fmt: skip
        monitor = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = psutil.Process(monitor.pid)
        try:
            time.sleep(args.settle)
            cpu_start = sum(proc.cpu_times()[:2])
            wall_start = time.monotonic()
            peak_rss = 0
            while time.monotonic() - wall_start < args.seconds:
                peak_rss = max(peak_rss, proc.memory_info().rss)
                time.sleep(0.5)
            cpu_used = sum(proc.cpu_times()[:2]) - cpu_start
            wall = time.monotonic() - wall_start
            maps = Path(f"/proc/{monitor.pid}/maps").read_text() if sys.platform == "linux" else ""
            shap_loaded = "/shap/" in maps
        finally:
            monitor.terminate()
            monitor.wait(timeout=20)
            writer.kill()
            writer.wait()
            server.shutdown()

    cpu_pct = 100.0 * cpu_used / wall
    print(f"command: {' '.join(command[1:])}")
    print(f"measured {wall:.0f} s after {args.settle:.0f} s settle; log at {args.lines_per_s:g} lines/s; one endpoint")
    print(f"shap loaded in the monitor: {'yes' if shap_loaded else 'no'}")
    print(f"summary: cpu_pct_of_one_core={cpu_pct:.2f} peak_rss_mb={peak_rss / 1e6:.0f} shap_loaded={shap_loaded}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
