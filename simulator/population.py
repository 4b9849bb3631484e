"""The standing population of the world: traders, private persons, brokers, travellers.

Real traffic is dominated by repeat actors: a few big shippers send most consignments, people
order again, business travellers fly every month. Pools with Zipf-like popularity give entity
profiles something to learn. Offenders are small separate pools per smuggling regime, so they
recur (and can be learned) and fall silent after the drift.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from simulator import people
from simulator.geography import (
    AIRPORT_COUNTRY,
    COUNTRIES,
    ONWARD_DESTINATIONS,
    PASSENGER_DEPARTURES,
)
from simulator.people import Party, Traveller
from simulator.regimes import REGIMES, Regime
from simulator.seeding import derive_seed

T = TypeVar("T")

_AEO_LEVELS = ("aeoc", "aeos", "aeof")
_BIG_ORIGINS = {"CN": 400, "US": 150, "HK": 100, "GB": 80, "TR": 60, "IN": 60, "JP": 50}


class Pool(Generic[T]):
    """Members drawn with fixed relative weights.

    >>> pool = Pool(["big", "small"], [9.0, 1.0])
    >>> rng = random.Random(0)
    >>> sum(pool.pick(rng) == "big" for _ in range(1000))
    896
    """

    def __init__(self, members: Sequence[T], weights: Sequence[float]) -> None:
        if not members or len(members) != len(weights):
            raise ValueError("a pool needs as many weights as members, and at least one")
        self.members = tuple(members)
        self._cumulative = list(itertools.accumulate(weights))
        self._total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        return self.members[bisect.bisect(self._cumulative, rng.random() * self._total)]

    def __len__(self) -> int:
        return len(self.members)


def zipf_pool(members: Sequence[T], exponent: float = 1.0) -> Pool[T]:
    """A pool where the k-th member is drawn in proportion to 1 / k**exponent."""
    return Pool(members, [1.0 / (rank + 1) ** exponent for rank in range(len(members))])


def weighted(pairs: Sequence[tuple[T, float]]) -> Pool[T]:
    """A pool from (member, weight) pairs."""
    return Pool([member for member, _ in pairs], [weight for _, weight in pairs])


@dataclass(frozen=True, slots=True)
class Offenders:
    """The repeat offenders active in one regime."""

    shippers: Pool[Party]
    consignees: Pool[Party]
    senders: Pool[Party]
    addressees: Pool[Party]
    travellers: Pool[Traveller]


class Population:
    """Everyone who trades, sends or travels in the world, built once from a seed.

    >>> population = Population(seed=0)
    >>> len(population.shippers["CN"]), population.shippers["CN"].members[0].country
    (400, 'CN')
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = random.Random(seed)
        # Every country outside the EU customs union ships to the hubs.
        origins = set(COUNTRIES) - set(ONWARD_DESTINATIONS) - {"DE"}
        self.shippers = {
            code: self._traders(rng, code, _BIG_ORIGINS.get(code, 30), aeo_share=0.1)
            for code in sorted(origins)
        }
        # Smugglers rarely hold AEO certificates: illicit traffic draws from these pools.
        self.uncertified_shippers = {
            code: zipf_pool([party for party in pool.members if party.aeo == "none"])
            for code, pool in self.shippers.items()
        }
        self.business_consignees = self._traders(rng, "DE", 600, aeo_share=0.15)
        self.brokers = self._traders(rng, "DE", 25, aeo_share=0.6)
        self.private_consignees = zipf_pool(
            [people.private_person(rng, "DE") for _ in range(5000)], exponent=0.5
        )
        self.private_senders = {
            code: zipf_pool([people.private_person(rng, code) for _ in range(150)], 0.5)
            for code in sorted(origins)
        }
        departure_countries = sorted({AIRPORT_COUNTRY[a] for a in PASSENGER_DEPARTURES})
        self.frequent_travellers = zipf_pool(
            [
                people.traveller(
                    rng,
                    "DE" if rng.random() < 0.55 else rng.choice(departure_countries),
                    rng.randint(6, 40),
                )
                for _ in range(2000)
            ],
            exponent=0.7,
        )
        self.offenders = {
            name: self._offenders(random.Random(derive_seed(seed, "offenders", name)), regime)
            for name, regime in REGIMES.items()
        }

    @staticmethod
    def _traders(rng: random.Random, country: str, size: int, aeo_share: float) -> Pool[Party]:
        members = [
            people.company(
                rng, country, rng.choice(_AEO_LEVELS) if rng.random() < aeo_share else "none"
            )
            for _ in range(size)
        ]
        # Certified traders are the big, regular ones: sort them to the popular end.
        members.sort(key=lambda party: party.aeo == "none")
        return zipf_pool(members)

    @staticmethod
    def _offenders(rng: random.Random, regime: Regime) -> Offenders:
        origins = [code for code, _ in regime.undervalued_origins]
        make: list[Callable[[random.Random, str], Party]] = [people.company, people.private_person]
        return Offenders(
            shippers=zipf_pool([people.company(rng, rng.choice(origins)) for _ in range(20)], 0.5),
            consignees=zipf_pool([people.private_person(rng, "DE") for _ in range(30)], 0.5),
            senders=zipf_pool(
                [rng.choice(make)(rng, rng.choice(origins)) for _ in range(25)], 0.5
            ),
            addressees=zipf_pool([people.private_person(rng, "DE") for _ in range(25)], 0.5),
            travellers=zipf_pool(
                [
                    people.traveller(
                        rng,
                        AIRPORT_COUNTRY[rng.choice(regime.offender_departures)]
                        if rng.random() < 0.5
                        else "DE",
                        rng.randint(10, 40),
                    )
                    for _ in range(30)
                ],
                0.5,
            ),
        )

