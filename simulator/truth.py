"""What really happened: the hidden ground truth that travels with every simulated event.

Only the simulator and the evaluation see a ``Truth``. The scorer sees the record alone and
learns about the truth the way customs does: through inspection outcomes, when an
``InspectionAuthority`` inspects the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

#: Inspection results, as the InspectionOutcome schema spells them.
RESULTS: tuple[str, ...] = ("no_finding", "seizure", "revenue_adjustment",
                            "documentary_irregularity")

ZERO_EUR = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Truth:
    """Ground truth of one event.

    ``result``, ``recovered_eur`` and ``severity`` are what a thorough physical inspection
    would find. ``pattern`` names the smuggling pattern that produced an illicit event
    (``"none"`` for licit ones); ``regime`` is ``"base"`` or ``"drifted"`` for illicit events,
    empty for licit ones.

    >>> Truth(illicit=False)
    Truth(illicit=False, pattern='none', result='no_finding', recovered_eur=Decimal('0.00'), severity=0, regime='')
    """  # noqa: E501

    illicit: bool
    pattern: str = "none"
    result: str = "no_finding"
    recovered_eur: Decimal = ZERO_EUR
    severity: int = 0
    regime: str = ""


LICIT = Truth(illicit=False)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One simulated event: the record a hub would send, and the truth behind it.

    ``record`` is a plain dict matching the stream's Avro schema (aware UTC datetimes,
    ``Decimal`` money, enum symbols as strings).
    """

    stream: str
    record: dict[str, Any]
    truth: Truth

    @property
    def event_id(self) -> str:
        return str(self.record["event_id"])

    @property
    def hub(self) -> str:
        return str(self.record["hub"])

    @property
    def event_time(self) -> datetime:
        at: datetime = self.record["event_time"]
        return at
