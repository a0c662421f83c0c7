"""Accuracy of a log parser against labelled ground truth.

Grouping accuracy (GA) counts a line as correct when the set of lines that
the parser put in its group is exactly the set of lines that share its
ground-truth template. Parsing accuracy (PA) counts a line as correct when its
parsed template string equals the ground-truth template string character for
character. Both are shares of lines, 0..1, higher is better; they are the
metrics of the loghub benchmarks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence

__all__ = ["grouping_accuracy", "parsing_accuracy"]


def grouping_accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Return the share of lines whose predicted group equals their true group.

    Args:
        truth: the ground-truth label (template or event id) of each line.
        predicted: the parser's label (cluster id or template) of each line.

    Raises:
        ValueError: the sequences differ in length.

    >>> grouping_accuracy(["a", "a", "b"], [1, 1, 2])
    1.0
    >>> grouping_accuracy(["a", "a", "b"], [1, 1, 1])
    0.0
    >>> round(grouping_accuracy(["a", "a", "b", "c"], [1, 2, 3, 4]), 2)
    0.5
    """
    if len(truth) != len(predicted):
        raise ValueError(f"truth has {len(truth)} lines but predicted has {len(predicted)}")
    if not truth:
        return 0.0

    truth_sizes = Counter(truth)
    members: dict[Hashable, list[Hashable]] = defaultdict(list)
    for true_label, predicted_label in zip(truth, predicted, strict=True):
        members[predicted_label].append(true_label)

    correct = 0
    for labels in members.values():
        first = labels[0]
        if truth_sizes[first] == len(labels) and all(label == first for label in labels):
            correct += len(labels)
    return correct / len(truth)


def parsing_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Return the share of lines whose template string equals the true one.

    >>> parsing_accuracy(["a <*>", "b"], ["a <*>", "b <*>"])
    0.5
    """
    if len(truth) != len(predicted):
        raise ValueError(f"truth has {len(truth)} lines but predicted has {len(predicted)}")
    if not truth:
        return 0.0
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)
