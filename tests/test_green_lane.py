"""The green lane end to end, in process: scorer, learner and the simulated hub with its truth.

The must-show of issue 14 (low-risk facilitation): with a maximum miss rate of 1%, the green
lane's true miss rate, known from the simulator's hidden truth, stays under 1% over a long run
with a drift in which smugglers start hiding behind AEO traders, and the estimate's interval
covers the truth in at least 90% of the windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from learning.green_lane import GreenLaneControl, MissRate
from learning.learner import Learner, LearnerConfig
from schemas import AvroCodec
from simulator import HubWorld, InspectionAuthority, OutcomeQueue
from streams import metrics
from streams.learner import snapshot_extra
from streams.runtime import build_scoring_service
from streams.scoring import ScoringService
from streams.settings import Settings

AT = datetime(2026, 2, 2, 8, tzinfo=UTC)


def _service(**green: Any) -> ScoringService:
    return build_scoring_service(Settings(topic_prefix="green", green_lane_enabled=True, **green))


def _aeo_consignment(world: HubWorld, n: int) -> dict[str, Any]:
    record = world.event("courier", "hub_LEJ", AT + timedelta(seconds=n)).record
    return {**record, "aeo_status": "aeoc", "origin_country": "JP", "route": ["HND", "LEJ"]}


def test_a_qualifying_consignment_is_released_green_with_its_reason_once_the_lane_is_open(
) -> None:
    service = _service(green_lane_audit_share=0.0)
    codec = AvroCodec()
    world = HubWorld(seed=4)
    record = service.pseudonymiser.apply("CourierConsignment", _aeo_consignment(world, 0))
    service.clock = lambda: AT
    closed = service.score("courier", record)
    assert closed.kind != "green", "no green lane before the learner opens it"

    service.apply_snapshot({"green_lane": {"courier": 1.0}}, service.model)
    record = service.pseudonymiser.apply("CourierConsignment", _aeo_consignment(world, 1))
    result = service.score("courier", record)
    verdict = codec.decode("RiskVerdict", result.outbound[0].value)
    scored = codec.decode("ScoredRecord", result.outbound[1].value)
    assert (verdict["level"], verdict["selection_kind"]) == ("release", "green")
    assert scored["selection_kind"] == "green" and scored["propensity"] == pytest.approx(1e-6)
    assert verdict["reasons"][0] == {
        "code": "green_lane.aeo", "text": "green lane: AEO-certified trader", "weight": 0.0
    }
    assert result.time_saved_s == 1800.0

    # a snapshot without caps (a learner without a green lane) closes it again
    service.apply_snapshot({}, service.model)
    record = service.pseudonymiser.apply("CourierConsignment", _aeo_consignment(world, 2))
    assert service.score("courier", record).kind != "green"


def test_green_releases_and_time_saved_reach_the_metrics() -> None:
    metrics.SCORER.activate()
    metrics.preinitialise()
    service = _service(green_lane_audit_share=0.0, green_lane_check_seconds=600.0)
    service.apply_snapshot({"green_lane": {"courier": 1.0}}, service.model)
    world = HubWorld(seed=5)
    service.clock = lambda: AT

    def sample(name: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, {"stream": "courier"}) or 0.0

    before = sample("riskstream_green_lane_releases_total")
    saved = sample("riskstream_green_lane_release_time_saved_seconds_total")
    for n in range(5):
        record = service.pseudonymiser.apply("CourierConsignment", _aeo_consignment(world, n))
        metrics.record_scoring(service.score("courier", record), 1e-4)
    assert sample("riskstream_green_lane_releases_total") - before == 5
    assert sample("riskstream_green_lane_release_time_saved_seconds_total") - saved == 3000.0


# -- the must-show: a long run with a drift ------------------------------------------------

EVENTS = 30_000  # courier consignments at one hub
RATE = 2.0  # per simulated second
DRIFT_AT = 0.4  # share of the run before the drift
MAX_MISS_RATE = 0.01


@dataclass
class Run:
    """What the run did, event by event, and what the learner estimated on the way."""

    rows: list[tuple[float, str, float, bool]]  # decided at, kind, score, illicit
    windows: list[tuple[float, float, float, MissRate]]  # first and last audit, cap, estimate
    lane: GreenLaneControl
    drift_at: float


def _run(seed: int, abuse: float = 0.3, **options: Any) -> Run:
    configured: dict[str, Any] = {
        "inspection_rates": {"*": 0.1},
        "random_share": 0.1,
        "green_lane_enabled": True,
        "green_lane_max_miss_rate": MAX_MISS_RATE,
        # a generous cap, 4x the maximum: the lane has to narrow by itself
        "green_lane_score_cap": 0.04,
        # a tenth of the lane audited, so that 30,000 events give ~1,300 audits; at a real
        # hub 2% of a lane of thousands of consignments an hour give as many in a day
        "green_lane_audit_share": 0.1,
        "green_lane_window": 1000,
    }
    settings = Settings(topic_prefix="green", seed=seed, **{**configured, **options})
    service = build_scoring_service(settings)
    # the learner shares the scorer's model (in process, a snapshot is the model itself)
    config = LearnerConfig(learner_id="green", keep_unselected=False)
    learner = Learner(service.model, config, None, settings.green_lane())
    service.apply_snapshot(snapshot_extra(learner, settings), service.model)
    lane = learner.green_lanes["courier"]
    codec = AvroCodec()
    start = AT
    duration = EVENTS / RATE
    drift_at = start + timedelta(seconds=duration * DRIFT_AT)
    # after the drift, 30% of the smuggling hides behind AEO traders of its origin (by default)
    world = HubWorld(seed=seed, drift_at=drift_at, trusted_abuse=abuse)
    authority = InspectionAuthority(seed=seed, delay_s=600.0)
    outcomes = OutcomeQueue()
    run = Run([], [], lane, drift_at.timestamp())
    offsets = {"scored": 0, "outcomes": 0}
    judged = 0
    for event in world.events(start, duration, {"courier": {"hub_LEJ": RATE}}):
        at = event.record["event_time"]
        due = outcomes.pop_due(at)
        for outcome in due:
            learner.on_outcome(outcome, offsets["outcomes"])
            offsets["outcomes"] += 1
        if due:  # the learner's snapshot header: the green lane's caps
            service.apply_snapshot(snapshot_extra(learner, settings), service.model)
        if lane.audits_total >= judged + 100:  # a window every 100 audit outcomes
            judged = lane.audits_total
            inside = [when for score, _, when in lane.audits if score < lane.cap]
            if inside:
                run.windows.append((min(inside), max(inside), lane.cap, lane.estimate()))
        record = service.pseudonymiser.apply("CourierConsignment", event.record)
        service.clock = lambda at=at: at
        result = service.score("courier", record)
        scored = codec.decode("ScoredRecord", result.outbound[1].value)
        learner.on_scored(scored, offsets["scored"])
        offsets["scored"] += 1
        answer = authority.inspect(event.event_id, "courier", event.truth, scored["level"], at,
                                   hub="hub_LEJ")
        if answer is not None:
            outcomes.push(*answer)
        illicit = event.truth.illicit
        run.rows.append((at.timestamp(), scored["selection_kind"], scored["score"], illicit))
    return run


def _rate(rows: list[Any]) -> float:
    return sum(row[-1] for row in rows) / len(rows) if rows else math.nan


def test_green_lane_stays_under_its_maximum_miss_rate_through_a_drift() -> None:
    run = _run(seed=1)
    rows = run.rows
    released = [r for r in rows if r[1] == "green"]
    in_lane = [r for r in rows if r[1] in ("green", "green_audit")]
    after = [r for r in released if r[0] >= run.drift_at]
    share = len(in_lane) / len(rows)
    overall = _rate(released)

    # the true miss rate over each window the lane was estimated on: the lane's events over
    # the span of the window's audits, those scored below the cap of the moment (what the
    # audits sample) and all it released then (what actually went through)
    covered, under, worst = 0, 0, 0.0
    for first, last, cap, estimate in run.windows:
        span = [r for r in in_lane if first <= r[0] <= last]
        truth = _rate([r for r in span if r[2] < cap])
        went_through = _rate([r for r in span if r[1] == "green"])
        covered += estimate.lower <= truth <= estimate.upper
        under += went_through < MAX_MISS_RATE
        worst = max(worst, went_through)
    coverage = covered / len(run.windows)
    # the finest view: consecutive stretches of 600 green releases
    stretches = [_rate(released[i : i + 600]) for i in range(0, len(released), 600)]
    saved_hours = len(released) * 1800.0 / 3600.0  # at the default 30 minutes a check
    print(
        f"\n{len(rows)} consignments, {len(in_lane)} in the green lane ({share:.1%}), "
        f"{run.lane.audits_total} audits ({run.lane.findings_total} findings); "
        f"true miss rate of green releases {overall:.2%} over the run, {_rate(after):.2%} "
        f"after the drift; narrowed {run.lane.narrowed}x, widened {run.lane.widened}x, "
        f"cap now {run.lane.cap:.4g}\n"
        f"{len(run.windows)} estimate windows: interval covers the truth in {coverage:.0%}, "
        f"true miss rate of what went through under 1% in {under}, worst {worst:.2%}\n"
        f"600-release stretches peak at {max(stretches):.2%}; release time saved "
        f"{saved_hours:,.0f} h at 30 min a check"
    )
    assert share > 0.3, "the lane facilitates a real share of the traffic"
    assert overall < MAX_MISS_RATE
    assert under == len(run.windows) and worst < MAX_MISS_RATE
    assert coverage >= 0.9 and len(run.windows) >= 10
    # the lane narrows by itself whenever a full window's bound passes the maximum (seed 1
    # never needed to since the budget ledger; tests/test_learning_green_lane.py drives it)
    over = [e for _, _, _, e in run.windows
            if e.audits >= run.lane.window and e.upper > MAX_MISS_RATE]
    assert run.lane.narrowed >= (1 if over else 0)
