"""The detector configuration of a stream: models, ensemble, threshold and debounce.

One ``DetectorConfig`` contains the defaults. ``for_stream`` applies per-stream
overrides whose keys are shell-style patterns of stream names, so that
``{"log.*": {"threshold": 0.999}}`` makes every log stream quieter.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any

from tui_monitor.errors import ConfigError

__all__ = ["MODEL_NAMES", "DetectorConfig"]

MODEL_NAMES = ("robust", "hst", "loda")


@dataclass(frozen=True)
class DetectorConfig:
    """Settings that decide how one stream's windows are scored and turned into incidents.

    Attributes:
        models: online models by name: ``robust`` (rolling median and MAD
            per feature, with an hourly profile), ``hst`` (HalfSpaceTrees;
            used only on streams with two or more measured features) and
            ``loda``.
        ensemble: ``max`` or ``mean`` (weighted) of the calibrated scores.
        weights: weight per model name for ``mean`` (default 1 each).
        threshold: calibrated score (0..1) at which a window is hot.
        threshold_mode: ``static`` uses ``threshold``; ``dynamic`` uses the
            ``dynamic_quantile`` of recent scores, never below ``threshold``.
        min_deviation_z: a hot window of a one-feature stream also needs
            that feature this many robust z-scores from its usual value.
        gate_per_log_feature: how much the deviation gate rises with the
            natural log of the number of measured features, because the
            largest of many noisy deviations is larger than one: 4.0 for
            one feature and 6.0 for 28 with the defaults.
        debounce_n, debounce_m: an incident opens when N of the last M
            windows are hot.
        cooldown_windows: at least this many windows between the starts of
            two alert episodes of a stream; later hot windows within it
            extend the current one.
        likelihood: add the anomaly likelihood of the robust model's raw
            score (``likelihood.py``) to the ensemble, so that a lasting
            rise in how unusual a stream is counts, not only single extreme
            windows.
        likelihood_gate: a window whose likelihood value (standard
            deviations of the short-term mean above its usual level)
            reaches this passes the deviation test as well.
        recurrence_windows, recurrence_count, recurrence_factor: when
            ``recurrence_count`` deviations past the gate (alerted or not)
            started within the last ``recurrence_windows`` windows, a new
            deviation counts only if it exceeds ``recurrence_factor`` times
            their largest peak. So a spike that recurs every hour or so
            stops alerting while a larger one still does. 0 windows turns
            this off.
        relearn_after: windows after which a lasting incident is taken as
            the new normal and learned.
        warmup_windows: windows every model learns before it may alert.
        time_features: add time-of-day and day-of-week context features.
        batch: train an IsolationForest from stored windows as well.
    """

    models: tuple[str, ...] = ("robust", "hst")
    ensemble: str = "max"
    weights: dict[str, float] = field(default_factory=dict)
    threshold: float = 0.995
    threshold_mode: str = "static"
    dynamic_quantile: float = 0.999
    min_deviation_z: float = 4.0
    gate_per_log_feature: float = 0.6
    debounce_n: int = 2
    debounce_m: int = 3
    cooldown_windows: int = 60
    likelihood: bool = True
    likelihood_gate: float = 3.0
    recurrence_windows: int = 500
    recurrence_count: int = 3
    recurrence_factor: float = 1.5
    relearn_after: int = 60
    warmup_windows: int = 30
    time_features: bool = True
    batch: bool = True
    seed: int = 42

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check names and ranges.

        Raises:
            ConfigError: a value is unknown or out of range, naming the key and the fix.
        """
        unknown = [name for name in self.models if name not in MODEL_NAMES]
        if unknown or not self.models:
            raise ConfigError(f"invalid detector models {self.models!r}: choose one or more of {', '.join(MODEL_NAMES)}")
        if self.ensemble not in ("max", "mean"):
            raise ConfigError(f"invalid detector ensemble {self.ensemble!r}: expected 'max' or 'mean'")
        if self.threshold_mode not in ("static", "dynamic"):
            raise ConfigError(f"invalid threshold_mode {self.threshold_mode!r}: expected 'static' or 'dynamic'")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"invalid threshold {self.threshold!r}: expected a calibrated score between 0 and 1")
        if not 1 <= self.debounce_n <= self.debounce_m:
            raise ConfigError(
                f"invalid debounce {self.debounce_n!r} of {self.debounce_m!r}: expected 1 <= N <= M, e.g. 2 of 3 windows"
            )
        if self.warmup_windows < 1:
            raise ConfigError(f"invalid warmup_windows {self.warmup_windows!r}: expected 1 or more")
        if self.cooldown_windows < 0 or self.relearn_after < 1:
            raise ConfigError(
                f"invalid cooldown_windows {self.cooldown_windows!r} or relearn_after {self.relearn_after!r}: "
                "expected cooldown_windows >= 0 and relearn_after >= 1"
            )

        if self.recurrence_windows < 0 or self.recurrence_count < 1 or self.recurrence_factor < 1.0:
            raise ConfigError(
                f"invalid recurrence settings {self.recurrence_windows!r} windows, {self.recurrence_count!r} deviations, "
                f"factor {self.recurrence_factor!r}: expected recurrence_windows >= 0 (0 turns it off), "
                "recurrence_count >= 1 and recurrence_factor >= 1.0"
            )
        if not self.likelihood_gate > 0:
            raise ConfigError(f"invalid likelihood_gate {self.likelihood_gate!r}: expected a number of standard deviations above 0, e.g. 3.0")

    def replace(self, **changes: Any) -> DetectorConfig:
        """Return a copy with ``changes`` applied (and validated).

        Raises:
            ConfigError: a key is not a setting of the detector.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown detector setting(s) {unknown!r}: expected some of {sorted(known)!r}")
        if "models" in changes:
            changes["models"] = tuple(changes["models"])
        return dataclasses.replace(self, **changes)

    def deviation_gate(self, n_features: int) -> float:
        """Return the robust z-score one feature must reach in a window with ``n_features`` measured features.

        >>> DetectorConfig().deviation_gate(1), round(DetectorConfig().deviation_gate(28), 2)
        (4.0, 6.0)
        """
        return self.min_deviation_z + self.gate_per_log_feature * math.log(max(n_features, 1))

    def for_stream(self, stream: str, overrides: dict[str, dict[str, Any]] | None = None) -> DetectorConfig:
        """Return this config with every override whose pattern matches ``stream`` applied, in order.

        >>> base = DetectorConfig()
        >>> base.for_stream("log.app", {"log.*": {"threshold": 0.999}}).threshold
        0.999
        >>> base.for_stream("host", {"log.*": {"threshold": 0.999}}).threshold
        0.995
        """
        config = self
        for pattern, changes in (overrides or {}).items():
            if fnmatch.fnmatchcase(stream, pattern):
                config = config.replace(**changes)
        return config
