"""The hub world: every consignment, postal item and passenger, with the truth behind it.

``HubWorld`` is the synthetic customs world the demo, tests, replay and benchmarks share. It
is a pure function of its seed: the same seed and the same calls give the same records, ids
and truths, with no wall clock and no global random state. Each stream has its own random
source, so generating passengers never changes the courier records.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime
from types import MappingProxyType
from typing import Any

from simulator.courier import CourierTraffic
from simulator.passenger import PassengerTraffic
from simulator.personal import STREAMS
from simulator.population import Pool, Population, weighted
from simulator.postal import PostalTraffic
from simulator.regimes import BASE, DRIFTED, REGIMES, Regime
from simulator.schedule import Rates, aware_utc, poisson_arrivals
from simulator.seeding import derive_seed
from simulator.trusted import disguise
from simulator.truth import SimEvent, Truth

#: Events per second per stream and hub for a lively demo (about 130 events/s in all).
DEFAULT_RATES: Rates = MappingProxyType({
    "courier": MappingProxyType({"hub_LEJ": 40.0, "hub_CGN": 25.0}),
    "postal": MappingProxyType({"hub_FRA": 30.0, "hub_LEJ": 10.0}),
    "passenger": MappingProxyType({"hub_FRA": 15.0, "hub_MUC": 10.0}),
})

# Share of licit events that still involve a repeat offender, per unit of illicit rate: it
# keeps offenders at roughly two illicit events in three, so their profiles are learnable
# but not certain.
_OFFENDER_LICIT_FACTOR = 0.15

Maker = Callable[[str, str, datetime, str, Regime], tuple[dict[str, Any], Truth]]


class HubWorld:
    """A deterministic synthetic world of courier, postal and passenger traffic.

    Parameters
    ----------
    seed
        Everything the world produces is a function of this seed.
    illicit_rate
        Share of events of each stream that are illicit.
    drift_at
        From this time on, smugglers switch to the drifted regime (other goods, origins and
        airports). ``None`` means no drift.
    drift_share
        Share of illicit events after ``drift_at`` that follow the new regime; the rest are
        stragglers of the old one.
    trusted_abuse
        Share of illicit events after ``drift_at`` that hide behind a trusted party (an AEO
        shipper, an established sender, a frequent traveller; see :mod:`simulator.trusted`):
        smugglers adapting to a green lane. 0 (the default) changes nothing.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> world = HubWorld(seed=7)
    >>> start = datetime(2025, 1, 6, 8, tzinfo=timezone.utc)
    >>> event = world.event("courier", "hub_LEJ", start)
    >>> event.event_id, event.record["origin_country"], event.record["hs_code"]
    ('courier-7-000000001', 'VN', '64041100')
    >>> events = list(world.events(start, 60.0, {"postal": {"hub_FRA": 5.0}}))
    >>> len(events), sum(e.truth.illicit for e in events)
    (296, 10)
    """

    def __init__(
        self,
        seed: int = 0,
        illicit_rate: float = 0.04,
        drift_at: datetime | None = None,
        drift_share: float = 0.9,
        trusted_abuse: float = 0.0,
    ) -> None:
        if not 0.0 <= illicit_rate <= 1.0:
            raise ValueError(f"illicit_rate must be within [0, 1], got {illicit_rate!r}")
        if not 0.0 <= drift_share <= 1.0:
            raise ValueError(f"drift_share must be within [0, 1], got {drift_share!r}")
        if not 0.0 <= trusted_abuse <= 1.0:
            raise ValueError(f"trusted_abuse must be within [0, 1], got {trusted_abuse!r}")
        self.seed = seed
        self.illicit_rate = illicit_rate
        self.drift_at = None if drift_at is None else aware_utc(drift_at, "drift_at")
        self.drift_share = drift_share
        self.trusted_abuse = trusted_abuse
        self.population = Population(derive_seed(seed, "population"))
        offender_share = illicit_rate * _OFFENDER_LICIT_FACTOR
        self._rngs = {stream: random.Random(derive_seed(seed, "events", stream))
                      for stream in STREAMS}
        courier = CourierTraffic(self.population, self._rngs["courier"], offender_share)
        postal = PostalTraffic(self.population, self._rngs["postal"], offender_share)
        passenger = PassengerTraffic(self.population, self._rngs["passenger"], offender_share)
        self._makers: dict[str, Maker] = {
            "courier": courier.consignment,
            "postal": postal.item,
            "passenger": passenger.passenger,
        }
        self._patterns: dict[tuple[str, str], Pool[str]] = {
            (name, stream): weighted(list(regime.pattern_weights[stream].items()))
            for name, regime in REGIMES.items()
            for stream in STREAMS
        }
        self._counter = 0

    def regime_at(self, at: datetime) -> Regime:
        """The regime most smugglers follow at ``at``."""
        return DRIFTED if self.drift_at is not None and at >= self.drift_at else BASE

    def event(self, stream: str, hub: str, at: datetime) -> SimEvent:
        """The next event of ``stream`` reported by ``hub`` at ``at``."""
        maker = self._makers.get(stream)
        if maker is None:
            raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(STREAMS)}")
        at = aware_utc(at, "event time")
        rng = self._rngs[stream]
        self._counter += 1
        event_id = f"{stream}-{self.seed}-{self._counter:09d}"
        regime = self.regime_at(at)
        if regime is DRIFTED and rng.random() >= self.drift_share:
            regime = BASE
        pattern = "none"
        if rng.random() < self.illicit_rate:
            pattern = self._patterns[regime.name, stream].pick(rng)
        record, truth = maker(event_id, hub, at, pattern, regime)
        if (
            self.trusted_abuse
            and truth.illicit
            and self.drift_at is not None
            and at >= self.drift_at
            and rng.random() < self.trusted_abuse
        ):
            record = disguise(stream, record, self.population, rng)
        return SimEvent(stream, record, truth)

    def schedule(
        self, start: datetime, duration_s: float, rates: Rates = DEFAULT_RATES
    ) -> Iterator[tuple[datetime, str, str]]:
        """Poisson arrivals ``(time, stream, hub)`` at ``rates`` events/s, in time order."""
        return poisson_arrivals(self.seed, start, duration_s, rates)

    def events(
        self, start: datetime, duration_s: float, rates: Rates = DEFAULT_RATES
    ) -> Iterator[SimEvent]:
        """The events of ``schedule(start, duration_s, rates)``, generated lazily."""
        for at, stream, hub in self.schedule(start, duration_s, rates):
            yield self.event(stream, hub, at)

    def __repr__(self) -> str:
        drift = None if self.drift_at is None else self.drift_at.isoformat()
        return (f"HubWorld(seed={self.seed}, illicit_rate={self.illicit_rate}, "
                f"drift_at={drift}, drift_share={self.drift_share}, "
                f"trusted_abuse={self.trusted_abuse})")
