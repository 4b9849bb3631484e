"""One scorer worker end to end on a broker: throughput, start-up, latency, CPU.

Two engines run the same ``ScoringService``: ``faust`` (``riskstream worker``) and ``fast``
(``riskstream worker --engine fast``, a plain confluent-kafka loop). Each run gets a fresh
deployment (its own topics), so no run reads another's records.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from bench.workload import EncodedEvent, cpu_seconds, memory_bytes, percentile
from streams.broker import ApacheKafkaCluster, EmbeddedBroker
from streams.demo import stop_process
from streams.kafka_config import consumer_config, producer_config
from streams.settings import Settings
from streams.testing import Deployment, new_deployment
from streams.topology import STREAM_SCHEMAS

IDLE_S = 3.0
ENGINES = {
    "faust": ("-m", "streams.cli", "worker", "--engine", "faust"),
    "fast": ("-m", "streams.cli", "worker", "--engine", "fast"),
}


@dataclass(frozen=True)
class BenchBroker:
    """The broker a run measures: its kind, bootstrap and process ids (for its CPU)."""

    kind: str
    bootstrap: str
    pids: tuple[int, ...]

    @classmethod
    def of(cls, running: EmbeddedBroker | ApacheKafkaCluster) -> BenchBroker:
        if isinstance(running, EmbeddedBroker):
            if running.pid is None:
                raise RuntimeError("the embedded broker is not running")
            return cls("embedded", running.bootstrap, (running.pid,))
        pids = tuple(node.pid for node in running.nodes if node.pid is not None)
        if len(pids) != len(running.nodes):
            raise RuntimeError("an Apache Kafka node is not running")
        return cls("apache_kafka", running.bootstrap, pids)

    def cpu_seconds(self) -> float:
        """CPU seconds the broker's processes have used so far."""
        return sum(cpu_seconds(pid) for pid in self.pids)


@contextmanager
def worker(
    deployment: Deployment, engine: str, model_file: Path, name: str, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """A scorer worker child of ``engine``, and the monotonic time it was spawned."""
    extra = {
        "RISKSTREAM_MODEL_FILE": str(model_file),
        "RISKSTREAM_DATA_DIR": str(deployment.workdir / f"{name}-data"),
        **env,
    }
    with open(deployment.workdir / f"{name}.log", "ab") as log:
        spawned = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, *ENGINES[engine]],
            env=deployment.env(**extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, spawned
    finally:
        stop_process(process)


IMPORTS = {"faust": "streams.agents", "fast": "streams.fastpath"}


def import_seconds(engine: str) -> float:
    """Seconds a fresh interpreter takes to import the engine's worker module."""
    code = (f"import time; t = time.perf_counter(); import {IMPORTS[engine]}; "
            "print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "RISKSTREAM_TOPIC_PREFIX": "bench"})
    return round(float(done.stdout.strip().splitlines()[-1]), 2)


def publish(deployment: Deployment, events: list[EncodedEvent]) -> float:
    """Produce ``events`` with the batching producer; return the seconds it took."""
    topology = deployment.topology
    producer = deployment.producer()
    began = time.perf_counter()
    for event in events:
        while True:
            try:
                producer.produce(
                    topology.events(event.stream), event.payload, key=event.event_id.encode()
                )
                break
            except BufferError:
                producer.poll(0.05)
    remaining = producer.flush(60)
    if remaining:
        raise RuntimeError(f"{remaining} events not delivered to the broker")
    return time.perf_counter() - began


def warm_up(broker: BenchBroker, workdir: Path, events: list[EncodedEvent]) -> dict[str, Any]:
    """Publish ``events`` to a throwaway deployment and read them back, before measuring.

    A JVM broker compiles its hot paths in the first seconds of traffic; measured cold, the
    first figures would be the JIT's. Both brokers get the same warm-up.
    """
    deployment = new_deployment(broker.bootstrap, workdir / "warm-up")
    began, cpu = time.monotonic(), broker.cpu_seconds()
    for _ in range(3):
        publish(deployment, events)
    read = 0
    for stream in STREAM_SCHEMAS:
        read += len(deployment.read_topic(deployment.topology.events(stream), idle_s=0.5))
    return {"events_published": 3 * len(events), "events_read": read,
            "seconds": round(time.monotonic() - began, 1),
            "broker_cpu_seconds": round(broker.cpu_seconds() - cpu, 2)}


def verdict_consumer(deployment: Deployment, settings: Settings | None = None) -> Consumer:
    """A reader of the verdicts topic from its start, outside any group (assign())."""
    settings = settings or deployment.settings
    consumer = Consumer(consumer_config(settings, f"{settings.topic_prefix}-bench-reader"))
    topic = deployment.topology.verdicts
    consumer.assign([TopicPartition(topic, p, 0) for p in range(settings.verdict_partitions)])
    return consumer


def drain(consumer: Consumer, timeout_s: float) -> list[Message]:
    """What arrived: wait up to ``timeout_s`` for one record, then take what is queued."""
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    return [m for m in [first, *consumer.consume(10_000, 0)] if m.error() is None]


def throughput(
    broker: BenchBroker,
    workdir: Path,
    engine: str,
    events: list[EncodedEvent],
    model_file: Path,
    name: str,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Pre-produce ``events``, start a worker, and time its verdicts from first to last."""
    deployment = new_deployment(broker.bootstrap, workdir / name)
    broker_before = broker.cpu_seconds()
    publish_s = publish(deployment, events)
    broker_published = broker.cpu_seconds()
    wanted = {event.event_id for event in events}
    seen: set[str] = set()
    consumer = verdict_consumer(deployment)
    first_at: float | None = None
    first_seen, worker_start, broker_start = 0, 0.0, 0.0
    try:
        with worker(deployment, engine, model_file, name) as (process, spawned):
            deadline = time.monotonic() + timeout_s
            while len(seen) < len(wanted) and time.monotonic() < deadline:
                batch = drain(consumer, 0.05)
                if not batch:
                    if process.poll() is not None:
                        raise RuntimeError(f"{engine} worker exited; see {name}.log")
                    continue
                seen.update((m.key() or b"").decode() for m in batch)
                if first_at is None:  # the window starts after the first verdicts
                    first_at, first_seen = time.monotonic(), len(seen)
                    worker_start, broker_start = cpu_seconds(process.pid), broker.cpu_seconds()
            last_at = time.monotonic()
            worker_cpu = cpu_seconds(process.pid)
            broker_after = broker.cpu_seconds()
            memory = memory_bytes(process.pid)
    finally:
        consumer.close()
    if first_at is None or len(seen) < len(wanted):
        raise RuntimeError(f"{engine}: {len(wanted) - len(seen)} events got no verdict")
    window = len(wanted) - first_seen
    seconds = last_at - first_at
    cpu = worker_cpu - worker_start
    broker_cpu = (broker_published - broker_before) + (broker_after - broker_start)
    return {
        "engine": engine,
        "events": len(events),
        "startup_to_first_verdict_s": round(first_at - spawned, 2),
        "window_events": window,
        "window_seconds": round(seconds, 3),
        "events_per_s": round(window / seconds, 1),
        "worker_cpu_seconds": round(cpu, 2),
        "worker_cpu_us_per_event": round(cpu / window * 1e6, 1),
        "events_per_cpu_s": round(window / cpu, 1) if cpu > 0 else None,
        "worker_peak_rss_bytes": memory["peak_rss"],
        "publish_seconds": round(publish_s, 3),
        "broker_cpu_seconds": round(broker_cpu, 2),
        # publishing every event once plus the processing window, per 10,000 events
        "broker_cpu_s_per_10k_events": round(
            (broker_published - broker_before) / len(events) * 1e4
            + (broker_after - broker_start) / window * 1e4, 3
        ),
    }


class VerdictClock:
    """Stamp the arrival of every verdict (first copy of each key), in a thread."""

    def __init__(self, deployment: Deployment, settings: Settings) -> None:
        self.consumer = verdict_consumer(deployment, settings)
        self.arrivals: dict[str, tuple[float, float]] = {}  # key -> (arrived, produced), s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="verdict-clock", daemon=True)

    def __enter__(self) -> VerdictClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = drain(self.consumer, 0.05)
            now = time.time()
            for message in batch:
                key = (message.key() or b"").decode()
                if key not in self.arrivals:
                    # the verdict's CreateTime: when the worker produced it
                    self.arrivals[key] = (now, message.timestamp()[1] / 1000.0)

    def wait_for(self, keys: list[str], timeout_s: float) -> int:
        """Wait until every key arrived or ``timeout_s``; return how many are missing."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            missing = sum(key not in self.arrivals for key in keys)
            if not missing:
                return 0
            time.sleep(0.05)
        return sum(key not in self.arrivals for key in keys)


def paced_send(
    deployment: Deployment, settings: Settings, events: list[EncodedEvent], rate: float
) -> tuple[dict[str, float], float]:
    """Send ``events`` at ``rate`` per second; return send times (wall) and achieved rate."""
    topology = deployment.topology
    producer = Producer(producer_config(settings))
    sent: dict[str, float] = {}
    began = time.monotonic()
    for i, event in enumerate(events):
        due = began + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sent[event.event_id] = time.time()
        producer.produce(topology.events(event.stream), event.payload,
                         key=event.event_id.encode())
        producer.poll(0)
    producer.flush(30)
    elapsed = time.monotonic() - began
    return sent, len(events) / elapsed if elapsed > 0 else float("inf")


def latency(
    broker: BenchBroker,
    workdir: Path,
    engine: str,
    events: list[EncodedEvent],
    model_file: Path,
    rates: tuple[tuple[float, float], ...],
    name: str,
    tuning: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Event-to-verdict latency at fixed offered rates ``((events/s, seconds), ...)``.

    ``tuning`` overrides settings (e.g. ``fetch_max_wait_ms``, ``producer_linger_ms``) for
    every client of the run: the hubs' producer, the worker and the verdict reader.
    """
    deployment = new_deployment(broker.bootstrap, workdir / name)
    settings = deployment.settings.model_copy(update=tuning or {})
    worker_env = {f"RISKSTREAM_{k.upper()}": str(v) for k, v in (tuning or {}).items()}
    results: dict[str, Any] = {"engine": engine, "tuning": tuning or "defaults", "rates": {}}
    position = 0
    with worker(deployment, engine, model_file, name, **worker_env) as (process, _), \
            VerdictClock(deployment, settings) as clock:
        # warm-up: the worker joins its group and scores its first events
        warm = events[position:position + 100]
        position += len(warm)
        paced_send(deployment, settings, warm, 200.0)
        if clock.wait_for([e.event_id for e in warm], 60.0):
            raise RuntimeError(f"{engine} worker did not score the warm-up events; see logs")
        time.sleep(1.0)
        # what polling costs with no traffic: worker, broker (and this reader) at rest
        worker_idle, broker_idle = cpu_seconds(process.pid), broker.cpu_seconds()
        time.sleep(IDLE_S)
        worker_idle = (cpu_seconds(process.pid) - worker_idle) / IDLE_S
        broker_idle = (broker.cpu_seconds() - broker_idle) / IDLE_S
        results["idle"] = {"worker_cpu_share_of_a_core": round(worker_idle, 3),
                           "broker_cpu_share_of_a_core": round(broker_idle, 3)}
        for rate, seconds in rates:
            batch = events[position:position + int(rate * seconds)]
            position += len(batch)
            began = time.monotonic()
            worker_cpu, broker_cpu = cpu_seconds(process.pid), broker.cpu_seconds()
            sent, achieved = paced_send(deployment, settings, batch, rate)
            keys = list(sent)
            missing = clock.wait_for(keys, 30.0)
            elapsed = time.monotonic() - began
            worker_cpu = cpu_seconds(process.pid) - worker_cpu
            broker_cpu = broker.cpu_seconds() - broker_cpu
            arrived = [k for k in keys if k in clock.arrivals]
            waits = [(clock.arrivals[k][0] - sent[k]) * 1e3 for k in arrived]
            ingress = [(clock.arrivals[k][1] - sent[k]) * 1e3 for k in arrived]
            drain_s = max(clock.arrivals[k][0] for k in arrived) - max(sent.values())
            results["rates"][str(int(rate))] = {
                "offered_per_s": rate,
                "achieved_send_per_s": round(achieved, 1),
                "events": len(batch),
                "missing_verdicts": missing,
                # the worker could not keep up when verdicts trail the last send by > 1 s
                "kept_up": drain_s < 1.0 and not missing,
                "last_verdict_after_last_send_s": round(drain_s, 3),
                "p50_ms": _ms(percentile(waits, 0.50)),
                "p90_ms": _ms(percentile(waits, 0.90)),
                "p99_ms": _ms(percentile(waits, 0.99)),
                "max_ms": _ms(max(waits) if waits else None),
                # send -> the worker produced the verdict (its CreateTime, ms resolution)
                "send_to_worker_produce_p50_ms": _ms(percentile(ingress, 0.50)),
                "send_to_worker_produce_p99_ms": _ms(percentile(ingress, 0.99)),
                "worker_cpu_us_per_event": round(worker_cpu / len(batch) * 1e6, 1),
                "worker_cpu_share_of_a_core": round(worker_cpu / elapsed, 3),
                "broker_cpu_share_of_a_core": round(broker_cpu / elapsed, 3),
                "broker_cpu_s_per_10k_events": round(broker_cpu / len(batch) * 1e4, 3),
                "broker_cpu_s_per_10k_events_above_idle": round(
                    max(0.0, broker_cpu - broker_idle * elapsed) / len(batch) * 1e4, 3),
            }
            time.sleep(0.5)
        results["worker_peak_rss_bytes"] = memory_bytes(process.pid)["peak_rss"]
    return results


def broker_fetch_cost(
    broker: BenchBroker, workdir: Path, fetch_waits_ms: tuple[int, ...] = (10, 100)
) -> dict[str, Any]:
    """Broker CPU of ONE idle consumer long-polling 12 empty partitions, per fetch wait.

    The embedded broker does not wake a long-poll when data arrives, so every consumer
    fetches once per fetch wait, data or not; this is the floor every consumer adds.
    """
    deployment = new_deployment(broker.bootstrap, workdir / "fetch-cost")
    topics = [deployment.topology.events(stream) for stream in STREAM_SCHEMAS]
    out: dict[str, Any] = {"partitions": 4 * len(topics)}
    for wait_ms in fetch_waits_ms:
        settings = deployment.settings.model_copy(update={"fetch_max_wait_ms": wait_ms})
        consumer = Consumer(consumer_config(settings, "bench-fetch-cost"))
        consumer.assign([TopicPartition(t, p, 0) for t in topics for p in range(4)])
        consumer.poll(1.0)  # connected and fetching
        began = broker.cpu_seconds()
        until = time.monotonic() + IDLE_S
        while time.monotonic() < until:
            consumer.poll(0.1)
        share = (broker.cpu_seconds() - began) / IDLE_S
        consumer.close()
        out[f"fetch_wait_{wait_ms}ms"] = {
            "broker_cpu_share_of_a_core": round(share, 3),
            "broker_cpu_ms_per_fetch": round(share * wait_ms, 3),
        }
    return out


def broker_cost_split(
    broker: BenchBroker, workdir: Path, events: list[EncodedEvent], rate: float = 500.0,
    seconds: float = 4.0,
) -> dict[str, Any]:
    """Broker CPU at ``rate`` events/s: a batching producer alone, then with one consumer.

    Splits the pipeline's broker cost into what producing and what each consumer (polling
    every fetch wait, and at once again after each response with data) adds.
    """
    out: dict[str, Any] = {"rate_per_s": rate}
    for consumers in (0, 1):
        deployment = new_deployment(broker.bootstrap, workdir / f"broker-split-{consumers}")
        stop = threading.Event()
        readers: list[threading.Thread] = []
        for _ in range(consumers):
            consumer = Consumer(consumer_config(deployment.settings, "bench-split"))
            consumer.assign([TopicPartition(deployment.topology.events(stream), p, 0)
                             for stream in STREAM_SCHEMAS for p in range(4)])

            def read(consumer: Consumer = consumer, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    drain(consumer, 0.05)
                consumer.close()

            readers.append(threading.Thread(target=read, daemon=True))
        for reader in readers:
            reader.start()
        time.sleep(1.0)
        began = broker.cpu_seconds()
        _, achieved = paced_send(
            deployment, deployment.settings, events[: int(rate * seconds)], rate)
        share = (broker.cpu_seconds() - began) / (int(rate * seconds) / achieved)
        stop.set()
        for reader in readers:
            reader.join(5)
        out[f"producer_and_{consumers}_consumers"] = {
            "broker_cpu_share_of_a_core": round(share, 3),
            "broker_cpu_s_per_10k_events": round(share / rate * 1e4, 3),
        }
    return out


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
