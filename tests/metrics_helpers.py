"""Real helper processes and a scriptable HTTP server on 127.0.0.1 for the metrics tests."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

# A process that keeps its memory and grows it on request: each stdin line
# "grow N" allocates and touches N MiB, then prints "ok".
LEAKER = """
import sys
held = []
print("ready", flush=True)
for line in sys.stdin:
    words = line.split()
    if words and words[0] == "grow":
        block = bytearray(int(words[1]) << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        held.append(block)
    print("ok", flush=True)
"""

# A process that burns CPU until killed.
BURNER = """
import sys
print("ready", flush=True)
x = 0
while True:
    x = (x * 31 + 7) % 1000003
"""

# A process that sleeps until killed.
SLEEPER = """
import sys, time
print("ready", flush=True)
time.sleep(600)
"""

# A small app in its own process: /health responds after a delay that
# "GET /control?delay=SECONDS" sets; /metrics serves a counter that grows
# by 50 per scrape and a gauge. It prints "ready PORT" once listening.
APP_SERVER = """
import http.server, sys, threading
state = {"delay": 0.0, "jobs": 0}
lock = threading.Lock()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/control":
            state["delay"] = float(query.split("=", 1)[1])
            body = b"ok"
        elif path == "/metrics":
            with lock:
                state["jobs"] += 50
                jobs = state["jobs"]
            body = f"# TYPE jobs_total counter\\njobs_total {jobs}\\n# TYPE queue_depth gauge\\nqueue_depth 3\\n".encode()
        else:
            threading.Event().wait(state["delay"])
            body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("ready", server.server_address[1], flush=True)
server.serve_forever()
"""


def spawn_app_server() -> tuple[subprocess.Popen[str], str]:
    """Start APP_SERVER in its own process; return it and its base URL."""
    proc = subprocess.Popen([sys.executable, "-c", APP_SERVER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    word, port = proc.stdout.readline().split()
    assert word == "ready"
    return proc, f"http://127.0.0.1:{port}"


def spawn(code: str, marker: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -c code MARKER`` and wait for its "ready" line; return it and its marker."""
    marker = marker or f"tuimon-{uuid.uuid4().hex[:12]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, marker],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc, marker


def tell(proc: subprocess.Popen[str], command: str) -> None:
    """Send one command line to a LEAKER and wait for its "ok"."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "ok"


def stop(proc: subprocess.Popen[str]) -> None:
    """End a process this test started, by its pid, and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


@dataclass
class Route:
    """What the server does for one path: status, body, headers and a delay in seconds."""

    status: int = 200
    body: bytes = b"ok\n"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})
    delay_s: float = 0.0
    is_hanging: bool = False


class _Handler(http.server.BaseHTTPRequestHandler):
    server: ScriptedServer

    def _answer(self, send_body: bool) -> None:
        self.server.requests.append((self.command, self.path, dict(self.headers)))
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            route = Route(status=404, body=b"not found\n")
        if route.is_hanging:
            self.server.release.wait(timeout=30)
            return
        if route.delay_s:
            time.sleep(route.delay_s)
        self.send_response(route.status)
        for key, value in route.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(route.body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(True)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer(True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class ScriptedServer(http.server.ThreadingHTTPServer):
    """A real HTTP server on 127.0.0.1 whose responses the test sets per path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.release = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()

