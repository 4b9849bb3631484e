"""How the fast worker hands a batch's outputs to librdkafka (no broker: fakes of both ends).

Outputs go out in groups of up to ``OUTPUT_GROUP``, in the order they were scored, and the
outputs of every record that reached the ledger go out even when a later record's scoring
fails: an offset may only be committed once its outputs were produced.
"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME

from streams.fastpath import OUTPUT_GROUP, FastWorker
from streams.scoring import Outbound, ScoringResult
from streams.settings import Settings

TOPIC = "t.courier.events"


class Record:
    """The part of confluent_kafka.Message the worker reads."""

    def __init__(self, offset: int) -> None:
        self._offset = offset

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return str(self._offset).encode()

    def value(self) -> bytes:
        return b"payload"

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, 1_700_000_000_000


class Scoring:
    """Two outputs per record (a verdict and a scored record), like the real service; raises
    at ``fail_at``."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.scored = 0

    def process(self, topic: str, partition: int, offset: int, key: bytes | None,
                value: bytes | None) -> ScoringResult:
        if offset == self.fail_at:
            raise RuntimeError("scoring failed")
        self.scored += 1
        outbound = (Outbound("t.verdicts", str(offset).encode(), b"verdict"),
                    Outbound("t.scored", str(offset).encode(), b"scored"))
        # a rejected result keeps the metrics call short; the worker treats both alike
        return ScoringResult(outbound, "courier", None, None, None, rejected="schema")


class Producer:
    """Records each produce call, and how many records had been scored when it came."""

    def __init__(self, scoring: Scoring) -> None:
        self.scoring = scoring
        self.calls: list[tuple[str, bytes, int]] = []

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self.calls.append((topic, key, self.scoring.scored))

    def poll(self, timeout: float) -> int:
        return 0


def score(records: int, fail_at: int | None = None) -> tuple[FastWorker, Producer]:
    worker = FastWorker(Settings(topic_prefix="t"))
    worker.owned.add((TOPIC, 0))
    scoring = Scoring(fail_at)
    producer = Producer(scoring)
    batch: list[Any] = [Record(offset) for offset in range(records)]
    try:
        worker._score(scoring, producer, batch)  # type: ignore[arg-type]
    except RuntimeError:
        if fail_at is None:
            raise
    return worker, producer


def test_outputs_go_in_order_in_groups() -> None:
    records = 300
    worker, producer = score(records)
    keys = [int(key) for _, key, _ in producer.calls]
    assert keys == [offset for offset in range(records) for _ in range(2)], "scoring order"
    assert [topic for topic, _, _ in producer.calls[:2]] == ["t.verdicts", "t.scored"]
    # each produce call came after its own record was scored, and at most a group later
    for _, key, scored_then in producer.calls:
        assert scored_then > int(key)
        assert scored_then - int(key) <= OUTPUT_GROUP // 2
    groups = sorted({scored_then for _, _, scored_then in producer.calls})
    print(f"{records} records, {len(producer.calls)} outputs in {len(groups)} groups "
          f"(after {groups} records)")
    assert len(groups) == -(-2 * records // OUTPUT_GROUP)
    assert worker.ledger.to_commit() == {(TOPIC, 0): records}


def test_a_failed_record_still_lets_the_outputs_before_it_out() -> None:
    worker, producer = score(100, fail_at=70)
    produced = sorted({int(key) for _, key, _ in producer.calls})
    assert produced == list(range(70)), "every record in the ledger had its outputs produced"
    assert worker.ledger.to_commit() == {(TOPIC, 0): 70}


@pytest.mark.parametrize("records", [1, 2])
def test_a_caught_up_worker_sends_each_record_at_once(records: int) -> None:
    _, producer = score(records)
    assert len(producer.calls) == 2 * records
    assert {scored_then for _, _, scored_then in producer.calls} == {records}
