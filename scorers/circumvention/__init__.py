"""Circumvention signals: route, transshipment and origin masking.

Three domain checks, each under the scorer contract (``learn_one``, ``score_one`` in
[0, 1], ``explain_one`` with one verbatim, readable reason), each one stacker input of the
goods ensembles (``circumvention.route``, ``circumvention.surge``,
``circumvention.switch``):

* :class:`RouteOriginCheck`: the declared origin contradicts the route, as when goods are
  dispatched through a transshipment hub known for re-labelling ("declared origin VN,
  dispatched via HKG, a re-labelling hub"). Stateless.
* :class:`OriginSurgeCheck`: an origin appears suddenly in an HS heading once a duty rose
  on another origin, the pattern of anti-dumping circumvention ("origin MY is new for HS
  7208: 34% of its recent traffic against 1% before duties rose on CN (2025-02-01)").
  Learns (heading, origin) counts from every event.
* :class:`SeizureSwitchCheck`: a trader switches origin or HS heading right after a finding
  on its usual ones ("consignee switched origin CN -> VN 3 days after a finding"). Learns
  habits from every event and findings from outcomes; per-subject state under the privacy
  duties.

What the checks know comes from the analysts' :class:`CircumventionBook`
(``scorers/rules/circumvention.yaml``): re-labelling hubs, trade-defence measures and the
switch window. An empty book keeps all three silent. :class:`CircumventionChecks` bundles
the three for one stream, as the ensemble uses them: every check is a few dictionary
look-ups per event, and a check that does not fire adds no sub-score at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from scorers.base import Features, Reason
from scorers.circumvention.book import (
    CircumventionBook,
    CircumventionFileError,
    TradeDefenceMeasure,
    day_of,
)
from scorers.circumvention.route import RouteOriginCheck
from scorers.circumvention.surge import OriginSurgeCheck
from scorers.circumvention.switch import SeizureSwitchCheck

ROUTE = "circumvention.route"
SURGE = "circumvention.surge"
SWITCH = "circumvention.switch"
#: The sub-score (and stacker input, and reason code) of each check.
NAMES = (ROUTE, SURGE, SWITCH)
PREFIX = "circumvention."

__all__ = [
    "NAMES",
    "PREFIX",
    "ROUTE",
    "SURGE",
    "SWITCH",
    "CircumventionBook",
    "CircumventionChecks",
    "CircumventionFileError",
    "OriginSurgeCheck",
    "RouteOriginCheck",
    "SeizureSwitchCheck",
    "TradeDefenceMeasure",
    "day_of",
]


class CircumventionChecks:
    """The three circumvention checks of one goods stream, configured by one book.

    ``configure`` swaps the book without touching what was learnt (the analysts edit their
    file; the counts and habits stay).

    Examples
    --------
    >>> book = CircumventionBook.from_text("relabelling_hubs: {airports: [HKG]}")
    >>> checks = CircumventionChecks(book)
    >>> x = {"origin_country": "VN", "dispatch_airport": "HKG", "dispatch_country": "HK"}
    >>> checks.scores_one(x, {})
    {'circumvention.route': 0.95}
    >>> [r.text for r in checks.explain_one(x, {}, "circumvention.route")]
    ['declared origin VN, dispatched via HKG, a re-labelling hub']
    >>> CircumventionChecks().scores_one(x, {})  # an empty book: silent
    {}
    """

    def __init__(self, book: CircumventionBook | None = None) -> None:
        self.book = book if book is not None else CircumventionBook()
        self.route = RouteOriginCheck()
        self.surge = OriginSurgeCheck()
        self.switch = SeizureSwitchCheck(within_days=0)
        self.configure(self.book)

    def configure(self, book: CircumventionBook) -> None:
        """Work from ``book`` from now on; learnt counts and habits are kept."""
        self.book = book
        self.route = RouteOriginCheck(
            book.hub_airports, book.hub_countries, book.any_dispatch_mismatch,
            self.route.hub_score, self.route.mismatch_score,
        )
        self.surge.set_measures(book.measures)
        self.switch.within_days = book.switch_within_days

    def scores_one(self, x: Features, keys: Mapping[str, str]) -> dict[str, float]:
        """The sub-score of every check that fires on the event (none: an empty dict)."""
        fired: dict[str, float] = {}
        if (found := self.route.check(x)) is not None:
            fired[ROUTE] = found[0]
        if (found := self.surge.check(x)) is not None:
            fired[SURGE] = found[0]
        if (found := self.switch.check(x, keys)) is not None:
            fired[SWITCH] = found[0]
        return fired

    def explain_one(self, x: Features, keys: Mapping[str, str], name: str) -> list[Reason]:
        """The reason of check ``name`` on the event, if it fires."""
        if name == ROUTE:
            found = self.route.check(x)
        elif name == SURGE:
            found = self.surge.check(x)
        else:
            found = self.switch.check(x, keys)
        return [] if found is None else [Reason(name, found[1], found[0])]

    def observe(self, x: Features, keys: Mapping[str, str]) -> None:
        """Learn from one scored event: heading and origin counts, traders' habits."""
        self.surge.learn_one(x)
        self.switch.observe(x, keys)

    def learn_outcome(
        self, x: Features, keys: Mapping[str, str], finding: bool, day: int | None = None
    ) -> None:
        """Learn from one inspection outcome: a finding on a trader's usual goods."""
        self.switch.learn_outcome(x, keys, finding, day)

    # -- privacy: the switch check's per-trader records follow the profiles -------------------

    def forget_older_than(self, day: int) -> int:
        return self.switch.forget_older_than(day)

    def forget_tokens(self, tokens: Collection[str]) -> int:
        return self.switch.forget_tokens(tokens)

    def carry_over(self, kind: str, old: str, new: str) -> int:
        return self.switch.carry_over(kind, old, new)
