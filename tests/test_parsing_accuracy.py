"""Grouping and parsing accuracy on small cases worked out by hand."""

from __future__ import annotations

import pytest

from tui_monitor.parsing.accuracy import grouping_accuracy, parsing_accuracy


def test_ga_perfect_partition_with_other_labels() -> None:
    # Labels differ, the partition is the same: every line is correct.
    assert grouping_accuracy(["A", "A", "B", "C"], [7, 7, 3, 9]) == 1.0


def test_ga_merged_groups_are_all_wrong() -> None:
    # Parser merged A (2 lines) and B (1 line): none of the 3 lines is right; C is.
    assert grouping_accuracy(["A", "A", "B", "C"], [1, 1, 1, 2]) == 0.25


def test_ga_split_group_is_wrong() -> None:
    # A (3 lines) split into {0,1} and {2}: all three wrong; B right.
    assert grouping_accuracy(["A", "A", "A", "B"], [1, 1, 2, 3]) == 0.25


def test_ga_same_size_but_other_lines() -> None:
    # Groups of equal sizes but crossed members: 0 correct.
    assert grouping_accuracy(["A", "A", "B", "B"], [1, 2, 1, 2]) == 0.0


def test_ga_single_line_groups() -> None:
    # Truth: A={0}, B={1,2}, C={3,4,5}; parser: {0}, {1}, {2}, {3,4,5}.
    assert grouping_accuracy(["A", "B", "B", "C", "C", "C"], [1, 2, 3, 4, 4, 4]) == pytest.approx(4 / 6)


def test_ga_empty_is_zero() -> None:
    assert grouping_accuracy([], []) == 0.0


def test_ga_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="2 lines"):
        grouping_accuracy(["A", "B"], [1])


def test_pa_counts_exact_strings() -> None:
    truth = ["open <*>", "open <*>", "close <*>"]
    assert parsing_accuracy(truth, ["open <*>", "open <*>", "close <*> <*>"]) == pytest.approx(2 / 3)


def test_pa_is_whitespace_exact() -> None:
    assert parsing_accuracy(["a <*>"], ["a  <*>"]) == 0.0
