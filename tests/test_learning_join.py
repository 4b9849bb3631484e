"""OutcomeJoiner: outcomes meet their scored records in either order, each pair once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from learning.join import OutcomeJoiner
from learning.testing import learner_feed

AT = datetime(2026, 1, 5, 9, tzinfo=UTC)


def scored(event_id: str, minutes: float = 0.0, score: float = 0.5) -> dict[str, Any]:
    return {"event_id": event_id, "stream": "postal", "score": score,
            "decided_at": AT + timedelta(minutes=minutes)}


def outcome(event_id: str, hours: float = 5.0, result: str = "seizure") -> dict[str, Any]:
    return {"event_id": event_id, "stream": "postal", "result": result,
            "recovered_amount": Decimal("10.00"), "outcome_time": AT + timedelta(hours=hours)}


def test_scored_first_then_outcome() -> None:
    joiner = OutcomeJoiner()
    assert joiner.on_scored(scored("a")) == []
    [(s, o)] = joiner.on_outcome(outcome("a"))
    assert s == scored("a") and o == outcome("a")
    assert (joiner.pending, joiner.waiting_outcomes, joiner.joined) == (0, 0, 1)


def test_outcome_first_waits_then_joins() -> None:
    joiner = OutcomeJoiner()
    assert joiner.on_outcome(outcome("a")) == []
    assert joiner.waiting_outcomes == 1
    [(s, o)] = joiner.on_scored(scored("a"))
    assert s["score"] == 0.5 and o["result"] == "seizure"
    assert (joiner.pending, joiner.waiting_outcomes) == (0, 0)


def test_duplicates_on_both_topics_join_once() -> None:
    joiner = OutcomeJoiner()
    joiner.on_scored(scored("a", score=0.1))
    assert joiner.on_scored(scored("a", score=0.9)) == []  # redelivered while pending
    pairs = joiner.on_outcome(outcome("a"))
    assert [s["score"] for s, _ in pairs] == [0.1]  # the first decision wins
    assert joiner.on_outcome(outcome("a")) == []  # after the join
    assert joiner.on_scored(scored("a")) == []  # a late redelivery is not kept again
    assert joiner.pending == 0
    joiner.on_outcome(outcome("b"))
    assert joiner.on_outcome(outcome("b", result="no_finding")) == []  # both waiting
    [(_, o)] = joiner.on_scored(scored("b"))
    assert o["result"] == "seizure"
    assert (joiner.duplicate_scored, joiner.duplicate_outcomes, joiner.joined) == (2, 2, 2)


def test_expiry_on_both_sides_is_counted() -> None:
    joiner = OutcomeJoiner(scored_ttl_seconds=3600.0, outcome_ttl_seconds=7200.0)
    joiner.on_scored(scored("old", minutes=0))
    joiner.on_scored(scored("young", minutes=50))
    joiner.on_outcome(outcome("orphan", hours=0.5))
    assert joiner.expire(AT + timedelta(hours=1, minutes=30)) == (1, 0)
    assert joiner.expire(AT + timedelta(hours=3)) == (1, 1)
    assert (joiner.expired_scored, joiner.expired_outcomes) == (2, 1)
    assert joiner.on_outcome(outcome("old")) == []  # too late: waits, and will expire
    assert joiner.waiting_outcomes == 1


def test_duplicates_are_recognised_for_at_least_the_applied_window() -> None:
    joiner = OutcomeJoiner(applied_window=100)
    for i in range(250):
        joiner.on_scored(scored(f"e{i}"))
        joiner.on_outcome(outcome(f"e{i}"))
    recent = [f"e{i}" for i in range(150, 250)]
    assert all(joiner.on_outcome(outcome(event_id)) == [] for event_id in recent)
    assert joiner.duplicate_outcomes == 100
    assert joiner.memory_bytes() < 2 * 1024 * 1024 + joiner.scored.memory_bytes()


def test_a_redelivering_feed_joins_every_outcome_exactly_once_in_a_fixed_order() -> None:
    feed = learner_feed(400, seed=4, early_outcomes=0.3, duplicates=0.1)
    runs = []
    for _ in range(2):
        joiner = OutcomeJoiner()
        joined: list[str] = []
        for topic, record in feed:
            pairs = joiner.on_scored(record) if topic == "scored" else joiner.on_outcome(record)
            joined += [s["event_id"] for s, _ in pairs]
        runs.append(joined)
    outcome_ids = {r["event_id"] for topic, r in feed if topic == "outcomes"}
    assert runs[0] == runs[1]
    assert sorted(runs[0]) == sorted(outcome_ids) and len(set(runs[0])) == len(runs[0])
