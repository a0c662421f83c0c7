"""Run the real ``tui-monitor`` command in a subprocess, from this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def cli_env() -> dict[str, str]:
    """Return an environment where ``python -m tui_monitor`` imports this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(*args: str, timeout_s: float = 60.0, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``tui-monitor ARGS`` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "tui_monitor", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def start_cli(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``tui-monitor ARGS`` in the background with piped output."""
    return subprocess.Popen(
        [sys.executable, "-m", "tui_monitor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        **kwargs,
    )
