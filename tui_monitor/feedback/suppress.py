"""Suppression rules proposed from false positives, written as YAML to the rules folder.

The proposal is the narrowest match the event supports: its stream, its top
feature, the top feature's value up to the one seen (down to it for a drop
below the usual median), and scores up to a bound just above the event's own
score. A stronger occurrence of the same pattern still alerts, also when the
calibrated score is already close to 1 and the score bound rounds to 1. The text follows the
rules engine's schema and is checked by the rules engine's own parser before
it is saved, so a saved proposal never breaks the rules folder.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from tui_monitor.errors import RuleError
from tui_monitor.rules._parse import parse_rule_file
from tui_monitor.store import EventRecord

__all__ = ["propose_rule", "save_rule", "validate_rule_text"]

_NAME_RE = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _NAME_RE.sub("-", text.lower()).strip("-") or "rule"


def propose_rule(event: EventRecord) -> str:
    """Return YAML text of a rule that suppresses this event's pattern.

    The score bound is the event's calibrated score plus a quarter of what
    remains up to 1, rounded up to four decimals. The value bound is the top
    feature's value, rounded away from its median to four significant digits.

    >>> event = EventRecord("http.api", 0.0, 10.0, 0.99, 0.7, "minor",
    ...                     top_features=[{"name": "http.api.latency_ms.mean", "value": 812.37, "median": 40.0, "z": 9.0}])
    >>> print(propose_rule(event), end="")
    rules:
    - name: suppress-http-api-latency-ms-mean
      reason: labelled a false positive
      match:
        stream: http.api
        feature: http.api.latency_ms.mean
        value:
          max: 812.4
        score:
          max: 0.9925
      suppress: true
    """
    top = event.top_features[0] if event.top_features else {}
    feature = str(top.get("name", ""))
    bound = event.score + (1.0 - event.score) / 4.0
    match: dict[str, Any] = {"stream": event.stream}
    if feature:
        match["feature"] = feature
        value_bound = _value_bound(top)
        if value_bound is not None:
            match["value"] = value_bound
    match["score"] = {"max": math.ceil(bound * 10_000) / 10_000}
    rule: dict[str, Any] = {
        "name": f"suppress-{_slug(feature or event.stream)}",
        "reason": "labelled a false positive",
        "match": match,
        "suppress": True,
    }
    return yaml.safe_dump({"rules": [rule]}, sort_keys=False)


def _value_bound(feature: dict[str, Any]) -> dict[str, float] | None:
    """Return ``{"max": v}`` (or ``{"min": v}`` for a value below its median) for a top feature, or None.

    >>> _value_bound({"value": 0.123456, "median": 1.0})
    {'min': 0.1234}
    >>> _value_bound({"value": 440.0})
    {'max': 440.0}
    """
    value = feature.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    median = feature.get("median")
    is_drop = isinstance(median, int | float) and not isinstance(median, bool) and value < median
    if value == 0:
        return {"min" if is_drop else "max": 0.0}
    digits = 3 - math.floor(math.log10(abs(value)))
    step = math.floor if is_drop else math.ceil
    if digits >= 0:
        bound = step(value * 10**digits) / 10**digits
    else:
        bound = float(step(value / 10**-digits) * 10**-digits)
    return {"min": bound} if is_drop else {"max": bound}


def validate_rule_text(text: str, origin: str = "<rule>") -> list[dict[str, Any]]:
    """Check rule YAML with the rules engine's parser; return the rules.

    Raises:
        RuleError: the text has an error the rules engine reports (invalid
            YAML, unknown keys, bad values), with line, column and the fix.
    """
    ruleset = parse_rule_file(Path(origin), text=text)
    errors = ruleset.errors
    if errors:
        raise RuleError("; ".join(str(problem) for problem in errors))
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise RuleError(f"{origin}: expected a non-empty list under 'rules:'")
    for index, rule in enumerate(data["rules"]):
        if not isinstance(rule, dict) or not str(rule.get("name", "")).strip():
            raise RuleError(f"{origin}: rules[{index}]: missing 'name:'; give the rule a short name, e.g. name: nightly-backup")
    return list(data["rules"])


def save_rule(rules_dir: Path, text: str) -> Path:
    """Validate rule YAML and write it to a new file in ``rules_dir``; return the file.

    The file is named after the first rule; an existing file is never
    overwritten (a number is appended instead).

    Raises:
        RuleError: the text is invalid (see ``validate_rule_text``) or the
            folder cannot be written.
    """
    rules = validate_rule_text(text)
    stem = _slug(str(rules[0]["name"]))
    try:
        rules_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1000):
            path = rules_dir / (f"{stem}.yaml" if attempt == 0 else f"{stem}-{attempt}.yaml")
            try:
                with path.open("x", encoding="utf-8") as file:
                    file.write(text if text.endswith("\n") else text + "\n")
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise RuleError(f"cannot write rule to folder {str(rules_dir)!r}: {exc.strerror}; check its permissions") from exc
    raise RuleError(f"folder {str(rules_dir)!r} already contains 1000 files named {stem!r}; rename the rule")
