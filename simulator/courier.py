"""Express courier consignments (air waybills) and the fraud hidden among them.

Licit consignments pick goods by popularity, an origin that makes that goods, a shipper from
that origin (popular shippers and AEO traders recur) and an honest value. Illicit ones follow
the current regime:

* ``undervaluation``: regime goods from regime origins, declared at 2-12 % of their price;
* ``misclassification``: a high-duty good, honestly described, under a low-duty HS code;
* ``repeat_offender``: a shipper (and often a consignee) from the regime's offender pool,
  sending counterfeits or undervalued goods;
* ``risky_route``: innocuous goods from a risky origin through the regime's transit airport.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from simulator.catalogue import (
    GOODS,
    GOODS_BY_KEY,
    ORIGIN_PRICE_FACTOR,
    Goods,
    import_charges,
    reference_price,
)
from simulator.declarations import (
    air_waybill,
    currency_for,
    declared_hs,
    describe,
    eur,
    in_currency,
    log_uniform,
)
from simulator.geography import COUNTRIES, ONWARD_DESTINATIONS, TRANSIT_AIRPORTS, hub_airport
from simulator.people import Party, private_person
from simulator.population import Pool, Population, weighted
from simulator.regimes import REGIMES, Regime, pattern_draft
from simulator.truth import LICIT, Truth

_INCOTERMS: Pool[str | None] = weighted(
    [("DAP", 0.5), ("DDP", 0.25), (None, 0.15), ("EXW", 0.05), ("FCA", 0.05)]
)
_LATIN_AMERICA = frozenset({"CO", "PE", "EC", "PY", "BR", "MX", "AR", "PA"})
_LATIN_TRANSIT: Pool[str] = weighted([("MIA", 0.5), ("PTY", 0.25), ("GRU", 0.25)])
_CATCH_ALL_CODES = ("392690", "630790", "848790", "732393")
_COVER_GOODS = ("coffee", "handicraft", "documents", "auto_parts", "machine_parts",
                "textile_articles")


class CourierTraffic:
    """Makes courier consignment records with their truth.

    >>> from datetime import datetime, timezone
    >>> from simulator.regimes import BASE
    >>> traffic = CourierTraffic(Population(seed=0), random.Random(0))
    >>> at = datetime(2025, 1, 6, 8, tzinfo=timezone.utc)
    >>> record, truth = traffic.consignment("courier-0-1", "hub_LEJ", at, "undervaluation", BASE)
    >>> record["origin_country"], record["hs_code"][:4], truth.result
    ('CN', '8518', 'revenue_adjustment')
    """

    def __init__(self, population: Population, rng: random.Random,
                 offender_share: float = 0.006) -> None:
        self.population = population
        self.rng = rng
        self.offender_share = offender_share
        self._patterns: dict[str, Callable[[Regime], _Draft]] = {
            "none": self._none,
            "undervaluation": self._undervaluation,
            "misclassification": self._misclassification,
            "repeat_offender": self._repeat_offender,
            "risky_route": self._risky_route,
        }
        self._goods = Pool(GOODS, [goods.courier_weight for goods in GOODS])
        self._origins = {goods.key: weighted(goods.origins) for goods in GOODS}
        self._same_chapter = {
            goods.key: [other.hs6 for other in GOODS
                        if other.chapter == goods.chapter and other.hs6 != goods.hs6]
            for goods in GOODS
        }
        self._undervalued_origins = {
            name: weighted(regime.undervalued_origins) for name, regime in REGIMES.items()
        }

    def consignment(
        self, event_id: str, hub: str, at: datetime, pattern: str, regime: Regime
    ) -> tuple[dict[str, Any], Truth]:
        """One consignment following ``pattern`` (``"none"`` for licit traffic)."""
        draft = pattern_draft(self._patterns, "courier", pattern, regime)
        return draft.record(self.rng, self.population.brokers, event_id, hub, at), draft.truth

    # -- licit -------------------------------------------------------------------------------

    def _none(self, regime: Regime) -> _Draft:
        rng = self.rng
        goods = self._goods.pick(rng)
        if rng.random() < self.offender_share:
            shipper = self.population.offenders[regime.name].shippers.pick(rng)
            origin = shipper.country
        else:
            origin = self._origins[goods.key].pick(rng)
            shipper = self.population.shippers[origin].pick(rng)
        weight = log_uniform(rng, *goods.weight_kg)
        value = weight * log_uniform(rng, *goods.price_eur_per_kg) * ORIGIN_PRICE_FACTOR.get(
            origin, 1.0
        )
        if rng.random() < 0.03:
            value *= rng.uniform(0.1, 0.5)  # samples and replacements at nominal value
        hs6 = goods.hs6
        roll = rng.random()
        if roll < 0.02 and self._same_chapter[goods.key]:
            hs6 = rng.choice(self._same_chapter[goods.key])  # honest neighbour-code mistakes
        elif roll > 0.98:
            hs6 = rng.choice(_CATCH_ALL_CODES)  # lazy declarants' "other articles" codes
        return _Draft(goods, hs6, origin, shipper, self._consignee(regime), value, weight,
                      self._route(origin), LICIT)

    def _consignee(self, regime: Regime) -> Party:
        rng = self.rng
        roll = rng.random()
        if roll < self.offender_share:
            return self.population.offenders[regime.name].consignees.pick(rng)
        if roll < 0.25:
            return self.population.business_consignees.pick(rng)
        if roll < 0.55:
            return self.population.private_consignees.pick(rng)
        destination = "DE" if rng.random() < 0.88 else rng.choice(ONWARD_DESTINATIONS)
        return private_person(rng, destination)

    def _route(self, origin: str) -> list[str]:
        rng = self.rng
        start = rng.choice(COUNTRIES[origin].airports)
        if origin in _LATIN_AMERICA:
            if rng.random() < 0.5:
                transit = _LATIN_TRANSIT.pick(rng)
                return [start] if transit == start else [start, transit]
            return [start]
        if rng.random() < 0.3:
            transit = rng.choice(TRANSIT_AIRPORTS)
            if transit != start:
                return [start, transit]
        return [start]

    # -- illicit -----------------------------------------------------------------------------

    def _undervaluation(self, regime: Regime) -> _Draft:
        rng = self.rng
        goods = GOODS_BY_KEY[rng.choice(regime.undervalued_goods)]
        if rng.random() < 0.35:
            shipper = self.population.offenders[regime.name].shippers.pick(rng)
            origin = shipper.country
        else:
            origin = self._undervalued_origins[regime.name].pick(rng)
            shipper = self._uncertified(origin)
        weight = log_uniform(rng, *goods.weight_kg)
        true_value = weight * reference_price(goods, origin) * rng.uniform(0.8, 1.25)
        declared = true_value * log_uniform(rng, 0.02, 0.12)
        recovered = import_charges(true_value - declared, goods)
        truth = Truth(True, "undervaluation", "revenue_adjustment", eur(recovered),
                      1 if recovered < 500 else 2, regime.name)
        return _Draft(goods, goods.hs6, origin, shipper, self._consignee(regime), declared,
                      weight, self._route(origin), truth)

    def _misclassification(self, regime: Regime) -> _Draft:
        rng = self.rng
        goods = GOODS_BY_KEY[rng.choice(regime.misclassified_goods)]
        cover = GOODS_BY_KEY[rng.choice(regime.misclassified_as)]
        origin = self._origins[goods.key].pick(rng)
        weight = log_uniform(rng, *goods.weight_kg)
        value = weight * reference_price(goods, origin) * rng.uniform(0.7, 1.3)
        recovered = import_charges(value, goods) - import_charges(value, cover)
        truth = Truth(True, "misclassification", "revenue_adjustment", eur(recovered),
                      1, regime.name)
        return _Draft(goods, cover.hs6, origin, self._uncertified(origin),
                      self._consignee(regime), value, weight, self._route(origin), truth)

    def _repeat_offender(self, regime: Regime) -> _Draft:
        rng = self.rng
        offenders = self.population.offenders[regime.name]
        shipper = offenders.shippers.pick(rng)
        origin = shipper.country
        consignee = offenders.consignees.pick(rng) if rng.random() < 0.5 else (
            self._consignee(regime))
        goods = GOODS_BY_KEY[rng.choice(regime.counterfeit_goods)]
        weight = log_uniform(rng, *goods.weight_kg)
        value = weight * reference_price(goods, origin) * rng.uniform(0.7, 1.3)
        if rng.random() < 0.6:
            truth = Truth(True, "repeat_offender", "seizure", eur(0.0), 2, regime.name)
            declared = value * rng.uniform(0.2, 0.6)  # counterfeits priced as fakes
        else:
            declared = value * log_uniform(rng, 0.1, 0.4)
            recovered = import_charges(value - declared, goods)
            truth = Truth(True, "repeat_offender", "revenue_adjustment", eur(recovered), 1,
                          regime.name)
        return _Draft(goods, goods.hs6, origin, shipper, consignee, declared, weight,
                      self._route(origin), truth)

    def _risky_route(self, regime: Regime) -> _Draft:
        rng = self.rng
        origin = rng.choice(regime.risky_origins)
        goods = GOODS_BY_KEY[rng.choice(_COVER_GOODS)]
        shipper = self._uncertified(origin) if rng.random() < 0.5 else private_person(rng, origin)
        weight = log_uniform(rng, *goods.weight_kg) * rng.uniform(1.0, 2.0)
        value = weight * reference_price(goods, origin) * rng.uniform(0.5, 1.2)
        route = [rng.choice(COUNTRIES[origin].airports), regime.risky_transit]
        truth = Truth(True, "risky_route", "seizure", eur(0.0), 3, regime.name)
        consignee = private_person(rng, "DE")
        return _Draft(goods, goods.hs6, origin, shipper, consignee, value, weight, route, truth,
                      broker=False)

    def _uncertified(self, origin: str) -> Party:
        """A shipper from ``origin`` without AEO status: certified traders rarely smuggle."""
        return self.population.uncertified_shippers[origin].pick(self.rng)


class _Draft:
    """The facts of one consignment before they are written into a record."""

    __slots__ = ("broker", "consignee", "goods", "hs6", "origin", "route", "shipper", "truth",
                 "value_eur", "weight")

    def __init__(self, goods: Goods, hs6: str, origin: str, shipper: Party, consignee: Party,
                 value_eur: float, weight: float, route: list[str], truth: Truth,
                 broker: bool = True) -> None:
        self.goods = goods
        self.hs6 = hs6
        self.origin = origin
        self.shipper = shipper
        self.consignee = consignee
        self.value_eur = value_eur
        self.weight = weight
        self.route = route
        self.truth = truth
        self.broker = broker

    def record(
        self, rng: random.Random, brokers: Pool[Party], event_id: str, hub: str, at: datetime
    ) -> dict[str, Any]:
        shipper, consignee = self.shipper, self.consignee
        currency = currency_for(rng, self.origin)
        uses_broker = self.broker and (shipper.aeo != "none" or rng.random() < 0.55)
        return {
            "event_id": event_id,
            "hub": hub,
            "event_time": at,
            "air_waybill": air_waybill(rng),
            "shipper_id": shipper.ident,
            "shipper_name": shipper.name,
            "shipper_address": shipper.address,
            "consignee_id": consignee.ident,
            "consignee_name": consignee.name,
            "consignee_address": consignee.address,
            "consignee_phone": consignee.phone if rng.random() < 0.8 else None,
            "declarant_id": brokers.pick(rng).ident if uses_broker else None,
            "origin_country": self.origin,
            "destination_country": consignee.country,
            "route": [*self.route, hub_airport(hub)],
            "hs_code": declared_hs(rng, self.hs6),
            "goods_description": describe(rng, self.goods),
            "declared_value": in_currency(self.value_eur, currency),
            "currency": currency,
            "gross_weight_kg": round(max(self.weight, 0.05), 3),
            "pieces": 1 if rng.random() < 0.65 else rng.randint(2, 6),
            "incoterms": _INCOTERMS.pick(rng),
            "aeo_status": shipper.aeo,
            # the authority's own fields: this simulated authority declares none
            "attributes": {},
            "measures": {},
        }
