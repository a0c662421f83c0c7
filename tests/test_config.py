"""The config file: the documented example, key paths in errors, secrets and precedence."""

from __future__ import annotations

import doctest
import logging
from pathlib import Path

import pytest

import tui_monitor.settings as settings_module
from tui_monitor.cli import _settings_from, build_parser, main
from tui_monitor.config import apply_config, find_config, load_config
from tui_monitor.errors import ConfigError
from tui_monitor.settings import Secret, Settings
from tui_monitor.store import FeatureStore

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "config.example.toml"


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "key-1234567890")
    monkeypatch.setenv("API_TOKEN", "token-abcdefghij")
    monkeypatch.setenv("PAGER_TOKEN", "pager-0123456789abcdef")


def _write(tmp_path: Path, text: str, name: str = "tui-monitor.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_loads(secrets_env: None) -> None:
    values = load_config(EXAMPLE)
    settings = apply_config(Settings(), values)
    assert settings.window_s == 10
    assert [p.stream for p in settings.processes] == ["proc.web", "proc.api", "proc.db"]
    assert [e.name for e in settings.endpoints] == ["api", "site"]
    assert settings.endpoints[0].expect_status == (200, 204)
    assert settings.scrapes[0].stream == "prom.app"
    assert settings.host_per_interface == ["eth0"]
    settings.validate()


def test_example_secrets_expanded_and_masked(secrets_env: None) -> None:
    settings = apply_config(Settings(), load_config(EXAMPLE))
    header = dict(settings.endpoints[0].headers)["X-Api-Key"]
    auth = dict(settings.endpoints[1].headers)["Authorization"]
    assert isinstance(header, Secret)
    assert header.reveal() == "key-1234567890"
    assert isinstance(auth, Secret)
    assert auth.reveal() == "Bearer token-abcdefghij"
    assert "key-1234567890" not in repr(settings.endpoints[0])
    assert "token-abcdefghij" not in f"{auth}"


def test_yaml_same_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "window_s: 5\nsources:\n  processes:\n    - name: api\n      match_cmdline: 'python .*api'\n"
        "  endpoints:\n    - url: http://127.0.0.1:8080/health\n      expect_status: 200\n",
        "tui-monitor.yaml",
    )
    settings = apply_config(Settings(), load_config(path))
    assert settings.window_s == 5.0
    assert settings.processes[0].match_cmdline == "python .*api"
    assert settings.endpoints[0].name == "127_0_0_1_8080"
    assert settings.endpoints[0].expect_status == (200,)


def test_bad_value_names_key_path(tmp_path: Path) -> None:
    text = "".join(f'[[sources.endpoints]]\nurl = "http://127.0.0.1:{8080 + i}/"\n' for i in range(2))
    text += '[[sources.endpoints]]\nurl = "http://127.0.0.1:9000/"\ntimeout_s = "5s"\n'
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "sources.endpoints[2].timeout_s" in message
    assert "'5s'" in message
    assert "number of seconds" in message


def test_unknown_key_did_you_mean(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[sources.endpoints]]\nurl = "http://127.0.0.1/"\ntimout_s = 3\n')
    with pytest.raises(ConfigError, match=r"sources\.endpoints\[0\]\.timout_s: unknown key; did you mean 'timeout_s'\?"):
        load_config(path)


def test_unknown_top_key_lists_known(tmp_path: Path) -> None:
    path = _write(tmp_path, "colour = 'red'\n")
    with pytest.raises(ConfigError, match="known keys: db, db_reset_corrupt, duration, headless, logging, notify"):
        load_config(path)


def test_missing_env_var_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    path = _write(tmp_path, '[[sources.scrapes]]\nurl = "http://127.0.0.1/metrics"\nheaders = { A = "x ${NOPE_TOKEN}" }\n')
    with pytest.raises(ConfigError, match=r"sources\.scrapes\[0\]\.headers\.A: environment variable 'NOPE_TOKEN' is not set"):
        load_config(path)


def test_missing_token_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    path = _write(tmp_path, '[[sources.endpoints]]\nurl = "http://127.0.0.1/"\ntoken_env = "NOPE_TOKEN"\n')
    with pytest.raises(ConfigError, match=r"sources\.endpoints\[0\]\.token_env"):
        load_config(path)


def test_secret_never_logged(tmp_path: Path, secrets_env: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        settings = apply_config(Settings(), load_config(EXAMPLE))
        logging.getLogger("test").info("settings %s %r", settings, settings)
    assert "key-1234567890" not in caplog.text
    assert "token-abcdefghij" not in caplog.text
    assert "pager-0123456789abcdef" not in caplog.text


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "window_s = \n")
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_yaml_syntax_error_names_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "sources: [unclosed\n", "tui-monitor.yaml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)


def test_missing_url(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[sources.endpoints]]\nname = "api"\n')
    with pytest.raises(ConfigError, match=r"sources\.endpoints\[0\]\.url: missing; add url ="):
        load_config(path)


def test_process_needs_one_selector(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[sources.processes]]\nname = "api"\n')
    with pytest.raises(ConfigError, match=r"sources\.processes\[0\]: expected exactly one of"):
        load_config(path)


def test_duplicate_stream_names(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[sources.processes]]\nname = "a"\nmatch_name = "x"\n[[sources.processes]]\nname = "a"\nmatch_name = "y"\n')
    with pytest.raises(ConfigError, match=r"sources\.processes\[1\]\.name: duplicate stream name 'proc\.a'"):
        load_config(path)


def test_bad_regex_named(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[sources.processes]]\nname = "a"\nmatch_cmdline = "("\n')
    with pytest.raises(ConfigError, match=r"sources\.processes\[0\]\.match_cmdline: invalid value '\('"):
        load_config(path)


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    path = _write(tmp_path, "warmup_windows = true\n")
    with pytest.raises(ConfigError, match="warmup_windows: invalid value True"):
        load_config(path)


def test_find_config_prefers_working_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, "window_s = 5\n")
    assert find_config(None, cwd=tmp_path) == path


def test_find_config_explicit_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        find_config(tmp_path / "absent.toml")


def test_find_config_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert find_config(None, cwd=tmp_path) is None


def test_options_override_config(tmp_path: Path) -> None:
    path = _write(tmp_path, "window_s = 20\nthreshold = 0.9\n[sources]\nlogs = ['/tmp/a.log']\n")
    args = build_parser().parse_args(["--config", str(path), "--window", "5", "--log", "/tmp/b.log", "--proc", "api=~x"])
    settings = _settings_from(args)
    assert settings.window_s == 5.0
    assert settings.threshold == 0.9
    assert settings.log_paths == ["/tmp/a.log", "/tmp/b.log"]
    assert settings.processes[0].stream == "proc.api"
    assert settings.config_path == path


def test_options_work_without_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    args = build_parser().parse_args(["--scrape", "app=http://127.0.0.1:9100/metrics"])
    settings = _settings_from(args)
    assert settings.config_path is None
    assert settings.window_s == 10.0
    assert settings.scrapes[0].stream == "prom.app"


def test_events_command_reads_config_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "configured.db"
    FeatureStore(db).close()
    path = _write(tmp_path, f"db = {str(db)!r}\n")
    assert main(["--config", str(path), "events"]) == 0
    assert str(db) in capsys.readouterr().out


def test_host_interval_above_window(tmp_path: Path) -> None:
    path = _write(tmp_path, "window_s = 5\n[sources.host]\ninterval_s = 6\n")
    with pytest.raises(ConfigError, match=r"sources\.host\.interval_s: invalid value 6\.0: .* must not exceed the window \(5\.0 s\)"):
        load_config(path)


def test_settings_doctests() -> None:
    assert doctest.testmod(settings_module).failed == 0


def test_secret_masked_in_text() -> None:
    secret = Secret("hunter2-long-password")
    assert str(secret) == "hu****"
    assert f"{secret}" == "hu****"
    assert "hunter2" not in repr(secret)
    assert secret.reveal() == "hunter2-long-password"
