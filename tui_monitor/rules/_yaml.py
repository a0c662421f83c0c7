"""A YAML reader that keeps line and column marks and reports the YAML 1.1 pitfalls.

PyYAML follows YAML 1.1, where a plain ``22:30`` is the base-60 number 1350,
``NO``, ``off`` and ``yes`` are booleans, and a key written twice silently
keeps its last value. Rule files are read through ``yaml.compose`` so each
value keeps its source text and position; duplicate keys are reported with
both positions instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Problem", "YamlNode", "read_yaml"]

_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"


@dataclass(frozen=True)
class Problem:
    """One error or warning found in a rule file, with its 1-based line and column."""

    path: str
    line: int
    column: int
    message: str
    level: str = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.level}: {self.message}"

    @property
    def is_error(self) -> bool:
        """Whether the problem makes the file unusable (warnings do not)."""
        return self.level == "error"


@dataclass
class YamlNode:
    """A YAML value with its position and, for scalars, its source text.

    ``value`` is a ``dict[str, YamlNode]`` for mappings, a ``list[YamlNode]``
    for sequences and the constructed Python value for scalars. ``key_marks``
    gives the position of each mapping key.
    """

    value: Any
    line: int
    column: int
    text: str | None = None
    tag: str = ""
    is_plain: bool = False
    key_marks: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def is_mapping(self) -> bool:
        """Whether the node is a mapping."""
        return isinstance(self.value, dict)

    @property
    def is_sequence(self) -> bool:
        """Whether the node is a sequence."""
        return isinstance(self.value, list)

    @property
    def is_sexagesimal(self) -> bool:
        """Whether YAML 1.1 read a plain ``HH:MM``-like scalar as a base-60 number.

        >>> YamlNode(1350, 1, 1, "22:30", _INT_TAG, True).is_sexagesimal
        True
        """
        return self.is_plain and self.tag in (_INT_TAG, _FLOAT_TAG) and ":" in (self.text or "")

    @property
    def is_yaml11_bool(self) -> bool:
        """Whether a plain word such as ``NO``, ``off`` or ``yes`` was read as a boolean.

        ``true`` and ``false`` do not count: they mean a boolean in every YAML version.
        """
        return self.is_plain and self.tag == _BOOL_TAG and (self.text or "").lower() not in ("true", "false")

    def plain(self) -> Any:
        """Return the value with every nested node unwrapped into plain Python data."""
        if self.is_mapping:
            return {key: node.plain() for key, node in self.value.items()}
        if self.is_sequence:
            return [node.plain() for node in self.value]
        return self.value


class _Constructor(yaml.constructor.SafeConstructor):
    """SafeLoader's scalar rules, used one scalar at a time."""


def read_yaml(path: Path | str, text: str | None = None) -> tuple[YamlNode | None, list[Problem]]:
    """Read one YAML document into ``YamlNode`` values, reporting syntax errors and duplicate keys.

    Args:
        path: the file; read unless ``text`` is given.
        text: the document text, for tests and for files already read.

    Returns:
        The root node (None for an empty or unreadable document) and the problems found.
    """
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, [Problem(name, 1, 1, f"cannot read the file: {exc}; check that it exists and is UTF-8 text")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        return None, [Problem(name, line, column, f"invalid YAML: {detail}; fix the syntax at this position")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 1, 1, f"invalid YAML: {exc}")]
    if root is None:
        return None, []
    problems: list[Problem] = []
    return _convert(root, name, _Constructor(), problems), problems


def _convert(node: yaml.Node, name: str, constructor: _Constructor, problems: list[Problem]) -> YamlNode:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.MappingNode):
        values: dict[str, YamlNode] = {}
        marks: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            key_mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in values:
                first_line = marks[key][0]
                problems.append(
                    Problem(
                        name,
                        *key_mark,
                        f"duplicate key {key!r} (first at line {first_line}); YAML keeps only the last one, "
                        "so remove one of them or merge their values",
                    )
                )
            values[key] = _convert(value_node, name, constructor, problems)
            marks[key] = key_mark
        return YamlNode(values, line, column, tag=node.tag, key_marks=marks)
    if isinstance(node, yaml.SequenceNode):
        return YamlNode([_convert(item, name, constructor, problems) for item in node.value], line, column, tag=node.tag)
    try:
        value = constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError:
        value = node.value
    return YamlNode(value, line, column, text=str(node.value), tag=node.tag, is_plain=node.style is None)
