"""The learner's view of a scored event: what the scored record kept, as the model needs it.

The learner never sees the raw event, only its ``ScoredRecord``: features, entity keys and
sub-scores as the scorer computed them. That is all the model's learning reads:

* ``RiskModel.observe`` (unsupervised parts) reads an assessment's ``features`` (scaling
  statistics, reference prices, the tariff text model from the ``description`` feature,
  the anomaly trees) and its ``sub_scores`` (the running neutral point of the supervised
  and profile sub-scores). :func:`assessment_of` rebuilds that assessment from the record.
  The scorer's own ``observe(assessment)`` and the learner's ``observe(assessment_of(
  scored))`` learn exactly the same: the Avro round trip turns whole numbers into floats,
  and every scorer treats ``3`` and ``3.0`` alike (``tests/test_learning_rescoring.py``).
* ``RiskModel.learn_outcome`` takes features, entities and sub-scores directly.

:func:`rescore` is the other direction: the score the model gives an event *now*, from the
same record, for prequential evaluation (champion against challenger) and probes. Rules need
the raw event, so the rule sub-scores the scorer recorded (which rules fired, how severe) are
reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scorers.ensemble import Assessment
from scorers.model import RiskModel
from scorers.rule_outcomes import rule_hits

__all__ = ["assessment_of", "rescore"]


def assessment_of(scored: Mapping[str, Any]) -> Assessment:
    """The assessment a scored record was made from, as far as learning needs it.

    >>> from scorers.synth import records
    >>> model = RiskModel(seed=1)
    >>> record, _ = next(records("postal", 1, seed=2))
    >>> made = model.assess("postal", record)
    >>> scored = {"features": made.features, "entities": made.entities,
    ...           "sub_scores": made.sub_scores, "score": made.score}
    >>> rebuilt = assessment_of(scored)
    >>> (rebuilt.features, rebuilt.sub_scores) == (made.features, made.sub_scores)
    True
    """
    return Assessment(
        score=float(scored.get("score", 0.0)),
        reasons=[],
        sub_scores=dict(scored.get("sub_scores") or {}),
        features=dict(scored.get("features") or {}),
        entities=dict(scored.get("entities") or {}),
    )


def rescore(
    model: RiskModel,
    stream: str,
    features: Mapping[str, Any],
    entities: Mapping[str, str],
    recorded_sub_scores: Mapping[str, float] | None = None,
) -> float:
    """The score ``model`` gives the event now; the recorded rule sub-score is reused.

    >>> from scorers.synth import records
    >>> model = RiskModel(seed=1)
    >>> record, _ = next(records("courier", 1, seed=2))
    >>> made = model.assess("courier", record)
    >>> rescore(model, "courier", made.features, made.entities, made.sub_scores) == made.score
    True
    """
    ensemble = model.ensemble(stream)
    sub = ensemble.sub_scores_one(dict(features), entities)
    if recorded_sub_scores is not None and "rules" in recorded_sub_scores:
        sub["rules"] = float(recorded_sub_scores["rules"])
        sub.update(rule_hits(recorded_sub_scores))
    return float(ensemble.stacker.predict_proba_one(ensemble.evidence(sub, features))[True])
