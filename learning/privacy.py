"""Privacy in what the learner keeps: retention, erasure on request, and key rotation.

The only learned state derived from personal data is the entity profiles' token keys (who
was inspected how often, with what result) and the scored records waiting for an outcome.
Three duties keep it in bounds, all applied by the learner, the single writer, so that every
scorer gets the result with the next snapshot:

* **Retention.** :class:`RetentionPolicy` gives, per stream, the age after which a personal
  profile key is masked (dropped: the inspection still counts in the totals, but nothing ties
  it to a subject any more). Passenger data: six months by default; consignments: three
  years, the record-keeping period of EU customs law. Scored records never wait that long:
  the pending TTL (14 days by default) is far below both.
* **Erasure.** A subject's tokens (under every key still honoured) arrive as an
  ``ErasureRequest``; every profile key built from them is dropped at once, and scored
  records decided before the request lose those keys when their outcome arrives.
* **Key rotation.** During a grace period the scorer sends, with each scored record, the
  token the previous key gives each personal role. The learner moves that subject's profile
  to the new token, and remembers the old-to-new mapping so that outcomes of records scored
  under the old key land on the new token too.

:class:`PrivacyLedger` holds what that needs (aliases, erased tokens, request ids). It keeps
only tokens, never a clear value, and is bounded in size and time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scorers.profiles import COMPOUND_SEPARATOR, day_number

PASSENGER_RETENTION_DAYS = 183
CONSIGNMENT_RETENTION_DAYS = 3 * 365


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long a personal profile key lives after its subject's last inspection.

    >>> from datetime import UTC, datetime
    >>> RetentionPolicy().cutoff_days(datetime(2026, 11, 29, tzinfo=UTC))
    {'courier': 19691, 'postal': 19691, 'passenger': 20603}
    """

    passenger_days: int = PASSENGER_RETENTION_DAYS
    consignment_days: int = CONSIGNMENT_RETENTION_DAYS

    def __post_init__(self) -> None:
        if self.passenger_days < 1 or self.consignment_days < 1:
            raise ValueError("retention periods must be at least one day")

    def days(self, stream: str) -> int:
        """The retention period of ``stream``, in days."""
        return self.passenger_days if stream == "passenger" else self.consignment_days

    def cutoff_days(self, now: datetime) -> dict[str, int]:
        """Per stream, the first day a key must have been inspected on to be kept."""
        today = day_number(now)
        return {s: today - self.days(s) for s in ("courier", "postal", "passenger")}


@dataclass(slots=True)
class PrivacyLedger:
    """Token bookkeeping for rotation and erasure; bounded, and holds no clear value.

    ``max_aliases`` old-to-new token pairs are kept (oldest dropped first); erased tokens are
    kept for ``memory`` after their request, as long as a scored record can wait for its
    outcome.

    >>> from datetime import UTC, datetime, timedelta
    >>> ledger = PrivacyLedger(memory=timedelta(days=14))
    >>> at = datetime(2026, 11, 29, tzinfo=UTC)
    >>> ledger.note_rotation({"shipper": "px_new", "route": "CN>DE"}, {"shipper": "px_old"})
    1
    >>> ledger.translate({"shipper": "px_old", "route": "CN>DE"}, at)
    {'shipper': 'px_new', 'route': 'CN>DE'}
    >>> ledger.erase("req-1", ["px_new"], at)
    True
    >>> ledger.erase("req-1", ["px_new"], at)  # each request applies once
    False
    >>> ledger.translate({"shipper": "px_old", "route": "CN>DE"}, at - timedelta(hours=1))
    {'route': 'CN>DE'}
    >>> ledger.translate({"shipper": "px_new"}, at + timedelta(hours=1))  # seen again later
    {'shipper': 'px_new'}
    """

    max_aliases: int = 500_000
    memory: timedelta = timedelta(days=14)
    aliases: dict[str, str] = field(default_factory=dict)
    erased: dict[str, datetime] = field(default_factory=dict)
    requests: dict[str, datetime] = field(default_factory=dict)
    retained_on: int = -1  # the day the retention job last ran

    def retention_due(self, now: datetime) -> bool:
        """True once per day of ``now`` (the job scans every profile key; daily is enough
        for periods counted in days)."""
        today = day_number(now)
        if today == self.retained_on:
            return False
        self.retained_on = today
        return True

    def note_rotation(self, entities: Mapping[str, str], previous: Mapping[str, str]) -> int:
        """Remember that each ``previous`` token is now ``entities``' token; how many."""
        noted = 0
        for kind, old in previous.items():
            new = entities.get(kind)
            if new is None or new == old:
                continue
            self.aliases.pop(old, None)  # re-inserted as the newest
            self.aliases[old] = new
            noted += 1
        while len(self.aliases) > self.max_aliases:
            del self.aliases[next(iter(self.aliases))]
        return noted

    def translate(self, entities: Mapping[str, str], decided_at: datetime) -> dict[str, str]:
        """``entities`` as they must be learnt now: old tokens renamed, erased ones gone.

        A key is erased if any token it is built from was erased after ``decided_at``.
        """
        out: dict[str, str] = {}
        for kind, key in entities.items():
            key = self.aliases.get(key, key)
            if self.erased and self._erased(key, decided_at):
                continue
            out[kind] = key
        return out

    def _erased(self, key: str, decided_at: datetime) -> bool:
        for part in key.split(COMPOUND_SEPARATOR):
            requested_at = self.erased.get(part)
            if requested_at is not None and decided_at <= requested_at:
                return True
        return False

    def erase(self, request_id: str, tokens: Iterable[str], requested_at: datetime) -> bool:
        """Record an erasure; False if request ``request_id`` was applied before."""
        if request_id in self.requests:
            return False
        self.requests[request_id] = requested_at
        wanted = set(tokens)
        # the subject's older tokens known from a rotation are erased with the new ones
        linked = [old for old, new in self.aliases.items() if old in wanted or new in wanted]
        for token in wanted.union(linked):
            self.erased[token] = max(requested_at, self.erased.get(token, requested_at))
        for old in linked:  # an alias would bring the subject back
            del self.aliases[old]
        return True

    def prune(self, now: datetime) -> None:
        """Forget erased tokens and request ids older than ``memory``: no scored record
        that old is still waiting."""
        horizon = now - self.memory
        self.erased = {t: at for t, at in self.erased.items() if at >= horizon}
        self.requests = {r: at for r, at in self.requests.items() if at >= horizon}
