"""Merge templates that differ only in one word, once that word has varied enough.

The miner never turns two different plain words into a variable, because
"VM Started" and "VM Stopped" are different events. But some words are
values: user names, hosts, file names. ``SiblingMerger`` separates the two
by how many distinct words a position takes: an enumeration of event kinds
shows a few, a value shows many. When ``min_words`` templates are equal
except for a word at the same position, they and every later such template
become one template with a wildcard there.
"""

from __future__ import annotations

import re

__all__ = ["SiblingMerger"]

_WILDCARD = "<*>"
# A plain word, for the miner's similarity too: a token with a letter, no
# wildcard and no digit except one at the end (ssh2, SOCKS5), such as "VM",
# "(Lifecycle", "memory:" or "action:android.intent.action.SCREEN_ON".
WORD_RE = re.compile(r"[^\d<]*[A-Za-z][^\d<]*\d?[^\w<]*")

# Constant tokens a template must keep besides the merged word: one-word and
# two-word messages ("normal", "boot (command <*>)") are states, not values.
_MIN_CONTEXT = 2


class SiblingMerger:
    """Union-find over template ids, fed with each template's tokens.

    Args:
        min_words: distinct words a position must show before it is a variable.
    """

    def __init__(self, min_words: int = 5) -> None:
        self.min_words = min_words
        self._parent: dict[int, int] = {}
        self._groups: dict[tuple[str, ...], set[int]] = {}
        self._tokens: dict[int, tuple[str, ...]] = {}  # latest tokens of each template
        self._merged: dict[int, tuple[str, ...]] = {}  # tokens of each merged root

    def observe(self, template_id: int, tokens: tuple[str, ...]) -> None:
        """Record a new or changed template and merge it with its siblings."""
        self._tokens[template_id] = tokens
        root = self.resolve(template_id)
        if root in self._merged:
            self._merged[root] = _generalize(self._merged[root], tokens)
        constants = sum(token != _WILDCARD for token in tokens)
        if constants <= _MIN_CONTEXT:
            return
        for index, token in enumerate(tokens):
            if token == _WILDCARD or WORD_RE.fullmatch(token) is None:
                continue
            key = (*tokens[:index], _WILDCARD, *tokens[index + 1 :])
            group = self._groups.setdefault(key, set())
            group.add(template_id)
            if len(group) >= self.min_words:
                self._union(group, key)

    def _union(self, group: set[int], key: tuple[str, ...]) -> None:
        roots = {self.resolve(member) for member in group}
        root = min(roots)
        merged = key
        for other in roots:
            self._parent[other] = root
            merged = _generalize(merged, self._merged.pop(other, self._tokens.get(other, key)))
        self._merged[root] = merged

    def resolve(self, template_id: int) -> int:
        """Return the id that ``template_id`` is merged into (itself if none)."""
        root = template_id
        while self._parent.get(root, root) != root:
            root = self._parent[root]
        while template_id != root:  # compress the path for the next call
            self._parent[template_id], template_id = root, self._parent[template_id]
        return root

    def template(self, template_id: int) -> str | None:
        """Return the merged template text of a root id, or None if it was never merged."""
        merged = self._merged.get(template_id)
        return None if merged is None else " ".join(merged)

    def merged_tokens(self, template_id: int) -> tuple[str, ...] | None:
        """Return the merged template tokens of a root id, or None if it was never merged."""
        return self._merged.get(template_id)

    @property
    def merged_count(self) -> int:
        """Number of template ids merged into another."""
        return sum(1 for child, parent in self._parent.items() if child != parent)


def _generalize(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    if len(first) != len(second):
        return first
    return tuple(a if a == b else _WILDCARD for a, b in zip(first, second, strict=True))
