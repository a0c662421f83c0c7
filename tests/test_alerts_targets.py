"""Notification targets: URL parsing, tags, the environment, masking."""

from __future__ import annotations

import logging

import pytest

from tui_monitor.alerts import ENV_NOTIFY_URLS, mask_url, parse_target, secret_filter, secrets_of, targets_from
from tui_monitor.cli import main
from tui_monitor.errors import ConfigError


def test_target_tags_prefix() -> None:
    target = parse_target("critical,oncall=json://127.0.0.1:9/hook")
    assert target.tags == frozenset({"critical", "oncall"})
    assert target.wants({"oncall", "major"}) is True
    assert target.wants({"minor"}) is False


def test_target_without_tags_wants_all() -> None:
    assert parse_target("json://127.0.0.1:9/hook").wants({"minor"}) is True


def test_target_timeouts_and_no_apprise_retry() -> None:
    target = parse_target("json://127.0.0.1:9/hook", connect_timeout_s=1.5, read_timeout_s=2.5)
    assert target.plugin.socket_connect_timeout == 1.5
    assert target.plugin.socket_read_timeout == 2.5
    assert target.plugin.retry == 0


def test_targets_from_environment() -> None:
    env = {ENV_NOTIFY_URLS: "json://127.0.0.1:9/a  major=form://127.0.0.1:9/b"}
    targets = targets_from(["json://127.0.0.1:9/c"], environ=env)
    assert [t.masked for t in targets] == ["json://127.0.0.1:9/c", "json://127.0.0.1:9/a", "form://127.0.0.1:9/b"]
    assert targets[2].tags == frozenset({"major"})


def test_target_invalid_url_masked_in_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_target("nosuchscheme://user:Sup3rSecretPw@host/Tok3nAbcdef12345")
    assert "Sup3rSecretPw" not in str(caught.value)
    assert "Tok3nAbcdef12345" not in str(caught.value)
    assert "Apprise does not recognise it" in str(caught.value)


def test_cli_rejects_bad_notify_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--notify", "nosuchscheme://u:Sup3rSecretPw@h/x", "--headless", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "invalid notify URL" in err
    assert "Sup3rSecretPw" not in err


@pytest.mark.parametrize(
    ("url", "shown", "hidden"),
    [
        ("json://u:Pw12345678@127.0.0.1:8080/hooks/AbCdEf123456789", "json://u:****@127.0.0.1:8080/hooks/****", ["Pw12345678", "AbCdEf123456789"]),
        ("form://127.0.0.1:8080/notify?:token=Zz9yY8xX7wW6", "form://127.0.0.1:8080/notify", ["Zz9yY8xX7wW6"]),
        ("discord://1234567890/TOKENabcdefTOKENabcdef12345", "discord://1...0/T...5", ["TOKENabcdefTOKENabcdef12345", "1234567890"]),
        ("mailto://bob:MailPass99@127.0.0.1:2525?to=ops@example.com", "mailto://bob:****@127.0.0.1:2525", ["MailPass99"]),
    ],
)
def test_mask_url_kinds(url: str, shown: str, hidden: list[str]) -> None:
    assert mask_url(url) == shown
    for secret in hidden:
        assert secret in secrets_of(url)


def test_secret_filter_masks_library_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret_filter().add({"Ab12Cd34Ef56"})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug('"POST /hooks/%s HTTP/1.1" 200', "Ab12Cd34Ef56")
    assert caplog.records[-1].getMessage() == '"POST /hooks/**** HTTP/1.1" 200'


def test_settings_reject_zero_rate_limit() -> None:
    from tui_monitor.settings import Settings

    with pytest.raises(ConfigError, match="invalid notify_rate_limit 0: expected 1 or more"):
        Settings(notify_rate_limit=0).validate()
