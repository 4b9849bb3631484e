"""The learner learns from a decoded ScoredRecord exactly what the scorer would have learnt."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from learning.rescoring import assessment_of, rescore
from learning.testing import scored_record
from schemas import AvroCodec
from scorers.model import RiskModel
from scorers.rules import RuleBook
from scorers.selection import SelectionPolicy
from scorers.synth import records

FAR = datetime(2100, 1, 1, tzinfo=UTC)
DECIDED = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize("stream", ["courier", "postal", "passenger"])
def test_observe_from_a_decoded_scored_record_learns_what_the_scorer_learns(stream: str) -> None:
    """Scorer path: observe(assessment). Learner path: the assessment rebuilt from the Avro
    ScoredRecord (whole numbers now floats). Both learn from a stale scoring snapshot."""
    codec, policy = AvroCodec(), SelectionPolicy(seed=1)
    snapshot = RiskModel(seed=7)
    scorer_side, learner_side = RiskModel(seed=7), RiskModel(seed=7)
    probes = []
    for i, (record, finding) in enumerate(records(stream, 1_500, seed=5)):
        if i % 400 == 0:
            snapshot = pickle.loads(pickle.dumps(scorer_side))  # a hot-swap
        made = snapshot.assess(stream, record)
        scored = scored_record(snapshot, policy, stream, record, DECIDED)
        decoded = codec.decode("ScoredRecord", codec.encode("ScoredRecord", scored), now=FAR)
        scorer_side.observe(stream, made)
        learner_side.observe(stream, assessment_of(decoded))
        if i % 7 == 0:
            scorer_side.learn_outcome(stream, made.features, made.entities, made.sub_scores,
                                      finding, 4.0)
            learner_side.learn_outcome(stream, decoded["features"], decoded["entities"],
                                       decoded["sub_scores"], finding, 4.0)
        if i >= 1_400:
            probes.append(record)
    assert scorer_side.counters == learner_side.counters
    for record in probes:
        assert scorer_side.assess(stream, record) == learner_side.assess(stream, record)


def test_rescore_is_assess_without_the_raw_record() -> None:
    rules = RuleBook.from_yaml()
    model = RiskModel(seed=3, rulebook=rules)
    checked_hits = 0
    for stream in ("courier", "postal", "passenger"):
        for i, (record, finding) in enumerate(records(stream, 600, seed=2)):
            made = model.assess(stream, record)
            hit = made.sub_scores.get("rules", 0.0) > 0.0
            if i % 50 == 0 or hit:
                checked_hits += hit
                assert rescore(model, stream, made.features, made.entities,
                               made.sub_scores) == made.score
            model.observe(stream, made)
            if i % 3 == 0:
                model.learn_outcome(stream, made.features, made.entities, made.sub_scores,
                                    finding)
    assert checked_hits > 100  # the rule sub-score the scorer recorded is reused
