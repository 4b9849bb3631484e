"""The simulator's concept drift, end to end in process: scored live, learned, and detected.

Before the drift the model learns cash couriers' profile (short notice, cash, one way).
At the drift they start booking ahead, paying by card, from other airports: the model keeps
picking the old profile, its picks find less, and the learner's drift detector must notice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from learning.learner import Learner, LearnerConfig
from learning.monitor import DriftEvent
from schemas import AvroCodec
from simulator import HubWorld, InspectionAuthority
from streams.runtime import build_scoring_service
from streams.settings import Settings

RATE = 10.0  # events per simulated second
BEFORE, AFTER = 20_000, 16_000
# Outcomes after the drift starts. Measured on seeds 1, 2, 3: 350, 1027 and 410 outcomes
# (about 6 % of the traffic is inspected here, so 350 outcomes are about 5,800 events).
STATED_BOUND = 1200


def test_simulator_drift_is_detected_within_the_stated_number_of_outcomes() -> None:
    service = build_scoring_service(Settings(topic_prefix="drift", seed=1))
    learner = Learner(service.model, LearnerConfig(learner_id="drift-test"))
    codec = AvroCodec()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    drift_at = start + timedelta(seconds=BEFORE / RATE)
    world = HubWorld(seed=1, drift_at=drift_at)
    authority = InspectionAuthority(seed=1, delay_s=0)
    outcomes_before = outcomes_after = 0
    detections: list[tuple[bool, int]] = []
    for offset, event in enumerate(
        world.events(start, (BEFORE + AFTER) / RATE, {"passenger": {"hub_FRA": RATE}})
    ):
        record = service.pseudonymiser.apply("PassengerRecord", event.record)
        service.clock = lambda at=event.record["event_time"]: at  # simulated time
        result = service.score("passenger", record)
        learner.on_scored(codec.decode("ScoredRecord", result.outbound[1].value), offset)
        verdict = codec.decode("RiskVerdict", result.outbound[0].value)
        answer = authority.inspect(event.event_id, "passenger", event.truth, verdict["level"],
                                   verdict["decided_at"])
        if answer is None:
            continue
        after = event.record["event_time"] >= drift_at
        outcomes_after += after
        outcomes_before += not after
        for raised in learner.on_outcome(answer[1], offset):
            if isinstance(raised, DriftEvent):
                detections.append((after, outcomes_after))
    print(f"outcomes before drift {outcomes_before}, after {outcomes_after}; "
          f"detections (after drift?, outcomes after drift): {detections}")
    assert outcomes_before > 1000 and outcomes_after > STATED_BOUND
    assert not [d for d in detections if not d[0]], "no false alarm before the drift"
    assert detections, "the drift was not detected"
    assert detections[0][1] <= STATED_BOUND
    assert learner.random_share("passenger", 0.1) > 0.1 or learner.counters["drifts"] >= 1
