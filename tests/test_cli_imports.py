"""Commands that do not score must not import the model libraries.

river pulls in pandas, scipy and scikit-learn (about 1 s of CPU and 80 MiB
on a 2-core machine, see docs/benchmarks.md), and shap takes seconds more.
Each test runs the real command in a fresh interpreter and reads which of
those packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clirun import REPO_ROOT, cli_env
from tests.seed import seed_store

MODEL_PACKAGES = ("river", "sklearn", "shap")

# Runs ``tui-monitor ARGS`` in-process (argv comes after -c), then prints the
# exit status and the model packages that were imported.
_PROBE = """
import json, sys
from tui_monitor.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
loaded = [name for name in {packages!r} if name in sys.modules]
print("PROBE " + json.dumps({{"status": status, "loaded": loaded}}))
"""


def imported_model_packages(*args: str, cwd: Path) -> tuple[int, list[str]]:
    """Run ``tui-monitor ARGS`` in a new interpreter; return its status and the model packages it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(packages=MODEL_PACKAGES), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    probe = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert probe, f"no probe line; stderr: {done.stderr}"
    result = json.loads(probe[-1].removeprefix("PROBE "))
    return result["status"], result["loaded"]


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "seed.db"
    seed_store(path).close()
    return path


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--help"], id="help"),
        pytest.param(["events", "--since", "30d"], id="events"),
        pytest.param(["events", "--since", "30d", "--json"], id="events-json"),
        pytest.param(["report", "--since", "30d"], id="report-md"),
        pytest.param(["report", "--since", "30d", "--format", "html"], id="report-html"),
        pytest.param(["notifications"], id="notifications"),
        pytest.param(["models"], id="models"),
        pytest.param(["annotate", "deployed v2"], id="annotate"),
    ],
)
def test_store_command_skips_model_packages(args: list[str], seeded_db: Path, tmp_path: Path) -> None:
    status, loaded = imported_model_packages(*args[:1], "--db", str(seeded_db), *args[1:], cwd=tmp_path)

    assert status == 0
    assert loaded == []


def test_rules_check_skips_model_packages(tmp_path: Path) -> None:
    status, loaded = imported_model_packages("rules", "check", str(REPO_ROOT / "rules"), cwd=tmp_path)

    assert status == 0
    assert loaded == []


def test_rules_test_skips_model_packages(seeded_db: Path, tmp_path: Path) -> None:
    # Replaying stored events through the rules needs severities, not the models.
    status, loaded = imported_model_packages(
        "rules", "test", "--db", str(seeded_db), "--rules", str(REPO_ROOT / "rules"), "--since", "30d", "--all", cwd=tmp_path
    )

    assert status == 0
    assert loaded == []


def test_events_with_config_file_skips_model_packages(seeded_db: Path, tmp_path: Path) -> None:
    # The config file is found in the working folder and checked in full.
    (tmp_path / "tui-monitor.toml").write_text(
        f'db = "{seeded_db}"\nwindow_s = 5\n[sources]\nlogs = ["/var/log/app.log"]\n'
        '[[sources.processes]]\nname = "web"\nmatch_name = "nginx"\n'
        '[[sources.scrapes]]\nname = "app"\nurl = "http://127.0.0.1:9100/metrics"\n',
        encoding="utf-8",
    )

    status, loaded = imported_model_packages("events", "--since", "30d", cwd=tmp_path)

    assert status == 0
    assert loaded == []


def test_replay_imports_river(tmp_path: Path) -> None:
    # The probe must see an import when one happens: replay scores, so it loads river.
    series = tmp_path / "series.csv"
    series.write_text("timestamp,value\n" + "".join(f"{1_700_000_000 + 60 * i},{i % 7}\n" for i in range(40)), encoding="utf-8")

    status, loaded = imported_model_packages("replay", "--csv", str(series), "--out", str(tmp_path / "scores.csv"), cwd=tmp_path)

    assert status == 0
    assert "river" in loaded
