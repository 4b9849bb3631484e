"""Advance passenger information (API) with PNR elements, and the risk hidden among them.

Licit travellers book weeks ahead by card, fly return, check bags; business travellers recur.
Some leisure charter carriers send API data late or incomplete for everyone (noise). Illicit
travellers follow the current regime:

* ``cash_short_notice``: from the regime's source airports (directly or via a transit hub),
  booked hours before departure, paid cash, one-way, few bags;
* ``late_api``: API data received after departure or missing mandatory fields, on carriers
  that are otherwise punctual;
* ``repeat_offender``: the same few travellers, flying often from the regime's airports with
  undeclared goods in their bags.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from simulator import people
from simulator.declarations import eur
from simulator.geography import (
    AIRPORT_COUNTRY,
    LATE_API_CARRIERS,
    PASSENGER_DEPARTURES,
    hub_airport,
)
from simulator.people import Traveller
from simulator.population import Pool, Population, weighted
from simulator.regimes import Regime
from simulator.truth import LICIT, Truth

_HOUR = 3600.0
_DAY = 86400.0
_TRANSIT_HUBS = ("IST", "DXB", "DOH", "ADD", "LHR", "ZRH")
_EUROPEAN = frozenset({"LHR", "ZRH", "OSL"})
_LICIT_PAYMENT: Pool[str] = weighted(
    [("card", 0.85), ("miles", 0.03), ("cash", 0.02), ("other", 0.03), ("unknown", 0.07)]
)
_BUSINESS_PAYMENT: Pool[str] = weighted([("card", 0.7), ("invoice", 0.25), ("miles", 0.05)])
_CASH_PAYMENT: Pool[str] = weighted([("cash", 0.75), ("unknown", 0.1), ("card", 0.15)])
_LICIT_BAGS: Pool[int] = weighted([(0, 0.2), (1, 0.5), (2, 0.25), (3, 0.05)])
_BUSINESS_BAGS: Pool[int] = weighted([(0, 0.5), (1, 0.45), (2, 0.05)])
_LATE_API_PAYMENT: Pool[str] = weighted([("cash", 0.3), ("card", 0.5), ("unknown", 0.2)])
_COURIER_BAGS: Pool[int] = weighted([(0, 0.4), (1, 0.5), (2, 0.1)])
_COURIER_NATIONALITY: Pool[str] = weighted([("", 0.6), ("DE", 0.2), ("NL", 0.1), ("FR", 0.1)])


class PassengerTraffic:
    """Makes passenger records (API + PNR) with their truth.

    >>> from datetime import datetime, timezone
    >>> from simulator.regimes import BASE
    >>> traffic = PassengerTraffic(Population(seed=0), random.Random(0))
    >>> at = datetime(2025, 1, 6, 8, tzinfo=timezone.utc)
    >>> record, truth = traffic.passenger("passenger-0-1", "hub_FRA", at, "cash_short_notice",
    ...                                   BASE)
    >>> record["itinerary"][0] in BASE.cash_source_airports, record["arrival_airport"]
    (True, 'FRA')
    """

    def __init__(self, population: Population, rng: random.Random,
                 offender_share: float = 0.006) -> None:
        self.population = population
        self.rng = rng
        self.offender_share = offender_share
        self._patterns: dict[str, Callable[[Regime], _Trip]] = {
            "none": self._none,
            "cash_short_notice": self._cash_short_notice,
            "late_api": self._late_api,
            "repeat_offender": self._repeat_offender,
        }
        self._departures = weighted(
            [(airport, weight) for airport, (weight, _) in PASSENGER_DEPARTURES.items()]
        )
        self._long_haul = weighted(
            [(airport, weight) for airport, (weight, _) in PASSENGER_DEPARTURES.items()
             if airport not in _EUROPEAN and airport not in _TRANSIT_HUBS]
        )

    def passenger(
        self, event_id: str, hub: str, at: datetime, pattern: str, regime: Regime
    ) -> tuple[dict[str, Any], Truth]:
        """One passenger record following ``pattern`` (``"none"`` for licit traffic)."""
        maker = self._patterns.get(pattern)
        if maker is None:
            raise ValueError(
                f"passenger stream has no pattern {pattern!r}; expected one of "
                + ", ".join(self._patterns)
            )
        trip: _Trip = maker(regime)
        return trip.record(self.rng, event_id, hub, at), trip.truth

    def _carrier(self, departure: str, punctual: bool = False) -> str:
        carriers = PASSENGER_DEPARTURES[departure][1]
        if punctual:
            carriers = tuple(c for c in carriers if c not in LATE_API_CARRIERS) or carriers
        return self.rng.choice(carriers)

    def _api_timing(self, carrier: str) -> tuple[float, int]:
        """Seconds of API receipt before departure, and how many mandatory fields are missing."""
        rng = self.rng
        if carrier in LATE_API_CARRIERS:
            lead = -rng.uniform(300, 3 * _HOUR) if rng.random() < 0.35 else (
                rng.uniform(20 * 60, 150 * 60))
            return lead, rng.randint(1, 3) if rng.random() < 0.25 else 0
        return rng.uniform(20 * 60, 150 * 60), 1 if rng.random() < 0.03 else 0

    def _fresh_traveller(self, country: str, trips: int) -> Traveller:
        return people.traveller(self.rng, country, trips)

    # -- licit -------------------------------------------------------------------------------

    def _none(self, regime: Regime) -> _Trip:
        rng = self.rng
        departure = self._departures.pick(rng)
        origin = departure
        if departure in _TRANSIT_HUBS and rng.random() < 0.35:
            origin = self._long_haul.pick(rng)
        carrier = self._carrier(departure)
        roll = rng.random()
        business = False
        if roll < self.offender_share:
            traveller = self.population.offenders[regime.name].travellers.pick(rng)
        elif roll < 0.3:
            traveller = self.population.frequent_travellers.pick(rng)
            business = True
        else:
            country = "DE" if rng.random() < 0.45 else AIRPORT_COUNTRY[origin]
            traveller = self._fresh_traveller(
                country, min(30, int(rng.lognormvariate(0.5, 0.9)))
            )
        payment = (_BUSINESS_PAYMENT if business else _LICIT_PAYMENT).pick(rng)
        if rng.random() < 0.04:
            booking_lead = rng.uniform(3 * _HOUR, 72 * _HOUR)
            if rng.random() < 0.1:
                payment = "cash"  # walk-up tickets bought at the airport counter
        else:
            median = 5 * _DAY if business else 21 * _DAY
            booking_lead = max(_HOUR, median * math.exp(rng.gauss(0.0, 0.9)))
        lead, missing = self._api_timing(carrier)
        trips = traveller.trips_per_year
        if business:
            trips = max(0, trips + rng.randint(-3, 3))
        return _Trip(
            traveller, origin, departure, carrier, rng.random() < 0.12, booking_lead, payment,
            (_BUSINESS_BAGS if business else _LICIT_BAGS).pick(rng), trips, lead, missing, LICIT,
        )

    # -- illicit -----------------------------------------------------------------------------

    def _cash_short_notice(self, regime: Regime) -> _Trip:
        rng = self.rng
        origin = rng.choice(regime.cash_source_airports)
        departure = origin
        if rng.random() < 0.3:
            departure = rng.choice([hub for hub in _TRANSIT_HUBS if hub != origin])
        country = _COURIER_NATIONALITY.pick(rng) or AIRPORT_COUNTRY[origin]
        trips = rng.randint(0, 3) if rng.random() < 0.8 else rng.randint(5, 12)
        carrier = self._carrier(departure)
        lead, missing = self._api_timing(carrier)
        if rng.random() < 0.25:
            if rng.random() < 0.5:
                lead = -rng.uniform(300, 2 * _HOUR)
            missing = max(missing, rng.randint(1, 2))
        truth = Truth(True, "cash_short_notice", "seizure", eur(0.0), 3, regime.name)
        low, high = regime.cash_booking_hours
        payment = "card" if regime.cash_pays_by_card else _CASH_PAYMENT.pick(rng)
        return _Trip(
            self._fresh_traveller(country, trips), origin, departure, carrier,
            rng.random() < regime.cash_one_way, rng.uniform(low * _HOUR, high * _HOUR), payment,
            _COURIER_BAGS.pick(rng), trips, lead, missing, truth,
        )

    def _late_api(self, regime: Regime) -> _Trip:
        rng = self.rng
        departure = self._departures.pick(rng)
        carrier = self._carrier(departure, punctual=True)
        lead = -rng.uniform(300, 4 * _HOUR) if rng.random() < 0.6 else (
            rng.uniform(20 * 60, 150 * 60))
        country = "DE" if rng.random() < 0.3 else AIRPORT_COUNTRY[departure]
        trips = rng.randint(0, 8)
        if rng.random() < 0.5:
            truth = Truth(True, "late_api", "seizure", eur(0.0), 2, regime.name)
        else:
            truth = Truth(True, "late_api", "revenue_adjustment", eur(rng.uniform(100, 3000)), 1,
                          regime.name)
        return _Trip(
            self._fresh_traveller(country, trips), departure, departure, carrier,
            rng.random() < 0.4, rng.uniform(1 * _DAY, 10 * _DAY), _LATE_API_PAYMENT.pick(rng),
            rng.randint(1, 3),
            trips, lead, rng.randint(2, 4), truth,
        )

    def _repeat_offender(self, regime: Regime) -> _Trip:
        rng = self.rng
        traveller = self.population.offenders[regime.name].travellers.pick(rng)
        departure = rng.choice(regime.offender_departures)
        carrier = self._carrier(departure)
        lead, missing = self._api_timing(carrier)
        if rng.random() < 0.7:
            truth = Truth(True, "repeat_offender", "revenue_adjustment",
                          eur(rng.uniform(200, 5000)), 1, regime.name)
        else:
            truth = Truth(True, "repeat_offender", "seizure", eur(0.0), 2, regime.name)
        return _Trip(
            traveller, departure, departure, carrier, rng.random() < 0.2,
            rng.uniform(3 * _DAY, 20 * _DAY), "cash" if rng.random() < 0.4 else "card",
            rng.choice((1, 2, 2, 3, 3)), max(0, traveller.trips_per_year + rng.randint(-2, 2)),
            lead, missing, truth,
        )


def flight_number(carrier: str, departure: str, arrival: str) -> str:
    """The fixed flight number of a carrier's route, so travellers on a route share it.

    >>> flight_number("LH", "JFK", "FRA") == flight_number("LH", "JFK", "FRA")
    True
    """
    return f"{carrier}{100 + zlib.crc32(f'{carrier}{departure}{arrival}'.encode()) % 900}"


class _Trip:
    """The facts of one traveller's trip before they are written into a record."""

    __slots__ = ("bags", "booking_lead_s", "carrier", "departure", "lead_s", "missing",
                 "one_way", "origin", "payment", "traveller", "trips", "truth")

    def __init__(self, traveller: Traveller, origin: str, departure: str, carrier: str,
                 one_way: bool, booking_lead_s: float, payment: str, bags: int, trips: int,
                 lead_s: float, missing: int, truth: Truth) -> None:
        self.traveller = traveller
        self.origin = origin
        self.departure = departure
        self.carrier = carrier
        self.one_way = one_way
        self.booking_lead_s = booking_lead_s
        self.payment = payment
        self.bags = bags
        self.trips = trips
        self.lead_s = lead_s
        self.missing = missing
        self.truth = truth

    def record(self, rng: random.Random, event_id: str, hub: str, at: datetime) -> dict[str, Any]:
        traveller = self.traveller
        arrival = hub_airport(hub)
        outbound = [self.origin] if self.origin == self.departure else [self.origin,
                                                                         self.departure]
        itinerary = [*outbound, arrival]
        if not self.one_way:
            itinerary += outbound[::-1]
        lead = int(self.lead_s)
        departure_time = at + timedelta(seconds=lead)
        # A booking always precedes check-in and the API message that reports it.
        booking_time = min(departure_time - timedelta(seconds=int(self.booking_lead_s)),
                           at - timedelta(minutes=30))
        latest = min(at, departure_time)
        earliest = max(booking_time, departure_time - timedelta(days=1))
        check_in = latest if latest <= earliest else earliest + timedelta(
            seconds=int(rng.random() * (latest - earliest).total_seconds())
        )
        # Missing mandatory fields show up as absent identity data, at least in part.
        missing = self.missing + (rng.random() < 0.02)
        birth_date: str | None = traveller.birth_date
        nationality: str | None = traveller.nationality
        if missing and rng.random() < 0.5:
            birth_date = None
        if missing > (birth_date is None) and rng.random() < 0.4:
            nationality = None
        return {
            "event_id": event_id,
            "hub": hub,
            "event_time": at,
            "traveller_name": traveller.name,
            "document_number": traveller.document,
            "date_of_birth": birth_date,
            "phone": traveller.phone if rng.random() < 0.8 else None,
            "nationality": nationality,
            "carrier": self.carrier,
            "flight_number": flight_number(self.carrier, self.departure, arrival),
            "departure_airport": self.departure,
            "arrival_airport": arrival,
            "departure_time": departure_time,
            "itinerary": itinerary,
            "one_way": self.one_way,
            "booking_time": booking_time if rng.random() < 0.97 else None,
            "check_in_time": check_in if rng.random() < 0.95 else None,
            "payment_form": self.payment,
            "baggage_count": self.bags,
            "trips_last_year": self.trips,
            "api_received_before_departure_s": lead,
            "mandatory_fields_missing": int(missing),
        }
