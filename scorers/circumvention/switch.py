"""Switch after a finding: a trader caught on its usual goods or origin declares another.

A trader whose consignment of its usual goods from its usual origin was seized (or its
duty adjusted) and who, days later, declares the same goods from another origin, or the
same origin's goods under another HS heading, is the textbook reaction of circumvention.
A trader whose consignments vary anyway is not: the check judges a switch against the
trader's own habit.

Per trader (pseudonymised shipper, consignee, importer or sender token), two small records:

* its **habit**, learnt from every observed consignment: for origin and HS heading each, a
  candidate value and how many of the trader's recent consignments declared it, out of how
  many (both counts exponentially weighted over about ``memory`` consignments, so a habit
  can change; a candidate declared in less than half of them gives way to the next value
  declared). A habit is a candidate declared in at least ``habit_share`` of at least
  ``min_habit`` recent consignments, and far more often than traffic at large declares it
  (a binomial tail below ``habit_p`` against the value's share of all consignments): a
  trader whose origins merely lean one way, or lean the way everybody's do, has none;
* its last **finding** on its habitual origin or heading, learnt from inspection outcomes:
  the day, and the origin and heading it is judged against: the habitual ones (the
  consignment's own where the trader has no habit), and which of the two was habitual.

A later consignment of that trader within ``within_days`` of the finding fires when it
keeps the heading and changes a habitual origin, or keeps the origin and changes a
habitual heading. Changing both is a different line of goods, not a re-declaration. A
finding on a consignment that was itself a switch keeps the trader's habit as the
reference, so a trader caught again while switching is still judged against its habit.

This is per-subject state, like the entity profiles: it is bounded (``max_entities`` most
recently seen traders per kind), kept only while the check is switched on
(``within_days`` > 0), and follows the learner's privacy duties: retention
(:meth:`forget_older_than`), erasure (:meth:`forget_tokens`) and key rotation
(:meth:`carry_over`). Reasons name the kind of trader, never its token.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from math import comb
from typing import Any

from schemas.pseudonymise import TOKEN_PREFIX
from scorers.base import Features, Reason
from scorers.circumvention.book import day_of
from scorers.profiles import COMPOUND_SEPARATOR

CODE = "circumvention.switch"
KINDS = ("shipper", "consignee", "importer", "sender")
# habit record: [origin, consignments declaring it, consignments since it was set, heading,
# the same two counts, day last seen]
_ORIGIN, _HEADING, _SEEN = 0, 3, 6
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
        Consignments a trader must have declared before it has a habit at all.
    habit_share
        Share of its recent consignments a usual origin (or heading) must have.
    memory
        Consignments a trader's counts remember (their exponential weighting's span).
    habit_p
        How unlikely the trader's share must be for a trader declaring like traffic at
        large (binomial tail), for the candidate to count as a habit.
    max_entities
        Traders kept per kind (habits and findings each); the least recently seen go first.
    score
        Score of a switch.

    Examples
    --------
    >>> check = SeizureSwitchCheck(within_days=30)
    >>> for n in range(40):  # traffic at large: other consignees, other origins
    ...     check.learn_one({"consignee": f"px_a{n}", "origin_country": ("DE", "US", "JP")[n % 3],
    ...                      "hs_heading": "7208", "event_date": "2025-03-01"})
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
        min_habit: int = 5,
        habit_share: float = 0.7,
        memory: int = 20,
        habit_p: float = 0.001,
        max_entities: int = 20_000,
        score: float = 0.9,
    ) -> None:
        self.within_days = within_days
        self.kinds = kinds
        self.min_habit = min_habit
        self.habit_share = habit_share
        self.memory = memory
        self.habit_p = habit_p
        self.max_entities = max_entities
        self.score = score
        self.habits: dict[str, dict[str, list[Any]]] = {}
        self.findings: dict[str, dict[str, list[Any]]] = {}
        # consignments per origin and per heading across all traders, and in all
        self.traffic: dict[str, dict[str, float]] = {"origin": {}, "heading": {}}
        self.consignments = 0.0
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
        self._count_traffic(origin, heading)
        for kind in self.kinds:
            token = keys.get(kind)
            if not isinstance(token, str) or not token:
                continue
            table = self.habits.setdefault(kind, {})
            habit = table.pop(token, None)
            if habit is None:
                if len(table) >= self.max_entities:
                    del table[next(iter(table))]
                habit = [None, 0.0, 0.0, None, 0.0, 0.0, day]
            _count(habit, _ORIGIN, origin, self.memory)
            _count(habit, _HEADING, heading, self.memory)
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
            assert isinstance(token, str)
            table = self.findings.setdefault(kind, {})
            before = table.get(token)
            # caught again while under watch: the habit it was judged against stays
            watched = before is not None and 0 <= when - before[_DAY] <= self.within_days
            origin_habit = self._usual(habit, _ORIGIN, "origin")
            heading_habit = self._usual(habit, _HEADING, "heading")
            if not (watched or (origin_habit and habit[_ORIGIN] == origin)
                    or (heading_habit and habit[_HEADING] == heading)):
                continue  # not its usual goods: a later "switch" would be its usual one
            record = [origin, heading, when, origin_habit, heading_habit]
            for at, flag, value in ((0, _ORIGIN_HABIT, _ORIGIN), (1, _HEADING_HABIT, _HEADING)):
                if record[flag]:
                    record[at] = habit[value]
                elif watched and before is not None and before[flag]:
                    record[at], record[flag] = before[at], True
            if table.pop(token, None) is None and len(table) >= self.max_entities:
                del table[next(iter(table))]
            table[token] = record

    def _count_traffic(self, origin: str | None, heading: str | None) -> None:
        self.consignments += 1.0
        for what, value in (("origin", origin), ("heading", heading)):
            if value is not None:
                table = self.traffic[what]
                if value in table or len(table) < _MAX_VALUES:
                    table[value] = table.get(value, 0.0) + 1.0
        if self.consignments > _MAX_COUNT:  # bounded numbers: halve, shares stay
            self.consignments /= 2.0
            for table in self.traffic.values():
                for value in table:
                    table[value] /= 2.0

    def _usual(self, habit: list[Any], at: int, what: str) -> bool:
        """Whether the candidate at ``at`` is a habit: declared in most of the trader's
        recent consignments, and far more often than traffic at large declares it."""
        matching, seen = habit[at + 1], habit[at + 2]
        if seen < _weighted(self.min_habit, self.memory) or matching < self.habit_share * seen:
            return False
        share = self.traffic[what].get(habit[at], 0.0) / max(self.consignments, 1.0)
        return _tail(round(matching), round(seen), share) <= self.habit_p

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


_MAX_VALUES = 20_000  # origins and headings counted (there are about 250 and 1,250)
_MAX_COUNT = 1e9


def _weighted(consignments: int, memory: int) -> float:
    """What ``consignments`` in a row count for in a trader's weighted counts (:func:`_count`),
    less a rounding margin: fewer than ``min_habit`` consignments, never ``min_habit`` itself.

    >>> round(_weighted(5, 20), 3)  # 1 + 0.95 + 0.95**2 + 0.95**3 + 0.95**4
    4.524
    """
    keep = 1.0 - 1.0 / memory
    return (1.0 - keep**consignments) / (1.0 - keep) - 1e-9


def _tail(matching: int, seen: int, share: float) -> float:
    """P(at least ``matching`` of ``seen`` consignments declare a value of ``share``).

    >>> round(_tail(5, 5, 0.32), 4), round(_tail(4, 5, 0.05), 6)
    (0.0034, 3e-05)
    """
    share = min(max(share, 0.0), 1.0)
    return sum(comb(seen, k) * share**k * (1.0 - share) ** (seen - k)
               for k in range(matching, seen + 1))


def _count(habit: list[Any], at: int, value: str | None, memory: int) -> None:
    """Count one consignment: the candidate at ``at``, the recent consignments declaring it
    at ``at + 1``, all recent consignments at ``at + 2`` (weighted over ``memory``). A
    candidate declared in less than half of them gives way to ``value``."""
    if value is None:
        return
    keep = 1.0 - 1.0 / memory
    seen = habit[at + 2] * keep + 1.0
    if habit[at] == value:
        matching = habit[at + 1] * keep + 1.0
    else:
        matching = habit[at + 1] * keep
        if 2.0 * matching < seen:
            habit[at], matching = sys.intern(value), 1.0
    habit[at + 1], habit[at + 2] = matching, seen
