"""The learner core: counts, idempotence, snapshots, and an exact restart."""

from __future__ import annotations

import logging
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from learning.challenger import PromotionRule, with_learning_rate
from learning.labels import DEFAULT_LABELS, LabelMap
from learning.learner import Learner, LearnerConfig
from learning.rescoring import rescore
from learning.snapshot import SnapshotError, seal, unseal
from learning.testing import Arrival, learner_feed
from scorers.model import RiskModel

KEY = b"learner-test-key-learner-test-key"
Feed = list[tuple[str, int, dict[str, Any]]]


def with_offsets(arrivals: list[Arrival]) -> Feed:
    """Number each topic's records as Kafka would: duplicates are messages of their own."""
    next_offset = {"scored": 0, "outcomes": 0}
    numbered = []
    for topic, record in arrivals:
        numbered.append((topic, next_offset[topic], record))
        next_offset[topic] += 1
    return numbered


def feed_into(learner: Learner, feed: Feed) -> list[Any]:
    events: list[Any] = []
    for topic, offset, record in feed:
        handle = learner.on_scored if topic == "scored" else learner.on_outcome
        events += handle(record, offset)
    return events


CONFIG = LearnerConfig(
    learner_id="lrn-test",
    weight_clip=20.0,  # the weighted path too, and a feed in which the challenger wins
    scored_ttl_seconds=8 * 3600.0,
    expire_every=150,
    monitor_window=200,
    auc_window=200,
    promotion=PromotionRule(min_random_outcomes=10, min_findings=2, min_improvement=0.01),
    challenger_window=100,
)


@pytest.fixture(scope="module")
def feed() -> Feed:
    return with_offsets(learner_feed(450, seed=21, rate=0.15, random_share=0.3,
                                     early_outcomes=0.2, duplicates=0.05))


@pytest.fixture(scope="module")
def probes() -> list[dict[str, Any]]:
    return [r for topic, r in learner_feed(40, seed=99, avro=False) if topic == "scored"]


def fresh() -> Learner:
    champion = RiskModel(seed=5)
    return Learner(champion, CONFIG, challenger=with_learning_rate(champion, 0.08))


def same_state(x: Any, y: Any, path: str = "learner") -> list[str]:
    """Where two object graphs differ, value by value (numpy arrays compared whole)."""
    if type(x) is not type(y):
        return [f"{path}: {type(x).__name__} != {type(y).__name__}"]
    if isinstance(x, np.ndarray):
        return [] if np.array_equal(x, y) else [path]
    if isinstance(x, dict):
        if list(x) != list(y):
            return [f"{path}: keys"]
        return [d for k in x for d in same_state(x[k], y[k], f"{path}.{k}")]
    if isinstance(x, list | tuple):
        if len(x) != len(y):
            return [f"{path}: length"]
        return [d for i, (u, v) in enumerate(zip(x, y, strict=True))
                for d in same_state(u, v, f"{path}[{i}]")]
    if hasattr(x, "__dict__"):
        return same_state(vars(x), vars(y), path)
    if hasattr(type(x), "__slots__") and not isinstance(x, str | bytes | int | float):
        names = [n for cls in type(x).__mro__ for n in getattr(cls, "__slots__", ())]
        return [d for n in names
                for d in same_state(getattr(x, n), getattr(y, n), f"{path}.{n}")]
    if isinstance(x, float) and x != x and y != y:
        return []
    if isinstance(x, str | bytes | bytearray | int | float | complex | frozenset | set | None):
        return [] if x == y else [path]
    # objects without equality of their own (River's Rust-backed statistics) compare
    # by their pickled state
    return [] if pickle.dumps(x) == pickle.dumps(y) else [path]


def fingerprint(learner: Learner, probes: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything observable: counts, offsets, version, waiting ids, monitors, predictions."""
    predictions = [
        (rescore(model, p["stream"], p["features"], p["entities"], p["sub_scores"]))
        for model in (learner.model, learner.challenger) if model is not None
        for p in probes
    ]
    return {
        "counters": learner.counters,
        "offsets": dict(learner.offsets),
        "version": learner.version,
        "pending": learner.joiner.scored.ids(),
        "waiting": learner.joiner.outcomes.ids(),
        "monitors": {s: m.summary() for s, m in learner.monitors.items()},
        "model": learner.model.counters,
        "predictions": predictions,
    }


@pytest.fixture(scope="module")
def straight(feed: Feed, probes: list[dict[str, Any]]) -> dict[str, Any]:
    learner = fresh()
    feed_into(learner, feed)
    return fingerprint(learner, probes)


def test_the_feed_exercises_every_path(straight: dict[str, Any]) -> None:
    counts = straight["counters"]
    assert counts["outcomes_applied"] > 150 and counts["scored_duplicate"] > 30
    assert counts["outcomes_duplicate"] > 3 and counts["expired_scored"] > 200
    assert counts["promotions"] >= 1
    waiting = counts["outcomes_waiting"] + counts["expired_outcomes"] + counts["evicted_outcomes"]
    assert counts["outcomes_seen"] == (counts["outcomes_applied"] + counts["outcomes_duplicate"]
                                       + counts["outcomes_unlabelled"]
                                       + counts["outcomes_rejected"] + waiting)
    assert counts["scored_seen"] == counts["scored_observed"] + counts["scored_duplicate"]
    assert counts["outcomes_courier"] + counts["outcomes_postal"] + counts[
        "outcomes_passenger"] == counts["outcomes_applied"]


@pytest.mark.parametrize("cut", [1, 700, 1234])
def test_restart_from_a_state_snapshot_ends_in_the_same_state(
    feed: Feed, probes: list[dict[str, Any]], straight: dict[str, Any], cut: int
) -> None:
    first = fresh()
    feed_into(first, feed[:cut])
    blob = first.state_snapshot(KEY, created_at=datetime(2026, 1, 5, tzinfo=UTC))
    del first
    restored, meta = Learner.restore(blob, KEY)
    assert meta["offsets"] == restored.offsets and meta["kind"] == "learner-state"
    feed_into(restored, feed[cut:])
    assert fingerprint(restored, probes) == straight
    if cut == 700:  # and value for value, beyond what can be observed
        uninterrupted = fresh()
        feed_into(uninterrupted, feed)
        fingerprint(uninterrupted, probes)  # River's rolling AUC buffers until read
        assert same_state(uninterrupted.state(), restored.state()) == []


def test_redelivery_from_older_offsets_after_a_restart_is_skipped(
    feed: Feed, probes: list[dict[str, Any]], straight: dict[str, Any]
) -> None:
    first = fresh()
    feed_into(first, feed[:900])
    restored, _ = Learner.restore(first.state_snapshot(KEY), KEY)
    feed_into(restored, feed[600:])  # the consumer resumed from an older commit
    replayed = restored.counters["scored_replayed"] + restored.counters["outcomes_replayed"]
    assert replayed == 300
    result = fingerprint(restored, probes)
    for name in ("scored_replayed", "outcomes_replayed"):
        result["counters"].pop(name)
        straight["counters"].pop(name, None)
    assert result == straight


def test_model_snapshot_carries_the_version_the_scorers_will_report(
    feed: Feed, probes: list[dict[str, Any]]
) -> None:
    learner = fresh()
    feed_into(learner, feed[:500])
    blob = learner.model_snapshot(KEY, now_monotonic=10.0)
    meta, model = unseal(blob, KEY)
    assert isinstance(model, RiskModel)
    assert model.version == learner.model.version == learner.version == meta["model_version"]
    assert learner.version.startswith("lrn-test-o")
    assert [rescore(model, p["stream"], p["features"], p["entities"], p["sub_scores"])
            for p in probes] == [rescore(learner.model, p["stream"], p["features"],
                                         p["entities"], p["sub_scores"]) for p in probes]
    with pytest.raises(SnapshotError, match="kind 'risk-model' is not a learner state"):
        Learner.restore(blob, KEY)
    with pytest.raises(SnapshotError, match="kind None"):
        Learner.restore(seal(learner.state(), KEY), KEY)


def test_snapshot_is_due_by_outcomes_or_by_time(feed: Feed) -> None:
    learner = Learner(RiskModel(seed=1), LearnerConfig(snapshot_every_outcomes=25,
                                                       snapshot_every_seconds=30.0))
    assert not learner.snapshot_due(100.0)  # starts the clock, nothing new
    scored = [item for item in feed if item[0] == "scored"][:5]
    feed_into(learner, scored)
    assert not learner.snapshot_due(129.0) and learner.snapshot_due(130.0)
    learner.model_snapshot(KEY, now_monotonic=130.0)
    assert not learner.snapshot_due(500.0)  # nothing new since
    feed_into(learner, feed[5:])
    assert learner.counters["outcomes_applied"] >= 25 and learner.snapshot_due(131.0)


def test_bad_records_are_counted_and_logged_without_their_content(
    caplog: pytest.LogCaptureFixture, feed: Feed
) -> None:
    learner = Learner(RiskModel(seed=1))
    good = next(record for topic, _, record in feed if topic == "scored")
    token = next(iter(good["entities"].values()))
    bad = [
        {**good, "stream": "ferry"},
        {**good, "propensity": 0.0},
        {**good, "decided_at": datetime(2026, 1, 5)},  # noqa: DTZ001
        {key: value for key, value in good.items() if key != "event_id"},
    ]
    with caplog.at_level(logging.WARNING, logger="learning.learner"):
        for offset, record in enumerate(bad):
            assert learner.on_scored(record, offset) == []
        learner.on_outcome({"event_id": "x", "stream": "postal", "result": "theft",
                            "outcome_time": good["decided_at"]}, 0)
    assert learner.counters["scored_rejected"] == 4
    assert learner.counters["outcomes_rejected"] == 1
    text = caplog.text
    assert "field propensity 0.0 outside (0, 1]" in text and "stream 'ferry'" in text
    assert "unknown inspection result 'theft'" in text and token not in text
    assert learner.counters["scored_observed"] == 0


def test_a_mismatched_stream_or_an_unlearnt_result_is_not_learnt(feed: Feed) -> None:
    labels = LabelMap({**DEFAULT_LABELS, "no_finding": None})
    learner = Learner(RiskModel(seed=1), LearnerConfig(labels=labels))
    scored = next(record for topic, _, record in feed
                  if topic == "scored" and record["stream"] == "postal")
    learner.on_scored(scored, 0)
    outcome = {"event_id": scored["event_id"], "stream": "courier", "result": "seizure",
               "outcome_time": scored["decided_at"] + timedelta(hours=2)}
    learner.on_outcome(outcome, 0)
    assert learner.counters["outcomes_rejected"] == 1
    assert learner.counters["outcomes_applied"] == 0
    other = next(record for topic, _, record in feed
                 if topic == "scored" and record["event_id"] != scored["event_id"])
    learner.on_scored(other, 1)
    learner.on_outcome({**outcome, "event_id": other["event_id"], "stream": other["stream"],
                        "result": "no_finding"}, 1)
    assert learner.counters["outcomes_unlabelled"] == 1
    assert learner.model.counters[other["stream"]]["outcomes"] == 0


def test_keeping_only_selected_records_waiting(feed: Feed) -> None:
    lean = Learner(RiskModel(seed=1), LearnerConfig(keep_unselected=False))
    full = Learner(RiskModel(seed=1))
    for learner in (lean, full):
        feed_into(learner, feed)
    assert lean.pending < full.pending / 5
    assert lean.counters["outcomes_applied"] == full.counters["outcomes_applied"]
    assert lean.counters["scored_observed"] == full.counters["scored_observed"]


def test_the_learner_pickles_whole(feed: Feed, probes: list[dict[str, Any]]) -> None:
    learner = fresh()
    feed_into(learner, feed[:300])
    copy = Learner.from_state(pickle.loads(pickle.dumps(learner.state())))
    feed_into(learner, feed[300:600])
    feed_into(copy, feed[300:600])
    assert fingerprint(copy, probes) == fingerprint(learner, probes)


def test_the_learner_teaches_the_recovery_model_what_findings_recovered() -> None:
    arrivals = learner_feed(3000, seed=5, streams=("courier",), rate=0.2)
    learner = Learner(RiskModel(seed=1), CONFIG)
    feed_into(learner, with_offsets(arrivals))
    recovered = [amount for topic, r in arrivals if topic == "outcomes"
                 and (amount := float(r["recovered_amount"])) > 0]
    recovery = learner.model.ensemble("courier").recovery
    assert recovery.amounts == len(recovered) > 30
    assert recovery.mean_amount == pytest.approx(np.mean(recovered), rel=1e-9)
    # a consignment now gets an expected recovery in EUR, on the amounts' scale
    scored = next(r for topic, r in arrivals if topic == "scored")
    expected = recovery.predict_one(scored["features"])
    assert expected is not None and min(recovered) / 2 < expected < 2 * max(recovered)
