"""A real HTTP receiver on 127.0.0.1 that records what Apprise posts, and helpers to script incidents."""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any

from tui_monitor.detectors import Decision
from tui_monitor.engine import WindowScored
from tui_monitor.store import WindowRecord


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        receiver = self.server
        with receiver.lock:
            receiver.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw})
            status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
        if status == 0:  # never answer
            receiver.release.wait(timeout=30)
            return
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class Receiver(http.server.ThreadingHTTPServer):
    """Answers every POST with ``status`` (0: never answers); ``statuses`` are answered first, in order."""

    daemon_threads = True

    def __init__(self, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = status
        self.statuses: list[int] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str = "hook", scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.server_address[1]}/{path}"

    @property
    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(r["raw"]) for r in self.requests]

    def wait_for(self, count: int, timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


TOP = [{"name": "cpu.total_pct", "value": 97.5, "median": 12.0, "z": 9.1}, {"name": "mem.used_pct", "value": 80.0, "median": 40.0, "z": 5.0}]


def scored(stream: str, start: float, incident: str | None, *, score: float = 0.996, is_hot: bool = True, top: list[dict[str, Any]] | None = None) -> WindowScored:
    """A closed, scored window of ``stream`` that opens, updates or resolves an incident."""
    window = WindowRecord(stream, start, start + 10.0, {"cpu.total_pct": 97.5}, raw_score=0.9, score=score, is_warmup=False, is_anomalous=is_hot)
    decision = Decision(0.9, score, False, is_hot, is_hot, incident=incident, top_features=list(TOP if top is None else top))
    return WindowScored(window, decision, "anomalous")
