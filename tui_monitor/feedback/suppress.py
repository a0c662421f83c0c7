"""Suppression rules proposed from false positives, written as YAML to the rules folder.

The proposal is the narrowest match the event supports: its stream, its top
feature, and scores below a bound just above the event's own score, so a
stronger occurrence of the same pattern still alerts.

NOTE: the rules engine owns the rule schema. The shape written here is
``rules: [{name, suppress: {stream, feature, score_below}}]``; when the rules
engine defines a different schema, this module must follow it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from tui_monitor.errors import RuleError
from tui_monitor.store import EventRecord

__all__ = ["propose_rule", "save_rule", "validate_rule_text"]

_NAME_RE = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _NAME_RE.sub("-", text.lower()).strip("-") or "rule"


def propose_rule(event: EventRecord) -> str:
    """Return YAML text of a rule that suppresses this event's pattern.

    ``score_below`` is the event's calibrated score plus a margin of a
    quarter of what remains up to 1, rounded up to four decimals.

    >>> event = EventRecord("http.api", 0.0, 10.0, 0.99, 0.7, "minor",
    ...                     top_features=[{"name": "http.api.latency_ms.mean", "z": 9.0}])
    >>> print(propose_rule(event), end="")
    rules:
    - name: suppress-http-api-latency-ms-mean
      suppress:
        stream: http.api
        feature: http.api.latency_ms.mean
        score_below: 0.9925
    """
    feature = event.top_features[0]["name"] if event.top_features else ""
    bound = event.score + (1.0 - event.score) / 4.0
    rule: dict[str, Any] = {
        "name": f"suppress-{_slug(feature or event.stream)}",
        "suppress": {"stream": event.stream, "feature": feature, "score_below": math.ceil(bound * 10_000) / 10_000},
    }
    if not feature:
        del rule["suppress"]["feature"]
    return yaml.safe_dump({"rules": [rule]}, sort_keys=False)


def validate_rule_text(text: str, origin: str = "<rule>") -> list[dict[str, Any]]:
    """Parse rule YAML and check its shape; return the rules.

    Raises:
        RuleError: invalid YAML, or a rule without ``name`` or ``suppress.stream``,
            or a ``score_below`` outside 0..1; the message names the key path.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"{origin}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise RuleError(f"{origin}: expected a mapping with a non-empty list under 'rules:'")
    for index, rule in enumerate(data["rules"]):
        where = f"{origin}: rules[{index}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("name"), str) or not rule["name"].strip():
            raise RuleError(f"{where}: missing 'name:'; give the rule a short name, e.g. name: nightly-backup")
        suppress = rule.get("suppress")
        if not isinstance(suppress, dict) or not isinstance(suppress.get("stream"), str):
            raise RuleError(f"{where}.suppress: missing 'stream:'; name the stream to silence, e.g. stream: host")
        bound = suppress.get("score_below")
        if bound is not None and (not isinstance(bound, int | float) or not 0.0 < float(bound) <= 1.0):
            raise RuleError(f"{where}.suppress.score_below: invalid value {bound!r}; expected a score in (0, 1], e.g. 0.995")
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
