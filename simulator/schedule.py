"""Poisson arrivals per stream and hub, merged into one time-ordered schedule.

Each (stream, hub) pair is its own Poisson process with its own seeded random source, so the
arrivals at one hub do not change when another hub's rate changes. Times are rounded to the
millisecond, the resolution of Avro ``timestamp-millis``.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

from simulator.personal import STREAMS
from simulator.seeding import derive_seed

Rates = Mapping[str, Mapping[str, float]]


def check_rates(rates: Rates) -> None:
    """Reject unknown streams and rates that are negative or not finite, with the culprit."""
    for stream, hubs in rates.items():
        if stream not in STREAMS:
            raise ValueError(
                f"unknown stream {stream!r} in rates; expected one of {', '.join(STREAMS)}"
            )
        for hub, rate in hubs.items():
            if not (math.isfinite(rate) and rate >= 0):
                raise ValueError(
                    f"rate for {stream} at {hub} must be a finite number of events per second "
                    f">= 0, got {rate!r}"
                )


def aware_utc(at: datetime, what: str = "time") -> datetime:
    """``at`` in UTC, truncated to whole milliseconds; naive datetimes are refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware UTC, got naive {at.isoformat()}")
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond - at.microsecond % 1000)


def poisson_arrivals(
    seed: int, start: datetime, duration_s: float, rates: Rates
) -> Iterator[tuple[datetime, str, str]]:
    """Yield ``(time, stream, hub)`` in time order for ``duration_s`` seconds after ``start``.

    ``duration_s`` may be ``math.inf`` for an endless schedule. The arrivals depend only on
    the seed, the start and the rates.

    >>> start = datetime(2025, 1, 6, tzinfo=UTC)
    >>> arrivals = list(poisson_arrivals(0, start, 10.0, {"postal": {"hub_FRA": 1.0}}))
    >>> len(arrivals), arrivals[0][1:]
    (6, ('postal', 'hub_FRA'))
    """
    check_rates(rates)
    start = aware_utc(start, "schedule start")
    if not duration_s >= 0:
        raise ValueError(f"duration_s must be >= 0 seconds, got {duration_s!r}")
    start_ms = int(start.timestamp() * 1000)
    processes = [
        _process(random.Random(derive_seed(seed, "schedule", stream, hub, start_ms)),
                 rate, duration_s, stream, hub)
        for stream in sorted(rates)
        for hub, rate in sorted(rates[stream].items())
        if rate > 0
    ]
    for offset_ms, stream, hub in heapq.merge(*processes):
        yield start + timedelta(milliseconds=offset_ms), stream, hub


def _process(
    rng: random.Random, rate: float, duration_s: float, stream: str, hub: str
) -> Iterator[tuple[int, str, str]]:
    clock = 0.0
    while True:
        clock += rng.expovariate(rate)
        if clock >= duration_s:
            return
        yield int(clock * 1000), stream, hub


def scale_rates(rates: Rates, factor: float) -> dict[str, dict[str, float]]:
    """The same traffic mix at ``factor`` times the rate, e.g. for a load test.

    >>> scale_rates({"postal": {"hub_FRA": 2.0}}, 10)
    {'postal': {'hub_FRA': 20.0}}
    """
    return {stream: {hub: rate * factor for hub, rate in hubs.items()}
            for stream, hubs in rates.items()}
