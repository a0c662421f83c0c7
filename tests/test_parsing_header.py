"""Generic header stripping on common plain-text layouts."""

from __future__ import annotations

import pytest

from tui_monitor.parsing.header import split_header, strip_header
from tui_monitor.parsing.masks import mask_message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2015-10-18 18:01:47,978 INFO [main] org.apache.Main: Created app", "Created app"),
        ("17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls", "Changing view acls"),
        ("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster", "Invalid user webmaster"),
        ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child in error state 6", "mod_jk child in error state 6"),
        ("2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:2181:Election@774] - Notification time out", "Notification time out"),
        ("03-17 16:13:38.811  1702  2395 D WindowManager: freezing display", "freezing display"),
        ("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579", "onStandStepChanged 3579"),
        ("[10.30 16:49:06] chrome.exe - proxy.example.org:5070 open through proxy", "proxy.example.org:5070 open through proxy"),
        ("- 1117838570 2005.06.03 R02-M1-N0 2005-06-03-15.42.50.675872 R02-M1-N0 RAS KERNEL INFO cache error corrected", "cache error corrected"),
        ("plain message with no header", "plain message with no header"),
    ],
)
def test_strip_header_layouts(line: str, message: str) -> None:
    assert strip_header(line) == message


def test_split_header_keeps_both_parts() -> None:
    assert split_header("2024-05-01 12:00:00 WARN disk slow") == ("2024-05-01 12:00:00 WARN", "disk slow")


def test_header_only_line_keeps_last_token() -> None:
    assert strip_header("2024-05-01 12:00:00 INFO") == "INFO"


def test_empty_line() -> None:
    assert split_header("") == ("", "")


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("id 123e4567-e89b-12d3-a456-426614174000 done", "id <*> done"),
        ("from 10.1.2.3:8080 and fe80:0:0:0:202:b3ff:fe1e:8329", "from <*> and <*>"),
        ("read /var/log/syslog.1 ok", "read <*> ok"),
        ("addr 0x7fff5fbff8 and deadbeef42", "addr <*> and <*>"),
        ("took 250ms then 1.5s", "took <*> then <*>"),
        ('user "ann" logged in', "user <*> logged in"),
        ('request "GET /a/b HTTP/1.1" done', 'request "GET <*> HTTP/<*>" done'),
        ("sent 705 bytes (1.36 KB) in <1 sec", "sent <*> in <*>"),
        ("at Fri Jul  1 09:00:55 2005 from 10.0.0.1", "at <*> from <*>"),
        ("proxy.example.org:5070 open", "<*> open"),
        ("count=42 ratio -0.5", "count=<*> ratio <*>"),
        ("see https://example.org/a?b=1 now", "see <*> now"),
        ("no variables here", "no variables here"),
    ],
)
def test_mask_message(message: str, masked: str) -> None:
    assert mask_message(message) == masked
