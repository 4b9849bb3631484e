"""The learning loop on both brokers (embedded and Apache Kafka): two scorers, one learner,
live outcomes.

* every outcome reaches a published snapshot within the configured interval;
* both scorer workers load the new model within seconds;
* the hit rate among inspections rises as the models learn;
* a learner killed with SIGKILL resumes from its state snapshot and ends in exactly the
  state of an uninterrupted run on the same input;
* a snapshot with a wrong signature is refused and scoring goes on with the previous model.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from learning.learner import Learner
from learning.snapshot import Reassembler, seal, unseal
from learning.testing import learner_feed
from schemas import AvroCodec, Pseudonymiser
from scorers.model import RiskModel
from scorers.synth import records
from simulator import HubWorld
from streams.broker import free_port
from streams.settings import Settings
from streams.snapshots import publish
from streams.testing import Deployment
from streams.topology import STREAM_SCHEMAS

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.both_brokers]

SNAPSHOT_EVERY_S = 1.0


def scrape(port: int) -> dict[str, float]:
    """Unlabelled samples (and labelled ones joined by label values) from /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def wait_for(predicate: Any, timeout_s: float, step_s: float = 0.2) -> float:
    """Seconds until ``predicate()`` held; fails the test after ``timeout_s``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if predicate():
                return time.monotonic() - started
        except OSError:  # endpoint not up yet
            pass
        time.sleep(step_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


def model_snapshots(
    deployment: Deployment, kind: str = "model", idle_s: float | None = None
) -> list[tuple[dict, Any]]:
    """The snapshots of ``kind`` on the models topic now (``idle_s``: read on until none
    came for that long, while a learner still publishes)."""
    key = deployment.settings.snapshot_key.get_secret_value().encode()
    assembler = Reassembler()
    found = []
    for message in deployment.read_topic(deployment.topology.models, idle_s=idle_s):
        if (message.key() or b"").decode().split("/")[0] != kind:
            continue
        blob = assembler.add(message.value())
        if blob is not None:
            found.append(unseal(blob, key))
    return found


def test_outcomes_reach_both_scorers_within_seconds_and_hit_rate_rises(
    deployment: Deployment,
) -> None:
    timing = {"RISKSTREAM_SNAPSHOT_EVERY_S": str(SNAPSHOT_EVERY_S),
              "RISKSTREAM_SNAPSHOT_EVERY_OUTCOMES": "25"}
    ports = [free_port(), free_port()]
    with (
        deployment.process("learner", name="learner", RISKSTREAM_WORKER_ID="learner-t",
                           RISKSTREAM_METRICS_PORT=str(free_port()), **timing),
        deployment.process("worker", name="scorer-1", RISKSTREAM_METRICS_PORT=str(ports[0])),
        deployment.process("worker", name="scorer-2", RISKSTREAM_METRICS_PORT=str(ports[1])),
    ):
        # 20 s gave 629-856 outcomes, 27-30 swaps per scorer and 0.24-0.45 more repeat
        # offenders caught (35 s: 877-890, 0.25-0.33): the bounds below hold with a wide margin
        with deployment.process("simulate", "--duration", "20", "--outcome-delay", "1",
                                "--rate-scale", "2",
                                "--seed", "5", name="simulator") as simulator:
            simulator.wait(120)
        # the learner is still applying the last outcomes: read until it stopped publishing
        snapshots = model_snapshots(deployment, idle_s=1.0)
        final = max(meta["outcomes_applied"] for meta, _ in snapshots)
        # both scorers hot-swap to the newest model; how long after the run ended
        delays = [
            wait_for(lambda p=port: scrape(p)["riskstream_model_outcomes_learned"] >= final, 15)
            for port in ports
        ]
        swaps = [scrape(port)["riskstream_model_swaps_total"] for port in ports]

    outcomes = deployment.read_topic(deployment.topology.outcomes)
    assert len(outcomes) > 300, "the authority answered inspections"
    # every outcome is inside a snapshot published within the interval (+ slack for the
    # consumer poll and the 2-core machine shared with broker, scorers and simulator)
    created = sorted((meta["offsets"]["outcomes"], datetime.fromisoformat(str(meta["created_at"]))
                      .timestamp()) for meta, _ in snapshots)
    lags = []
    for message in outcomes[:-50]:
        produced = message.timestamp()[1] / 1000.0
        first = next(at for covered, at in created if covered > message.offset())
        lags.append(first - produced)
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)]
    print(f"outcomes {len(outcomes)}, snapshots {len(snapshots)}, final {final}; outcome to "
          f"snapshot p50 {lags[len(lags) // 2]:.2f} s p99 {p99:.2f} s max {lags[-1]:.2f} s; "
          f"scorers caught up {delays} s after the run, swaps {swaps}")
    assert p99 <= SNAPSHOT_EVERY_S + 5.0  # slack: 2 cores shared by 6 processes
    assert all(delay <= 5.0 for delay in delays)
    assert all(count >= 5 for count in swaps), "each scorer hot-swapped many times"

    # The seeded pattern the initial model misses: repeat offenders, whom only outcomes
    # reveal (no rule names them). Share of them in the top 5 % of scores, first published
    # model against the last, on the same fresh traffic of the simulator's world.
    (hit_before, caught_before), (hit_after, caught_after) = (
        _top_share(snapshots[0][1]), _top_share(snapshots[-1][1])
    )
    print(f"top 5 % per stream, model after {snapshots[0][0]['outcomes_applied']} outcomes: "
          f"hit rate {hit_before:.3f}, repeat offenders caught {caught_before:.3f}; after "
          f"{final} outcomes: hit rate {hit_after:.3f}, repeat offenders caught {caught_after:.3f}")
    assert caught_after > caught_before + 0.05, "outcomes taught the models the offenders"


def _top_share(model: RiskModel, budget: float = 0.05) -> tuple[float, float]:
    """Hit rate among the top ``budget`` of each stream's scores, and the share of repeat
    offenders' events that land there."""
    pseudonymiser = Pseudonymiser(Settings().pseudonym_key.get_secret_value().encode())
    world = HubWorld(seed=5)  # the simulator's world: same traders, travellers and patterns
    start = datetime.now(UTC)
    hits = picked = offenders = caught = 0
    for stream, schema in STREAM_SCHEMAS.items():
        hub = {"courier": "hub_LEJ", "postal": "hub_FRA", "passenger": "hub_FRA"}[stream]
        events = [world.event(stream, hub, start) for _ in range(2000)]
        ranked = sorted(
            ((model.assess(stream, pseudonymiser.apply(schema, e.record)).score, e.truth)
             for e in events), key=lambda pair: -pair[0],
        )
        top = [truth for _, truth in ranked[: int(len(ranked) * budget)]]
        hits += sum(truth.illicit for truth in top)
        picked += len(top)
        offenders += sum(e.truth.pattern == "repeat_offender" for e in events)
        caught += sum(truth.pattern == "repeat_offender" for truth in top)
    return hits / picked, caught / offenders


def _produce_feed(
    deployment: Deployment, feed: list[tuple[str, dict[str, Any]]], start: int = 0,
    stop: int | None = None,
) -> None:
    codec = AvroCodec()
    producer = deployment.producer()
    base = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
    for index in range(start, len(feed) if stop is None else stop):
        topic, record = feed[index]
        name = "ScoredRecord" if topic == "scored" else "InspectionOutcome"
        target = deployment.topology.scored if topic == "scored" else deployment.topology.outcomes
        # explicit, increasing timestamps: the learner merges its two inputs by them
        producer.produce(target, codec.encode(name, record), key=record["event_id"].encode(),
                         timestamp=base + index)
    producer.flush(30)


def _state_published(deployment: Deployment, feed_scored: int, feed_outcomes: int) -> bool:
    """The newest learner state snapshot covers the whole feed: the one the learner
    publishes once it has read everything (nothing changes after it)."""
    states = model_snapshots(deployment, kind="learner")
    return bool(states) and states[-1][0]["offsets"] == {
        "scored": feed_scored, "outcomes": feed_outcomes}


def _final_state(deployment: Deployment, feed_scored: int, feed_outcomes: int) -> Learner:
    meta, state = model_snapshots(deployment, kind="learner")[-1]
    assert meta["offsets"] == {"scored": feed_scored, "outcomes": feed_outcomes}
    return Learner.from_state(state)


def _probe(model: RiskModel) -> list[float]:
    return [model.assess("courier", record).score for record, _ in records("courier", 40, seed=9)]


def test_sigkilled_learner_loses_nothing_and_applies_nothing_twice(
    bootstrap: str, tmp_path: Any
) -> None:
    from streams.testing import new_deployment

    feed = learner_feed(3000, seed=4)
    n_scored = sum(topic == "scored" for topic, _ in feed)
    n_outcomes = len(feed) - n_scored
    env = {"RISKSTREAM_SNAPSHOT_EVERY_S": "0.5", "RISKSTREAM_STATE_SNAPSHOT_EVERY_S": "0",
           "RISKSTREAM_CHALLENGER_LEARNING_RATE": "0.1", "RISKSTREAM_WORKER_ID": "learner-k"}

    def done(port: int) -> bool:
        seen = scrape(port)
        return (seen.get('riskstream_learner_records_total{fate=seen,input=scored}') == n_scored
                and seen.get('riskstream_learner_records_total{fate=seen,input=outcomes}')
                == n_outcomes)

    # the uninterrupted run
    straight = new_deployment(bootstrap, tmp_path / "straight")
    _produce_feed(straight, feed)
    port = free_port()
    with straight.process("learner", name="learner", RISKSTREAM_METRICS_PORT=str(port), **env):
        wait_for(lambda: done(port), 90)
        # the idle snapshot after the last record
        wait_for(lambda: _state_published(straight, n_scored, n_outcomes), 10)
    expected = _final_state(straight, n_scored, n_outcomes)

    # the same input, with the learner killed mid-stream and restarted
    killed = new_deployment(bootstrap, tmp_path / "killed")
    half = len(feed) // 2
    _produce_feed(killed, feed, stop=half)
    port = free_port()
    with killed.process("learner", name="learner-1", RISKSTREAM_METRICS_PORT=str(port),
                        **env) as first:
        # killed only once it has published a state snapshot (a loaded CI machine may take
        # longer than any fixed pause), so the restart must resume from it
        wait_for(lambda: scrape(port).get('riskstream_learner_snapshots_published_total', 0)
                 >= 1, 60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    _produce_feed(killed, feed, start=half)
    port = free_port()
    with killed.process("learner", name="learner-2", RISKSTREAM_METRICS_PORT=str(port), **env):
        # the restart waits out the killed member's session before it gets the partitions
        # (a loaded CI machine once took longer than 90 s): say what it saw if it never ends
        try:
            wait_for(lambda: done(port), 180)
        except AssertionError:
            seen = scrape(port)
            counted = [seen.get(f"riskstream_learner_records_total{{fate=seen,input={topic}}}")
                       for topic in ("scored", "outcomes")]
            raise AssertionError(f"restarted learner saw {counted[0]} of {n_scored} scored, "
                                 f"{counted[1]} of {n_outcomes} outcomes") from None
        wait_for(lambda: _state_published(killed, n_scored, n_outcomes), 10)
    resumed = _final_state(killed, n_scored, n_outcomes)
    assert "learner resumes" in (killed.workdir / "learner-2.log").read_text(), (
        "the restarted learner continued from a state snapshot, not from scratch"
    )

    print("uninterrupted:", {k: v for k, v in expected.counters.items() if v})
    print("killed+resumed:", {k: v for k, v in resumed.counters.items() if v})
    assert resumed.counters == expected.counters, "no outcome lost or applied twice"
    assert resumed.version == expected.version
    assert _probe(resumed.model) == _probe(expected.model), "identical model state"


def test_snapshot_with_a_wrong_signature_is_refused(deployment: Deployment) -> None:
    settings: Settings = deployment.settings
    key = settings.snapshot_key.get_secret_value().encode()
    producer = deployment.producer()
    good = RiskModel(seed=3, version="good-1")
    publish(producer, settings, "model", seal(good, key, {"outcomes_applied": 1}))
    port = free_port()
    codec = AvroCodec()
    world = HubWorld(seed=8)

    def send(n: int) -> set[str]:
        ids = set()
        for _ in range(n):
            record = world.event("postal", "hub_FRA", datetime.now(UTC)).record
            producer.produce(deployment.topology.events("postal"),
                             codec.encode(STREAM_SCHEMAS["postal"], record),
                             key=record["event_id"].encode())
            ids.add(record["event_id"])
        producer.flush(10)
        return ids

    def versions(ids: set[str]) -> set[str]:
        found = {}
        deadline = time.monotonic() + 30
        while len(found) < len(ids) and time.monotonic() < deadline:
            for message in deployment.read_topic(deployment.topology.verdicts):
                if message.key().decode() in ids:
                    found[message.key().decode()] = codec.decode(
                        "RiskVerdict", message.value())["model_version"]
        return set(found.values())

    with deployment.process("worker", name="scorer", RISKSTREAM_METRICS_PORT=str(port)):
        assert versions(send(20)) == {"good-1"}
        evil = RiskModel(seed=4, version="evil-2")
        publish(producer, settings, "model",
                seal(evil, b"not-the-key-of-this-deployment", {"outcomes_applied": 2}))
        wait_for(lambda: scrape(port)["riskstream_model_snapshots_refused_total"] >= 1, 15)
        assert versions(send(20)) == {"good-1"}, "scoring goes on with the previous model"
        assert scrape(port)["riskstream_model_swaps_total"] == 1
