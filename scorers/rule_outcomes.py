"""What the rules' hits turned out to be: each rule's severity, calibrated by its outcomes.

An analyst gives each rule a severity, the risk it adds when it fires. That is a prior, not a
finding rate: a rule book written for other traffic can fire on hundreds of licit
declarations, and a rule that held the top of the ranking on severity alone would keep
displacing better picks however often its hits come back clean.

``RuleOutcomes`` keeps, per rule, the inspections of its hits, their findings and the
findings the rest of the model expected of them, and turns a hit into evidence: the log-odds
lift of the rule's finding rate over what the rest of the model expected of the same hits.
So a rule is worth what it adds to the models, not what it shares with them: a rule that
only repeats the valuation check (electronics at a low price per kg) adds little once the
valuation check speaks. The rate is shrunk towards the severity's prior (``severity_lift``
log-odds per unit of severity above the expectation) by ``prior_strength``
pseudo-inspections (as many as a profile's prior): a new rule is trusted as written, and
after some dozens of inspected hits its record speaks. Rules still always inspect where the
analyst said so: that is the selection policy's business, not the score's.

Its input is the rule sub-scores of an assessment, ``{"rule.<id>": severity}`` for every rule
that fired (what :func:`rule_hits` picks from a sub-score map), and, when learning, the
probability the rest of the model gave the event (``EXPECTED``; without it, the stream's
finding rate). Rule ids come from the rule book, never from the traffic, so the table is
bounded by the book.

Examples
--------
>>> outcomes = RuleOutcomes()
>>> hit = {"rule.heavy_and_worthless": 0.4}
>>> round(outcomes.lift_one(hit), 2)  # as written: 4 x 0.4 log-odds
1.6
>>> for i in range(200):  # other inspections find 10%, this rule's hits find nothing
...     outcomes.learn_one({}, i % 10 == 0)
...     outcomes.learn_one(hit, False)
>>> round(outcomes.lift_one(hit), 2), outcomes.record("heavy_and_worthless")
(-2.42, (200, 0))
>>> round(outcomes.score_one(hit), 3), round(outcomes.score_one({}), 3)
(0.005, 0.052)

A rule whose hits find 30% where the models already expected 30% adds nothing:

>>> echo = RuleOutcomes()
>>> for i in range(300):
...     echo.learn_one({"rule.echo": 0.5, EXPECTED: 0.3}, i % 10 < 3)
>>> round(echo.lift_one({"rule.echo": 0.5}), 2)  # 2.0 before any outcome
0.04
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["EXPECTED", "RULE", "RuleOutcomes", "rule_hits"]

#: sub-score prefix of one fired rule: ``rule.<id>`` -> the rule's severity
RULE = "rule."
#: input key of the probability the rest of the model gave the event (learning only)
EXPECTED = "expected"
_CLIP = 1e-6


def rule_hits(sub_scores: Mapping[str, Any]) -> dict[str, float]:
    """The fired rules' severities in a sub-score map (``rule.<id>`` entries).

    >>> rule_hits({"rules": 0.6, "rule.excise_gift": 0.6, "profile": 0.2})
    {'rule.excise_gift': 0.6}
    """
    return {k: float(v) for k, v in sub_scores.items() if k.startswith(RULE)}


def _logit(p: float) -> float:
    p = _CLIP if p < _CLIP else 1.0 - _CLIP if p > 1.0 - _CLIP else p
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))


class RuleOutcomes:
    """Per-rule inspections and findings, and the calibrated evidence of a hit.

    Parameters
    ----------
    prior_strength
        Pseudo-inspections of the severity's prior: how many inspected hits it takes before
        a rule's own record outweighs what the analyst wrote.
    severity_lift
        Log-odds over the stream's finding rate that a severity of 1 stands for, before any
        outcome.
    max_rules
        Rules kept; the least recently inspected goes first (a rule book is far smaller).
    """

    def __init__(
        self, prior_strength: float = 5.0, severity_lift: float = 4.0, max_rules: int = 1000
    ) -> None:
        self.prior_strength = prior_strength
        self.severity_lift = severity_lift
        self.max_rules = max_rules
        # rule id -> [inspections of its hits, findings, findings the rest of the model
        # expected of them]; dict order is recency
        self.counts: dict[str, list[float]] = {}
        self.inspections = 0
        self.findings = 0

    def base_rate(self) -> float:
        """The stream's finding rate over every outcome, with a uniform prior."""
        return (self.findings + 1.0) / (self.inspections + 2.0)

    def learn_one(self, x: Mapping[str, Any], y: Any = None, w: float = 1.0) -> None:
        """Count one inspection outcome for the stream and for every rule that fired in ``x``.

        ``w`` is accepted for the contract and ignored: a rule's record is its actual
        inspections, as a profile's is.
        """
        if y is None:
            return
        hit = 1 if y else 0
        expected = x.get(EXPECTED)
        if not isinstance(expected, int | float) or not 0.0 <= expected <= 1.0:
            expected = self.base_rate()
        self.inspections += 1
        self.findings += hit
        for name in x:
            if not name.startswith(RULE):
                continue
            rule = name[len(RULE):]
            count = self.counts.pop(rule, None)
            if count is None:
                count = [0, 0, 0.0]
                if len(self.counts) >= self.max_rules:
                    del self.counts[next(iter(self.counts))]
            self.counts[rule] = count
            count[0] += 1
            count[1] += hit
            count[2] += expected

    def record(self, rule: str) -> tuple[int, int]:
        """(inspected hits, findings) of ``rule``."""
        count = self.counts.get(rule)
        return (0, 0) if count is None else (int(count[0]), int(count[1]))

    def lift(self, rule: str, severity: float) -> float:
        """Log-odds lift of ``rule``'s hits over what the rest of the model expected of them:
        its record, shrunk towards its severity."""
        count = self.counts.get(rule)
        n, k, expected = (0.0, 0.0, 0.0) if count is None else count
        mean = _logit(expected / n if n else self.base_rate())
        prior = _sigmoid(mean + self.severity_lift * max(0.0, min(1.0, severity)))
        return _logit((k + self.prior_strength * prior) / (n + self.prior_strength)) - mean

    def lift_one(self, x: Mapping[str, Any]) -> float:
        """Log-odds lift of the strongest fired rule (0: none fired)."""
        lifts = [
            self.lift(name[len(RULE):], float(severity))
            for name, severity in x.items()
            if name.startswith(RULE) and isinstance(severity, int | float)
        ]
        return max(lifts) if lifts else 0.0

    def score_one(self, x: Mapping[str, Any]) -> float:
        """The calibrated finding rate of the strongest fired rule (the stream's: none)."""
        return _sigmoid(_logit(self.base_rate()) + self.lift_one(x))
