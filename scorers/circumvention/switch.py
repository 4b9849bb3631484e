"""Switch after a finding: a trader caught on its usual goods or origin declares another.

A trader whose consignment of its usual goods from its usual origin was seized (or its
duty adjusted) and who, days later, declares the same goods from another origin, or the
same origin's goods under another HS heading, is the textbook reaction of circumvention.
A trader whose consignments vary anyway is not: the check judges a switch against the
trader's own habit.

Per trader (pseudonymised shipper, consignee, importer or sender token), two small records:

* its **habit**, learnt from every observed consignment: the origin and the HS heading it
  declares most, each by a majority vote of its recent consignments (Boyer-Moore: a
  candidate and a lead of at most ``max_votes``, so a habit can change);
* its last **finding** on its habitual origin or heading, learnt from inspection outcomes:
  origin, heading and day of the consignment, and which of the two was habitual.

A later consignment of that trader within ``within_days`` of the finding fires when it
keeps the heading and changes a habitual origin, or keeps the origin and changes a
habitual heading. Changing both is a different line of goods, not a re-declaration.

This is per-subject state, like the entity profiles: it is bounded (``max_entities`` most
recently seen traders per kind), kept only while the check is switched on
(``within_days`` > 0), and follows the learner's privacy duties: retention
(:meth:`forget_older_than`), erasure (:meth:`forget_tokens`) and key rotation
(:meth:`carry_over`). Reasons name the kind of trader, never its token.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from typing import Any

from schemas.pseudonymise import TOKEN_PREFIX
from scorers.base import Features, Reason
from scorers.circumvention.book import day_of
from scorers.profiles import COMPOUND_SEPARATOR

CODE = "circumvention.switch"
KINDS = ("shipper", "consignee", "importer", "sender")
# habit record: [origin, its lead, heading, its lead, day last seen]
_ORIGIN, _ORIGIN_LEAD, _HEADING, _HEADING_LEAD, _SEEN = range(5)
# finding record: [origin, heading, day, origin was habitual, heading was habitual]
_DAY, _ORIGIN_HABIT, _HEADING_HABIT = 2, 3, 4


def _days(n: int) -> str:
    return "the same day as" if n == 0 else f"{n} day{'s' if n != 1 else ''} after"


class SeizureSwitchCheck:
    """A trader switching origin or HS heading soon after a finding on its usual ones.

    Parameters
    ----------
    within_days
        How long after a finding a switch is flagged; 0 switches the check off (nothing is
        learnt or kept then).
    kinds
        Entity kinds judged: traders, not the brokers who declare for many of them.
    min_habit
        Lead a trader's usual origin (or heading) needs in its vote to count as a habit.
    max_votes
        Cap of that lead, so a changed habit shows after as many consignments.
    max_entities
        Traders kept per kind (habits and findings each); the least recently seen go first.
    score
        Score of a switch.

    Examples
    --------
    >>> check = SeizureSwitchCheck(within_days=30)
    >>> usual = {"consignee": "px_7", "origin_country": "CN", "hs_heading": "7208"}
    >>> for day in range(1, 6):
    ...     check.learn_one({**usual, "event_date": f"2025-03-0{day}"})
    >>> check.learn_one({**usual, "event_date": "2025-03-06"}, True)  # found something
    >>> later = {**usual, "origin_country": "VN", "event_date": "2025-03-09"}
    >>> check.score_one(later), [r.text for r in check.explain_one(later)]
    (0.9, ['consignee switched origin CN -> VN 3 days after a finding'])
    >>> check.score_one({**later, "hs_heading": "7304"})  # other goods: not a switch
    0.0
    >>> check.score_one({**later, "event_date": "2025-05-01"})  # long after
    0.0
    >>> check.forget_tokens({"px_7"}), check.score_one(later)
    (2, 0.0)
    """

    def __init__(
        self,
        within_days: int = 30,
        kinds: tuple[str, ...] = KINDS,
        min_habit: int = 3,
        max_votes: int = 10,
        max_entities: int = 50_000,
        score: float = 0.9,
    ) -> None:
        self.within_days = within_days
        self.kinds = kinds
        self.min_habit = min_habit
        self.max_votes = max_votes
        self.max_entities = max_entities
        self.score = score
        self.habits: dict[str, dict[str, list[Any]]] = {}
        self.findings: dict[str, dict[str, list[Any]]] = {}
        self.day = 0  # the latest event day seen

    def _day(self, x: Features, day: int | None = None) -> int:
        found = day_of(x)
        if found is None:
            found = self.day if day is None else day
        if found > self.day:
            self.day = found
        return found

    # -- learning ----------------------------------------------------------------------------

    def observe(self, x: Features, keys: Mapping[str, str]) -> None:
        """Update the habit of every trader of one consignment (call it for every event)."""
        if self.within_days <= 0:
            return
        origin, heading = x.get("origin_country"), x.get("hs_heading")
        origin = origin if isinstance(origin, str) and origin else None
        heading = heading if isinstance(heading, str) and heading else None
        if origin is None and heading is None:
            return
        day = self._day(x)
        for kind in self.kinds:
            token = keys.get(kind)
            if not isinstance(token, str) or not token:
                continue
            table = self.habits.setdefault(kind, {})
            habit = table.pop(token, None)
            if habit is None:
                if len(table) >= self.max_entities:
                    del table[next(iter(table))]
                habit = [None, 0, None, 0, day]
            _vote(habit, _ORIGIN, origin, self.max_votes)
            _vote(habit, _HEADING, heading, self.max_votes)
            habit[_SEEN] = max(habit[_SEEN], day)
            table[token] = habit  # re-inserted: the most recent

    def learn_outcome(
        self, x: Features, keys: Mapping[str, str], finding: bool, day: int | None = None
    ) -> None:
        """Remember a finding on a trader's habitual origin or heading.

        The day is the event's (``event_date``), else ``day`` (the learner's decision day).
        """
        if self.within_days <= 0 or not finding:
            return
        origin, heading = x.get("origin_country"), x.get("hs_heading")
        if not isinstance(origin, str) or not isinstance(heading, str):
            return
        when = self._day(x, day)
        for kind in self.kinds:
            token = keys.get(kind)
            habit = self.habits.get(kind, {}).get(token) if isinstance(token, str) else None
            if habit is None:
                continue
            origin_habit = habit[_ORIGIN] == origin and habit[_ORIGIN_LEAD] >= self.min_habit
            heading_habit = (
                habit[_HEADING] == heading and habit[_HEADING_LEAD] >= self.min_habit
            )
            if not (origin_habit or heading_habit):
                continue  # an odd consignment: a later "switch" would be its usual one
            assert isinstance(token, str)
            table = self.findings.setdefault(kind, {})
            if table.pop(token, None) is None and len(table) >= self.max_entities:
                del table[next(iter(table))]
            table[token] = [origin, heading, when, origin_habit, heading_habit]

    def learn_one(
        self, x: Features, y: Any = None, w: float = 1.0, day: int | None = None
    ) -> None:
        """Observe ``x`` (entity keys and features in one dict) and, with a label, learn it."""
        self.observe(x, x)
        if y is not None:
            self.learn_outcome(x, x, bool(y), day)

    # -- scoring -----------------------------------------------------------------------------

    def check(self, x: Features, keys: Mapping[str, str]) -> tuple[float, str] | None:
        """(score, reason text) of a switch after a finding, ``None`` without one."""
        if self.within_days <= 0 or not self.findings:
            return None
        origin, heading = x.get("origin_country"), x.get("hs_heading")
        if not isinstance(origin, str) or not isinstance(heading, str):
            return None
        day: int | None = None
        for kind in self.kinds:
            token = keys.get(kind)
            table = self.findings.get(kind)
            found = table.get(token) if table and isinstance(token, str) else None
            if found is None:
                continue
            if day is None:
                day = day_of(x)
                if day is None:
                    day = self.day
            age = day - found[_DAY]
            if not 0 <= age <= self.within_days:
                continue
            if found[_ORIGIN_HABIT] and heading == found[1] and origin != found[0]:
                return self.score, (
                    f"{kind} switched origin {found[0]} -> {origin} {_days(age)} a finding"
                )
            if found[_HEADING_HABIT] and origin == found[0] and heading != found[1]:
                return self.score, (
                    f"{kind} switched HS heading {found[1]} -> {heading} {_days(age)} a "
                    "finding"
                )
        return None

    def score_one(self, x: Features) -> float:
        found = self.check(x, x)
        return 0.0 if found is None else found[0]

    def explain_one(self, x: Features) -> list[Reason]:
        found = self.check(x, x)
        return [] if found is None else [Reason(CODE, found[1], found[0])]

    # -- privacy: retention, erasure, key rotation -------------------------------------------

    def _tables(self) -> list[dict[str, list[Any]]]:
        return [*self.habits.values(), *self.findings.values()]

    def forget_older_than(self, day: int) -> int:
        """Retention: drop habits not seen and findings not made since ``day``; how many."""
        dropped = 0
        for tables, stamp in ((self.habits, _SEEN), (self.findings, _DAY)):
            for table in tables.values():
                stale = [token for token, record in table.items() if record[stamp] < day]
                for token in stale:
                    del table[token]
                dropped += len(stale)
        return dropped

    def forget_tokens(self, tokens: Collection[str]) -> int:
        """Erasure: drop every record keyed by any of ``tokens``; how many."""
        wanted = set(tokens)
        dropped = 0
        for table in self._tables():
            erased = [key for key in table if key.startswith(TOKEN_PREFIX)
                      and not wanted.isdisjoint(key.split(COMPOUND_SEPARATOR))]
            for key in erased:
                del table[key]
            dropped += len(erased)
        return dropped

    def carry_over(self, kind: str, old: str, new: str) -> int:
        """Key rotation: move ``old``'s records to ``new``; the newer record wins a clash."""
        moved = 0
        for tables, stamp in ((self.habits, _SEEN), (self.findings, _DAY)):
            table = tables.get(kind)
            if not table or old == new or old not in table:
                continue
            record = table.pop(old)
            mine = table.get(new)
            if mine is None or mine[stamp] < record[stamp]:
                table[new] = record
            moved += 1
        return moved


def _vote(habit: list[Any], at: int, value: str | None, cap: int) -> None:
    """One Boyer-Moore majority vote: the candidate at ``at``, its lead at ``at + 1``."""
    if value is None:
        return
    if habit[at] == value:
        habit[at + 1] = min(habit[at + 1] + 1, cap)
    elif habit[at + 1] > 1:
        habit[at + 1] -= 1
    else:
        habit[at], habit[at + 1] = sys.intern(value), 1
