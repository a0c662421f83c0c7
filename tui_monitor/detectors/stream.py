"""The detector stack of one stream: models, calibration, ensemble, threshold, debounce, incidents."""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import TYPE_CHECKING, Any

from tui_monitor.detectors.calibration import RollingThreshold, RunningQuantile
from tui_monitor.detectors.config import DetectorConfig
from tui_monitor.detectors.context import anomaly_kind, time_features
from tui_monitor.detectors.decision import Decision, severity_for
from tui_monitor.detectors.deviation import RobustBaseline, RobustModel, is_context_feature
from tui_monitor.detectors.likelihood import AnomalyLikelihood
from tui_monitor.detectors.online import HalfSpaceTreesModel, LodaModel, OnlineModel

if TYPE_CHECKING:
    from tui_monitor.detectors.batch import IsolationForestModel

__all__ = ["Decision", "ModelSlot", "StackScorer", "StreamDetector", "severity_for"]

logger = logging.getLogger(__name__)

# Scores of windows that cannot start a new alert are scaled by this in ``alert_score``.
_NOT_ALERTABLE_FACTOR = 0.5
# The likelihood's calibrated score joins the ensemble under this name.
_LIKELIHOOD = "likelihood"
# Windows in the likelihood's short-term mean.
_LIKELIHOOD_SHORT_WINDOWS = 20


class ModelSlot:
    """One model of the stack with its own calibration and warm-up.

    Args:
        name: the model's name in the config.
        model: anything with ``learn_one(x, ts)`` and ``score_one(x, ts)``.
        warmup_windows: windows the model learns before its raw scores mean
            something; only later raw scores go to the calibration.
        min_calibration: raw scores the calibration needs before the slot's
            calibrated score counts.
    """

    def __init__(
        self, name: str, model: Any, warmup_windows: int, min_calibration: int = 5, calibration_size: int = 1000
    ) -> None:
        self.name = name
        self.model = model
        self.warmup_windows = warmup_windows
        self.min_calibration = min_calibration
        self.calibration = RunningQuantile(size=calibration_size)
        self.windows_learned = 0

    @property
    def is_warm(self) -> bool:
        """True once the model learned its warm-up windows."""
        return self.windows_learned >= self.warmup_windows

    @property
    def is_ready(self) -> bool:
        """True once the model is warm and its calibration has enough history."""
        return self.is_warm and len(self.calibration) >= self.min_calibration

    @property
    def version(self) -> str:
        return str(getattr(self.model, "version", self.name))


class StackScorer:
    """The online part of a stream's stack as one model with river's ``score_one``.

    ``score_one(x)`` returns the ensemble of the warm models' calibrated
    scores (0..1, higher is more anomalous), without the hourly profile and
    the batch model. Explainers use it, usually on a pickled snapshot so
    that the live models can keep learning.
    """

    def __init__(self, slots: list[ModelSlot], config: DetectorConfig) -> None:
        self.slots = slots
        self.config = config

    def score_one(self, x: dict[str, float]) -> float:
        """Return the calibrated ensemble score of one feature vector."""
        n_measured = sum(1 for name in x if not is_context_feature(name))
        scores: dict[str, float] = {}
        for slot in self.slots:
            if slot.is_ready and n_measured and not (slot.name == "hst" and n_measured < 2):
                scores[slot.name] = slot.calibration.score_one(float(slot.model.score_one(x)))
        return ensemble(scores, self.config)


def ensemble(scores: dict[str, float], config: DetectorConfig) -> float:
    """Combine calibrated scores by ``config.ensemble``: their max, or their weighted mean.

    >>> ensemble({"robust": 0.9, "hst": 0.5}, DetectorConfig())
    0.9
    >>> ensemble({"robust": 0.9, "hst": 0.5}, DetectorConfig(ensemble="mean", weights={"hst": 3.0}))
    0.6
    """
    if not scores:
        return 0.0
    if config.ensemble == "max":
        return max(scores.values())
    weights = {name: config.weights.get(name, 1.0) for name in scores}
    total = sum(weights.values()) or 1.0
    return sum(scores[name] * weights[name] for name in scores) / total


def _build_slot(name: str, config: DetectorConfig, baseline: RobustBaseline) -> ModelSlot:
    min_calibration = max(5, config.warmup_windows // 2)
    if name == "robust":
        # Robust z-scores exist once each feature has min_history values, so
        # this model is ready early and covers the others' longer warm-up.
        return ModelSlot(name, RobustModel(baseline), baseline.min_history, min_calibration)
    if name == "hst":
        # HalfSpaceTrees scores against the previous reference window only
        # after it filled one, so its warm-up is one reference window.
        window_size = max(10, config.warmup_windows)
        model = HalfSpaceTreesModel(window_size=window_size, seed=config.seed)
        return ModelSlot(name, model, window_size, min_calibration)
    return ModelSlot(name, LodaModel(seed=config.seed), config.warmup_windows, min_calibration)


def _build_likelihood(config: DetectorConfig) -> ModelSlot | None:
    """Return the slot of the anomaly likelihood of the robust model's raw score, or None when it is off."""
    if not config.likelihood or "robust" not in config.models:
        return None
    return ModelSlot(_LIKELIHOOD, AnomalyLikelihood(_LIKELIHOOD_SHORT_WINDOWS), 0, max(5, config.warmup_windows // 2))


class StreamDetector:
    """Score each closed window of one stream and decide when it is anomalous.

    Each model's raw score is calibrated to 0..1 by its rank among that
    model's recent raw scores; the ensemble is the maximum or weighted mean
    of the calibrated scores of warm models, including a batch model once
    one was fitted. A window is *hot* when the ensemble score reaches the
    threshold (static, or dynamic and never below the static one) and one
    feature is ``config.deviation_gate(n)`` robust z-scores from its usual value; the
    second test keeps the most unusual window of a calm history from
    alerting. A deviation that recurs (see ``_is_recurring``) does not
    count, and a lasting rise of the anomaly likelihood passes the
    deviation test too. An incident opens when ``debounce_n`` of the last
    ``debounce_m`` windows are hot, at most once per alert episode (which
    lasts at least ``cooldown_windows``), and resolves when none of the last
    ``debounce_m`` windows are hot. Hot windows are not learned, so an
    incident does not become the new normal, unless it lasts
    ``relearn_after`` windows: then the change is taken as the new normal.

    Runs on the caller's thread; ``set_batch_model`` may be called from a
    worker thread (one attribute assignment, so the swap is atomic).
    """

    def __init__(
        self,
        stream: str,
        *,
        config: DetectorConfig | None = None,
        warmup_windows: int | None = None,
        threshold: float | None = None,
        min_deviation_z: float | None = None,
        debounce_n: int | None = None,
        debounce_m: int | None = None,
        relearn_after: int | None = None,
        seed: int | None = None,
    ) -> None:
        given = {
            "warmup_windows": warmup_windows,
            "threshold": threshold,
            "min_deviation_z": min_deviation_z,
            "debounce_n": debounce_n,
            "debounce_m": debounce_m,
            "relearn_after": relearn_after,
            "seed": seed,
        }
        config = (config or DetectorConfig()).replace(**{k: v for k, v in given.items() if v is not None})
        self.stream = stream
        self.config = config
        self.baseline = RobustBaseline()
        self.slots = [_build_slot(name, config, self.baseline) for name in config.models]
        self.likelihood = _build_likelihood(config)
        self.batch: IsolationForestModel | None = None
        self.dynamic_threshold = RollingThreshold(q=config.dynamic_quantile, floor=config.threshold)
        self.windows_seen = 0
        self._recent_hot: deque[bool] = deque(maxlen=config.debounce_m)
        self._incident_windows = 0
        # Hot windows not learned during the current incident, adopted if it lasts.
        self._held: deque[tuple[dict[str, float], float | None]] = deque(maxlen=config.relearn_after)
        self._pending_raw: deque[tuple[dict[str, float], str]] = deque()
        self._episode_start = -(10**9)
        self._episode_has_incident = False
        # [first index, peak robust z] of recent deviations past the gate,
        # alerted or not, at least cooldown_windows apart and oldest first.
        self._deviation_peaks: deque[list[float]] = deque()
        self.is_in_incident = False

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled detector, filling in state that older versions did not save.

        A detector saved before the anomaly likelihood existed keeps its
        learned baselines; its likelihood starts empty and warms up again.
        """
        self.__dict__.update(state)
        if "likelihood" not in state:
            self.likelihood = _build_likelihood(self.config)
        if "_deviation_peaks" not in state:
            self._deviation_peaks = deque()

    # -- the names the engine and the UI read ---------------------------------

    @property
    def warmup_windows(self) -> int:
        return self.config.warmup_windows

    @property
    def threshold(self) -> float:
        """The threshold in force now (the dynamic one when configured)."""
        if self.config.threshold_mode == "dynamic":
            return self.dynamic_threshold.value()
        return self.config.threshold

    @property
    def model_version(self) -> str:
        """The version string of the model stack, stored with each event."""
        versions = [slot.version for slot in self.slots]
        if self.batch is not None:
            versions.append(self.batch.version)
        return "+".join(versions)

    @property
    def state(self) -> str:
        """``learning``, ``normal`` or ``anomalous``, as the UI shows it."""
        if self.windows_seen < self.warmup_windows:
            return "learning"
        return "anomalous" if self.is_in_incident else "normal"

    @property
    def model(self) -> StackScorer:
        """The online models as one scorer with ``score_one`` (for explainers; pickle it to snapshot)."""
        return StackScorer(self.slots, self.config)

    def set_batch_model(self, model: IsolationForestModel | None) -> None:
        """Swap in a newly fitted batch model (or drop it with None)."""
        self.batch = model

    # -- scoring ----------------------------------------------------------------

    def _inputs(self, features: dict[str, float], ts: float | None) -> dict[str, float]:
        x = {k: float(v) for k, v in features.items() if v is not None and math.isfinite(v)}
        if ts is not None and self.config.time_features and x:
            x.update(time_features(ts))
        return x

    def _is_used(self, slot: ModelSlot, n_measured: int) -> bool:
        # HalfSpaceTrees adds nothing on one feature that the robust baseline
        # does not cover better (see the NAB benchmark), so it waits for two.
        return not (slot.name == "hst" and n_measured < 2)

    def process(self, features: dict[str, float], ts: float | None = None) -> Decision:
        """Score one closed window, learn from it when normal, and decide.

        Args:
            features: the window's feature vector; NaN, infinity and missing
                features are tolerated.
            ts: the window's start on the local wall clock (Unix seconds plus
                the UTC offset), for time-of-day context; None leaves it out.
        """
        x = self._inputs(features, ts)
        n_measured = sum(1 for name in x if not is_context_feature(name))
        is_warmup = self.windows_seen < self.warmup_windows

        raw_scores: dict[str, float] = {}
        calibrated: dict[str, float] = {}
        for slot in self.slots:
            if not n_measured or not self._is_used(slot, n_measured):
                continue
            if not slot.is_warm:
                # Raw scores of a model still warming up would skew its calibration.
                continue
            raw = float(slot.model.score_one(x, ts))
            raw_scores[slot.name] = raw
            if slot.is_ready:
                calibrated[slot.name] = slot.calibration.score_one(raw)
        likelihood_value = 0.0
        if self.likelihood is not None and "robust" in raw_scores:
            likelihood_value = self.likelihood.model.update(raw_scores["robust"])
            if self.likelihood.is_ready:
                calibrated[_LIKELIHOOD] = self.likelihood.calibration.score_one(likelihood_value)
        batch = self.batch
        if batch is not None and n_measured:
            raw = float(batch.score_many([x])[0])
            raw_scores["iforest"] = raw
            calibrated["iforest"] = batch.calibration.score_one(raw)

        score = ensemble(calibrated, self.config)
        raw_score = max(raw_scores.values(), default=0.0)
        if self.likelihood is not None and "robust" in raw_scores:
            raw_scores[_LIKELIHOOD] = likelihood_value
        top = self.baseline.top(x, ts=ts)
        max_z = max((abs(f["z"]) for f in top), default=0.0)
        threshold = self.threshold
        index = self.windows_seen
        self.windows_seen += 1

        is_new_episode = index - self._episode_start >= self.config.cooldown_windows
        is_beyond_gate = max_z >= self.config.deviation_gate(n_measured)
        is_far = is_beyond_gate and not self._is_recurring(index, max_z)
        if is_beyond_gate and not is_warmup:
            self._note_deviation(index, max_z)
        # A lasting rise may open an incident but not prolong one, nor start
        # another episode while the short-term mean still contains the last one.
        # NOTE: with 2 s windows on a busy host this path opened one incident in
        # 10 minutes, when system CPU rose for 24 s. docs/benchmarks.md has the runs.
        since_start = index - self._episode_start
        is_opening = not is_new_episode and not self._episode_has_incident
        is_lasting = (
            not self.is_in_incident
            and (is_opening or since_start >= max(self.config.cooldown_windows, _LIKELIHOOD_SHORT_WINDOWS))
            and likelihood_value >= self.config.likelihood_gate
        )
        is_deviating = (not is_warmup) and (is_far or is_lasting)
        is_hot = is_deviating and score >= threshold
        if self.is_in_incident and is_beyond_gate and not is_warmup:
            # The calibrations learn every raw score, so a lasting plateau ranks
            # lower each window. An open incident stays open while a feature is
            # still past the gate, until relearn_after adopts the new level.
            is_hot = True
        alert_score = score if is_deviating and is_new_episode else score * _NOT_ALERTABLE_FACTOR
        if is_hot and is_new_episode:
            self._episode_start = index
            self._episode_has_incident = False

        decision = Decision(
            raw_score,
            score,
            is_warmup,
            is_hot,
            False,
            top_features=top,
            kind=anomaly_kind(top),
            alert_score=alert_score,
            model_scores=calibrated,
        )
        self._advance_incident(decision)
        self._learn(x, ts, raw_scores, decision)
        return decision

    def _note_deviation(self, index: int, max_z: float) -> None:
        peaks = self._deviation_peaks
        if peaks and index - peaks[-1][0] < self.config.cooldown_windows:
            peaks[-1][1] = max(peaks[-1][1], max_z)
        else:
            peaks.append([index, max_z])

    def _is_recurring(self, index: int, max_z: float) -> bool:
        """Return True when deviations past the gate were frequent lately and ``max_z`` is no larger than their peaks.

        A spike that recurs every hour or so is part of how the stream
        behaves: after ``recurrence_count`` deviations within
        ``recurrence_windows`` windows, only one of more than
        ``recurrence_factor`` times their largest peak counts. Deviations
        count whether they alerted or not, so a suppressed spike keeps the
        next one of its size suppressed.
        """
        peaks = self._deviation_peaks
        while peaks and index - peaks[0][0] > self.config.recurrence_windows:
            peaks.popleft()
        # The episode under way is not a recurrence of itself.
        earlier = [peak for start, peak in peaks if index - start >= self.config.cooldown_windows]
        if len(earlier) < self.config.recurrence_count:
            return False
        return max_z <= self.config.recurrence_factor * max(earlier)

    def _advance_incident(self, decision: Decision) -> None:
        self._recent_hot.append(decision.is_hot)
        hot_count = sum(self._recent_hot)
        if not self.is_in_incident and hot_count >= self.config.debounce_n and not self._episode_has_incident:
            self.is_in_incident = True
            self._episode_has_incident = True
            self._incident_windows = 0
            decision.incident = "opened"
        elif self.is_in_incident and hot_count == 0:
            self.is_in_incident = False
            decision.incident = "resolved"
        elif self.is_in_incident:
            decision.incident = "updated"
        if self.is_in_incident:
            self._incident_windows += 1
        decision.is_anomalous = self.is_in_incident and decision.is_hot

    def _learn(self, x: dict[str, float], ts: float | None, raw_scores: dict[str, float], decision: Decision) -> None:
        if not decision.is_warmup:
            self.dynamic_threshold.learn_one(decision.score)
        if not self.is_in_incident:
            self._held.clear()
        self._calibrate_later(raw_scores)
        if not x:
            return
        if decision.is_hot:
            self.baseline.learn_one(x, ts, is_recent=False)
            self._held.append((x, ts))
            if self._incident_windows >= self.config.relearn_after:
                self._adopt_new_normal()
            return
        self._learn_normal(x, ts)

    def _calibrate_later(self, raw_scores: dict[str, float]) -> None:
        """Feed raw scores to the calibrations ``debounce_m`` windows late.

        Calibrations learn every window, flagged ones too, because they
        measure how often scores this high occur: a pattern that recurs
        often stops ranking at the top. The delay keeps the first windows of
        a lasting anomaly from lowering each other's rank before debounce
        can open an incident.
        """
        batch = self.batch
        self._pending_raw.append((raw_scores, batch.version if batch is not None else ""))
        if len(self._pending_raw) <= self.config.debounce_m:
            return
        old_scores, old_version = self._pending_raw.popleft()
        for slot in self.slots:
            if slot.name in old_scores:
                slot.calibration.learn_one(old_scores[slot.name])
        if self.likelihood is not None and _LIKELIHOOD in old_scores:
            self.likelihood.calibration.learn_one(old_scores[_LIKELIHOOD])
        # A batch score counts only for the model that made it.
        if batch is not None and batch.version == old_version and "iforest" in old_scores:
            batch.calibration.learn_one(old_scores["iforest"])

    def learn_normal(self, x: dict[str, float], ts: float | None = None) -> None:
        """Learn one window as normal in every online model, e.g. a labelled false positive.

        ``ts`` (Unix seconds) also teaches the hourly profile; None leaves it out.
        """
        self._learn_normal(x, ts)

    def _learn_normal(self, x: dict[str, float], ts: float | None) -> None:
        # The robust baseline is shared: RobustModel's learn_one feeds it.
        if not any(slot.name == "robust" for slot in self.slots):
            self.baseline.learn_one(x, ts)
        for slot in self.slots:
            slot.model.learn_one(x, ts)
            slot.windows_learned += 1

    def adopt_new_normal(self, windows: list[dict[str, float]]) -> None:
        """Take a confirmed lasting change as the new normal, e.g. after drift was found.

        The recent baseline is relearned from ``windows`` alone (the feature
        vectors of the change's windows, oldest first), so the old level no
        longer outvotes them and the change stops being hot.
        """
        logger.info("stream %s: learning %d windows of a lasting change as the new normal", self.stream, len(windows))
        self._relearn_recent([self._inputs(features, None) for features in windows])

    def _adopt_new_normal(self) -> None:
        """Take a lasting incident as the new normal: relearn the recent baseline from its windows."""
        logger.info("stream %s: change lasted %d windows; learning it as the new normal", self.stream, self._incident_windows)
        self._relearn_recent([held_x for held_x, _ in self._held])

    def _relearn_recent(self, windows: list[dict[str, float]]) -> None:
        self.baseline.forget_recent()
        for x in windows:
            # ts None: the hourly profile already has these windows.
            self._learn_normal(x, None)
        self._held.clear()
        self._incident_windows = 0
