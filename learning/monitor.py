"""Is the model right, and is the world changing? Quality and drift of one stream.

:class:`QualityMonitor` follows every joined outcome of one stream, with the score and the
selection the scorer recorded, i.e. the quality of the model that was actually deployed:

* **precision among model picks**: the finding rate of what the model chose (rolling);
* **hit rate among random picks**: random picks are drawn uniformly among the events the
  model did *not* pick, so this is the finding rate the model leaves behind (rolling);
* **base rate (IPW)**: every outcome weighted by ``1 / propensity`` (Hajek, unclipped):
  an unbiased estimate of the finding rate of the whole traffic, model picks included;
* **rolling ROC AUC** of the recorded score over all outcomes (how well the model ranks
  what was inspected; selection-biased) and over random picks only (unbiased within the
  traffic the model released);
* **label delay** (``outcome_time - decided_at``): mean, rolling median and 90th
  percentile, maximum;
* **drift**: a one-sided HDDM_A test (``river.drift.binary.HDDMA``, Hoeffding's bound) for a
  *rise* in the error of the model's picks: 1 when an inspection the model chose found
  nothing, 0 when it found something.

Why that error stream: every outcome is of a selected event, so the natural error of a
selection system is an inspection that found nothing. When smugglers adapt (the simulator's
drift: cash couriers start booking ahead and paying by card), the model keeps picking the
old profile and this miss rate rises, while the absolute error ``|finding - score|`` over
all outcomes can *fall*, because fewer findings come back at all; a first version on the
absolute error never fired on the simulator's drift.

Why a one-sided test: only a rise is acted on. ADWIN (two-sided, the first detector here)
also fires when the error *falls*, as it does while a fresh model learns, and river's ADWIN
then starts its window afresh: a fall detected shortly before the smugglers adapted left
too little of the old error level to test the rise against, and the simulator's drift went
unseen on one seed. HDDM_A tests only for an increase over the lowest error level seen, so
the learning phase cannot mask a later rise. On a seeded model-pick stream (miss rate 0.5,
then 0.3 after learning, then 0.63) it fired with a median delay of 57 picks (90th
percentile 100) and no false alarm over 300 seeds, where ADWIN missed 8 of them.
``tests/test_learning_monitor.py`` pins a seeded case, and ``tests/test_learning_drift.py``
measures the simulator's drift end to end.

A detected rise of the error emits a :class:`DriftEvent` and starts the configured
:class:`DriftReaction`: the recommended random share is raised for a number of outcomes, so
that exploration finds the new pattern sooner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from river import drift, metrics, stats, utils

from learning.weights import ipw

__all__ = ["KINDS", "DriftEvent", "DriftReaction", "QualityMonitor"]

KINDS = ("model", "random", "rule", "green_audit", "none")
DETECTOR = "HDDM_A(one-sided, drift_confidence={}) on the model picks' miss rate"


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """The error of one stream's deployed model changed.

    ``detected_at_outcome_index`` counts the stream's joined outcomes from 1; ``details``
    holds the mean absolute error before and after the change and ADWIN's window width.
    """

    stream: str
    detected_at_outcome_index: int
    detector: str
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftReaction:
    """What a detected drift does: raise the random share by ``random_share_boost`` (added
    to the configured share, capped at 1) for the next ``duration_outcomes`` outcomes."""

    random_share_boost: float = 0.2
    duration_outcomes: int = 2_000

    def __post_init__(self) -> None:
        if not 0.0 <= self.random_share_boost <= 1.0:
            raise ValueError(
                f"random_share_boost must be in [0, 1], got {self.random_share_boost!r}"
            )
        if self.duration_outcomes < 0:
            raise ValueError(
                f"duration_outcomes must be >= 0, got {self.duration_outcomes!r}"
            )


# River's drift detectors and rolling AUC are untyped: build them behind Any, in one place.
def _rolling_mean(window: int) -> Any:
    return utils.Rolling(stats.Mean, window_size=window)


def _rolling_auc(window: int) -> Any:
    factory: Any = metrics.RollingROCAUC
    return factory(window_size=window)


def _rise_detector(confidence: float) -> Any:
    factory: Any = drift.binary.HDDMA
    return factory(drift_confidence=confidence, two_sided_test=False)


def _value(statistic: Any) -> float:
    value = statistic.get()
    return math.nan if value is None else float(value)


class QualityMonitor:
    """Rolling quality, label delay and drift of one stream's deployed model.

    Parameters
    ----------
    stream
        The stream monitored (named in drift events).
    window
        Outcomes in the rolling rates and delay quantiles.
    auc_window
        Outcomes in the rolling ROC AUC.
    drift_confidence
        HDDM_A's drift confidence: smaller means fewer false alarms and later alarms.
    reaction
        What a rise of the error does to the recommended random share.

    Examples
    --------
    >>> import random
    >>> from datetime import UTC, datetime, timedelta
    >>> rng = random.Random(3)
    >>> monitor = QualityMonitor("postal", window=500)
    >>> at = datetime(2026, 1, 5, tzinfo=UTC)
    >>> events = []
    >>> for i in range(3000):
    ...     changed = i >= 2000  # smugglers move to what the model scores low
    ...     if rng.random() < 0.9:
    ...         kind, score, propensity = "model", rng.uniform(0.3, 0.9), 1.0
    ...         finding = rng.random() < score * (0.4 if changed else 1.0)
    ...     else:
    ...         kind, score, propensity = "random", rng.uniform(0.0, 0.1), 0.01
    ...         finding = rng.random() < (0.15 if changed else 0.02)
    ...     scored = {"score": score, "selection_kind": kind, "propensity": propensity,
    ...               "decided_at": at}
    ...     outcome = {"outcome_time": at + timedelta(hours=30)}
    ...     event = monitor.update(scored, outcome, finding)
    ...     if event is not None:
    ...         events.append(event)
    >>> [(e.detected_at_outcome_index, e.details["error_after"] > e.details["error_before"])
    ...  for e in events]
    [(2025, True)]
    >>> round(monitor.recommended_random_share(0.1), 2)  # 975 outcomes into the boost
    0.3
    >>> round(monitor.model_precision, 2), round(monitor.random_hit_rate, 2)
    (0.22, 0.07)
    >>> monitor.label_delay_median_seconds
    108000.0
    """

    def __init__(
        self,
        stream: str,
        window: int = 1_000,
        auc_window: int = 1_000,
        drift_confidence: float = 1e-4,
        reaction: DriftReaction | None = None,
    ) -> None:
        for name, value in (("window", window), ("auc_window", auc_window)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if not 0.0 < drift_confidence < 1.0:
            raise ValueError(f"drift_confidence must be in (0, 1), got {drift_confidence!r}")
        self.stream = stream
        self.window = window
        self.auc_window = auc_window
        self.drift_confidence = drift_confidence
        self.reaction = reaction if reaction is not None else DriftReaction()
        self.detector_name = DETECTOR.format(drift_confidence)
        self.outcomes = 0
        self.findings = 0
        self.outcomes_by_kind = dict.fromkeys(KINDS, 0)
        self.findings_by_kind = dict.fromkeys(KINDS, 0)
        self._precision: dict[str, Any] = {kind: _rolling_mean(window) for kind in KINDS}
        self._base_rate = _rolling_mean(window)
        self._base_rate_total: Any = stats.Mean()
        self._auc = _rolling_auc(auc_window)
        self._auc_random = _rolling_auc(auc_window)
        self._delay_mean = stats.Mean()
        self._delay_median = stats.RollingQuantile(0.5, window)
        self._delay_p90 = stats.RollingQuantile(0.9, window)
        self.label_delay_max_seconds = math.nan
        self._error = _rise_detector(drift_confidence)
        # the model picks' miss rate since the last rise, and in the rolling window
        self._error_since: Any = stats.Mean()
        self._error_recent = _rolling_mean(window)
        self.drifts_up = 0
        self.boost_until = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a monitor pickled with the two-sided ADWIN starts a one-sided test afresh
        if "drift_delta" in state:
            confidence = 1e-4
            state.pop("drift_delta")
            state.pop("drifts_down", None)
            state.update(drift_confidence=confidence, detector_name=DETECTOR.format(confidence),
                         _error=_rise_detector(confidence), _error_since=stats.Mean(),
                         _error_recent=_rolling_mean(state["window"]))
        self.__dict__.update(state)

    def update(
        self, scored: Mapping[str, Any], outcome: Mapping[str, Any], finding: bool
    ) -> DriftEvent | None:
        """Account one joined outcome; a :class:`DriftEvent` when the error rose."""
        finding = bool(finding)
        kind = str(scored.get("selection_kind", "none"))
        kind = kind if kind in self.outcomes_by_kind else "none"
        score = float(scored["score"])
        self.outcomes += 1
        self.findings += finding
        self.outcomes_by_kind[kind] += 1
        self.findings_by_kind[kind] += finding
        self._precision[kind].update(float(finding))
        weight = ipw(float(scored["propensity"]), clip=None)
        self._base_rate.update(float(finding), weight)
        self._base_rate_total.update(float(finding), weight)
        self._auc.update(finding, score)
        if kind == "random":
            self._auc_random.update(finding, score)
        self._delay(scored.get("decided_at"), outcome.get("outcome_time"))
        if kind != "model":
            return None
        # The error of a model pick is an inspection that found nothing. When smugglers
        # adapt, the model keeps picking the old profile and this rate rises; the absolute
        # error |finding - score| can fall at the same time, as fewer findings come back.
        return self._drift(1.0 - float(finding))

    def _delay(self, decided_at: Any, outcome_time: Any) -> None:
        if not isinstance(decided_at, datetime) or not isinstance(outcome_time, datetime):
            return
        delay = (outcome_time - decided_at).total_seconds()
        self._delay_mean.update(delay)
        self._delay_median.update(delay)
        self._delay_p90.update(delay)
        if not delay <= self.label_delay_max_seconds:  # also replaces the initial NaN
            self.label_delay_max_seconds = delay

    def _drift(self, error: float) -> DriftEvent | None:
        before = _value(self._error_since)
        self._error.update(error)
        self._error_since.update(error)
        self._error_recent.update(error)
        if not self._error.drift_detected:
            return None
        self.drifts_up += 1
        self.boost_until = self.outcomes + self.reaction.duration_outcomes
        self._error_since = stats.Mean()  # the test starts afresh after a detection
        return DriftEvent(
            stream=self.stream,
            detected_at_outcome_index=self.outcomes,
            detector=self.detector_name,
            details={
                "error_before": before,  # the miss rate since the last rise
                "error_after": _value(self._error_recent),  # over the rolling window
                "window": float(self.window),
            },
        )

    # -- what the dashboards and the policy read ------------------------------------------

    def recommended_random_share(self, configured: float) -> float:
        """The random share to use now: ``configured``, raised while a drift reaction runs."""
        if self.outcomes < self.boost_until:
            return min(1.0, configured + self.reaction.random_share_boost)
        return configured

    @property
    def drift_active(self) -> bool:
        """True while the reaction to the last rise of the error runs."""
        return self.outcomes < self.boost_until

    def _rate(self, kind: str) -> float:
        if not self.outcomes_by_kind[kind]:
            return math.nan
        return _value(self._precision[kind])

    @staticmethod
    def _ranked(auc: Any, outcomes: int, findings: int) -> float:
        # a ROC AUC needs findings and non-findings; River reports 0 without them
        return float(auc.get()) if 0 < findings < outcomes else math.nan

    @property
    def model_precision(self) -> float:
        """Rolling finding rate among model picks (NaN before the first)."""
        return self._rate("model")

    @property
    def random_hit_rate(self) -> float:
        """Rolling finding rate among random picks (NaN before the first)."""
        return self._rate("random")

    @property
    def rule_precision(self) -> float:
        """Rolling finding rate among rule hits (NaN before the first)."""
        return self._rate("rule")

    @property
    def base_rate(self) -> float:
        """Rolling IPW (Hajek) estimate of the finding rate of all traffic."""
        return _value(self._base_rate) if self.outcomes else math.nan

    @property
    def base_rate_total(self) -> float:
        """The same over every outcome so far."""
        return _value(self._base_rate_total) if self.outcomes else math.nan

    @property
    def auc(self) -> float:
        """Rolling ROC AUC of the recorded score over all outcomes (NaN without both
        findings and non-findings)."""
        return self._ranked(self._auc, self.outcomes, self.findings)

    @property
    def auc_random(self) -> float:
        """Rolling ROC AUC of the recorded score over random picks only."""
        return self._ranked(
            self._auc_random, self.outcomes_by_kind["random"], self.findings_by_kind["random"]
        )

    @property
    def label_delay_mean_seconds(self) -> float:
        return _value(self._delay_mean) if self._delay_mean.n else math.nan

    @property
    def label_delay_median_seconds(self) -> float:
        return _value(self._delay_median)

    @property
    def label_delay_p90_seconds(self) -> float:
        return _value(self._delay_p90)

    def summary(self) -> dict[str, float]:
        """Every figure as a float, for metrics and logs (NaN where not yet known)."""
        figures: dict[str, float] = {
            "outcomes": float(self.outcomes),
            "findings": float(self.findings),
            "model_precision": self.model_precision,
            "random_hit_rate": self.random_hit_rate,
            "rule_precision": self.rule_precision,
            "base_rate": self.base_rate,
            "base_rate_total": self.base_rate_total,
            "auc": self.auc,
            "auc_random": self.auc_random,
            "label_delay_mean_seconds": self.label_delay_mean_seconds,
            "label_delay_median_seconds": self.label_delay_median_seconds,
            "label_delay_p90_seconds": self.label_delay_p90_seconds,
            "label_delay_max_seconds": self.label_delay_max_seconds,
            "drifts_up": float(self.drifts_up),
            "drift_active": float(self.drift_active),
        }
        for kind in KINDS:
            figures[f"outcomes_{kind}"] = float(self.outcomes_by_kind[kind])
            figures[f"findings_{kind}"] = float(self.findings_by_kind[kind])
        return figures

    def __repr__(self) -> str:
        return (
            f"QualityMonitor(stream={self.stream!r}, window={self.window}, "
            f"auc_window={self.auc_window}, drift_confidence={self.drift_confidence})"
        )
