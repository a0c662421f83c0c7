"""Config keys of the engine's options: rules, run mode, logging, retention, plugins, notify.

Every option of the engine has a config key with the same checks; options
given on the command line override the file.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest

from tests.clirun import run_cli
from tests.seed import seed_store
from tui_monitor.cli import _settings_from, build_parser, main
from tui_monitor.config import FLAG_KEYS, apply_config, load_config
from tui_monitor.errors import ConfigError
from tui_monitor.settings import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "config.example.toml"

FULL = """
rules_dir = "{tmp}/rules"
headless = true
duration = "90m"
db_reset_corrupt = true

[logging]
file = "{tmp}/app.log"
verbose = true

[retention]
samples_days = 1.5
windows_days = 7
events_days = 90
interval_s = 120

[plugins]
dirs = ["{tmp}/plugins", "{tmp}/more"]
entry_points = false

[plugins.options.command]
command = "uptime"
interval = 30
strict = true

[notify]
urls = ["json://127.0.0.1:9/hook", "critical,major=json://127.0.0.1:9/pager"]
repeat_s = 0
rate_limit = 4
rate_window_s = 60
retries = 1
backoff_s = 0.5
timeout_s = 3
"""


def _write(tmp_path: Path, text: str, name: str = "tui-monitor.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _settings(tmp_path: Path, text: str, *options: str) -> Settings:
    """Build settings as the CLI does from a config file with ``text`` and ``options``."""
    path = _write(tmp_path, text)
    return _settings_from(build_parser().parse_args(["--config", str(path), *options]))


def _option_dests() -> list[str]:
    """Return the argparse ``dest`` of every top-level option except --config, --help and --version."""
    parser = build_parser()
    return [
        action.dest
        for action in parser._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction)
        and action.dest != "config"
    ]


def _example_has(path: str, example: dict[str, object]) -> bool:
    node: object = example
    for part in path.split("."):
        if not isinstance(node, dict):
            return False
        if part not in node:
            return False
        node = node[part]
    return True


def test_every_option_has_config_key() -> None:
    assert sorted(_option_dests()) == sorted(FLAG_KEYS)


def test_example_sets_every_option_key() -> None:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    # duration is left commented out in the example so that copying it does not stop the engine.
    missing = [key for key in FLAG_KEYS.values() if key != "duration" and not _example_has(key, example)]

    assert missing == []


def test_all_engine_keys_applied(tmp_path: Path) -> None:
    settings = apply_config(Settings(), load_config(_write(tmp_path, FULL.format(tmp=tmp_path))))

    assert settings.rules_dir == tmp_path / "rules"
    assert settings.is_headless is True
    assert settings.duration_s == 5400.0
    assert settings.can_reset_corrupt_db is True
    assert settings.log_file == tmp_path / "app.log"
    assert settings.is_verbose is True
    assert settings.samples_retention_days == 1.5
    assert settings.windows_retention_days == 7.0
    assert settings.events_retention_days == 90.0
    assert settings.retention_interval_s == 120.0
    assert settings.plugin_dirs == [tmp_path / "plugins", tmp_path / "more"]
    assert settings.is_entry_point_plugins is False
    assert settings.plugin_options == {"command": {"command": "uptime", "interval": "30", "strict": "true"}}
    assert settings.notify_urls == ["json://127.0.0.1:9/hook", "critical,major=json://127.0.0.1:9/pager"]
    assert settings.notify_repeat_s == 0.0
    assert settings.notify_rate_limit == 4
    assert settings.notify_rate_window_s == 60.0
    assert settings.notify_retries == 1
    assert settings.notify_backoff_s == 0.5
    assert settings.notify_timeout_s == 3.0
    settings.validate()


def test_yaml_engine_keys(tmp_path: Path) -> None:
    text = (
        "duration: 120\nheadless: true\nlogging:\n  file: app.log\nretention:\n  samples_days: 3\n"
        "plugins:\n  dirs: ~/plugins\n  options:\n    robust_z:\n      z: 4.5\nnotify:\n  urls: json://127.0.0.1:9/hook\n"
    )
    settings = apply_config(Settings(), load_config(_write(tmp_path, text, "tui-monitor.yaml")))

    assert settings.duration_s == 120.0
    assert settings.is_headless is True
    assert settings.log_file == Path("app.log")
    assert settings.samples_retention_days == 3.0
    assert settings.plugin_dirs == [Path.home() / "plugins"]
    assert settings.plugin_options == {"robust_z": {"z": "4.5"}}
    assert settings.notify_urls == ["json://127.0.0.1:9/hook"]


@pytest.mark.parametrize(
    ("text", "key_path", "fragment"),
    [
        ('rules_dir = ""', "rules_dir", "non-empty string"),
        ("rules_dir = 3", "rules_dir", "invalid value 3"),
        ('headless = "yes"', "headless", "expected true or false"),
        ('duration = "soon"', "duration", "'soon'"),
        ('duration = "0m"', "duration", "time above 0"),
        ("duration = -5", "duration", "time above 0"),
        ("duration = true", "duration", "invalid value True"),
        ("db_reset_corrupt = 1", "db_reset_corrupt", "expected true or false"),
        ("logging = 3", "logging", "expected a table of keys"),
        ("[logging]\nfile = 5", "logging.file", "non-empty string"),
        ('[logging]\nverbose = "debug"', "logging.verbose", "expected true or false"),
        ("[retention]\nsamples_days = 0", "retention.samples_days", "number of days above 0"),
        ('[retention]\nwindows_days = "30d"', "retention.windows_days", "'30d'"),
        ("[retention]\nevents_days = inf", "retention.events_days", "invalid value inf"),
        ("[retention]\ninterval_s = -1", "retention.interval_s", "number of seconds above 0"),
        ('[plugins]\ndirs = [""]', "plugins.dirs", "list of folders"),
        ('[plugins]\nentry_points = "no"', "plugins.entry_points", "expected true or false"),
        ('[plugins]\noptions = "command.command=uptime"', "plugins.options", "table of plugin names"),
        ('[plugins.options]\ncommand = "uptime"', "plugins.options.command", "table of options"),
        ("[plugins.options.command]\nargs = [1, 2]", "plugins.options.command.args", "string, number or true/false"),
        ("[notify]\nurls = [1]", "notify.urls", "list of strings"),
        ("[notify]\nrepeat_s = -1", "notify.repeat_s", "at least 0"),
        ("[notify]\nrate_limit = 0", "notify.rate_limit", "whole number of at least 1"),
        ("[notify]\nrate_limit = 2.5", "notify.rate_limit", "whole number"),
        ("[notify]\nrate_window_s = 0.5", "notify.rate_window_s", "at least 1"),
        ("[notify]\nretries = -1", "notify.retries", "at least 0"),
        ('[notify]\nbackoff_s = "2s"', "notify.backoff_s", "'2s'"),
        ("[notify]\ntimeout_s = 0.01", "notify.timeout_s", "at least 0.1"),
    ],
)
def test_bad_engine_value_names_key(tmp_path: Path, text: str, key_path: str, fragment: str) -> None:
    path = _write(tmp_path, text + "\n")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    message = str(info.value)
    assert f"{path}: {key_path}:" in message
    assert fragment in message


@pytest.mark.parametrize(
    ("text", "key_path", "hint"),
    [
        ("keep_samples = 3", "keep_samples", "did you mean 'retention.samples_days'? It is the config key of the option --keep-samples"),
        ('log-file = "a.log"', "log-file", "did you mean 'logging.file'?"),
        ("verbose = true", "verbose", "did you mean 'logging.verbose'?"),
        ('rules = "r"', "rules", "did you mean 'rules_dir'?"),
        ("[retention]\nsample_days = 3", "retention.sample_days", "did you mean 'samples_days'?"),
        ('[notify]\nurl = "json://127.0.0.1:9/"', "notify.url", "did you mean 'urls'?"),
        ("[plugins]\nentry_point = false", "plugins.entry_point", "did you mean 'entry_points'?"),
        ("[logging]\nlevel = 'debug'", "logging.level", "known keys: file, verbose"),
    ],
)
def test_unknown_engine_key_suggests(tmp_path: Path, text: str, key_path: str, hint: str) -> None:
    path = _write(tmp_path, text + "\n")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert f"{path}: {key_path}: unknown key; {hint}" in str(info.value)


def test_file_values_kept_without_options(tmp_path: Path) -> None:
    # The retention options' defaults used to replace the file's values.
    settings = _settings(tmp_path, FULL.format(tmp=tmp_path))

    assert settings.samples_retention_days == 1.5
    assert settings.retention_interval_s == 120.0
    assert settings.plugin_dirs == [tmp_path / "plugins", tmp_path / "more"]
    assert settings.is_entry_point_plugins is False
    assert settings.is_headless is True


def test_options_override_engine_keys(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        FULL.format(tmp=tmp_path),
        "--rules", str(tmp_path / "other-rules"),
        "--duration", "10m",
        "--log-file", str(tmp_path / "other.log"),
        "--keep-samples", "0.5",
        "--keep-windows", "3",
        "--keep-events", "10",
        "--retention-interval", "30",
        "--plugin-option", "command.command=date",
    )  # fmt: skip

    assert settings.rules_dir == tmp_path / "other-rules"
    assert settings.duration_s == 600.0
    assert settings.log_file == tmp_path / "other.log"
    assert settings.samples_retention_days == 0.5
    assert settings.windows_retention_days == 3.0
    assert settings.events_retention_days == 10.0
    assert settings.retention_interval_s == 30.0
    # One option replaces one key; the file's other options of the plugin stay.
    assert settings.plugin_options["command"] == {"command": "date", "interval": "30", "strict": "true"}


def test_list_options_add_to_file(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, FULL.format(tmp=tmp_path), "--plugins", str(tmp_path / "cli-plugins"), "--notify", "json://127.0.0.1:9/cli"
    )

    assert settings.plugin_dirs == [tmp_path / "plugins", tmp_path / "more", tmp_path / "cli-plugins"]
    assert settings.notify_urls[-1] == "json://127.0.0.1:9/cli"
    assert len(settings.notify_urls) == 3


def test_switch_options_turn_file_setting(tmp_path: Path) -> None:
    text = "headless = false\ndb_reset_corrupt = false\n[logging]\nverbose = false\n[plugins]\nentry_points = true\n"
    settings = _settings(tmp_path, text, "--headless", "--db-reset-corrupt", "-v", "--no-plugin-entry-points")

    assert settings.is_headless is True
    assert settings.can_reset_corrupt_db is True
    assert settings.is_verbose is True
    assert settings.is_entry_point_plugins is False


def test_defaults_without_file_or_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    settings = _settings_from(build_parser().parse_args([]))

    assert settings.samples_retention_days == 2.0
    assert settings.windows_retention_days == 30.0
    assert settings.events_retention_days == 365.0
    assert settings.retention_interval_s == 600.0
    assert len(settings.plugin_dirs) == 1
    assert settings.is_entry_point_plugins is True
    assert settings.duration_s is None
    assert settings.log_file is None


def test_notify_url_secret_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "hook-9f8e7d6c5b4a")
    settings = _settings(tmp_path, '[notify]\nurls = ["json://127.0.0.1:9/hooks/${HOOK_TOKEN}"]\n')

    assert settings.notify_urls == ["json://127.0.0.1:9/hooks/hook-9f8e7d6c5b4a"]
    assert "hook-9f8e7d6c5b4a" not in repr(settings)


def test_notify_url_missing_env_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_HOOK", raising=False)
    path = _write(tmp_path, '[notify]\nurls = ["json://127.0.0.1:9/", "json://127.0.0.1:9/${NOPE_HOOK}"]\n')

    with pytest.raises(ConfigError, match=r"notify\.urls\[1\]: environment variable 'NOPE_HOOK' is not set"):
        load_config(path)


def test_invalid_notify_url_masked_with_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "hook-9f8e7d6c5b4a")
    path = _write(tmp_path, '[notify]\nurls = ["json://127.0.0.1:9/", "nosuchscheme://user:${HOOK_TOKEN}@127.0.0.1/x"]\n')

    assert main(["--config", str(path), "--headless", "--duration", "1"]) == 2

    err = capsys.readouterr().err
    assert f"URL at {path}: notify.urls[1]" in err
    assert "Apprise does not recognise it" in err
    assert "hook-9f8e7d6c5b4a" not in err


def test_commands_read_config_db_and_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "configured.db"
    seed_store(db).close()
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("rules:\n  - name: x\n    match: {stream: host}\n    action: explode\n", encoding="utf-8")
    path = _write(tmp_path, f"db = {str(db)!r}\nrules_dir = {str(rules)!r}\n")

    assert main(["--config", str(path), "notifications"]) == 0
    assert str(db) in capsys.readouterr().out
    assert main(["--config", str(path), "report", "--since", "30d"]) == 0
    assert f"Database `{db}`" in capsys.readouterr().out
    assert main(["--config", str(path), "rules", "check"]) == 1
    assert "bad.yaml" in capsys.readouterr().out


def test_headless_run_from_config_alone(tmp_path: Path) -> None:
    # No options but --config: the file sets the store, the mode, the run time and the log file.
    log_file = tmp_path / "logs" / "engine.log"
    path = _write(
        tmp_path,
        f'db = {str(tmp_path / "run.db")!r}\nwindow_s = 1\nheadless = true\nduration = "2s"\n'
        f"[logging]\nfile = {str(log_file)!r}\nverbose = true\n"
        f"[plugins]\ndirs = [{str(tmp_path / 'no-plugins')!r}]\nentry_points = false\n",
    )

    done = run_cli("--config", str(path), timeout_s=120.0, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run.db").exists()
    text = log_file.read_text(encoding="utf-8")
    assert f"config loaded from {path}" in text
    assert " DEBUG " in text
    assert "config loaded" not in done.stderr
