"""Origin against route: goods whose declared origin contradicts where they were dispatched.

Goods made in one country and re-labelled in another travel through a transshipment hub:
the air waybill's route starts at the hub, or passes it after a dispatch from a third
country, while the declaration names an origin the goods never left from. The check reads
the route's dispatch point (its first airport, and that airport's country) and transit
airports against the declared origin and the analysts' watch list of re-labelling hubs:

* dispatched from a listed hub outside the declared origin: ``hub_score``;
* dispatched from a third country and passing a listed hub: ``hub_score``;
* dispatched from a country other than the declared origin, no listed hub on the way:
  ``mismatch_score``, only if the book asks for it (``any_dispatch_mismatch``), because
  consolidators legitimately dispatch goods of neighbouring countries.

A route that starts in the declared origin never fires, whatever hubs it passes: changing
planes at a hub is what air cargo does. Stateless: it learns nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from scorers.base import Features, Reason
from scorers.features.airports import AIRPORT_COUNTRY

CODE = "circumvention.route"


class RouteOriginCheck:
    """Declared origin against the route's dispatch point and the re-labelling hubs on it.

    Parameters
    ----------
    hub_airports
        Re-labelling hubs by airport: airport code -> its country.
    hub_countries
        Countries whose every airport counts as a re-labelling hub.
    any_dispatch_mismatch
        Also flag, more weakly, a dispatch country other than the declared origin.
    hub_score
        Score of a contradiction through a listed hub.
    mismatch_score
        Score of a contradiction without a listed hub (``any_dispatch_mismatch``).

    Examples
    --------
    >>> check = RouteOriginCheck({"HKG": "HK"})
    >>> x = {"origin_country": "VN", "dispatch_airport": "HKG", "dispatch_country": "HK"}
    >>> check.score_one(x), [r.text for r in check.explain_one(x)]
    (0.95, ['declared origin VN, dispatched via HKG, a re-labelling hub'])
    >>> via = {"origin_country": "VN", "dispatch_airport": "PVG", "dispatch_country": "CN",
    ...        "transit_airports": "HKG"}
    >>> [r.text for r in check.explain_one(via)]
    ['declared origin VN, dispatched from PVG (CN) via HKG, a re-labelling hub']
    >>> check.score_one({**via, "origin_country": "CN"})  # changing planes at a hub: fine
    0.0
    """

    def __init__(
        self,
        hub_airports: Mapping[str, str] | None = None,
        hub_countries: Collection[str] = (),
        any_dispatch_mismatch: bool = False,
        hub_score: float = 0.95,
        mismatch_score: float = 0.7,
    ) -> None:
        self.hub_airports = dict(hub_airports or {})
        self.hub_countries = frozenset(hub_countries)
        self.any_dispatch_mismatch = any_dispatch_mismatch
        self.hub_score = hub_score
        self.mismatch_score = mismatch_score

    def learn_one(self, x: Features, y: Any = None, w: float = 1.0) -> None:
        """Nothing to learn: the route and the watch list say it all."""

    def _hub_country(self, airport: str) -> str | None:
        """The country of ``airport`` if it is a listed re-labelling hub."""
        country = self.hub_airports.get(airport)
        if country is not None:
            return country
        country = AIRPORT_COUNTRY.get(airport)
        return country if country is not None and country in self.hub_countries else None

    def check(self, x: Features) -> tuple[float, str] | None:
        """(score, reason text) of a contradiction, ``None`` without one."""
        if not (self.hub_airports or self.hub_countries or self.any_dispatch_mismatch):
            return None
        origin, dispatch = x.get("origin_country"), x.get("dispatch_airport")
        if not isinstance(origin, str) or not isinstance(dispatch, str) or not origin:
            return None
        country = x.get("dispatch_country")
        if country == origin:
            return None  # dispatched from the declared origin: transits are routine
        hub = self._hub_country(dispatch)
        if hub is not None:
            if hub == origin:
                return None
            where = f"{dispatch}" if hub == country else f"{dispatch} in {hub}"
            return self.hub_score, (
                f"declared origin {origin}, dispatched via {where}, a re-labelling hub"
            )
        if not isinstance(country, str):
            return None  # an airport the table does not know: no contradiction to show
        transits = x.get("transit_airports")
        if isinstance(transits, str) and (self.hub_airports or self.hub_countries):
            for stop in transits.split(">"):
                hub = self._hub_country(stop)
                if hub is not None and hub != origin:
                    return self.hub_score, (
                        f"declared origin {origin}, dispatched from {dispatch} ({country}) "
                        f"via {stop}, a re-labelling hub"
                    )
        if self.any_dispatch_mismatch:
            return self.mismatch_score, (
                f"declared origin {origin}, dispatched from {dispatch} ({country})"
            )
        return None

    def score_one(self, x: Features) -> float:
        found = self.check(x)
        return 0.0 if found is None else found[0]

    def explain_one(self, x: Features) -> list[Reason]:
        found = self.check(x)
        return [] if found is None else [Reason(CODE, found[1], found[0])]
