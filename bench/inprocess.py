"""The scoring pipeline with no Kafka: its ceiling, the cost of each stage, and a profile.

``ScoringService.process`` runs exactly what a worker runs per record (decode, pseudonymise,
features, ensemble, selection, encode of the verdict and the scored record); the worker only
adds the Kafka client, the framework and the metrics around it.
"""

from __future__ import annotations

import cProfile
import functools
import io
import pstats
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.workload import EncodedEvent
from streams import metrics
from streams.runtime import build_scoring_service
from streams.scoring import ScoringService
from streams.settings import Settings
from streams.topology import STREAM_SCHEMAS, Topology

WARM_UP = 200


def _topics(settings: Settings) -> dict[str, str]:
    topology = Topology.from_settings(settings)
    return {stream: topology.events(stream) for stream in STREAM_SCHEMAS}


def ceiling(settings: Settings, events: list[EncodedEvent]) -> dict[str, Any]:
    """Events per second (wall and CPU) of ``ScoringService.process`` on one thread.

    Also returns the encoded scored records (``scored``), which the learner benchmark feeds.
    """
    service = build_scoring_service(settings)
    topics = _topics(settings)
    for i, event in enumerate(events[:WARM_UP]):  # first calls fill caches (schemas, regexes)
        service.process(topics[event.stream], 0, i, event.event_id.encode(), event.payload)
    scored: list[tuple[EncodedEvent, bytes]] = []
    rejected = 0
    began, cpu = time.perf_counter(), time.process_time()
    for i, event in enumerate(events):
        result = service.process(
            topics[event.stream], 0, i, event.event_id.encode(), event.payload
        )
        if result.rejected is None:
            scored.append((event, result.outbound[1].value))
        else:
            rejected += 1
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return {
        "events": len(events),
        "rejected": rejected,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "events_per_s": round(len(events) / seconds, 1),
        "events_per_cpu_s": round(len(events) / cpu, 1),
        "cpu_us_per_event": round(cpu / len(events) * 1e6, 1),
        "scored": scored,
    }


# CPU time of this thread: preemption by other processes on a busy machine does not count
# (each reading costs ~0.8 µs, which lands in the stage it closes)
_clock = time.thread_time


def _timed(fn: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = _clock()
        try:
            return fn(*args, **kwargs)
        finally:
            into.append(_clock() - started)

    return wrapper


def stage_costs(settings: Settings, events: list[EncodedEvent]) -> dict[str, float]:
    """Mean CPU µs per event of each stage: decode, pseudonymise, model (assess), selection
    (decide), verdict assembly and encoding, and the Prometheus metrics of one record."""
    service = build_scoring_service(settings)
    assess: list[float] = []
    decide: list[float] = []
    # instance attributes shadow the methods: the service calls them through the instances
    service.model.assess = _timed(service.model.assess, assess)  # type: ignore[method-assign]
    service.policy.decide = _timed(service.policy.decide, decide)  # type: ignore[method-assign]
    now = datetime.now(UTC)

    def one(event: EncodedEvent) -> tuple[float, float, float, float]:
        name = STREAM_SCHEMAS[event.stream]
        t0 = _clock()
        record = service.codec.decode(name, event.payload, now)
        t1 = _clock()
        record = service.pseudonymiser.apply(name, record)
        t2 = _clock()
        result = service.score(event.stream, record)
        t3 = _clock()
        metrics.record_scoring(result, t3 - t0, time.time())
        return t1 - t0, t2 - t1, t3 - t2, _clock() - t3

    for event in events[:WARM_UP]:
        one(event)
    assess.clear()
    decide.clear()
    measured = events[WARM_UP:] or events
    decode_s, pseudonymise_s, score_s, metrics_s = (
        sum(column) for column in zip(*(one(event) for event in measured), strict=True)
    )
    n = len(measured)
    model_s, selection_s = sum(assess), sum(decide)
    us = 1e6 / n
    return {
        "decode_us": round(decode_s * us, 1),
        "pseudonymise_us": round(pseudonymise_s * us, 1),
        "model_assess_us": round(model_s * us, 1),
        "selection_decide_us": round(selection_s * us, 1),
        "verdict_assembly_and_encode_us": round((score_s - model_s - selection_s) * us, 1),
        "metrics_record_scoring_us": round(metrics_s * us, 1),
    }


def profile(settings: Settings, events: list[EncodedEvent], top: int = 25) -> dict[str, Any]:
    """cProfile of ``ScoringService.process``: the functions that take the time."""
    service: ScoringService = build_scoring_service(settings)
    topics = _topics(settings)
    for i, event in enumerate(events[:WARM_UP]):
        service.process(topics[event.stream], 0, i, None, event.payload)
    measured = events[WARM_UP:] or events
    profiler = cProfile.Profile()
    profiler.enable()
    for i, event in enumerate(measured):
        service.process(topics[event.stream], 0, i, None, event.payload)
    profiler.disable()
    return {"events": len(measured), **profile_rows(profiler, len(measured), top),
            "note": "cProfile inflates per-call overhead; read the shares, not the absolute µs"}


def profile_rows(profiler: cProfile.Profile, n: int, top: int) -> dict[str, Any]:
    """The ``top`` functions by self time and by cumulative time, per item processed."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (path, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({
            "function": f"{_short(path)}:{line}({name})",
            "calls_per_item": round(calls / n, 2),
            "self_us_per_item": round(tottime / n * 1e6, 1),
            "cumulative_us_per_item": round(cumtime / n * 1e6, 1),
        })
    return {
        "by_self_time": sorted(rows, key=lambda r: -r["self_us_per_item"])[:top],
        "by_cumulative_time": sorted(rows, key=lambda r: -r["cumulative_us_per_item"])[:top],
    }


def _short(path: str) -> str:
    for marker in ("site-packages/", "/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
