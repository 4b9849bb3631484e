"""Consumer health of the scorer worker: lag per events topic, rebalances, commit latency.

Lag is the broker's end offset minus this worker's position, summed over the partitions it
owns, so ``sum by (topic)`` over all workers is the group's lag. faust's own Prometheus
sensor is not used: its names are not idiomatic, and these three figures are all the
operations dashboard needs from the framework.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from faust.sensors import Sensor

from streams import metrics
from streams.app import app, topology
from streams.topology import STREAMS

log = logging.getLogger(__name__)

EVENTS_TOPICS = tuple(topology.events(stream) for stream in STREAMS)
LAG_EVERY_S = 2.0


class ConsumerHealth(Sensor):
    """Count rebalances and time offset commits (a faust sensor)."""

    def on_rebalance_start(self, app: Any) -> dict[str, float]:
        metrics.record_rebalance()
        return {"time_start": time.monotonic()}

    def on_commit_initiated(self, consumer: Any) -> float:
        return time.monotonic()

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        if isinstance(state, float):
            metrics.record_commit(time.monotonic() - state)


app.sensors.add(ConsumerHealth())


@app.timer(interval=LAG_EVERY_S)
async def record_consumer_lag() -> None:
    consumer = app.consumer
    owned = [tp for tp in consumer.assignment() if tp.topic in EVENTS_TOPICS]
    lag = dict.fromkeys(EVENTS_TOPICS, 0)
    try:
        ends = await asyncio.wait_for(consumer.highwaters(*owned), LAG_EVERY_S) if owned else {}
        for tp in owned:
            position = await asyncio.wait_for(consumer.position(tp), LAG_EVERY_S)
            if position is not None and tp in ends:
                lag[tp.topic] += max(0, ends[tp] - position)
    except Exception as exc:  # mid-rebalance or a slow broker: the next tick measures again
        log.debug("consumer lag not measured: %r", exc)
        return
    metrics.record_lag(lag)
