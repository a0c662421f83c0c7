"""Property-based tests of the plugin loader: no plugin file can make loading raise.

Loading never raises, and every failure recorded names the file.
Files are arbitrary text, or a small plugin module whose factory returns
arbitrary values, raises, or yields and then raises.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tui_monitor.plugins import PluginContext, load_plugins

EXAMPLES = 150

MODULE = """\
from tui_monitor.plugins import DetectorPlugin, SourcePlugin


class Source(SourcePlugin):
    name = {name!r}

    async def run(self, emit):
        pass


class Detector(DetectorPlugin):
    name = {name!r}

    def score_one(self, stream, features):
        return 0.0

    def learn_one(self, stream, features):
        pass


def create_plugins(context):
{body}
"""

literals = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans(), st.just("Source()"), st.just("Detector()")),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=8,
)


def _literal_source(value: object) -> str:
    if value in ("Source()", "Detector()"):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal_source(item) for item in value) + "]"
    return repr(value)


BODIES = st.one_of(
    literals.map(lambda value: f"    return {_literal_source(value)}"),
    st.sampled_from(["ValueError", "KeyError", "RuntimeError", "ImportError", "TypeError", "ZeroDivisionError"]).map(
        lambda name: f"    raise {name}('from the factory')"
    ),
    st.just("    yield Source()\n    raise ValueError('after the first plugin')"),
    st.just("    return (Detector() for _ in range(2))"),
    st.just("    return {'a': Source()}"),
    st.just("    return context.options['missing']"),
)

plugin_files = st.one_of(
    st.text(max_size=200),
    st.tuples(st.text(max_size=6), BODIES).map(lambda parts: MODULE.format(name=parts[0], body=parts[1])),
)


def _load(text: str) -> tuple[int, list[str]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.py"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            loaded = load_plugins([Path(folder)], PluginContext(), is_entry_points=False)
        finally:
            sys.modules.pop("tui_monitor_plugin_fuzzed", None)
    count = len(loaded.sources) + len(loaded.detectors) + len(loaded.notifiers)
    return count, [failure.origin for failure in loaded.failures]


@settings(max_examples=EXAMPLES, deadline=None)
@given(plugin_files)
@example(MODULE.format(name="g", body="    yield Source()\n    raise ValueError('after the first plugin')"))
@example("\x00")
@example("def create_plugins(context):\n    return create_plugins(context)\n")
def test_plugin_file_loads_or_fails_cleanly(text: str) -> None:
    count, origins = _load(text)

    # A factory may return no plugins at all; that is neither a load nor a failure.
    assert count >= 0
    for origin in origins:
        assert "fuzzed.py" in origin


def test_generator_factory_failure_is_recorded() -> None:
    text = MODULE.format(name="g", body="    yield Source()\n    raise ValueError('after the first plugin')")

    count, origins = _load(text)

    assert count == 0
    assert len(origins) == 1
