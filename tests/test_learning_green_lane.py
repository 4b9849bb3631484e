"""The green lane's miss-rate estimate and score cap, and how the learner keeps them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from learning.green_lane import (
    GreenLaneConfig,
    GreenLaneControl,
    clean_audits_needed,
    wilson_interval,
)
from learning.learner import Learner, LearnerConfig
from scorers.model import RiskModel
from scorers.synth import records

AT = datetime(2026, 3, 2, 8, tzinfo=UTC)
KEY = b"green-lane-test-snapshot-key"


@pytest.mark.parametrize(
    ("findings", "audits", "lower", "upper"),
    [  # Wilson intervals at 95% (Newcombe 1998, table I; and computed by hand)
        (0, 10, 0.0, 0.2775),
        (1, 29, 0.0061, 0.1718),
        (15, 148, 0.0624, 0.1605),
        (0, 381, 0.0, 0.0100),
        (5, 1000, 0.0021, 0.0117),
    ],
)
def test_wilson_interval_matches_published_values(
    findings: int, audits: int, lower: float, upper: float
) -> None:
    low, high = wilson_interval(findings, audits)
    assert (round(low, 4), round(high, 4)) == (lower, upper)


def test_wilson_interval_covers_small_rates_at_about_its_level() -> None:
    """Seeded binomial draws at the rates a green lane runs at: the 95% interval covers the
    true rate in 93-97% of the windows."""
    rng = random.Random(11)
    for rate in (0.002, 0.005, 0.01, 0.03):
        covered = 0
        for _ in range(2000):
            findings = sum(rng.random() < rate for _ in range(1000))
            low, high = wilson_interval(findings, 1000)
            covered += low <= rate <= high
        assert 0.93 <= covered / 2000 <= 0.975, (rate, covered)


def test_a_window_too_short_for_the_maximum_is_refused() -> None:
    assert clean_audits_needed(0.01) == 381
    with pytest.raises(ValueError, match="needs at least 381 audits"):
        GreenLaneControl(max_miss_rate=0.01, window=300)
    with pytest.raises(ValueError, match="needs at least"):
        GreenLaneConfig(max_miss_rate=0.005, window=500)


def _audits(lane: GreenLaneControl, rng: random.Random, n: int, rate_of: Any) -> list[float]:
    """``n`` audits of events scored uniformly below the lane's cap; the caps set."""
    caps = []
    for _ in range(n):
        score = rng.uniform(0.0, lane.cap)
        cap = lane.update(score, rng.random() < rate_of(score))
        if cap is not None:
            caps.append(cap)
    return caps


def test_a_clean_lane_holds_and_a_bad_one_narrows_until_it_passes() -> None:
    rng = random.Random(3)
    lane = GreenLaneControl(max_miss_rate=0.01, cap=0.04, window=1000)
    assert _audits(lane, rng, 3000, lambda s: 0.002) == []  # 0.2%: judged and kept
    # smugglers move into the upper three quarters of the lane (scores above 0.01): 5%
    caps = _audits(lane, rng, 3000, lambda s: 0.05 if s > 0.01 else 0.002)
    assert caps[:2] == [0.02, 0.01] and lane.cap <= 0.01  # widening to 0.0125 failed again
    assert lane.narrowed >= 2
    assert lane.estimate().upper < 0.01


def test_audits_cut_off_by_a_narrowing_stop_counting() -> None:
    lane = GreenLaneControl(max_miss_rate=0.01, cap=0.02, window=1000)
    for i in range(1000):  # the upper half of the lane misses 2%, the lower half nothing
        score = 0.005 if i % 2 else 0.015
        assert lane.update(score, i % 100 == 0) is None or i == 999
    assert lane.cap == 0.01
    estimate = lane.estimate()
    assert (estimate.audits, estimate.findings) == (500, 0)
    assert lane.estimate(0.02).findings == 10


def test_a_lane_far_over_the_maximum_narrows_before_its_window_is_full() -> None:
    rng = random.Random(4)
    lane = GreenLaneControl(max_miss_rate=0.01, cap=0.02, window=1000)
    caps = _audits(lane, rng, 150, lambda s: 0.08)
    # the lower bound passed 1% long before 1000 audits: the audits were sure
    assert caps and caps[0] == 0.01 and lane.audits_total == 150
    # ...but not on the first finding: fewer than 100 audits are never judged
    first = GreenLaneControl(max_miss_rate=0.01, cap=0.02, window=1000)
    assert [first.update(0.001, True) for _ in range(3)] == [None, None, None]


def test_the_lane_widens_slowly_back_to_its_configured_cap() -> None:
    rng = random.Random(5)
    lane = GreenLaneControl(max_miss_rate=0.01, cap=0.02, window=1000)
    _audits(lane, rng, 150, lambda s: 0.1)
    narrowest = lane.cap
    assert narrowest <= 0.005
    caps = _audits(lane, rng, 15_000, lambda s: 0.0005)  # the smugglers left
    assert caps[-1] == 0.02
    # one step of a quarter at a time, each after a full window of its own audits
    widening = caps[caps.index(min(caps)):]
    assert widening == sorted(widening) and len(widening) == lane.widened + 1
    assert all(b / a <= 1.25 + 1e-9 for a, b in pairwise(widening))


def test_the_cap_stops_at_its_floor() -> None:
    lane = GreenLaneControl(max_miss_rate=0.01, cap=0.02, window=400, min_cap=0.005)
    for _ in range(100):
        lane.update(0.0001, True)
    assert lane.cap == 0.005


# -- in the learner ------------------------------------------------------------------------


def _scored(model: RiskModel, record: dict[str, Any], kind: str, offset: int) -> dict[str, Any]:
    made = model.assess("courier", record)
    return {
        "event_id": record["event_id"], "stream": "courier", "hub": "hub_LEJ",
        "features": made.features, "entities": made.entities, "sub_scores": made.sub_scores,
        "score": 0.001, "level": "physical_inspection" if kind != "green" else "release",
        "selection_kind": kind, "propensity": 0.05, "decided_at": AT + timedelta(seconds=offset),
    }  # fmt: skip


def _outcome(event_id: str, finding: bool, offset: int) -> dict[str, Any]:
    return {
        "event_id": event_id, "stream": "courier",
        "result": "seizure" if finding else "no_finding", "severity": 2 if finding else 0,
        "outcome_time": AT + timedelta(hours=2, seconds=offset), "officer_unit": "unit_LEJ_1",
    }  # fmt: skip


def test_the_learner_estimates_from_green_audits_only_and_ships_the_cap() -> None:
    config = GreenLaneConfig(max_miss_rate=0.01, cap=0.02, window=400)
    model = RiskModel(seed=1)
    learner = Learner(model, LearnerConfig(learner_id="g", keep_unselected=False), None, config)
    assert learner.green_lane_caps() == dict.fromkeys(("courier", "postal", "passenger"), 0.02)
    outcomes = 0
    for offset, (record, _) in enumerate(records("courier", 600, seed=2)):
        kind = ("green_audit", "green", "model")[offset % 3]
        learner.on_scored(_scored(model, record, kind, offset), offset)
        if kind != "green":  # model picks find something every time: they do not count
            finding = kind == "model" or offset % 30 == 0  # audits: 1 in 10 finds something
            learner.on_outcome(_outcome(record["event_id"], finding, offset), outcomes)
            outcomes += 1
    lane = learner.green_lanes["courier"]
    assert lane.audits_total == 200 and lane.findings_total == 20
    assert learner.green_lane_caps()["courier"] < 0.02  # 10% misses: narrowed
    assert learner.monitors["courier"].outcomes_by_kind["green_audit"] == 200
    # green releases never wait for an outcome when only selections are kept
    assert learner.pending == 0

    restored, _ = Learner.restore(learner.state_snapshot(KEY), KEY)
    assert restored.green_lane_caps() == learner.green_lane_caps()
    restored.set_green_lane(config)  # unchanged: audits and cap kept
    assert restored.green_lanes["courier"].audits_total == 200
    restored.set_green_lane(GreenLaneConfig(max_miss_rate=0.02, cap=0.02, window=400))
    assert restored.green_lanes["courier"].audits_total == 0  # a new lane, at its widest
    restored.set_green_lane(None)
    assert restored.green_lane_caps() == {}


def test_running_counts_match_a_fresh_count_of_the_window() -> None:
    rng = random.Random(8)
    lane = GreenLaneControl(max_miss_rate=0.01, cap=0.02, window=1000)
    for i in range(12_000):
        bad = 0.04 if (i // 3000) % 2 else 0.0005  # the world changes every 3000 audits
        lane.update(rng.uniform(0.0, lane.cap), rng.random() < bad)
        if i % 97 == 0:
            fresh = [(s, f) for s, f, _ in lane.audits if s < lane.cap]
            estimate = lane.estimate()
            assert (estimate.audits, estimate.findings) == (len(fresh), sum(f for _, f in fresh))
    assert len(lane.audits) == 1000 and lane.narrowed and lane.widened
