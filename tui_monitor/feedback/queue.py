"""Active learning: the order in which unlabelled events are worth labelling.

A label teaches most where the models are least sure: an event whose
calibrated score sits near the threshold, or one where several models
disagree. Events far above the threshold with every model agreeing are
labelled last, because their label would change little.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence

from tui_monitor.store import EventRecord

__all__ = ["informativeness", "labelling_order"]


def informativeness(scores: Sequence[float], threshold: float) -> float:
    """Return how much a label of an event with these calibrated scores would teach, in 0..1.

    ``scores`` are the event's calibrated scores in 0..1 (higher is more
    anomalous), one per model that scored it; the first is the online
    detector's. The value is the larger of the closeness of their mean to
    ``threshold`` and twice their standard deviation (model disagreement).
    Closeness is measured on the side the mean lies on: 1 at the threshold,
    0 at a score of 1 (or 0), so among flagged events, which all score
    between the threshold and 1, the barely flagged ones come first.

    >>> informativeness([0.98], 0.98)
    1.0
    >>> informativeness([1.0], 0.5)
    0.0
    >>> round(informativeness([0.99, 0.2], 0.98), 2)
    0.79
    """
    if not scores:
        return 0.0
    mean = statistics.fmean(scores)
    span = (1.0 - threshold) if mean > threshold else threshold
    closeness = 1.0 - min(abs(mean - threshold) / span, 1.0) if span > 0 else 0.0
    disagreement = 2.0 * statistics.pstdev(scores) if len(scores) > 1 else 0.0
    return round(max(closeness, min(disagreement, 1.0)), 6)


def labelling_order(
    events: Iterable[EventRecord],
    labelled: Iterable[int],
    threshold: float,
    extra_scores: Mapping[int, Sequence[float]] | None = None,
) -> list[int]:
    """Return the ids of unlabelled events, most informative first.

    Args:
        events: candidate events (those without an id are skipped).
        labelled: ids of events that already have a label.
        threshold: the calibrated score at which a window counts as anomalous.
        extra_scores: per event id, calibrated scores of other models (batch,
            supervised) for the event's first window.

    Ties go to the newer event.
    """
    done = set(labelled)
    extra = extra_scores or {}
    ranked = []
    for event in events:
        if event.id is None or event.id in done:
            continue
        scores = [event.score, *extra.get(event.id, ())]
        ranked.append((informativeness(scores, threshold), event.window_start, event.id))
    ranked.sort(reverse=True)
    return [event_id for _, _, event_id in ranked]
