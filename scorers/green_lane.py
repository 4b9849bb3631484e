"""Green lane: low-risk traffic released without any check, within a bound on its miss rate.

A green lane facilitates the traffic customs has most reason to trust. An event qualifies
when its party (the courier shipper, who declares and holds the AEO status; the postal
sender; the passenger traveller)

* is an AEO-certified trader (courier consignments carry the trader's AEO status), or
* has a long clean record in the entity profiles: at least ``min_clean_inspections``
  inspections, none with a finding;

and, either way, the party's own record holds no finding and the event's model score is
below the stream's score cap. The selection policy then releases it without a check, except
for a small random share that it audits (``green_audit_share`` of
:class:`~scorers.selection.SelectionPolicy`), an always-inspect rule still wins.

The cap is the lane's width. The learner, the single writer, estimates the lane's miss rate
from those audits and narrows or widens the cap (:mod:`learning.green_lane`); scorers receive
the caps with each model snapshot and apply them with :meth:`GreenLane.set_cap`. A stream
whose cap the learner has not set is closed: the lane runs only under the learner's control.

Examples
--------
>>> from scorers.profiles import ProfileScorer
>>> profiles = ProfileScorer()
>>> for _ in range(10):
...     profiles.learn_one({"traveller": "px_frequent"}, False)
>>> lane = GreenLane(min_clean_inspections=10)
>>> lane.qualifies("passenger", {}, {"traveller": "px_frequent"}, 0.004, profiles) is None
True
>>> lane.set_cap("passenger", 0.01)  # the learner opens the stream's lane
>>> lane.qualifies("passenger", {}, {"traveller": "px_frequent"}, 0.004, profiles).text
'green lane: traveller with 10 inspections, none with a finding'
>>> lane.qualifies("passenger", {}, {"traveller": "px_frequent"}, 0.02, profiles) is None
True
>>> lane.qualifies("passenger", {}, {"traveller": "px_new"}, 0.004, profiles) is None
True
>>> lane.set_cap("courier", 0.01)
>>> certified = ("courier", {"aeo": True}, {"shipper": "px_certified"}, 0.004, profiles)
>>> lane.qualifies(*certified).code
'green_lane.aeo'
>>> profiles.learn_one({"shipper": "px_certified"}, True)  # a finding suspends it
>>> lane.qualifies(*certified) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scorers.base import Reason
from scorers.profiles import ProfileScorer

__all__ = ["PARTY", "GreenLane"]

PARTY = {"courier": "shipper", "postal": "sender", "passenger": "traveller"}
"""The entity whose record (and, for courier, AEO status) decides, per stream."""


class GreenLane:
    """Who qualifies for the green lane, per stream, under the caps the learner sets.

    Parameters
    ----------
    min_clean_inspections
        Inspections, none with a finding, that make a long clean record.
    check_seconds
        Release time an average check costs: what each green release saves (the lane's
        facilitation, in the metrics).
    """

    def __init__(self, min_clean_inspections: int = 10, check_seconds: float = 1800.0) -> None:
        if isinstance(min_clean_inspections, bool) or not isinstance(min_clean_inspections, int) \
                or min_clean_inspections < 1:
            raise ValueError(
                f"min_clean_inspections must be a whole number >= 1, got {min_clean_inspections!r}"
            )
        if not check_seconds >= 0.0:
            raise ValueError(f"check_seconds must be >= 0, got {check_seconds!r}")
        self.min_clean_inspections = min_clean_inspections
        self.check_seconds = float(check_seconds)
        self.caps: dict[str, float] = {}

    def set_cap(self, stream: str, cap: float | None) -> None:
        """Admit ``stream``'s qualifying events scored below ``cap`` (None or 0: closed)."""
        if cap is None or cap <= 0.0:
            self.caps.pop(stream, None)
        elif not cap <= 1.0:
            raise ValueError(f"green lane score cap must be in [0, 1], got {cap!r}")
        else:
            self.caps[stream] = float(cap)

    def cap(self, stream: str) -> float:
        """The stream's score cap now (0: closed)."""
        return self.caps.get(stream, 0.0)

    def qualifies(
        self,
        stream: str,
        features: Mapping[str, Any],
        entities: Mapping[str, str],
        score: float,
        profiles: ProfileScorer,
    ) -> Reason | None:
        """Why the event goes to the green lane (a reason for the verdict), or None."""
        if not score < self.caps.get(stream, 0.0):  # also NaN scores and closed lanes
            return None
        kind = PARTY.get(stream)
        party = entities.get(kind) if kind is not None else None
        if not party:
            return None
        record = profiles.counts.get(kind or "", {}).get(party)
        inspections, findings = (record[0], record[1]) if record is not None else (0, 0)
        if findings:
            return None
        if features.get("aeo") is True:
            return Reason("green_lane.aeo", "green lane: AEO-certified trader", 0.0)
        if inspections >= self.min_clean_inspections:
            return Reason(
                "green_lane.clean_record",
                f"green lane: {kind} with {inspections} inspections, none with a finding",
                0.0,
            )
        return None

    def __repr__(self) -> str:
        return (f"GreenLane(min_clean_inspections={self.min_clean_inspections!r}, "
                f"check_seconds={self.check_seconds!r})")
