"""Shared fixtures: real HTTP servers on 127.0.0.1 and helper processes."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _TestServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        behaviour = self.server.behaviour
        if behaviour == "hang":
            self.server.release.wait(timeout=30)
            return
        status = 500 if behaviour == "error" else 200
        body = b"ok\n" if status == 200 else b"internal error\n"
        if behaviour == "slow":
            time.sleep(0.3)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _TestServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/health"


@pytest.fixture(autouse=True)
def isolated_user_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the user's data, config and state folders at a temporary place.

    Tests then neither read a developer's own config file or rules nor write
    model keys and databases into their home folder; subprocesses inherit it.
    """
    home = tmp_path_factory.mktemp("user")
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(home / variable.lower()))


@pytest.fixture
def http_server() -> Iterator[Callable[[str], _TestServer]]:
    """Start real HTTP servers on 127.0.0.1: ``ok``, ``slow``, ``error`` (500) or ``hang``."""
    servers: list[_TestServer] = []

    def start(behaviour: str = "ok") -> _TestServer:
        server = _TestServer(behaviour)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def refused_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the CPU-burn end-to-end test first.

    It needs a calm machine before its burn; later tests leave worker threads
    (explanations, notification retries) that can still be busy for a while.
    """
    items.sort(key=lambda item: item.path.name != "test_e2e.py")
