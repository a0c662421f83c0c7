"""The anomaly likelihood: a lasting rise of a raw score is flagged, a steady level is not."""

from __future__ import annotations

import math
import random

from tui_monitor.detectors.likelihood import AnomalyLikelihood


def _noisy(n: int, level: float, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    return [abs(level + rng.gauss(0, 0.3)) for _ in range(n)]


def test_likelihood_is_zero_until_min_history() -> None:
    lik = AnomalyLikelihood(min_history=50)
    assert [lik.update(v) for v in _noisy(50, 1.0)] == [0.0] * 50


def test_likelihood_steady_level_stays_low() -> None:
    lik = AnomalyLikelihood()
    values = [lik.update(v) for v in _noisy(3000, 1.0)]
    # Noise alone passes 3 now and then (3.5 at most with this seed), never 4.
    assert max(values[200:]) < 4.0


def test_likelihood_lasting_rise_exceeds_three() -> None:
    lik = AnomalyLikelihood()
    for v in _noisy(1000, 1.0):
        lik.update(v)
    # Each value is unremarkable alone (about 3 noise widths up), but they last.
    rise = [lik.update(v) for v in _noisy(20, 2.0, seed=4)]
    assert rise[0] < 3.0 < rise[-1]


def test_likelihood_recurring_level_is_learned() -> None:
    lik = AnomalyLikelihood()
    for _ in range(20):
        for v in _noisy(80, 1.0) + [8.0, 8.0]:
            value = lik.update(v)
    assert value < 3.0


def test_likelihood_ignores_non_finite_scores() -> None:
    lik = AnomalyLikelihood(min_history=1)
    lik.update(1.0)
    assert lik.update(math.nan) == 0.0
    assert lik.update(math.inf) == 0.0
    assert len(lik) == 1
