"""Property-based tests of the command line: any argv parses, or exits with status 2, or raises ConfigError.

Arguments are drawn from the real option names (with ``=`` and without),
their kinds of values, and noise, so most examples get past argparse into
``Settings.validate``.
"""

from __future__ import annotations

import contextlib
import io
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tui_monitor.cli import _settings_from, build_parser
from tui_monitor.errors import ConfigError

EXAMPLES = 400

OPTIONS = [
    "--db", "--log", "--url", "--window", "--interval", "--url-interval", "--url-timeout", "--warmup",
    "--threshold", "--headless", "--duration", "--log-file", "--plugins", "--no-plugin-entry-points",
    "--plugin-option", "--keep-samples", "--keep-windows", "--keep-events", "--retention-interval",
    "--db-reset-corrupt", "-v", "--bogus", "-", "--",
]  # fmt: skip
SUBCOMMANDS = ["events", "report", "annotate", "attach", "--since", "--format", "--json", "-o", "--user"]
VALUES = [
    "0", "-1", "1", "0.5", "10", "1e9", "1e400", "inf", "-inf", "nan", "", " ", "15m", "1h", "7d", "2w", "x",
    "api=http://127.0.0.1:8080/health", "http://[::1", "ftp://a", "cmd.key=v", "cmd.=v", "md", "html", "/tmp/x.db",
]  # fmt: skip

argvs = st.lists(
    st.one_of(
        st.sampled_from(OPTIONS),
        st.sampled_from(SUBCOMMANDS),
        st.sampled_from(VALUES),
        st.builds(lambda option, value: f"{option}={value}", st.sampled_from(OPTIONS), st.sampled_from(VALUES)),
        st.text(max_size=12),
    ),
    max_size=10,
)

# Settings fields in seconds that the engine divides by or sleeps on.
SECONDS_FIELDS = ("window_s", "host_interval_s", "endpoint_interval_s", "endpoint_timeout_s", "retention_interval_s")


@settings(max_examples=EXAMPLES, deadline=None)
@given(argvs)
@example(["--window", "inf"])
@example(["--interval", "nan"])
@example(["--url", "http://[::1"])
@example(["--duration", "9" * 400])
def test_cli_args_settings_or_clean_error(argv: list[str]) -> None:
    parser = build_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        # --help and --version exit 0; every invalid argv exits 2 with a usage message.
        assert exc.code in (0, 2)
        if exc.code == 2:
            assert "error:" in stderr.getvalue()
        return
    if args.command is not None:
        return

    try:
        result = _settings_from(args)
    except ConfigError as exc:
        assert str(exc).startswith("invalid")
        return

    for name in SECONDS_FIELDS:
        value = getattr(result, name)
        assert math.isfinite(value), name
        assert value > 0, name
    assert result.host_interval_s <= result.window_s
    assert 0.0 < result.threshold < 1.0
