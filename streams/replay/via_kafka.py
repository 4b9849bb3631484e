"""The same replay through a real scorer worker and learner on a broker (``--via-kafka``).

The replayer plays the hubs and the inspection systems; everything else is the production
deployment, as separate processes talking over Kafka:

* topics with one partition per events topic, so the worker scores in replay order and its
  selection policy's sliding window sees the rows in the same order as in process;
* the worker (``riskstream worker``) and the learner (``riskstream learner``) start from the
  history model file (``RISKSTREAM_MODEL_FILE``); the learner snapshots on outcomes only;
* day by day: the replayer produces the day's events, waits for every verdict and scored
  record (so the learner has them all before any outcome that follows), produces the
  outcomes due at the day's end, and waits until the worker reports on its ``/metrics``
  (``riskstream_model_outcomes_learned``) that it scores with a model that learnt them all.

So both modes swap models at the same points and feed the learner the same sequence: their
reports agree to the last digit. Only ``decided_at`` differs (wall clock here, event time in
process), and no figure of the report depends on it.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from schemas import AvroCodec
from streams.admin import create_topics
from streams.broker import EmbeddedBroker, free_port
from streams.kafka_config import consumer_config
from streams.replay.engine import (
    LiveRun,
    OutcomeBook,
    Progress,
    ReplayError,
    ReplayOptions,
    ReplayPlan,
    day_start,
    days,
    warm_model,
)
from streams.replay.report import ScoredRow
from streams.runtime import write_model_file
from streams.settings import Settings
from streams.testing import Deployment
from streams.topology import Topology

__all__ = ["replay_via_kafka"]

_OUTCOMES_GAUGE = re.compile(rb"^riskstream_model_outcomes_learned\s+(\S+)", re.MULTILINE)
# Settings the child processes must share with the replayer, passed explicitly so that a
# replay configured in code (not only by the environment) runs the same everywhere.
_SHARED = (
    "seed",
    "random_share",
    "document_check_rate",
    "selection_window",
    "rules_file",
    "circumvention_file",
    "pseudonym_key",
    "snapshot_key",
    "pending_ttl_s",
    "worker_id",
    "challenger_learning_rate",
)


def _env_value(value: Any) -> str:
    if hasattr(value, "get_secret_value"):
        return str(value.get_secret_value())
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def child_env(settings: Settings, model_file: Path) -> dict[str, str]:
    """Environment of the worker and learner: the replay's settings, one partition per
    events topic, the history model, and snapshots on outcomes only."""
    env = {
        f"RISKSTREAM_{name.upper()}": _env_value(getattr(settings, name))
        for name in _SHARED
        if getattr(settings, name, None) is not None
    }
    env.update(
        {
            "RISKSTREAM_INSPECTION_RATES": json.dumps(settings.inspection_rates),
            "RISKSTREAM_EVENT_PARTITIONS": "1",
            "RISKSTREAM_VERDICT_PARTITIONS": "1",
            "RISKSTREAM_MODEL_FILE": str(model_file),
            "RISKSTREAM_SNAPSHOT_EVERY_OUTCOMES": "1",
            "RISKSTREAM_SNAPSHOT_EVERY_S": "1000000000",  # never by time: swap points as in process
            # the worker decides on wall-clock time, so replayed days cannot be its budget's
            # periods: the sliding window alone holds the rate (as RISKSTREAM_BUDGET_PERIOD=none)
            "RISKSTREAM_BUDGET_PERIOD": "none",
        }
    )
    return env


@contextmanager
def _broker(bootstrap: str | None) -> Iterator[str]:
    if bootstrap is not None:
        yield bootstrap
        return
    with EmbeddedBroker() as running:
        yield running.bootstrap


class _Reader:
    """Reads verdicts, scored records and dead letters from the start, without a group join."""

    def __init__(self, deployment: Deployment, topology: Topology) -> None:
        self.topology = topology
        self.consumer = Consumer(
            consumer_config(deployment.settings, f"replay-reader-{uuid.uuid4().hex[:8]}")
        )
        self.consumer.assign(
            [
                TopicPartition(topic, 0, 0)
                for topic in (topology.verdicts, topology.scored, topology.deadletter)
            ]
        )

    def take(self) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for message in self.consumer.consume(2000, 0.05):
            if message.error() is None:
                out.append((message.topic() or "", message.value() or b""))
        return out

    def close(self) -> None:
        self.consumer.close()


def _outcomes_learnt(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            body: bytes = response.read()
    except OSError:
        return None
    found = _OUTCOMES_GAUGE.search(body)
    return float(found.group(1)) if found else None


def replay_via_kafka(
    plan: ReplayPlan,
    settings: Settings,
    options: ReplayOptions,
    progress: Progress,
    workdir: Path,
    bootstrap: str | None = None,
    timeout_s: float = 120.0,
) -> tuple[LiveRun, Any]:
    """Replay the plan through a worker and a learner process on a broker.

    ``bootstrap`` names a running broker (the tests' embedded one); by default an embedded
    broker is started for the replay. Worker and learner logs go to ``workdir``.
    """
    warm, history = warm_model(settings, plan)
    workdir.mkdir(parents=True, exist_ok=True)
    model_file = workdir / "warm.snapshot"
    write_model_file(settings, warm, model_file)
    run = LiveRun()
    with ExitStack() as stack:
        address = stack.enter_context(_broker(bootstrap))
        deployment = Deployment(address, f"replay{uuid.uuid4().hex[:10]}", workdir)
        create_topics(
            deployment.settings.model_copy(update={"event_partitions": 1, "verdict_partitions": 1})
        )
        topology = Topology(deployment.prefix, 1, 1)
        env = child_env(settings, model_file)
        port = free_port()
        stack.enter_context(
            deployment.process("worker", name="worker", RISKSTREAM_METRICS_PORT=str(port), **env)
        )
        stack.enter_context(deployment.process("learner", name="learner", **env))
        reader = _Reader(deployment, topology)
        stack.callback(reader.close)
        _drive(plan, options, progress, run, deployment, topology, reader, port, timeout_s)
        run.final_model_version = run.rows[-1].model_version if run.rows else warm.version
    return run, history


def _drive(
    plan: ReplayPlan,
    options: ReplayOptions,
    progress: Progress,
    run: LiveRun,
    deployment: Deployment,
    topology: Topology,
    reader: _Reader,
    port: int,
    timeout_s: float,
) -> None:
    """Play hubs and inspection systems day by day (the producer lives only this long)."""
    mapping, stream, codec = plan.mapping, plan.mapping.stream, AvroCodec()
    workdir = deployment.workdir
    producer = deployment.producer()
    book = OutcomeBook(stream, options.outcome_delay_days)
    learnt = 0
    selected = 0
    first = True
    progress.start()
    for day, rows in days(plan.live):
        due = book.due(day_start(day))
        if due:
            for outcome in due:
                producer.produce(
                    topology.outcomes,
                    codec.encode("InspectionOutcome", outcome),
                    key=outcome["event_id"].encode(),
                )
            producer.flush(30)
            learnt += len(due)
            run.outcomes += len(due)
            _await_model(port, learnt, timeout_s, workdir)
            run.model_swaps += 1
        for row in rows:
            producer.produce(
                topology.events(stream),
                codec.encode(mapping.schema, mapping.record(row)),
                key=row.event_id.encode(),
            )
        producer.flush(30)
        verdicts = _await_verdicts(
            reader,
            topology,
            {row.event_id for row in rows},
            timeout_s * (3 if first else 1),
            day.isoformat(),
            workdir,
            codec,
            run,
        )
        first = False
        for row in rows:
            verdict = verdicts.get(row.event_id)
            if verdict is None:  # parked on the dead-letter topic
                continue
            scored_row = ScoredRow.decided(row.event_id, row.time, row.label, row.revenue, verdict)
            run.rows.append(scored_row)
            if scored_row.selected:
                book.add(row)
                selected += 1
            progress.tick(row, selected)
    run.outcomes += len(book.due(None))  # never learnt: nothing is scored after them


def _await_verdicts(
    reader: _Reader,
    topology: Topology,
    wanted: set[str],
    timeout_s: float,
    day: str,
    workdir: Path,
    codec: AvroCodec,
    run: LiveRun,
) -> dict[str, dict[str, Any]]:
    """The verdicts of the ``wanted`` events, once their scored records are on the topic too
    (so the learner will see all of them before any outcome produced after this returns)."""
    verdicts: dict[str, dict[str, Any]] = {}
    scored: set[str] = set()
    parked = 0
    deadline = time.monotonic() + timeout_s
    while len(verdicts) + parked < len(wanted) or len(scored) + parked < len(wanted):
        if time.monotonic() > deadline:
            raise ReplayError(
                f"the worker gave verdicts for {len(verdicts)} of {len(wanted)} events of "
                f"{day} within {timeout_s:.0f} s; see {workdir / 'worker.log'}"
            )
        for topic, value in reader.take():
            if topic == topology.verdicts:
                verdict = codec.decode("RiskVerdict", value)
                if verdict["event_id"] in wanted:
                    verdicts[verdict["event_id"]] = verdict
            elif topic == topology.scored:
                event_id = codec.decode("ScoredRecord", value)["event_id"]
                if event_id in wanted:
                    scored.add(event_id)
            else:
                letter = codec.decode("DeadLetter", value)
                if (letter["key"] or b"").decode(errors="replace") in wanted:
                    parked += 1
                    run.rejected += 1
                    run.rejected_reasons[str(letter["error_kind"])] += 1
    return verdicts


def _await_model(port: int, outcomes: int, timeout_s: float, workdir: Path) -> None:
    """Wait until the worker scores with a model that learnt ``outcomes`` outcomes."""
    deadline = time.monotonic() + timeout_s
    seen: float | None = None
    while time.monotonic() < deadline:
        seen = _outcomes_learnt(port)
        if seen is not None and seen >= outcomes:
            return
        time.sleep(0.05)
    raise ReplayError(
        f"the worker did not swap to a model that learnt {outcomes} outcomes within "
        f"{timeout_s:.0f} s (it reports {seen}); see {workdir / 'learner.log'} and "
        f"{workdir / 'worker.log'}"
    )
