"""Champion and challenger: judged on random picks only, promoted per stream by the rule."""

from __future__ import annotations

import random
from typing import Any

import pytest

from learning.challenger import ChampionChallenger, PromotionRule, with_learning_rate
from scorers.model import RiskModel
from scorers.rules import RuleBook
from scorers.synth import records


def play(champion: RiskModel, arena: ChampionChallenger, stream: str, n: int,
         random_share: float = 0.1, seed: int = 2) -> list[Any]:
    rng, promotions = random.Random(seed), []
    for record, finding in records(stream, n, seed=4):
        made = champion.assess(stream, record)
        kind = "random" if rng.random() < random_share else "model"
        scored = {"features": made.features, "entities": made.entities,
                  "sub_scores": made.sub_scores, "score": made.score, "selection_kind": kind}
        champion.observe(stream, made)
        arena.observe(stream, scored)
        arena.evaluate(champion, stream, scored, finding)
        champion.learn_outcome(stream, made.features, made.entities, made.sub_scores, finding)
        arena.learn(stream, scored, finding)
        promotion = arena.promote(champion, stream)
        if promotion is not None:
            promotions.append(promotion)
    return promotions


def test_a_better_challenger_is_promoted_once_the_rule_is_met() -> None:
    champion = with_learning_rate(RiskModel(seed=1, prior_rate=0.3,
                                            rulebook=RuleBook.from_yaml()), 1e-4)
    shadow = with_learning_rate(champion, 0.05)
    before = (champion.ensembles["postal"], shadow.ensembles["postal"])
    courier = champion.ensembles["courier"]
    rule = PromotionRule(min_random_outcomes=100, min_findings=5, min_improvement=0.05,
                         metric="log_loss")
    arena = ChampionChallenger(shadow, rule)
    [promotion] = play(champion, arena, "postal", 1_500)
    assert promotion.stream == "postal" and promotion.metric == "log_loss"
    assert promotion.random_outcomes == 100 and promotion.findings >= 5
    assert promotion.champion_quality - promotion.challenger_quality >= 0.05
    # the ensembles swapped: the old champion's stays on, trained, as the challenger
    assert (champion.ensembles["postal"], shadow.ensembles["postal"]) == before[::-1]
    assert champion.ensembles["postal"].rulebook is champion.rulebook
    assert champion.ensembles["courier"] is courier  # other streams untouched
    assert arena.standing("postal")["random_outcomes"] < 100  # a fresh race since
    assert arena.promotions == 1


def test_only_random_picks_count_and_the_thresholds_hold() -> None:
    champion = with_learning_rate(RiskModel(seed=1, prior_rate=0.3), 1e-4)
    arena = ChampionChallenger(with_learning_rate(champion, 0.05),
                               PromotionRule(min_random_outcomes=10_000, min_findings=1,
                                             min_improvement=0.0, metric="log_loss"))
    assert play(champion, arena, "courier", 800, random_share=0.0) == []
    assert arena.standing("courier")["random_outcomes"] == 0
    assert play(champion, arena, "courier", 800, random_share=0.2) == []  # too few yet
    assert 0 < arena.standing("courier")["random_outcomes"] < 10_000


def test_an_equal_challenger_is_never_promoted() -> None:
    champion = RiskModel(seed=1)
    same_rate = champion.ensemble("passenger").stacker.learning_rate
    arena = ChampionChallenger(with_learning_rate(champion, same_rate),
                               PromotionRule(min_random_outcomes=50, min_findings=3,
                                             min_improvement=1e-9))
    assert play(champion, arena, "passenger", 2_000, random_share=0.3) == []
    standing = arena.standing("passenger")
    assert standing["champion"] == standing["challenger"]


def test_with_learning_rate_copies_and_leaves_the_champion_alone() -> None:
    champion = RiskModel(seed=1)
    tuned = with_learning_rate(champion, 0.2)
    assert champion.ensemble("courier").stacker.learning_rate == 0.01  # the default
    assert tuned.ensemble("courier").learning_rate == 0.2
    assert tuned.ensembles["courier"] is not champion.ensembles["courier"]
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        with_learning_rate(champion, 0.0)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"metric": "accuracy"}, "metric must be one of auc, log_loss"),
    ({"min_random_outcomes": 0}, "min_random_outcomes must be >= 1"),
])
def test_invalid_rules_are_refused(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        PromotionRule(**kwargs)
