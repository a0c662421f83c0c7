"""Template miner: word rule, sibling merging, masked positions, state round trip."""

from __future__ import annotations

import os
import pickle
import zlib
from collections import OrderedDict

import pytest

from tui_monitor.errors import StoreError
from tui_monitor.parsing.siblings import SiblingMerger
from tui_monitor.parsing.templates import MinerSettings, TemplateMiner


def _ids(miner: TemplateMiner, messages: list[str]) -> list[int]:
    """Mine every message, then return each one's template id as of the end."""
    ids = [miner.add(m).template_id for m in messages]
    return [miner.resolve(i) for i in ids]


def test_numbers_vary_in_one_template() -> None:
    miner = TemplateMiner()
    ids = _ids(miner, ["took 5 ms to load 3 files", "took 17 ms to load 9 files"])
    assert ids[0] == ids[1]


def test_differing_verbs_stay_apart() -> None:
    miner = TemplateMiner()
    ids = _ids(miner, ["VM Started (Lifecycle Event)", "VM Stopped (Lifecycle Event)"])
    assert ids[0] != ids[1]


def test_words_merge_when_rule_off() -> None:
    miner = TemplateMiner(MinerSettings(words_must_match=False))
    ids = _ids(miner, ["VM Started (Lifecycle Event)", "VM Stopped (Lifecycle Event)"])
    assert ids[0] == ids[1]


def test_many_user_names_become_variable() -> None:
    miner = TemplateMiner(MinerSettings(min_word_values=3))
    names = ["root", "admin", "guest", "oracle"]
    ids = _ids(miner, [f"Invalid user {name} from 10.0.0.1" for name in names])
    assert len(set(ids)) == 1
    assert miner.template(ids[0]) == "Invalid user <*> from <*>"


def test_merged_names_stop_making_clusters() -> None:
    # Each new name would otherwise be a cluster that every message is compared with.
    miner = TemplateMiner(MinerSettings(min_word_values=3))
    names = ["".join(chr(97 + (i * 7 + k) % 26) for k in range(5)) for i in range(100)]
    ids = _ids(miner, [f"Accepted publickey for {name} from 10.0.0.1 port 22" for name in names])
    assert len(set(ids)) == 1
    assert miner.cluster_count <= 4


def test_few_words_stay_separate_templates() -> None:
    miner = TemplateMiner(MinerSettings(min_word_values=3))
    ids = _ids(miner, ["cupsd startup succeeded now", "cupsd shutdown succeeded now"])
    assert ids[0] != ids[1]


def test_mostly_masked_messages_share_template() -> None:
    # Drain3 counts positions masked in both as mismatches; the miner does not.
    miner = TemplateMiner()
    messages = [f"10.0.0.{i} status: {200 + i} len: {100 * i} time: 0.{i}" for i in range(1, 6)]
    assert len(set(_ids(miner, messages))) == 1


def test_merged_template_counts_summed() -> None:
    miner = TemplateMiner(MinerSettings(min_word_values=2))
    _ids(miner, ["session closed for user ann", "session closed for user bob", "session closed for user bob"])
    assert miner.templates() == [(1, "session closed for user <*>", 3)]


def test_state_round_trip_keeps_merges() -> None:
    miner = TemplateMiner(MinerSettings(min_word_values=2))
    first = _ids(miner, ["session closed for user ann", "session closed for user bob"])
    restored = TemplateMiner(MinerSettings(min_word_values=2), miner.save_state())
    assert restored.add("session closed for user cy").template_id == first[0]
    assert restored.lines_seen == 3


def test_state_of_wrong_type_rejected() -> None:
    state = zlib.compress(pickle.dumps({"drain": 1, "siblings": 2, "lines_seen": 0}))
    with pytest.raises(StoreError, match="not a Drain tree"):
        TemplateMiner(state=state)


def test_state_naming_other_class_rejected() -> None:
    state = zlib.compress(pickle.dumps({"drain": OrderedDict, "siblings": os.getcwd, "lines_seen": 0}))
    with pytest.raises(StoreError, match="posix.getcwd|not part of a template miner state"):
        TemplateMiner(state=state)


def test_sibling_merger_resolves_chain() -> None:
    merger = SiblingMerger(min_words=2)
    merger.observe(3, ("open", "file", "alpha", "now"))
    merger.observe(7, ("open", "file", "beta", "now"))
    assert merger.resolve(7) == 3
    assert merger.template(3) == "open file <*> now"
    assert merger.template(7) is None
    assert merger.merged_count == 1


def test_merged_template_survives_root_change() -> None:
    merger = SiblingMerger(min_words=2)
    merger.observe(3, ("open", "file", "alpha", "now", "ok"))
    merger.observe(7, ("open", "file", "beta", "now", "ok"))
    merger.observe(3, ("open", "file", "alpha", "now", "<*>"))  # the miner generalized template 3
    assert merger.template(3) == "open file <*> now <*>"
