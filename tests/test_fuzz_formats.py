"""Property-based tests of the Prometheus, config and rules parsers on arbitrary text.

Each parser gets arbitrary text and text assembled from the tokens of its
format, and must return a value or raise only its documented error.
"""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tui_monitor.config import load_config
from tui_monitor.errors import ConfigError
from tui_monitor.rules._parse import parse_rule_file
from tui_monitor.sources.prometheus import ScrapeConverter

EXAMPLES = 200

PROM_TOKENS = [
    "# HELP x_total help\n", "# TYPE x_total counter\n", "# TYPE g gauge\n", "# TYPE h histogram\n",
    "# TYPE s summary\n", "x_total", "g", "h_bucket", "h_sum", "h_count", "s", '{le="0.5"}', '{le="+Inf"}',
    '{quantile="0.99"}', '{path="/a\\"b"}', "{", "}", " ", "1", "-1", "NaN", "+Inf", "-Inf", "1e308", "\n", "=", ",",
]  # fmt: skip

prom_texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(PROM_TOKENS), st.text(max_size=6)), max_size=40).map("".join),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(prom_texts, prom_texts)
@example("# TYPE h histogram\nh_bucket{le=\"+Inf\"} NaN\nh_count 1\n", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 0\n")
def test_scrape_converter_returns_finite_or_valueerror(first: str, second: str) -> None:
    converter = ScrapeConverter("prom.app", max_series=20)
    for now, text in ((100.0, first), (110.0, second)):
        try:
            gauges = converter.convert(text, now)
        except ValueError:
            # The documented error; the scrape source marks the target down.
            continue
        assert all(math.isfinite(value) for value in gauges.values())
        assert converter.series_count <= 20


CONFIG_TOKENS = [
    "window_s = ", "threshold = ", "warmup_windows = ", "db = ", "[sources]\n", "[[sources.endpoints]]\n",
    "[[sources.processes]]\n", "url = ", "name = ", "timeout_s = ", "\"http://127.0.0.1:1/\"", "\"${HOME}\"", "10",
    "0", "-1", "1e999", "nan", "true", "\"x\"", "[", "]", "\n", "=", "\"", "'",
]  # fmt: skip

config_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(CONFIG_TOKENS), st.text(max_size=5)), max_size=30).map("".join),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config_texts, st.sampled_from(["toml", "yaml"]))
def test_config_loader_raises_only_configerror(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"tui-monitor.{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        values = load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc) or path.name in str(exc)
        return
    assert values["config_path"] == path


RULE_TOKENS = [
    "rules:\n", "- name: r\n", "  match:\n", "    stream: host\n", "    feature: \"cpu.*\"\n", "    score: {max: 0.9}\n",
    "  suppress: true\n", "  severity: major\n", "maintenance:\n", "  - name: m\n", "    at: 22:30\n", "    every: day\n",
    "    timezone: Europe/Sofia\n", "    duration: 30m\n", "drop_lines:\n", "  - pattern: \"[\"\n", "NO", "on", ": ",
    "- ", "  ", "\n", "{", "}", "[", "]", "&a", "*a", "!!python/object:os.system", "\t",
]  # fmt: skip

rule_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(RULE_TOKENS), st.text(max_size=5)), max_size=30).map("".join),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(rule_texts)
@example("rules:\n- name: r\n  suppress: !!python/object/apply:os.system ['true']\n")
def test_rules_parser_reports_problems_never_raises(text: str) -> None:
    ruleset = parse_rule_file(Path("fuzz.yaml"), text=text)

    for problem in ruleset.problems:
        assert problem.line >= 0
        assert problem.message
