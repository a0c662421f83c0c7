"""Run the property-based parser tests with many more examples than the suite does.

The suite's fuzz tests (``tests/test_fuzz_*.py``) draw a few hundred inputs
per property so that they stay fast. This script reruns the same properties
with the same strategies and ``--examples`` inputs each, and prints how many
inputs each property passed. A failure raises with the smallest failing input.

Example:
    python bench/fuzz.py --examples 20000
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings

REPO_ROOT = Path(__file__).resolve().parent.parent
for folder in (REPO_ROOT / "tests", REPO_ROOT):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import test_fuzz_cli  # noqa: E402
import test_fuzz_parsers  # noqa: E402
import test_fuzz_plugins  # noqa: E402

PROPERTIES = [
    (test_fuzz_parsers.test_detect_level_returns_known_level, test_fuzz_parsers.log_lines),
    (test_fuzz_parsers.test_detect_level_reads_first_200_chars, test_fuzz_parsers.log_lines),
    (test_fuzz_parsers.test_parse_endpoint_spec_or_config_error, test_fuzz_parsers.url_texts),
    (test_fuzz_parsers.test_parse_duration_finite_or_type_error, test_fuzz_parsers.duration_texts),
    (test_fuzz_cli.test_cli_args_settings_or_clean_error, test_fuzz_cli.argvs),
    (test_fuzz_plugins.test_plugin_file_loads_or_fails_cleanly, test_fuzz_plugins.plugin_files),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20000, help="inputs per property (default: 20000)")
    args = parser.parse_args()

    # The plugin loader logs every failed file at ERROR; thousands of them are noise here.
    logging.disable(logging.CRITICAL)
    total = 0
    for test, strategy in PROPERTIES:
        inner = test.hypothesis.inner_test
        deep = settings(max_examples=args.examples, deadline=None, suppress_health_check=list(HealthCheck))(given(strategy)(inner))
        started = time.monotonic()
        deep()
        total += args.examples
        print(f"{test.__name__}: up to {args.examples} inputs passed in {time.monotonic() - started:.0f} s", flush=True)
    print(f"summary: properties={len(PROPERTIES)} inputs_per_property={args.examples} inputs_total_max={total} failures=0")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
