"""The inspection authority: what officers find when the scorer sends them to look.

Outcomes only exist for inspected events, and they arrive later. A physical inspection finds
an illicit event's truth with probability ``detection_rate``; a document check finds paper
trouble (a revenue adjustment for mis-declared values or codes, a documentary irregularity
otherwise) with probability ``document_detection_rate``; a release is never looked at, so it
gives no outcome at all. Each answer depends only on the seed and the event id, never on the
order in which events are inspected, so replays and live runs agree.
"""

from __future__ import annotations

import heapq
import itertools
import random
from datetime import datetime, timedelta
from typing import Any

from simulator.personal import STREAMS
from simulator.schedule import aware_utc
from simulator.seeding import derive_seed
from simulator.truth import ZERO_EUR, Truth

LEVELS: tuple[str, ...] = ("release", "document_check", "physical_inspection")
_UNITS_PER_HUB = 4


class InspectionAuthority:
    """Turns inspection decisions into InspectionOutcome dicts, deterministically per event.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from decimal import Decimal
    >>> authority = InspectionAuthority(seed=0)
    >>> at = datetime(2025, 1, 6, 8, tzinfo=timezone.utc)
    >>> smuggled = Truth(True, "undervaluation", "revenue_adjustment", Decimal("84.10"), 1)
    >>> due, outcome = authority.inspect("courier-0-000000042", "courier", smuggled,
    ...                                  "physical_inspection", at, hub="hub_LEJ")
    >>> due.isoformat(), outcome["result"], outcome["recovered_amount"], outcome["officer_unit"]
    ('2025-01-06T08:00:05+00:00', 'revenue_adjustment', Decimal('84.10'), 'unit_LEJ_2')
    >>> authority.inspect("courier-0-000000042", "courier", smuggled, "release", at) is None
    True
    """

    def __init__(
        self,
        seed: int = 0,
        delay_s: float = 5.0,
        detection_rate: float = 0.9,
        document_detection_rate: float = 0.3,
        delay_jitter_s: float = 0.0,
    ) -> None:
        for name, rate in (("detection_rate", detection_rate),
                           ("document_detection_rate", document_detection_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate!r}")
        if delay_s < 0 or delay_jitter_s < 0:
            raise ValueError("delay_s and delay_jitter_s must be >= 0 seconds")
        self.seed = seed
        self.delay_s = delay_s
        self.detection_rate = detection_rate
        self.document_detection_rate = document_detection_rate
        self.delay_jitter_s = delay_jitter_s

    def inspect(
        self,
        event_id: str,
        stream: str,
        truth: Truth,
        level: str,
        decided_at: datetime,
        *,
        hub: str = "",
    ) -> tuple[datetime, dict[str, Any]] | None:
        """The outcome of controlling ``event_id`` at ``level``, and when it is reported.

        Returns ``None`` for a release. ``hub`` only names the officer unit (``unit_FRA_2``);
        without it the unit is named after the stream.
        """
        if level not in LEVELS:
            raise ValueError(
                f"event {event_id}: unknown control level {level!r}; "
                f"expected one of {', '.join(LEVELS)}"
            )
        if stream not in STREAMS:
            raise ValueError(
                f"event {event_id}: unknown stream {stream!r}; expected one of "
                + ", ".join(STREAMS)
            )
        if level == "release":
            return None
        rng = random.Random(derive_seed(self.seed, "inspection", event_id))
        found = truth.illicit and rng.random() < (
            self.detection_rate if level == "physical_inspection"
            else self.document_detection_rate
        )
        result, severity, recovered = "no_finding", 0, ZERO_EUR
        if found and level == "physical_inspection":
            result, severity, recovered = truth.result, truth.severity, truth.recovered_eur
        elif found and truth.result == "revenue_adjustment":
            result, severity, recovered = "revenue_adjustment", truth.severity, truth.recovered_eur
        elif found:
            result, severity = "documentary_irregularity", 1
        due = aware_utc(decided_at, "decided_at") + timedelta(
            seconds=self.delay_s + rng.random() * self.delay_jitter_s
        )
        due = aware_utc(due)
        place = hub.rsplit("_", 1)[-1].upper() if hub else stream
        return due, {
            "event_id": event_id,
            "stream": stream,
            "result": result,
            "severity": severity,
            "recovered_amount": recovered,
            "outcome_time": due,
            "officer_unit": f"unit_{place}_{rng.randint(1, _UNITS_PER_HUB)}",
        }

    def __repr__(self) -> str:
        return (f"InspectionAuthority(seed={self.seed}, delay_s={self.delay_s}, "
                f"detection_rate={self.detection_rate}, "
                f"document_detection_rate={self.document_detection_rate}, "
                f"delay_jitter_s={self.delay_jitter_s})")


class OutcomeQueue:
    """Outcomes waiting for their report time, released in due order.

    >>> from datetime import datetime, timedelta, timezone
    >>> at = datetime(2025, 1, 6, 8, tzinfo=timezone.utc)
    >>> queue = OutcomeQueue()
    >>> queue.push(at + timedelta(seconds=9), {"event_id": "b"})
    >>> queue.push(at + timedelta(seconds=3), {"event_id": "a"})
    >>> [o["event_id"] for o in queue.pop_due(at + timedelta(seconds=5))], len(queue)
    (['a'], 1)
    """

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, dict[str, Any]]] = []
        self._order = itertools.count()  # ties keep push order; dicts never get compared

    def push(self, due: datetime, outcome: dict[str, Any]) -> None:
        heapq.heappush(self._heap, (due, next(self._order), outcome))

    def pop_due(self, now: datetime) -> list[dict[str, Any]]:
        """Every outcome due at or before ``now``, earliest first."""
        ready = []
        while self._heap and self._heap[0][0] <= now:
            ready.append(heapq.heappop(self._heap)[2])
        return ready

    def next_due(self) -> datetime | None:
        """When the next outcome is due, or None if nothing is waiting."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
