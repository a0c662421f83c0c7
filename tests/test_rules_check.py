"""``rules check``: every YAML and schema error class, with its position and its fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tui_monitor.cli import main
from tui_monitor.rules import Problem, load_rules, parse_rule_file

EXAMPLES = Path(__file__).resolve().parent.parent / "rules"


def _problems(tmp_path: Path, text: str) -> list[Problem]:
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent(text))
    return load_rules(path).problems


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_check_unknown_key_suggests_fix(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, """
        rules:
          - name: quiet
            supress: true
            suppress: true
    """))
    assert (problem.line, problem.column) == (4, 5)
    assert "unknown key 'supress'; did you mean 'suppress'?" in problem.message
    assert problem.is_error


def test_check_unknown_top_key(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, "maintenace: []\n"))
    assert "did you mean 'maintenance'?" in problem.message


def test_check_bad_duration(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """
        rules:
          - name: a
            dedup: 30
          - name: b
            dedup: half an hour
    """)
    assert [p.line for p in problems] == [4, 6]
    assert "30 has no unit; write e.g. '30s' or '30m'" in problems[0].message
    assert "invalid duration 'half an hour'" in problems[1].message
    assert "e.g. 30m or 1h30m" in problems[1].message


def test_check_bad_time_zone(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, """
        maintenance:
          - name: nightly
            timezone: Europe/Sofa
            daily: {start: "02:00", end: "03:00"}
    """))
    assert (problem.line, problem.column) == (4, 15)
    assert "unknown time zone 'Europe/Sofa'; did you mean 'Europe/Sofia'?" in problem.message


def test_check_time_zone_case(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, """
        maintenance:
          - timezone: europe/sofia
            daily: {start: "02:00", end: "03:00"}
    """))
    assert "did you mean 'Europe/Sofia'? Zone names are case-sensitive" in problem.message


def test_check_sexagesimal_time(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, """
        maintenance:
          - name: late
            timezone: UTC
            daily: {start: 22:30, end: "23:00"}
    """))
    assert (problem.line, problem.column) == (5, 20)
    assert "22:30 is read by YAML 1.1 as the base-60 number 1350; write '22:30' in quotes" in problem.message


def test_check_no_read_as_false(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, """
        rules:
          - name: norway
            match: {stream: NO}
            suppress: true
    """))
    assert (problem.line, problem.column) == (4, 21)
    assert "NO is read by YAML 1.1 as false; write 'NO' in quotes" in problem.message


def test_check_duplicate_key_both_lines(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, """
        rules:
          - name: first
            suppress: true
            name: second
    """))
    assert (problem.line, problem.column) == (5, 5)
    assert "duplicate key 'name' (first at line 3)" in problem.message


def test_check_duplicate_top_level_section(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, """
        rules: []
        rules: []
    """))
    assert "duplicate key 'rules' (first at line 2)" in problem.message


def test_check_overlapping_windows_warn(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, """
        maintenance:
          - name: backup
            timezone: Europe/Sofia
            daily: {start: "02:00", end: "03:00"}
          - name: patching
            timezone: Europe/Sofia
            weekly: {days: [sun], start: "02:30", duration: 1h}
    """))
    assert problem.level == "warning"
    assert problem.line == 6
    assert "'backup'" in problem.message and "'patching' overlap" in problem.message


def test_check_windows_scoped_apart_no_warning(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """
        maintenance:
          - {name: a, timezone: UTC, daily: {start: "02:00", end: "03:00"}, match: {stream: db}}
          - {name: b, timezone: UTC, daily: {start: "02:00", end: "03:00"}, match: {stream: web}}
    """)
    assert problems == []


def test_check_invalid_yaml_syntax(tmp_path: Path) -> None:
    problem = _only(_problems(tmp_path, "rules:\n  - name: [unclosed\n"))
    assert problem.message.startswith("invalid YAML:")
    assert problem.line == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules:\n  - {name: a, severity: critcal}\n", "unknown value 'critcal'; did you mean 'critical'?"),
        ("rules:\n  - {name: a, match: {kind: perf}, suppress: true}\n", "did you mean 'performance'?"),
        ("rules:\n  - {name: a, match: {template: 'a(b'}, suppress: true}\n", "invalid regular expression 'a(b'"),
        ("rules:\n  - {name: a, match: {score: {min: 0.9, max: 0.5}}, suppress: true}\n", "min 0.9 is above max 0.5; swap them"),
        ("rules:\n  - {name: a, persistence: {windows: 5, of: 3}}\n", "windows 5 exceeds of 3"),
        ("rules:\n  - {name: a, frequency: {events: 3}}\n", "expected both events and within"),
        ("rules:\n  - {name: a, suppress: maybe}\n", "expected true or false, got 'maybe'"),
        ("maintenance:\n  - {name: a, cron: '0 3 * * *'}\n", "a cron window needs a duration"),
        ("maintenance:\n  - {name: a, cron: '0 3 * *', duration: 1h}\n", "expected 5 fields"),
        ("maintenance:\n  - {name: a, daily: {start: '25:00', end: '03:00'}}\n", "invalid time '25:00'"),
        ("maintenance:\n  - {name: a, weekly: {days: [sunday], start: '02:00', end: '03:00'}}\n", "did you mean 'sun'?"),
        ("maintenance:\n  - {name: a, once: {start: '2026-12-06 03:00', end: '2026-12-06 01:00'}}\n", "is not after start"),
        ("maintenance:\n  - {name: a, daily: {start: '02:00'}}\n", "expected start and either end or duration"),
        ("maintenance:\n  - {name: a}\n", "expected exactly one of once, daily, weekly or cron"),
        ("drop_lines:\n  - {stream: 'log.*'}\n", "missing key 'pattern'"),
        ("rules: {name: a}\n", "expected a list"),
    ],
)
def test_check_schema_errors(tmp_path: Path, text: str, expected: str) -> None:
    problem = _only(_problems(tmp_path, text))
    assert expected in problem.message


def test_check_problem_format(tmp_path: Path) -> None:
    ruleset = parse_rule_file(tmp_path / "x.yaml", text="rules:\n  - {name: a, dedup: 5}\n")
    assert str(ruleset.problems[0]).startswith(f"{tmp_path / 'x.yaml'}:2:22: error: rule 'a'.dedup: 5 has no unit")


def test_check_examples_are_valid() -> None:
    ruleset = load_rules(EXAMPLES)
    assert len(ruleset.files) >= 3
    assert ruleset.errors == []


def test_check_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.yaml").write_text("rules:\n  - {name: a, suppress: true}\n")
    assert main(["rules", "check", str(tmp_path)]) == 0
    (tmp_path / "bad.yaml").write_text("rules:\n  - {name: b, supress: true}\n")
    assert main(["rules", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'bad.yaml'}:2:15: error:" in out
    assert "2 files, 1 rules, 0 maintenance windows, 0 line drops: 1 errors, 1 warnings" in out


def test_check_cli_uses_rules_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("rules: 3\n")
    assert main(["--rules", str(tmp_path), "rules", "check"]) == 1
    assert "expected a list" in capsys.readouterr().out


def test_check_cli_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path / "nope")]) == 1
    assert "not found" in capsys.readouterr().out


def test_check_cli_missing_file_names_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path / "nope.yaml")]) == 1
    out = capsys.readouterr().out
    assert "rule file not found" in out
    assert "create the folder" not in out
