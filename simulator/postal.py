"""Postal items with CN22/CN23 declarations, and the fraud hidden among them.

Licit items are mostly e-commerce sales (sellers recur, HS codes given) and private gifts
(round declared values, rarely an HS code), plus documents, samples and returns. Illicit ones
follow the current regime:

* ``undervaluation``: regime goods from regime origins, ticked as a gift at a round value
  under the duty-free threshold, or sold at 2-12 % of their price;
* ``misclassification``: a high-duty good, honestly described, under a low-duty HS code;
* ``repeat_offender``: a sender (and often an addressee) from the regime's offender pool;
* ``concealment``: heavy "documents" and cheap cover goods from the regime's risky origins.
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
    currency_for,
    declared_hs,
    describe,
    eur,
    in_currency,
    log_uniform,
    s10_item_id,
)
from simulator.geography import ONWARD_DESTINATIONS
from simulator.people import Party, company, private_person
from simulator.population import Pool, Population, weighted
from simulator.regimes import REGIMES, Regime, pattern_draft
from simulator.truth import LICIT, Truth

_PRIVATE_ORIGINS: Pool[str] = weighted(
    [("US", 6), ("GB", 5), ("TR", 5), ("CH", 4), ("CN", 3), ("IN", 2), ("NO", 1), ("IL", 1),
     ("CA", 2), ("JP", 1), ("BR", 1), ("VN", 1), ("TH", 1), ("CO", 0.5), ("PE", 0.5),
     ("LK", 0.5), ("AE", 1), ("KR", 1)]
)
_SALE_CATEGORY: Pool[str] = weighted([("sale", 0.9), ("sample", 0.05), ("other", 0.05)])
_PRIVATE_CATEGORY: Pool[str] = weighted(
    [("gift", 0.7), ("other", 0.15), ("return", 0.1), ("sample", 0.05)]
)
_GIFT_VALUES = (10, 15, 20, 25, 30, 35, 40, 45)
_COVER_GOODS = ("black_tea", "spices", "handicraft", "books", "coffee")
_POSTAL_MAX_KG = 3.0


class PostalTraffic:
    """Makes postal item records with their truth.

    >>> from datetime import datetime, timezone
    >>> from simulator.regimes import BASE
    >>> traffic = PostalTraffic(Population(seed=0), random.Random(0))
    >>> at = datetime(2025, 1, 6, 8, tzinfo=timezone.utc)
    >>> record, truth = traffic.item("postal-0-1", "hub_FRA", at, "concealment", BASE)
    >>> record["origin_country"] in BASE.concealment_origins, truth.result, truth.severity
    (True, 'seizure', 3)
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
            "concealment": self._concealment,
        }
        postal_goods = [goods for goods in GOODS if goods.postal_weight > 0]
        self._goods = Pool(postal_goods, [goods.postal_weight for goods in postal_goods])
        self._origins = {goods.key: weighted(goods.origins) for goods in GOODS}
        self._undervalued_origins = {
            name: weighted(regime.undervalued_origins) for name, regime in REGIMES.items()
        }

    def item(
        self, event_id: str, hub: str, at: datetime, pattern: str, regime: Regime
    ) -> tuple[dict[str, Any], Truth]:
        """One postal item following ``pattern`` (``"none"`` for licit traffic)."""
        draft = pattern_draft(self._patterns, "postal", pattern, regime)
        return draft.record(self.rng, event_id, hub, at), draft.truth

    # -- licit -------------------------------------------------------------------------------

    def _none(self, regime: Regime) -> _Draft:
        rng = self.rng
        if rng.random() < 0.06:
            return self._documents(regime)
        goods = self._goods.pick(rng)
        if rng.random() < self.offender_share:
            sender = self.population.offenders[regime.name].senders.pick(rng)
            origin, category = sender.country, "gift"
        elif rng.random() < 0.65:
            origin = self._origins[goods.key].pick(rng)
            sender = self.population.shippers[origin].pick(rng)
            category = _SALE_CATEGORY.pick(rng)
        else:
            origin = _PRIVATE_ORIGINS.pick(rng)
            sender = self._private_sender(origin)
            category = _PRIVATE_CATEGORY.pick(rng)
        weight = _postal_weight(rng, goods)
        value = weight * log_uniform(rng, *goods.price_eur_per_kg) * ORIGIN_PRICE_FACTOR.get(
            origin, 1.0
        )
        if category == "gift":
            value = max(5.0, round(value / 5.0) * 5.0)  # people declare round amounts
        elif rng.random() < 0.02:
            value *= rng.uniform(0.1, 0.5)
        shows_hs = rng.random() < (0.75 if category == "sale" else 0.2)
        return _Draft(goods, goods.hs6 if shows_hs else None, origin, sender,
                      self._addressee(regime), category, value, weight, LICIT)

    def _documents(self, regime: Regime) -> _Draft:
        rng = self.rng
        origin = _PRIVATE_ORIGINS.pick(rng)
        sender = self._private_sender(origin) if rng.random() < 0.5 else (
            self.population.shippers[origin].pick(rng))
        return _Draft(GOODS_BY_KEY["documents"], None, origin, sender, self._addressee(regime),
                      "documents", rng.uniform(1.0, 20.0), log_uniform(rng, 0.03, 0.5), LICIT)

    def _private_sender(self, origin: str) -> Party:
        pool = self.population.private_senders.get(origin)
        if pool is not None and self.rng.random() < 0.4:
            return pool.pick(self.rng)
        return private_person(self.rng, origin)

    def _addressee(self, regime: Regime) -> Party:
        rng = self.rng
        roll = rng.random()
        if roll < self.offender_share:
            return self.population.offenders[regime.name].addressees.pick(rng)
        if roll < 0.4:
            return self.population.private_consignees.pick(rng)
        return private_person(rng, "DE" if rng.random() < 0.93 else rng.choice(ONWARD_DESTINATIONS))

    # -- illicit -----------------------------------------------------------------------------

    def _undervaluation(self, regime: Regime) -> _Draft:
        rng = self.rng
        goods = GOODS_BY_KEY[rng.choice(regime.undervalued_goods)]
        if rng.random() < 0.35:
            sender = self.population.offenders[regime.name].senders.pick(rng)
            origin = sender.country
        else:
            origin = self._undervalued_origins[regime.name].pick(rng)
            sender = self.population.uncertified_shippers[origin].pick(rng)
        weight = _postal_weight(rng, goods)
        true_value = weight * reference_price(goods, origin) * rng.uniform(0.8, 1.25)
        if rng.random() < 0.55:
            category = "gift"
            declared = float(rng.choice(_GIFT_VALUES))
            if declared > 0.3 * true_value:  # keep it a lie worth telling
                declared = max(5.0, round(true_value * 0.03) * 5.0)
        else:
            category = "sale"
            declared = true_value * log_uniform(rng, 0.02, 0.12)
        recovered = import_charges(max(true_value - declared, 0.0), goods)
        truth = Truth(True, "undervaluation", "revenue_adjustment", eur(recovered),
                      1 if recovered < 500 else 2, regime.name)
        shows_hs = rng.random() < (0.6 if category == "sale" else 0.15)
        return _Draft(goods, goods.hs6 if shows_hs else None, origin, sender,
                      self._addressee(regime), category, declared, weight, truth)

    def _misclassification(self, regime: Regime) -> _Draft:
        rng = self.rng
        goods = GOODS_BY_KEY[rng.choice(regime.misclassified_goods)]
        cover = GOODS_BY_KEY[rng.choice(regime.misclassified_as)]
        origin = self._origins[goods.key].pick(rng)
        weight = _postal_weight(rng, goods)
        value = weight * reference_price(goods, origin) * rng.uniform(0.7, 1.3)
        recovered = import_charges(value, goods) - import_charges(value, cover)
        truth = Truth(True, "misclassification", "revenue_adjustment", eur(recovered), 1,
                      regime.name)
        return _Draft(goods, cover.hs6, origin,
                      self.population.uncertified_shippers[origin].pick(rng),
                      self._addressee(regime), "sale", value, weight, truth)

    def _repeat_offender(self, regime: Regime) -> _Draft:
        rng = self.rng
        offenders = self.population.offenders[regime.name]
        sender = offenders.senders.pick(rng)
        origin = sender.country
        addressee = offenders.addressees.pick(rng) if rng.random() < 0.5 else (
            self._addressee(regime))
        key = "medicines" if rng.random() < 0.25 else rng.choice(regime.counterfeit_goods)
        goods = GOODS_BY_KEY[key]
        weight = _postal_weight(rng, goods)
        value = weight * reference_price(goods, origin) * rng.uniform(0.7, 1.3)
        if rng.random() < 0.7:
            declared = value * rng.uniform(0.2, 0.6)
            truth = Truth(True, "repeat_offender", "seizure", eur(0.0), 2, regime.name)
        else:
            declared = value * log_uniform(rng, 0.1, 0.4)
            truth = Truth(True, "repeat_offender", "revenue_adjustment",
                          eur(import_charges(value - declared, goods)), 1, regime.name)
        category = "gift" if rng.random() < 0.5 else "sale"
        return _Draft(goods, goods.hs6 if rng.random() < 0.3 else None, origin, sender,
                      addressee, category, declared, weight, truth)

    def _concealment(self, regime: Regime) -> _Draft:
        rng = self.rng
        origin = rng.choice(regime.concealment_origins)
        if rng.random() < 0.4:
            goods, category = GOODS_BY_KEY["documents"], "documents"
        else:
            goods, category = GOODS_BY_KEY[rng.choice(_COVER_GOODS)], "gift"
        sender = private_person(rng, origin) if rng.random() < 0.8 else company(rng, origin)
        addressee = (
            self.population.offenders[regime.name].addressees.pick(rng)
            if rng.random() < 0.3
            else private_person(rng, "DE")
        )
        truth = Truth(True, "concealment", "seizure", eur(0.0), 3, regime.name)
        return _Draft(goods, goods.hs6 if rng.random() < 0.15 else None, origin, sender,
                      addressee, category, rng.uniform(5.0, 30.0), log_uniform(rng, 0.4, 2.5),
                      truth)


def _postal_weight(rng: random.Random, goods: Goods) -> float:
    low, high = goods.weight_kg
    return log_uniform(rng, low, max(low * 1.5, min(high, _POSTAL_MAX_KG)))


class _Draft:
    """The facts of one postal item before they are written into a record."""

    __slots__ = ("addressee", "category", "goods", "hs6", "origin", "sender", "truth",
                 "value_eur", "weight")

    def __init__(self, goods: Goods, hs6: str | None, origin: str, sender: Party,
                 addressee: Party, category: str, value_eur: float, weight: float,
                 truth: Truth) -> None:
        self.goods = goods
        self.hs6 = hs6
        self.origin = origin
        self.sender = sender
        self.addressee = addressee
        self.category = category
        self.value_eur = value_eur
        self.weight = weight
        self.truth = truth

    def record(self, rng: random.Random, event_id: str, hub: str, at: datetime) -> dict[str, Any]:
        currency = currency_for(rng, self.origin)
        if self.category == "documents":
            form = "none" if rng.random() < 0.7 else "cn22"
        elif self.value_eur > 300 or rng.random() < 0.1:
            form = "cn23"
        else:
            form = "cn22"
        service = rng.choice(("LP", "LX", "UA", "RR", "RB") if self.weight <= 2 else ("CP", "EE"))
        return {
            "event_id": event_id,
            "hub": hub,
            "event_time": at,
            "item_id": s10_item_id(rng, service, self.origin),
            "declaration_form": form,
            "item_category": self.category,
            "sender_name": self.sender.name,
            "sender_address": self.sender.address,
            "addressee_name": self.addressee.name,
            "addressee_address": self.addressee.address,
            "addressee_phone": self.addressee.phone if rng.random() < 0.6 else None,
            "origin_country": self.origin,
            "destination_country": self.addressee.country,
            "hs_code": declared_hs(rng, self.hs6) if self.hs6 else None,
            "goods_description": describe(rng, self.goods),
            "declared_value": in_currency(self.value_eur, currency),
            "currency": currency,
            "gross_weight_kg": round(max(self.weight, 0.02), 3),
            "quantity": 1 if self.category == "documents" or rng.random() < 0.55
            else rng.randint(2, 10),
            # the authority's own fields: this simulated authority declares none
            "attributes": {},
            "measures": {},
        }
