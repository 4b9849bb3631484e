"""Champion and challenger: a second model configuration learning in the shadow.

The challenger is a :class:`~scorers.model.RiskModel` with other hyper-parameters (for
example the stacker's ``learning_rate``, see :func:`with_learning_rate`). It observes the
same scored records and learns the same outcomes as the champion, but scores nothing at the
border. Which one is better is judged **on random picks only**: they are the outcomes the
champion did not choose, so neither model is favoured by the selection that produced them.
For each random-pick outcome, before either model learns it, both score the event from its
scored record (:func:`~learning.rescoring.rescore`), and a rolling ROC AUC (or log loss) per
model and stream is updated.

When a stream's :class:`PromotionRule` is met (enough random outcomes and findings, the
challenger ahead by at least ``min_improvement``), the two swap that stream's ensemble: the
challenger's becomes the champion's and is shipped with the next snapshot, the old
champion's stays on as the challenger, fully trained, so the old configuration keeps
competing and can win back if the world changes again. A :class:`Promotion` records it and
the evaluation of that stream starts afresh.

One limit: both models learn from the sub-scores the deployed champion recorded. That is
exact for challengers that differ in the stacker (``learning_rate``, ``prior_rate``), whose
sub-scorers learn from the same data and so stay identical to the champion's; a challenger
with other sub-scorers would learn its stacker from the champion's sub-scores.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from river import metrics, utils

from learning.rescoring import assessment_of, rescore
from scorers.features import STREAMS
from scorers.model import RiskModel

__all__ = ["ChampionChallenger", "Promotion", "PromotionRule", "with_learning_rate"]

METRICS = ("auc", "log_loss")


def with_learning_rate(model: RiskModel, learning_rate: float) -> RiskModel:
    """A copy of ``model``, learnt state included, whose stackers step by ``learning_rate``.

    >>> challenger = with_learning_rate(RiskModel(seed=1), 0.1)
    >>> challenger.ensemble("postal").stacker.learning_rate
    0.1
    """
    if not learning_rate > 0.0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    tuned = copy.deepcopy(model)
    for ensemble in tuned.ensembles.values():
        ensemble.learning_rate = learning_rate
        ensemble.stacker.learning_rate = learning_rate
    return tuned


@dataclass(frozen=True, slots=True)
class PromotionRule:
    """When the challenger replaces the champion in one stream.

    ``metric`` is ``"auc"`` (rolling ROC AUC, higher is better) or ``"log_loss"`` (rolling,
    lower is better); ``min_improvement`` is in the metric's own unit.
    """

    min_random_outcomes: int = 500
    min_findings: int = 20
    min_improvement: float = 0.02
    metric: str = "auc"

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if self.min_random_outcomes < 1 or self.min_findings < 0:
            raise ValueError("min_random_outcomes must be >= 1 and min_findings >= 0")


@dataclass(frozen=True, slots=True)
class Promotion:
    """The challenger of ``stream`` became its champion.

    Qualities are in the rule's metric over the last ``window`` random-pick outcomes;
    ``random_outcomes`` and ``findings`` count what they were judged on since the last
    promotion (or the start).
    """

    stream: str
    metric: str
    champion_quality: float
    challenger_quality: float
    random_outcomes: int
    findings: int


class _Race:
    """The evaluation of one stream: champion and challenger on the same random picks."""

    def __init__(self, window: int) -> None:
        auc: Any = metrics.RollingROCAUC  # untyped in River
        self.auc: list[Any] = [auc(window_size=window) for _ in range(2)]
        self.log_loss: list[Any] = [
            utils.Rolling(metrics.LogLoss, window_size=window) for _ in range(2)
        ]
        self.outcomes = 0
        self.findings = 0

    def update(self, finding: bool, champion: float, challenger: float) -> None:
        for i, p in enumerate((champion, challenger)):
            self.auc[i].update(finding, p)
            self.log_loss[i].update(finding, {True: p, False: 1.0 - p})
        self.outcomes += 1
        self.findings += finding

    def quality(self, metric: str) -> tuple[float, float]:
        if metric == "auc":
            return float(self.auc[0].get()), float(self.auc[1].get())
        return float(self.log_loss[0].get()), float(self.log_loss[1].get())


class ChampionChallenger:
    """A shadow challenger, judged on random picks, promoted per stream.

    Parameters
    ----------
    challenger
        The challenger model (e.g. ``with_learning_rate(champion, 0.1)``).
    rule
        When to promote. Default: ``PromotionRule()``.
    window
        Random-pick outcomes in the rolling metrics.

    The learner drives it for every joined outcome, in this order: :meth:`evaluate` (both
    score before learning), the champion learns, :meth:`learn`, then :meth:`promote`.

    Examples
    --------
    >>> import random
    >>> from scorers.synth import records
    >>> # a champion whose stacker barely moves from a far too high prior
    >>> champion = with_learning_rate(RiskModel(seed=1, prior_rate=0.3), 1e-4)
    >>> arena = ChampionChallenger(
    ...     with_learning_rate(champion, 0.05),
    ...     PromotionRule(min_random_outcomes=100, min_findings=5, min_improvement=0.05,
    ...                   metric="log_loss"))
    >>> rng, promotions = random.Random(2), []
    >>> for record, finding in records("postal", 1500, seed=4):
    ...     made = champion.assess("postal", record)
    ...     kind = "random" if rng.random() < 0.1 else "model"
    ...     scored = {"features": made.features, "entities": made.entities,
    ...               "sub_scores": made.sub_scores, "score": made.score,
    ...               "selection_kind": kind}
    ...     champion.observe("postal", made)
    ...     arena.observe("postal", scored)
    ...     arena.evaluate(champion, "postal", scored, finding)
    ...     champion.learn_outcome("postal", made.features, made.entities,
    ...                            made.sub_scores, finding)
    ...     arena.learn("postal", scored, finding)
    ...     promotion = arena.promote(champion, "postal")
    ...     if promotion is not None:
    ...         promotions.append(promotion)
    >>> [(p.random_outcomes, round(p.champion_quality, 3), round(p.challenger_quality, 3))
    ...  for p in promotions]
    [(100, 0.521, 0.334)]
    >>> champion.ensemble("postal").stacker.learning_rate
    0.05
    """

    def __init__(
        self,
        challenger: RiskModel,
        rule: PromotionRule | None = None,
        window: int = 1_000,
    ) -> None:
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ValueError(f"window must be a whole number >= 1, got {window!r}")
        self.challenger = challenger
        self.rule = rule if rule is not None else PromotionRule()
        self.window = window
        self._races = {stream: _Race(window) for stream in STREAMS}
        self.promotions = 0

    def observe(self, stream: str, scored: Mapping[str, Any]) -> None:
        """Learn the challenger's unsupervised parts from a scored record."""
        self.challenger.observe(stream, assessment_of(scored))

    def evaluate(
        self, champion: RiskModel, stream: str, scored: Mapping[str, Any], finding: bool
    ) -> None:
        """Score a random-pick outcome with both models before they learn it."""
        if scored.get("selection_kind") != "random":
            return
        features, entities = scored.get("features") or {}, scored.get("entities") or {}
        sub = scored.get("sub_scores") or {}
        self._races[stream].update(
            bool(finding),
            rescore(champion, stream, features, entities, sub),
            rescore(self.challenger, stream, features, entities, sub),
        )

    def learn(
        self,
        stream: str,
        scored: Mapping[str, Any],
        finding: bool,
        weight: float = 1.0,
        day: int | None = None,
        recovered: float | None = None,
    ) -> None:
        """The challenger learns the outcome, as the champion did."""
        self.challenger.learn_outcome(
            stream,
            dict(scored.get("features") or {}),
            scored.get("entities") or {},
            scored.get("sub_scores") or {},
            bool(finding),
            weight,
            day,
            recovered,
        )

    def standing(self, stream: str) -> dict[str, float]:
        """Champion and challenger quality in ``stream`` so far, with the counts."""
        race = self._races[stream]
        champion, challenger = race.quality(self.rule.metric)
        return {
            "champion": champion,
            "challenger": challenger,
            "random_outcomes": float(race.outcomes),
            "findings": float(race.findings),
        }

    def promote(self, champion: RiskModel, stream: str) -> Promotion | None:
        """Swap the stream's ensembles if the rule is met; the :class:`Promotion` if so."""
        race = self._races[stream]
        rule = self.rule
        if race.outcomes < rule.min_random_outcomes or race.findings < rule.min_findings:
            return None
        old, new = race.quality(rule.metric)
        gain = new - old if rule.metric == "auc" else old - new
        if not (math.isfinite(gain) and gain >= rule.min_improvement):
            return None
        ensembles, shadow = champion.ensembles, self.challenger.ensembles
        ensembles[stream], shadow[stream] = shadow[stream], ensembles[stream]
        ensembles[stream].rulebook = champion.rulebook
        shadow[stream].rulebook = self.challenger.rulebook
        self._races[stream] = _Race(self.window)
        self.promotions += 1
        return Promotion(
            stream=stream,
            metric=rule.metric,
            champion_quality=old,
            challenger_quality=new,
            random_outcomes=race.outcomes,
            findings=race.findings,
        )

    def __repr__(self) -> str:
        return f"ChampionChallenger(rule={self.rule!r}, window={self.window})"
