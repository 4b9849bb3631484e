"""The replay through a real worker and learner on the broker agrees with the in-process one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulator import DEFAULT_RATES, HubWorld, export_csv, scale_rates
from streams.broker import EmbeddedBroker
from streams.replay.backtest import replay
from streams.replay.engine import ReplayOptions
from streams.replay.report import compare, read_dump
from streams.settings import Settings

pytestmark = pytest.mark.kafka

MAPPING = Path(__file__).parent.parent / "deploy" / "replay" / "simulator-courier.yaml"


def test_in_process_and_via_kafka_give_the_same_report(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    data = tmp_path / "courier.csv"
    rates = scale_rates({"courier": DEFAULT_RATES["courier"]}, 0.0001)
    export_csv(data, HubWorld(seed=5), datetime(2026, 1, 1, tzinfo=UTC), n_rows=2_000, rates=rates)
    options = ReplayOptions(
        budget=0.05,
        learn_until=datetime(2026, 1, 2, tzinfo=UTC),
        seed=3,
        outcome_delay_days=0,
        progress_every=0,
    )
    # a worker behind Kafka decides on wall-clock time and holds its rate by the window alone
    # (no per-day budget of replayed days): the in-process replay does the same here
    window_only = Settings(budget_period="none")
    local = replay(data, MAPPING, options, dump_scores=tmp_path / "local.csv",
                   settings=window_only)
    kafka = replay(
        data,
        MAPPING,
        options,
        dump_scores=tmp_path / "kafka.csv",
        via_kafka=True,
        bootstrap=broker.bootstrap,
        workdir=tmp_path / "kafka",
        settings=window_only,
    )
    assert (local["mode"], kafka["mode"]) == ("in-process", "via-kafka")
    assert kafka["n_scored"] == 2_000 - kafka["rows"]["history"] > 1_000
    assert kafka["learning"]["model_swaps"] >= 2, "the worker hot-swapped learnt models"
    # Same swap points, same learner input order: the same numbers, to the last digit.
    assert compare(local, kafka) == []
    decided = [
        (r["id"], r["score"], r["kind"], r["model_version"])
        for r in read_dump(tmp_path / "local.csv")
    ]
    assert decided == [
        (r["id"], r["score"], r["kind"], r["model_version"])
        for r in read_dump(tmp_path / "kafka.csv")
    ]
    assert len({version for *_, version in decided}) == 1 + kafka["learning"]["model_swaps"]
