"""Join inspection outcomes to their scored records by event id, in either order, once.

An outcome normally arrives hours or days after its scored record, but the two topics are
read independently, so the outcome can also come first. :class:`OutcomeJoiner` keeps:

* the scored records waiting for an outcome (a :class:`~learning.pending.PendingStore`
  with a TTL on ``decided_at``),
* the outcomes waiting for their scored record (another one, with a TTL on
  ``outcome_time``), and
* the ids already joined (:class:`~learning.idset.RecentIds`).

Either side is joined the moment its counterpart is there, and the pair is returned to the
caller exactly once. Delivery is at least once on both topics, so duplicates are expected:

* a second outcome for a joined id is counted in ``duplicate_outcomes`` and dropped, within
  the window of ``applied_window`` to ``2 * applied_window`` later joins; a second outcome
  for an id whose outcome still waits is dropped the same way (the first one wins);
* a second scored record for an id that is pending or joined is counted in
  ``duplicate_scored`` and dropped (the first decision wins: it is the one the border acted
  on).

Everything that leaves unjoined is counted: ``expired_scored`` and ``expired_outcomes``
(TTL) and the stores' own ``evicted_total`` (memory bound).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from learning.idset import RecentIds
from learning.pending import PendingStore

__all__ = ["OutcomeJoiner"]

Pair = tuple[dict[str, Any], dict[str, Any]]


class OutcomeJoiner:
    """Pairs of (scored record, outcome) by event id, each pair once.

    Parameters
    ----------
    scored_ttl_seconds
        How long a scored record waits for its outcome, after ``decided_at``.
    outcome_ttl_seconds
        How long an outcome waits for its scored record, after ``outcome_time``.
    max_scored
        Scored records waiting at most (a power of two); the oldest is evicted beyond.
    max_outcomes
        Outcomes waiting at most (a power of two).
    applied_window
        Joined ids remembered to recognise duplicates: at least this many joins back.
    max_arena_bytes
        Arena bytes of the scored store at most.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from decimal import Decimal
    >>> at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> joiner = OutcomeJoiner()
    >>> scored = {"event_id": "p-1", "stream": "postal", "score": 0.91, "decided_at": at}
    >>> outcome = {"event_id": "p-1", "stream": "postal", "result": "seizure",
    ...            "recovered_amount": Decimal("12.50"), "outcome_time": at}
    >>> joiner.on_outcome(outcome)  # the outcome came first: it waits
    []
    >>> [(s["score"], o["result"]) for s, o in joiner.on_scored(scored)]
    [(0.91, 'seizure')]
    >>> joiner.on_outcome(outcome), joiner.on_scored(scored)  # redeliveries join nothing
    ([], [])
    >>> joiner.duplicate_outcomes, joiner.duplicate_scored, joiner.joined
    (1, 1, 1)
    """

    def __init__(
        self,
        scored_ttl_seconds: float = 14 * 86_400.0,
        outcome_ttl_seconds: float = 14 * 86_400.0,
        max_scored: int = 1 << 20,
        max_outcomes: int = 1 << 16,
        applied_window: int = 500_000,
        max_arena_bytes: int = 256 << 20,
    ) -> None:
        self.scored_ttl_seconds = scored_ttl_seconds
        self.outcome_ttl_seconds = outcome_ttl_seconds
        self.max_scored = max_scored
        self.max_outcomes = max_outcomes
        self.applied_window = applied_window
        self.max_arena_bytes = max_arena_bytes
        self.scored = PendingStore(
            ttl_seconds=scored_ttl_seconds,
            time_field="decided_at",
            max_records=max_scored,
            max_arena_bytes=max_arena_bytes,
        )
        self.outcomes = PendingStore(
            ttl_seconds=outcome_ttl_seconds,
            time_field="outcome_time",
            initial_records=64,
            max_records=max_outcomes,
            page_bytes=1 << 16,
            max_arena_bytes=max(1 << 16, max_outcomes * 256),
            max_interned=4_096,
        )
        self.applied = RecentIds(applied_window)
        self.joined = 0
        self.duplicate_scored = 0
        self.duplicate_outcomes = 0
        self.expired_scored = 0
        self.expired_outcomes = 0

    def is_duplicate_scored(self, event_id: str) -> bool:
        """True if a scored record of ``event_id`` is pending or was joined already."""
        return event_id in self.scored or event_id in self.applied

    def on_scored(self, scored: Mapping[str, Any]) -> list[Pair]:
        """Keep a scored record, or join it to its waiting outcome."""
        event_id = scored["event_id"]
        if self.is_duplicate_scored(event_id):
            self.duplicate_scored += 1
            return []
        outcome = self.outcomes.pop(event_id)
        if outcome is None:
            self.scored.put(scored)
            return []
        return [self._joined(dict(scored), outcome)]

    def on_outcome(self, outcome: Mapping[str, Any]) -> list[Pair]:
        """Join an outcome to its scored record, or keep it until that arrives."""
        event_id = outcome["event_id"]
        if event_id in self.applied:
            self.duplicate_outcomes += 1
            return []
        scored = self.scored.pop(event_id)
        if scored is None:
            if not self.outcomes.put(outcome):
                self.duplicate_outcomes += 1
            return []
        return [self._joined(scored, dict(outcome))]

    def _joined(self, scored: dict[str, Any], outcome: dict[str, Any]) -> Pair:
        self.applied.add(scored["event_id"])
        self.joined += 1
        return scored, outcome

    def expire(self, now: datetime) -> tuple[int, int]:
        """Expire both sides at ``now``: (scored records, outcomes) dropped unjoined."""
        scored, outcomes = self.scored.expire(now), self.outcomes.expire(now)
        self.expired_scored += scored
        self.expired_outcomes += outcomes
        return scored, outcomes

    @property
    def waiting_outcomes(self) -> int:
        """Outcomes waiting for their scored record."""
        return len(self.outcomes)

    @property
    def pending(self) -> int:
        """Scored records waiting for an outcome."""
        return len(self.scored)

    def memory_bytes(self) -> int:
        """Bytes held by both stores and the memory of joined ids."""
        return (
            self.scored.memory_bytes()
            + self.outcomes.memory_bytes()
            + self.applied.memory_bytes()
        )

    def __repr__(self) -> str:
        return (
            f"OutcomeJoiner(scored_ttl_seconds={self.scored_ttl_seconds}, "
            f"outcome_ttl_seconds={self.outcome_ttl_seconds}, max_scored={self.max_scored}, "
            f"max_outcomes={self.max_outcomes}, applied_window={self.applied_window})"
        )
