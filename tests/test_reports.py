"""Reports over a seeded store: counts match the data, HTML charts are real SVG."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from seed import EVENTS, HOUR, NOW, add_labels_table, seed_store
from tui_monitor.cli import main
from tui_monitor.errors import ConfigError, StoreError
from tui_monitor.reports import collect_report, render_report


class _SvgCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.svg_depth = 0
        self.bar_heights: list[float] = []
        self.annotation_titles: list[str] = []
        self._in_annotation = False
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "svg":
            self.svg_depth += 1
        if self.svg_depth:
            self.tags[tag] += 1
        if tag == "rect" and attributes.get("class") == "bar":
            self.bar_heights.append(float(attributes["height"] or 0))
        if tag == "g" and attributes.get("class") == "annotation":
            self._in_annotation = True
        if tag == "title" and self._in_annotation:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg_depth -= 1
        if tag == "g":
            self._in_annotation = False
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.annotation_titles.append(data)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.db"
    seed_store(path).close()
    return path


def _expected(since_hours: float) -> list[tuple[float, str, str, str, str]]:
    return [e for e in EVENTS if e[0] <= since_hours]


def test_collect_counts_match_seeded_events(db: Path) -> None:
    from tui_monitor.store import FeatureStore

    store = FeatureStore(db, readonly=True)
    data = collect_report(store.db.conn, db, since_s=24 * HOUR, now=NOW)
    store.close()
    expected = _expected(24)
    assert data.event_count == len(expected)
    assert dict(data.by_kind) == Counter(e[2] for e in expected)
    assert dict(data.by_severity) == Counter(e[3] for e in expected)
    assert dict(data.by_stream) == Counter(e[1] for e in expected)
    assert sum(count for _, count in data.events_trend) == len(expected)
    assert data.top_features[0] in {("host.cpu.total_pct.mean", 2), ("log.app.level_error", 2)}
    assert data.window_count == 24 * 6


def test_collect_week_includes_older_events(db: Path) -> None:
    from tui_monitor.store import FeatureStore

    store = FeatureStore(db, readonly=True)
    data = collect_report(store.db.conn, db, since_s=7 * 24 * HOUR, now=NOW)
    store.close()
    assert data.event_count == len(_expected(7 * 24))
    assert data.bucket_s == 86400.0
    assert sum(count for _, count in data.events_trend) == len(_expected(7 * 24))


def test_markdown_report_lists_counts_and_annotation(db: Path) -> None:
    text = render_report(db, since_s=24 * HOUR, fmt="md", now=NOW)
    assert "5 anomaly events over 144 stored windows" in text
    assert "| performance | 3 | 60 % |" in text
    assert "| functional | 2 | 40 % |" in text
    assert "| critical | 1 | 20 % |" in text
    assert "| log.app | 2 | 40 % |" in text
    assert "ada: deployed v1.4" in text
    assert "◆ deployed v1.4" in text


def test_markdown_report_says_labels_missing(db: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    with conn:
        # A file written before the feedback migration has no labels table.
        conn.execute("DROP TABLE labels")
    conn.close()
    text = render_report(db, since_s=24 * HOUR, fmt="md", now=NOW)
    assert "no labels table yet" in text
    assert "Sent: 0. Failed: 0." in text


def test_report_precision_from_labels(db: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    # Events 1..5 are the last day's; event 2 is relabelled, so its latest label counts.
    add_labels_table(conn, {1: "true_anomaly", 2: "true_anomaly", 3: "false_positive"})
    with conn:
        conn.execute("INSERT INTO labels (event_id, label, user, created_at) VALUES (2, 'false_positive', 'bo', 0)")
    conn.close()
    text = render_report(db, since_s=24 * HOUR, fmt="md", now=NOW)
    assert "- false_positive: 2" in text
    assert "- true_anomaly: 1" in text
    assert "- unlabelled: 2" in text
    assert "Precision (confirmed / (confirmed + false positives)): 0.33" in text


def test_report_counts_final_notification_attempts(db: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    rows = [
        # (event_id, outcome, is_final, ts): event 2 was retried once, then sent.
        (1, "sent", 1, NOW - HOUR),
        (2, "failed", 0, NOW - HOUR),
        (2, "sent", 1, NOW - HOUR + 5),
        (3, "failed", 1, NOW - HOUR),
        (4, "sent", 1, NOW - 48 * HOUR),
    ]
    with conn:
        conn.executemany("INSERT INTO notifications (event_id, outcome, is_final, ts) VALUES (?, ?, ?, ?)", rows)
    conn.close()
    text = render_report(db, since_s=24 * HOUR, fmt="md", now=NOW)
    assert "Sent: 2. Failed: 1." in text


def test_html_report_renders_svg_charts(db: Path) -> None:
    text = render_report(db, since_s=24 * HOUR, fmt="html", now=NOW)
    parser = _SvgCollector()
    parser.feed(text)
    assert parser.tags["svg"] == 2
    assert parser.tags["polyline"] == 1
    assert len(parser.bar_heights) >= 24
    assert sum(1 for height in parser.bar_heights if height > 0) == 5
    assert "ada: deployed v1.4" in parser.annotation_titles


def test_html_report_escapes_annotation_text(tmp_path: Path) -> None:
    from tui_monitor.store import FeatureStore, add_annotation

    store = FeatureStore(tmp_path / "m.db")
    add_annotation(store.db.conn, "<script>alert(1)</script>", user="eve", ts=NOW - HOUR)
    store.close()
    text = render_report(tmp_path / "m.db", since_s=24 * HOUR, fmt="html", now=NOW)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text


def test_empty_store_report_renders(tmp_path: Path) -> None:
    from tui_monitor.store import FeatureStore

    FeatureStore(tmp_path / "m.db").close()
    text = render_report(tmp_path / "m.db", since_s=24 * HOUR, fmt="html", now=NOW)
    assert "0 anomaly events" in text


def test_report_rejects_unknown_format(db: Path) -> None:
    with pytest.raises(ConfigError, match="'pdf'"):
        render_report(db, since_s=HOUR, fmt="pdf")


def test_report_missing_database_raises(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not found"):
        render_report(tmp_path / "none.db", since_s=HOUR)


def test_cli_report_writes_file(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    status = main(["report", "--db", str(db), "--since", "30d", "--format", "html", "-o", str(out)])
    assert status == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "report written to" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "is_html"), [("r.html", True), ("r.HTM", True), ("r.md", False), ("report", False)])
def test_cli_report_format_follows_suffix(db: Path, tmp_path: Path, name: str, is_html: bool) -> None:
    out = tmp_path / name

    status = main(["report", "--db", str(db), "--since", "30d", "-o", str(out)])

    assert status == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") is is_html


def test_cli_report_unwritable_output(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["report", "--db", str(db), "-o", str(tmp_path / "missing" / "r.md")])
    assert status == 2
    assert "cannot write report" in capsys.readouterr().err


def test_cli_report_rejects_bad_since(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--db", str(db), "--since", "yesterday"])
    assert "invalid duration 'yesterday'" in capsys.readouterr().err
