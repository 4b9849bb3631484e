"""Score every event from the three events topics and publish verdicts (the scorer role)."""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any

from streams import metrics
from streams.agents.topics import watch
from streams.app import app, events_topic, outbound_topics, settings
from streams.recovery import remember_recent_decisions
from streams.runtime import build_scoring_service
from streams.scoring import ScoringService
from streams.snapshots import SnapshotFollower

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def service() -> ScoringService:
    """The scoring service, with the newest published model loaded before the first event."""
    scoring = build_scoring_service(settings)
    remember_recent_decisions(settings, scoring.policy, scoring.codec)
    metrics.preinitialise(random_share=settings.random_share)

    def use(meta: dict[str, Any], model: Any) -> None:
        scoring.apply_snapshot(meta, model)
        metrics.record_model_swap(meta)
        log.info("scoring with model %s", meta.get("model_version"))

    follower = SnapshotFollower(
        settings,
        on_model=use,
        on_refused=metrics.record_refused_snapshot,
        client_settings=watch.client_settings(),
    )
    if not follower.start(wait_s=10.0):
        log.warning(
            "models topic not read to its end within 10 s; scoring with %s", scoring.model.version
        )
    return scoring


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
        metrics.record_scoring(result, time.perf_counter() - started, message.timestamp)
