"""Example source plugin: run a command periodically and read numbers from its output.

The plugin scans the command's standard output for ``name=value`` pairs
separated by white space, commas or semicolons. Every value that parses as
a number becomes a gauge of the plugin's stream. Anything else in the output is
ignored, so ``echo "queue=12 workers=3 status=ok"`` yields ``queue`` and
``workers``.

Options (``--plugin-option command.KEY=VALUE``):

- ``command``: the command line, split like a shell would (required; without
  it the plugin loads nothing).
- ``interval``: seconds between runs (default: 10).
- ``timeout``: seconds before a run is killed (default: 5).
- ``stream``: the stream name (default: ``cmd.`` plus the program's name).

The command runs without a shell. A run that fails, exits non-zero or times
out is logged and skipped; the next run happens on schedule.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import shlex
import time
from collections.abc import Mapping
from pathlib import Path

from tui_monitor.errors import ConfigError
from tui_monitor.plugins import PluginContext, SourcePlugin
from tui_monitor.settings import sanitize_name
from tui_monitor.sources.base import Observation, ObservationSink

logger = logging.getLogger("tui_monitor.plugins.command_source")

_PAIR_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*)=([^\s,;]+)")


def parse_pairs(text: str) -> dict[str, float]:
    """Return the numeric ``name=value`` pairs of ``text``; a later duplicate wins.

    >>> parse_pairs("queue=12 workers=3, status=ok; load=0.5 temp=nan")
    {'queue': 12.0, 'workers': 3.0, 'load': 0.5}
    """
    values: dict[str, float] = {}
    for name, raw in _PAIR_RE.findall(text):
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value):
            values[sanitize_name(name.replace(".", "_"))] = value
    return values


class CommandSource(SourcePlugin):
    """Run ``argv`` every ``interval_s`` seconds and emit the numbers it prints."""

    def __init__(self, argv: list[str], *, interval_s: float = 10.0, timeout_s: float = 5.0, stream: str | None = None) -> None:
        if not argv:
            raise ConfigError("invalid command plugin option command='': expected a command line, e.g. 'uptime'")
        self.argv = argv
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.stream = stream or f"cmd.{sanitize_name(Path(argv[0]).name)}"
        self.name = self.stream
        self.runs_failed = 0

    async def run_once(self) -> dict[str, float] | None:
        """Run the command once; return its numbers, or None when the run failed."""
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
            )
        except OSError as exc:
            logger.warning("command %r could not start: %s", self.argv[0], exc)
            return None
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(), timeout=self.timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            logger.warning("command %r timed out after %.3g s; killed", self.argv[0], self.timeout_s)
            return None
        if process.returncode != 0:
            logger.warning("command %r exited with status %d; output ignored", self.argv[0], process.returncode)
            return None
        return parse_pairs(stdout.decode("utf-8", errors="replace"))

    async def run(self, emit: ObservationSink) -> None:
        """Run the command on schedule until cancelled."""
        next_at = time.monotonic()
        while True:
            values = await self.run_once()
            if values is None:
                self.runs_failed += 1
            elif values:
                emit(Observation(stream=self.stream, ts=time.time(), gauges=values))
            next_at += self.interval_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def _seconds(options: Mapping[str, str], key: str, default: float) -> float:
    text = options.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"invalid command plugin option {key}={text!r}: expected seconds above 0, e.g. {default:g}")
    return value


def create_plugins(context: PluginContext) -> list[CommandSource]:
    """Build the source from ``--plugin-option command.*`` options; none without a command."""
    options = context.options_for("command")
    command = options.get("command")
    if command is None:
        logger.info("command source: no command.command option given; nothing to run")
        return []
    return [
        CommandSource(
            shlex.split(command),
            interval_s=_seconds(options, "interval", 10.0),
            timeout_s=_seconds(options, "timeout", 5.0),
            stream=options.get("stream"),
        )
    ]
