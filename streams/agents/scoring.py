"""Score every event from the three events topics and publish verdicts (the scorer role)."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from streams import metrics
from streams.app import app, events_topic, outbound_topics, settings
from streams.runtime import build_scoring_service
from streams.scoring import ScoringService


@lru_cache(maxsize=1)
def service() -> ScoringService:
    return build_scoring_service(settings)


@app.agent(events_topic)
async def score_events(stream: Any) -> None:
    scoring = service()
    async for event in stream.events():
        message = event.message
        started = time.perf_counter()
        result = scoring.process(
            message.topic, message.partition, message.offset, message.key, message.value
        )
        for out in result.outbound:
            await outbound_topics[out.topic].send(key=out.key, value=out.value)
        metrics.record_scoring(result, time.perf_counter() - started)
