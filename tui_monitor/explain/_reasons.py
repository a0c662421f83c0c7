"""Turn an explanation into words: short reasons and the anomaly kind.

Notifications and the anomaly table show the reasons; the kind
(performance, functional, behavioural) comes from the feature that pushed
the score most towards anomalous.
"""

from __future__ import annotations

import math
import re

from tui_monitor.explain._explanation import Attribution, Explanation, UsualRange

__all__ = ["KINDS", "format_range", "format_value", "kind_for", "kind_of_feature", "reason_for", "reasons"]

KINDS = ("performance", "functional", "behavioural")

# Failures and errors are functional; log volume and message mix are
# behavioural; resource use and latency are performance. Matched on the
# dot-separated words of a feature name, first match wins.
_FUNCTIONAL_RE = re.compile(r"(^|[._])(error|errors|level_error|failures|failed|status_5xx|status_4xx|up|status_code)([._]|$)")
_BEHAVIOURAL_RE = re.compile(r"(^|[._])(lines|level_warn|level_info|level_debug|template\w*|new_templates|messages)([._]|$)")


def format_value(value: float) -> str:
    """Format a feature value for people: one decimal, thousands grouped, small values in 3 digits.

    >>> format_value(97.123), format_value(1.0), format_value(12345.6), format_value(0.00321)
    ('97.1', '1.0', '12,346', '0.00321')
    >>> format_value(float("nan"))
    'n/a'
    """
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 0.1 or value == 0:
        return f"{value:.1f}"
    return f"{value:.3g}"


def format_range(usual: UsualRange) -> str:
    """Format p5..p95 as ``1.0-6.5``, or ``-2.0 to 6.5`` when the low end is negative.

    >>> format_range(UsualRange(3.2, 1.0, 6.5, 50))
    '1.0-6.5'
    """
    separator = " to " if usual.p5 < 0 else "-"
    return f"{format_value(usual.p5)}{separator}{format_value(usual.p95)}"


def reason_for(attribution: Attribution) -> str:
    """Return one reason: the feature, its value and its usual median and p5-p95.

    >>> reason_for(Attribution("host.cpu.total_pct.mean", 97.12, 0.4, UsualRange(3.2, 1.0, 6.5, 360)))
    'host.cpu.total_pct.mean = 97.1 (usual 3.2, 1.0-6.5)'
    >>> reason_for(Attribution("log.app.lines", 12.0, 0.1, UsualRange(math.nan, math.nan, math.nan, 0)))
    'log.app.lines = 12.0 (no usual range yet)'
    """
    value = format_value(attribution.value)
    usual = attribution.usual
    if usual.count == 0:
        return f"{attribution.name} = {value} (no usual range yet)"
    return f"{attribution.name} = {value} (usual {format_value(usual.median)}, {format_range(usual)})"


def reasons(explanation: Explanation, k: int = 3) -> list[str]:
    """Return up to ``k`` reasons, from the features that pushed most towards anomalous.

    When no feature pushed towards anomalous (the output is below its
    expected value), the largest attributions of either sign are used.
    """
    chosen = explanation.top(k) or explanation.top(k, is_positive_only=False)
    return [reason_for(attribution) for attribution in chosen]


def kind_of_feature(name: str) -> str:
    """Return the anomaly kind a feature stands for.

    >>> kind_of_feature("http.api.status_5xx"), kind_of_feature("log.app.lines"), kind_of_feature("host.cpu.total_pct.mean")
    ('functional', 'behavioural', 'performance')
    """
    if _FUNCTIONAL_RE.search(name):
        return "functional"
    if _BEHAVIOURAL_RE.search(name):
        return "behavioural"
    return "performance"


def kind_for(explanation: Explanation, default: str = "performance") -> str:
    """Return the kind of the feature pushing most towards anomalous, or ``default``."""
    top = explanation.top(1)
    return kind_of_feature(top[0].name) if top else default
