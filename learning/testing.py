"""A deterministic feed of scored records and outcomes, for tests, examples and benchmarks.

:func:`learner_feed` plays what the learner reads from its two topics: a scorer (a
:class:`~scorers.model.RiskModel` snapshot that keeps its unsupervised parts current, and a
:class:`~scorers.selection.SelectionPolicy`) scores the seeded events of
:func:`scorers.synth.records`, and inspected events get an ``InspectionOutcome`` some hours
later. Records go through the Avro codec, so they look exactly as the learner decodes them
(whole numbers as floats, millisecond times). Options interleave the topics the hard way:
outcomes read before their scored record, and redelivered duplicates on both topics.

>>> feed = learner_feed(300, seed=1)
>>> [topic for topic, _ in feed[:3]], sum(topic == "outcomes" for topic, _ in feed)
(['scored', 'scored', 'scored'], 93)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import zip_longest
from typing import Any

from schemas import AvroCodec
from scorers.features import recordable
from scorers.model import RiskModel
from scorers.selection import SelectionPolicy
from scorers.synth import records

__all__ = ["Arrival", "learner_feed", "scored_record"]

Arrival = tuple[str, dict[str, Any]]
"""``(topic, record)``: topic is ``"scored"`` or ``"outcomes"``."""

_FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def scored_record(
    model: RiskModel,
    policy: SelectionPolicy,
    stream: str,
    record: dict[str, Any],
    decided_at: datetime,
) -> dict[str, Any]:
    """Score ``record`` the way the scoring service does, as a ``ScoredRecord`` dict."""
    made = model.assess(stream, record)
    model.observe(stream, made)
    decision = policy.decide(
        stream, record["hub"], record["event_id"], made.score, made.always_inspect
    )
    return {
        "event_id": record["event_id"],
        "stream": stream,
        "hub": record["hub"],
        "event_time": record["event_time"],
        "features": {k: recordable(v) for k, v in made.features.items()},
        "entities": dict(made.entities),
        "sub_scores": {k: float(v) for k, v in made.sub_scores.items()},
        "score": float(made.score),
        "level": decision.level,
        "selection_kind": decision.kind,
        "propensity": float(decision.propensity),
        "model_version": model.version,
        "decided_at": decided_at,
    }


def _outcome(
    rng: random.Random, stream: str, event_id: str, finding: bool, at: datetime
) -> dict[str, Any]:
    if finding:
        result = rng.choice(("seizure", "revenue_adjustment", "revenue_adjustment"))
    else:
        result = "documentary_irregularity" if rng.random() < 0.1 else "no_finding"
    return {
        "event_id": event_id,
        "stream": stream,
        "result": result,
        "severity": 2 if finding else 0,
        "recovered_amount": Decimal(f"{rng.uniform(10, 500):.2f}") if finding else Decimal("0.00"),
        "outcome_time": at,
        "officer_unit": f"unit_{stream}_{rng.randint(1, 4)}",
    }


def learner_feed(
    n: int,
    seed: int = 0,
    streams: tuple[str, ...] = ("courier", "postal", "passenger"),
    rate: float = 0.05,
    random_share: float = 0.2,
    delay_events: tuple[int, int] = (20, 400),
    early_outcomes: float = 0.0,
    duplicates: float = 0.0,
    avro: bool = True,
) -> list[Arrival]:
    """``n`` scored events per stream and their outcomes, in the order the learner reads them.

    Parameters
    ----------
    n
        Events per stream.
    seed
        Everything is a function of it.
    streams
        Streams interleaved round-robin.
    rate, random_share
        The selection policy's inspection rate and random share.
    delay_events
        An outcome is read this many scored records (uniform range) after its event.
    early_outcomes
        Share of outcomes read *before* their scored record.
    duplicates
        Share of records of each topic read a second time, a little later.
    avro
        Round-trip every record through the Avro codec, as the learner would decode it.
    """
    rng = random.Random(seed)
    model = RiskModel(seed=seed)
    policy = SelectionPolicy(rates={"*": rate}, random_share=random_share, window=500, seed=seed)
    codec = AvroCodec()
    start = datetime(2026, 1, 5, 6, tzinfo=UTC)
    sources = [records(stream, n, seed=seed) for stream in streams]
    scored: list[dict[str, Any]] = []
    due: dict[int, list[dict[str, Any]]] = {}
    arrivals: list[Arrival] = []

    def decoded(name: str, record: dict[str, Any]) -> dict[str, Any]:
        if not avro:
            return record
        return codec.decode(name, codec.encode(name, record), now=_FAR_FUTURE)

    position = 0
    for batch in zip_longest(*sources):
        for stream, item in zip(streams, batch, strict=True):
            if item is None:
                continue
            record, finding = item
            decided_at = start + timedelta(seconds=30 * position)
            entry = decoded("ScoredRecord",
                            scored_record(model, policy, stream, record, decided_at))
            if entry["level"] == "physical_inspection":
                lag = rng.randint(*delay_events)
                outcome_time = decided_at + timedelta(hours=1 + lag / 20)
                outcome = decoded("InspectionOutcome",
                                  _outcome(rng, stream, entry["event_id"], finding, outcome_time))
                if rng.random() < early_outcomes:
                    arrivals.append(("outcomes", outcome))
                else:
                    due.setdefault(position + lag, []).append(outcome)
            arrivals.append(("scored", entry))
            scored.append(entry)
            for late in due.pop(position, []):
                arrivals.append(("outcomes", late))
            position += 1
    for key in sorted(due):
        arrivals.extend(("outcomes", late) for late in due[key])
    if duplicates > 0.0:
        with_copies: list[Arrival] = []
        for topic, record in arrivals:
            with_copies.append((topic, record))
            if rng.random() < duplicates:
                with_copies.insert(max(0, len(with_copies) - rng.randint(0, 5)),
                                   (topic, dict(record)))
        arrivals = with_copies
    return arrivals
