"""The learner: outcomes per second, snapshot sizes, hot-swap time, label-to-model delay.

In process, the ``learning.Learner`` core is fed decoded scored records and outcomes exactly
as the learner process decodes them. Over Kafka, ``riskstream learner`` reads them from its
topics and a scorer worker hot-swaps its snapshots; both are watched through /metrics.
"""

from __future__ import annotations

import cProfile
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.inprocess import profile_rows
from bench.pipeline import ENGINES, BenchBroker
from bench.workload import (
    EncodedEvent,
    cpu_seconds,
    memory_bytes,
    outcome_for,
    percentile,
    scrape,
)
from learning.challenger import with_learning_rate
from learning.learner import Learner
from learning.snapshot import unseal
from schemas import AvroCodec
from streams.broker import free_port
from streams.demo import stop_process
from streams.learner import learner_config
from streams.runtime import build_model, build_scoring_service
from streams.settings import Settings
from streams.testing import Deployment, new_deployment

_FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
WARM_UP_OUTCOMES = 100
HEAD_SCORED = 200
APPLIED = 'riskstream_learner_records_total{fate="applied",input="outcomes"}'
OBSERVED = 'riskstream_learner_records_total{fate="observed",input="scored"}'
LEARNED = "riskstream_model_outcomes_learned"
SWAPS = "riskstream_model_swaps_total"
CREATED = "riskstream_model_snapshot_created_timestamp_seconds"


def _outcomes(
    codec: AvroCodec, scored: list[tuple[EncodedEvent, bytes]], seed: int
) -> list[tuple[EncodedEvent, bytes]]:
    at = datetime.now(UTC)
    return [
        (event, outcome_for(codec, event.stream, event.event_id, event.illicit, at, seed))
        for event, _ in scored
    ]


def learner_core(
    settings: Settings, scored: list[tuple[EncodedEvent, bytes]], n_outcomes: int, seed: int
) -> dict[str, Any]:
    """Scored records/s and outcomes/s of the Learner core, snapshot sizes and swap time."""
    codec = AvroCodec()
    records = [codec.decode("ScoredRecord", raw, now=_FAR_FUTURE) for _, raw in scored]
    outcomes = [
        codec.decode("InspectionOutcome", raw, now=_FAR_FUTURE)
        for _, raw in _outcomes(codec, scored[:n_outcomes], seed)
    ]
    model = build_model(settings)  # the warm model, as the learner process starts
    rate = settings.challenger_learning_rate
    challenger = with_learning_rate(model, rate) if rate is not None else None
    learner = Learner(model, learner_config(settings), challenger)

    began = time.perf_counter()
    for offset, record in enumerate(records):
        learner.on_scored(record, offset)
    scored_s = time.perf_counter() - began
    began = time.perf_counter()
    for offset, outcome in enumerate(outcomes):
        learner.on_outcome(outcome, offset)
    outcomes_s = time.perf_counter() - began
    applied = learner.counters["outcomes_applied"]

    key = settings.snapshot_key.get_secret_value().encode()
    began = time.perf_counter()
    model_blob = learner.model_snapshot(key, created_at=datetime.now(UTC))
    seal_s = time.perf_counter() - began
    began = time.perf_counter()
    state_blob = learner.state_snapshot(key, created_at=datetime.now(UTC))
    state_s = time.perf_counter() - began
    service = build_scoring_service(settings)
    began = time.perf_counter()
    _, unsealed = unseal(model_blob, key)
    unseal_s = time.perf_counter() - began
    began = time.perf_counter()
    service.swap_model(unsealed)
    swap_s = time.perf_counter() - began
    return {
        "scored_records": len(records),
        "scored_per_s": round(len(records) / scored_s, 1),
        "outcomes": len(outcomes),
        "outcomes_applied": applied,
        "outcomes_per_s": round(applied / outcomes_s, 1),
        "us_per_outcome": round(outcomes_s / max(1, applied) * 1e6, 1),
        "us_per_scored_record": round(scored_s / len(records) * 1e6, 1),
        "challenger": challenger is not None,
        "model_snapshot_bytes": len(model_blob),
        "learner_state_snapshot_bytes": len(state_blob),
        "pending_records_in_state": learner.pending,
        "model_snapshot_seal_ms": round(seal_s * 1e3, 1),
        "learner_state_seal_ms": round(state_s * 1e3, 1),
        "unseal_ms": round(unseal_s * 1e3, 1),
        "swap_ms": round(swap_s * 1e3, 3),
        "unseal_and_swap_ms": round((unseal_s + swap_s) * 1e3, 1),
    }


def learner_profile(
    settings: Settings, scored: list[tuple[EncodedEvent, bytes]], n_outcomes: int, seed: int,
    top: int = 15,
) -> dict[str, Any]:
    """cProfile of the Learner core: where a scored record's and an outcome's time goes."""
    codec = AvroCodec()
    records = [codec.decode("ScoredRecord", raw, now=_FAR_FUTURE) for _, raw in scored]
    outcomes = [
        codec.decode("InspectionOutcome", raw, now=_FAR_FUTURE)
        for _, raw in _outcomes(codec, scored[:n_outcomes], seed)
    ]
    model = build_model(settings)
    rate = settings.challenger_learning_rate
    challenger = with_learning_rate(model, rate) if rate is not None else None
    learner = Learner(model, learner_config(settings), challenger)
    on_scored, on_outcome = cProfile.Profile(), cProfile.Profile()
    on_scored.enable()
    for offset, record in enumerate(records):
        learner.on_scored(record, offset)
    on_scored.disable()
    on_outcome.enable()
    for offset, outcome in enumerate(outcomes):
        learner.on_outcome(outcome, offset)
    on_outcome.disable()
    return {
        "on_scored": {"records": len(records),
                      **profile_rows(on_scored, len(records), top)},
        "on_outcome": {"outcomes": len(outcomes),
                       **profile_rows(on_outcome, len(outcomes), top)},
    }


def _child(
    deployment: Deployment, args: tuple[str, ...], name: str, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    with open(deployment.workdir / f"{name}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, *args],
            env=deployment.env(RISKSTREAM_DATA_DIR=str(deployment.workdir / name), **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _produce(deployment: Deployment, topic: str, items: list[tuple[str, bytes]]) -> None:
    producer = deployment.producer()
    for key, value in items:
        while True:
            try:
                producer.produce(topic, value, key=key.encode())
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def _wait_for(
    port: int, name: str, at_least: float, timeout_s: float, poll_s: float = 0.1
) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        samples = scrape(port)
        if samples.get(name, -1.0) >= at_least:
            return samples
        time.sleep(poll_s)
    raise RuntimeError(f"{name} did not reach {at_least} within {timeout_s:.0f} s")


def learner_over_kafka(
    broker: BenchBroker,
    workdir: Path,
    model_file: Path,
    scored: list[tuple[EncodedEvent, bytes]],
    n_bulk_outcomes: int,
    outcome_rate: float,
    outcome_seconds: float,
    seed: int,
    engine: str = "fast",
    extra_env: dict[str, str] | None = None,
    name: str = "learner",
) -> dict[str, Any]:
    """``riskstream learner`` end to end, then the delay from a label to a scorer's model.

    1. Bulk (when ``n_bulk_outcomes`` > 0): once the learner has read a first slice, the
       other scored records and the outcomes of the first ``n_bulk_outcomes`` records are
       published back to back and timed until the learner has applied the last outcome.
    2. Paced: with a scorer running, outcomes of the remaining records are sent at
       ``outcome_rate``; a label has reached the scoring model when the scorer's
       ``riskstream_model_outcomes_learned`` counts it (the snapshot it swapped in learnt it).
    """
    deployment = new_deployment(broker.bootstrap, workdir / name)
    topology = deployment.topology
    codec = AvroCodec()
    outcomes = _outcomes(codec, scored, seed)
    n_bulk = max(n_bulk_outcomes, HEAD_SCORED)
    bulk, paced_pool = outcomes[:n_bulk], outcomes[n_bulk:]
    head_outcomes = min(WARM_UP_OUTCOMES, n_bulk_outcomes)
    # a first slice gets the learner started (group join, restore, first snapshot)
    _produce(deployment, topology.scored, [(e.event_id, raw) for e, raw in scored[:HEAD_SCORED]])
    _produce(deployment, topology.outcomes, [(e.event_id, raw) for e, raw in bulk[:head_outcomes]])
    env = {"RISKSTREAM_MODEL_FILE": str(model_file), **(extra_env or {})}
    learner_port, worker_port = free_port(), free_port()
    # what the learner child sees: its environment, validated the same way
    settings = Settings.model_validate({
        k.removeprefix("RISKSTREAM_").lower(): v for k, v in (extra_env or {}).items()})
    result: dict[str, Any] = {"snapshot_settings": {
        "snapshot_every_outcomes": settings.snapshot_every_outcomes,
        "snapshot_every_s": settings.snapshot_every_s,
    }}
    learner = _child(deployment, ("-m", "streams.cli", "learner"), f"{name}-process",
                     {**env, "RISKSTREAM_METRICS_PORT": str(learner_port)})
    scorer = None
    try:
        _wait_for(learner_port, OBSERVED, HEAD_SCORED, 60.0)
        _wait_for(learner_port, APPLIED, head_outcomes, 30.0)
        began, learner_cpu0 = time.monotonic(), cpu_seconds(learner.pid)
        broker_cpu0 = broker.cpu_seconds()
        _produce(deployment, topology.scored,
                 [(e.event_id, raw) for e, raw in scored[HEAD_SCORED:]])
        if n_bulk_outcomes > head_outcomes:
            # 1. bulk: timed from the first record published to the last outcome applied
            _produce(deployment, topology.outcomes,
                     [(e.event_id, raw) for e, raw in bulk[head_outcomes:n_bulk_outcomes]])
            _wait_for(learner_port, APPLIED, n_bulk_outcomes, 120.0, poll_s=0.02)
            seconds = time.monotonic() - began
            learner_cpu = cpu_seconds(learner.pid) - learner_cpu0
            n_scored, n_outcomes = len(scored) - HEAD_SCORED, n_bulk_outcomes - head_outcomes
            result["bulk"] = {
                "scored_records": n_scored,
                "outcomes": n_outcomes,
                "seconds": round(seconds, 2),
                "outcomes_per_s": round(n_outcomes / seconds, 1),
                "records_per_s": round((n_scored + n_outcomes) / seconds, 1),
                "learner_cpu_seconds": round(learner_cpu, 2),
                "outcomes_per_learner_cpu_s": round(n_outcomes / learner_cpu, 1)
                if learner_cpu > 0 else None,
                "broker_cpu_seconds": round(broker.cpu_seconds() - broker_cpu0, 2),
                "note": "scored records and outcomes published back to back to a running "
                        "learner; includes publishing them, and the snapshots the interval "
                        "triggers",
            }
        applied = _wait_for(learner_port, OBSERVED, len(scored), 120.0).get(APPLIED, 0.0)

        # 2. paced labels with a scorer following the snapshots
        scorer = _child(deployment, ENGINES[engine], f"{name}-scorer",
                        {**env, "RISKSTREAM_METRICS_PORT": str(worker_port)})
        _wait_for(worker_port, LEARNED, applied, 60.0)
        result["label_to_model"] = _paced_labels(
            deployment, worker_port, paced_pool[: int(outcome_rate * outcome_seconds)],
            outcome_rate, int(applied), outcome_seconds + 15.0,
        ) | {"engine": engine}
        result["learner_peak_rss_bytes"] = memory_bytes(learner.pid)["peak_rss"]
        result["scorer_peak_rss_bytes"] = memory_bytes(scorer.pid)["peak_rss"]
    finally:
        if scorer is not None:
            stop_process(scorer)
        stop_process(learner)
    return result


def _paced_labels(
    deployment: Deployment,
    worker_port: int,
    paced: list[tuple[EncodedEvent, bytes]],
    rate: float,
    learned_before: int,
    timeout_s: float,
) -> dict[str, Any]:
    """Send outcomes at ``rate``; when did the scorer's model first count each of them?"""
    producer = deployment.producer()
    sent: list[float] = []
    reached: dict[int, float] = {}  # paced outcomes learnt by the scorer's model -> when seen
    swaps: list[float] = []
    last_swaps, began = scrape(worker_port).get(SWAPS, 0.0), time.monotonic()
    index = 0
    while time.monotonic() < began + timeout_s:
        now = time.monotonic()
        while index < len(paced) and now >= began + index / rate:
            event, raw = paced[index]
            sent.append(time.time())
            producer.produce(deployment.topology.outcomes, raw, key=event.event_id.encode())
            producer.poll(0)
            index += 1
        samples = scrape(worker_port)
        seen_at = time.time()
        learned = int(samples.get(LEARNED, 0)) - learned_before
        if learned > 0 and learned not in reached:
            reached[learned] = seen_at
        if samples.get(SWAPS, 0.0) > last_swaps:
            last_swaps = samples[SWAPS]
            swaps.append(seen_at - samples.get(CREATED, seen_at))
        if index >= len(paced) and learned >= len(paced):
            break
        time.sleep(0.02)
    producer.flush(10)
    delays = []
    for k, sent_at in enumerate(sent, start=1):
        when = min((t for n, t in reached.items() if n >= k), default=None)
        if when is not None:
            delays.append(when - sent_at)
    return {
        "outcome_rate_per_s": rate,
        "outcomes": len(sent),
        "reached_model": len(delays),
        "p50_s": _round(percentile(delays, 0.50)),
        "p99_s": _round(percentile(delays, 0.99)),
        "max_s": _round(max(delays) if delays else None),
        "swaps": len(swaps),
        "snapshot_created_to_swap_observed_p50_s": _round(percentile(swaps, 0.50)),
        "snapshot_created_to_swap_observed_max_s": _round(max(swaps) if swaps else None),
        "note": "a label counts as reached when the scorer's riskstream_model_outcomes_learned "
                "covers it; /metrics polled every ~20 ms",
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
