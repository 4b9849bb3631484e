"""Score every event from the three events topics and publish verdicts (the scorer role)."""

from __future__ import annotations

import asyncio
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


RESEND_AFTER_S = 0.5
_deliveries: set[asyncio.Task[None]] = set()
_refused = {"since_logged": 0}  # sends refused since the last one logged


async def _ack_when_delivered(event: Any, sent: list[tuple[Any, Any]]) -> None:
    """Ack the event (so its offset may be committed) once every record it produced is on
    the broker; send again what the broker refused.

    Right after a broker restart a send can fail for good in aiokafka (a topic not created
    again yet, an ``UnknownError``); faust would ack the event anyway and its verdict would
    be lost.
    """
    for out, delivery in sent:
        while True:
            try:
                await delivery
                _refused["since_logged"] = 0
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _refused["since_logged"] += 1
                if _refused["since_logged"] == 1:  # once per episode, not per record
                    log.warning("scorer: %s not published (%r); sending it again (logged "
                                "once until a send succeeds)", out.topic, exc)
                await asyncio.sleep(RESEND_AFTER_S)
                delivery = await outbound_topics[out.topic].send(key=out.key, value=out.value)
    event.ack()


@app.agent(events_topic)
async def score_events(stream: Any) -> None:
    scoring = service()
    # acked by _ack_when_delivered, not when the next event is read
    async for event in stream.noack().events():
        message = event.message
        started = time.perf_counter()
        result = scoring.process(
            message.topic, message.partition, message.offset, message.key, message.value
        )
        sent = [
            (out, await outbound_topics[out.topic].send(key=out.key, value=out.value))
            for out in result.outbound
        ]
        metrics.record_scoring(result, time.perf_counter() - started, message.timestamp)
        if not sent:
            event.ack()
            continue
        task = asyncio.ensure_future(_ack_when_delivered(event, sent))
        _deliveries.add(task)
        task.add_done_callback(_deliveries.discard)
