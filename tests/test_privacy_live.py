"""Data-subject requests against a live deployment: erasure through Kafka, dead-letter repair.

A shipper with a record of seizures builds a risk profile in the learner's model; after
``riskstream privacy erase`` (values on stdin), the next snapshot the scorers load holds no
key built from the shipper's tokens, and neither does the learner's own state.
``riskstream deadletter open`` gives back, unsealed, exactly the bytes that were rejected.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_learning_loop import model_snapshots, scrape, wait_for

from schemas import AvroCodec, Pseudonymiser
from scorers.model import RiskModel
from simulator import HubWorld, personal_values
from streams.broker import free_port
from streams.testing import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SUBJECT = "ACME EXPORT 77"
CODEC = AvroCodec()


def _keys_of(model: RiskModel, tokens: set[str]) -> list[str]:
    """Profile keys of ``model`` built from any of ``tokens``."""
    return [
        key
        for ensemble in model.ensembles.values()
        for table in ensemble.profiles.counts.values()
        for key in table
        if tokens & set(key.split("|"))
    ]


def _riskstream(deployment: Deployment, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], input=stdin.encode(), env=deployment.env(),
        capture_output=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def _publish_courier(deployment: Deployment, world: HubWorld, n: int, shipper: str | None,
                     findings: bool) -> list[dict[str, Any]]:
    producer = deployment.producer()
    records = []
    for _ in range(n):
        record = dict(world.event("courier", "hub_LEJ", datetime.now(UTC)).record)
        if shipper is not None:
            record["shipper_id"] = shipper
        records.append(record)
        producer.produce(deployment.topology.events("courier"),
                         CODEC.encode("CourierConsignment", record),
                         key=record["event_id"].encode())
    producer.flush(10)
    return records


def _publish_outcomes(deployment: Deployment, records: list[dict[str, Any]], result: str) -> None:
    producer = deployment.producer()
    for record in records:
        outcome = {"event_id": record["event_id"], "stream": "courier", "result": result,
                   "severity": 2, "recovered_amount": Decimal("90.00"),
                   "outcome_time": datetime.now(UTC), "officer_unit": "unit_LEJ_1"}
        producer.produce(deployment.topology.outcomes, CODEC.encode("InspectionOutcome", outcome),
                         key=record["event_id"].encode())
    producer.flush(10)


def test_an_erasure_request_reaches_the_scorers_and_the_learner_state(
    deployment: Deployment,
) -> None:
    tokens = set(Pseudonymiser(
        deployment.settings.pseudonym_key.get_secret_value().encode()).tokens_for(SUBJECT))
    world = HubWorld(seed=41)
    port = free_port()
    with (
        deployment.process("learner", name="learner", RISKSTREAM_METRICS_PORT=str(port),
                           RISKSTREAM_STATE_SNAPSHOT_EVERY_S="1"),
        deployment.process("worker", name="worker"),
    ):
        background = _publish_courier(deployment, world, 60, None, findings=False)
        offender = _publish_courier(deployment, world, 8, SUBJECT, findings=True)
        deployment.read_topic(deployment.topology.verdicts, until=68, timeout_s=60)
        _publish_outcomes(deployment, background[:30], "no_finding")
        _publish_outcomes(deployment, offender, "seizure")

        def profiled() -> bool:
            snapshots = model_snapshots(deployment)
            return bool(snapshots) and bool(_keys_of(snapshots[-1][1], tokens))

        wait_for(profiled, 30)
        before = len(model_snapshots(deployment))
        requested = time.monotonic()
        said = _riskstream(deployment, "privacy", "erase", "--request-id", "erasure-live-1",
                           stdin=f"{SUBJECT}\n")
        assert "erasure-live-1" in said and SUBJECT not in said

        def erased() -> bool:
            snapshots = model_snapshots(deployment)
            return len(snapshots) > before and not _keys_of(snapshots[-1][1], tokens)

        took = wait_for(erased, 30)
        wait_for(lambda: scrape(port).get(
            "riskstream_learner_privacy_total{action=erasures}", 0) >= 1, 10)
        time.sleep(1.5)  # the next learner state snapshot
        print(f"\nerasure reached the published model {took:.2f} s after the request "
              f"({time.monotonic() - requested:.2f} s with the state snapshot)")

    _, state = model_snapshots(deployment, "learner")[-1]
    assert not _keys_of(state.model, tokens)
    assert state.arena is None or not _keys_of(state.arena.challenger, tokens)
    assert state.offsets.get("privacy") == 1
    # the privacy topic carries tokens only
    requests = deployment.read_topic(deployment.topology.privacy)
    assert len(requests) == 1 and SUBJECT.encode() not in requests[0].value()


def test_dead_letters_open_to_the_exact_rejected_bytes(
    deployment: Deployment, tmp_path: Path,
) -> None:
    world = HubWorld(seed=43)
    producer = deployment.producer()
    rejected = []
    for n in range(3):
        record = world.event("passenger", "hub_MUC", datetime.now(UTC)).record
        raw = CODEC.encode("PassengerRecord", record)[: -5 - n]  # truncated: names in clear
        assert any(v.encode() in raw for v in personal_values(record, "passenger"))
        rejected.append(raw)
        producer.produce(deployment.topology.events("passenger"), raw, key=b"broken")
    producer.flush(10)
    with deployment.process("worker", name="worker"):
        letters = deployment.read_topic(deployment.topology.deadletter, until=3, timeout_s=60)
    assert len(letters) == 3
    assert not any(raw in (m.value() or b"") for m in letters for raw in rejected)

    said = _riskstream(deployment, "deadletter", "open", "--out", str(tmp_path / "repair"))
    opened = sorted((tmp_path / "repair").glob("*.bin"))
    print(f"\n{said.splitlines()[-1]}")
    assert sorted(p.read_bytes() for p in opened) == sorted(rejected)
    assert "3 dead letters" in said
