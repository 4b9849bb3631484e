"""Personal-derived state over its life: key rotation, retention, erasure, sealed dead letters.

Runs the real scoring service and the real learner core in process (no broker): a subject's
risk profile must survive a pseudonymisation key rotation, vanish after its retention period
and on an erasure request, and a dead letter must never show a personal value in clear.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from learning.challenger import with_learning_rate
from learning.learner import Learner, LearnerConfig
from learning.privacy import RetentionPolicy
from schemas import AvroCodec, Pseudonymiser
from scorers.model import RiskModel
from scorers.profiles import PERSONAL_KINDS
from simulator import HubWorld, personal_values
from streams.runtime import build_scoring_service
from streams.scoring import ScoringService
from streams.settings import Settings
from streams.topology import STREAM_SCHEMAS

OLD_KEY = "pseudonym-key-of-may-2026-0001"
NEW_KEY = "pseudonym-key-of-november-2026"
T0 = datetime(2026, 5, 4, 9, tzinfo=UTC)
HUBS = {"courier": "hub_LEJ", "postal": "hub_FRA", "passenger": "hub_MUC"}
# the personal field each stream's repeat offender is recognised by, and its profile kind
SUBJECT = {"courier": ("shipper_id", "shipper"), "passenger": ("document_number", "traveller")}
CODEC = AvroCodec()


class Desk:
    """One scoring service and the learner behind it, joined by encoded scored records."""

    def __init__(self, key: str, learner: Learner, previous: tuple[str, ...] = ()) -> None:
        self.clock = T0
        settings = Settings(topic_prefix="unit", pseudonym_key=key,
                            pseudonym_previous_keys=list(previous))
        self.service: ScoringService = build_scoring_service(settings, model=learner.model)
        self.service.clock = lambda: self.clock
        self.learner = learner
        self.offsets = {"scored": count(learner.offsets["scored"]),
                        "outcomes": count(learner.offsets["outcomes"])}

    def score(self, stream: str, record: dict[str, Any]) -> dict[str, Any]:
        """Score ``record`` and hand its scored record to the learner; the scored record."""
        payload = CODEC.encode(STREAM_SCHEMAS[stream], record)
        result = self.service.process(f"unit.{stream}.events", 0, 0, None, payload)
        assert result.rejected is None, result.outbound
        scored = CODEC.decode("ScoredRecord", result.outbound[1].value)
        self.learner.on_scored(scored, next(self.offsets["scored"]))
        return scored

    def inspect(self, scored: dict[str, Any], result: str = "seizure") -> None:
        outcome = {"event_id": scored["event_id"], "stream": scored["stream"], "result": result,
                   "severity": 2, "recovered_amount": Decimal("120.00"),
                   "outcome_time": self.clock + timedelta(hours=2), "officer_unit": "unit_1"}
        self.learner.on_outcome(outcome, next(self.offsets["outcomes"]))


def events(stream: str, subject: str | None = None, seed: int = 5) -> Iterator[dict[str, Any]]:
    """Simulated events of ``stream``; with ``subject``, all of that one person or trader."""
    world = HubWorld(seed=seed)
    for n in count():
        record = dict(world.event(stream, HUBS[stream], T0).record)
        record["event_id"] = f"{stream}-{subject or 'other'}-{seed}-{n}"
        if subject is not None:
            record[SUBJECT[stream][0]] = subject
        yield record


def new_learner(**config: Any) -> Learner:
    model = RiskModel(seed=7)
    return Learner(model, LearnerConfig(learner_id="lrn-privacy", **config),
                   challenger=with_learning_rate(model, 0.1))


def profile(model: RiskModel, stream: str, token: str) -> list[int] | None:
    kind = SUBJECT[stream][1]
    return model.ensemble(stream).profiles.counts.get(kind, {}).get(token)


def train_offender(desk: Desk, stream: str, subject: str, times: int = 6) -> None:
    """Background traffic, then ``times`` inspections of ``subject``, all with findings."""
    background = events(stream, seed=11)
    for _ in range(60):
        scored = desk.score(stream, next(background))
        desk.inspect(scored, "no_finding")
    offender = events(stream, subject, seed=12)
    for _ in range(times):
        desk.inspect(desk.score(stream, next(offender)), "seizure")


def test_key_rotation_carries_a_subjects_profile_to_the_new_token() -> None:
    learner = new_learner()
    before = Desk(OLD_KEY, learner)
    train_offender(before, "courier", "ACME EXPORT 77")
    old_token = Pseudonymiser(OLD_KEY.encode()).token("ACME EXPORT 77")
    new_token = Pseudonymiser(NEW_KEY.encode()).token("ACME EXPORT 77")
    assert profile(learner.model, "courier", old_token)[:2] == [6, 6]
    # a record scored under the old key whose outcome only comes after the rotation
    late = before.score("courier", next(events("courier", "ACME EXPORT 77", seed=13)))

    probe = next(events("courier", "ACME EXPORT 77", seed=14))
    score_before = before.service.score(
        "courier", Pseudonymiser(OLD_KEY.encode()).apply("CourierConsignment", probe)).score
    # Without the previous key the subject starts from scratch under the new token...
    forgetful = build_scoring_service(
        Settings(topic_prefix="unit", pseudonym_key=NEW_KEY),
        model=pickle.loads(pickle.dumps(learner.model)),
    )
    score_forgotten = forgetful.score(
        "courier", Pseudonymiser(NEW_KEY.encode()).apply("CourierConsignment", probe)).score

    # ...with it, the first event after the rotation finds the profile under the new token.
    after = Desk(NEW_KEY, learner, previous=(OLD_KEY,))
    after.service.model = pickle.loads(pickle.dumps(learner.model))  # the scorer's copy
    scored = after.score("courier", probe)
    print(f"\nrotation: score {score_before:.3f} before, {scored['score']:.3f} after with the "
          f"previous key, {score_forgotten:.3f} without it")
    assert scored["entities"]["shipper"] == new_token
    # every personal role has its old token alongside; nothing else does
    assert scored["previous_entities"]["shipper"] == old_token
    assert set(scored["previous_entities"]) <= set(PERSONAL_KINDS)
    assert scored["previous_entities"].keys() >= {"consignee"}
    assert scored["score"] == pytest.approx(score_before, abs=0.02)
    assert score_forgotten < score_before - 0.05
    for model in (after.service.model, learner.model, learner.challenger):
        assert model is not None
        assert profile(model, "courier", new_token)[:2] == [6, 6]
        assert profile(model, "courier", old_token) is None
    assert learner.counters["profiles_carried"] >= 1

    # the late outcome of the record scored under the old key lands on the new token
    after.inspect(late, "seizure")
    assert profile(learner.model, "courier", new_token)[:2] == [7, 7]
    assert profile(learner.model, "courier", old_token) is None


def test_retention_masks_passenger_profiles_after_six_months_and_consignments_later() -> None:
    learner = new_learner(expire_every=0)
    desk = Desk(NEW_KEY, learner)
    train_offender(desk, "passenger", "P9988776", times=4)
    train_offender(desk, "courier", "ACME EXPORT 77", times=4)
    traveller = Pseudonymiser(NEW_KEY.encode()).token("P9988776")
    shipper = Pseudonymiser(NEW_KEY.encode()).token("ACME EXPORT 77")
    inspections = learner.model.ensemble("passenger").profiles.inspections
    assert profile(learner.model, "passenger", traveller) is not None

    learner.expire(T0 + timedelta(days=RetentionPolicy().passenger_days - 1))
    assert profile(learner.model, "passenger", traveller) is not None, "kept inside the period"

    learner.expire(T0 + timedelta(days=RetentionPolicy().passenger_days + 1))
    masked = learner.counters["profiles_expired"]
    print(f"\nretention: {masked} passenger profile keys masked after 6 months")
    assert profile(learner.model, "passenger", traveller) is None
    assert learner.challenger is not None
    assert profile(learner.challenger, "passenger", traveller) is None
    assert profile(learner.model, "courier", shipper) is not None, "consignments: 3 years"
    # only what ties an inspection to a subject goes: routes, carriers and totals stay
    profiles = learner.model.ensemble("passenger").profiles
    assert profiles.inspections == inspections
    assert profiles.counts.get("route")
    assert not any(k.startswith("px_") for k in profiles.counts.get("traveller", {}))

    learner.expire(T0 + timedelta(days=3 * 365 + 1))
    assert profile(learner.model, "courier", shipper) is None


def test_erasure_removes_a_subjects_state_now_and_from_records_still_waiting() -> None:
    learner = new_learner()
    desk = Desk(NEW_KEY, learner)
    train_offender(desk, "courier", "ACME EXPORT 77")
    pseudonymiser = Pseudonymiser(NEW_KEY.encode())
    token = pseudonymiser.token("ACME EXPORT 77")
    waiting = desk.score("courier", next(events("courier", "ACME EXPORT 77", seed=15)))
    assert profile(learner.model, "courier", token) is not None
    learner.snapshot_due(0.0)
    assert not learner.snapshot_due(0.01)

    request = {"request_id": "erasure-0042", "requested_at": T0 + timedelta(minutes=5),
               "tokens": pseudonymiser.subject_tokens(["ACME EXPORT 77"])}
    erased = learner.on_erasure(request, offset=0)
    print(f"\nerasure: {erased} profile keys erased")
    assert erased == 1
    assert learner.snapshot_due(0.02), "the erasure goes to the scorers with the next snapshot"
    for model in (learner.model, learner.challenger):
        assert model is not None
        assert profile(model, "courier", token) is None
    assert learner.on_erasure(request) == 0, "a request id is applied once"
    assert learner.counters["erasures"] == 1

    desk.inspect(waiting, "seizure")  # scored before the request: learnt without the subject
    assert profile(learner.model, "courier", token) is None
    assert learner.counters["outcomes_applied"] == 60 + 6 + 1

    desk.clock = T0 + timedelta(hours=1)  # the subject's new activity is new data
    desk.inspect(desk.score("courier", next(events("courier", "ACME EXPORT 77", seed=16))))
    assert profile(learner.model, "courier", token)[:2] == [1, 1]

    # the ledger survives a restart from the state snapshot
    key = b"privacy-test-state-key-000000001"
    restored, _ = Learner.restore(learner.state_snapshot(key), key)
    assert restored.privacy.erased == learner.privacy.erased
    assert restored.offsets["privacy"] == 1
    assert restored.on_erasure(request, offset=0) == 0
    assert restored.on_erasure({**request, "request_id": "erasure-0043"}, offset=0) == 0


@pytest.mark.parametrize("protection", ["sealed", "clear", "dropped"])
def test_dead_letters_keep_the_raw_payload_as_configured(protection: str) -> None:
    service = build_scoring_service(
        Settings(topic_prefix="unit", deadletter_payload=protection))
    record = next(events("passenger", "P9988776"))
    secrets = personal_values(record, "passenger")
    raw = CODEC.encode("PassengerRecord", record)[:-9]  # truncated: names still in clear
    assert {s for s in secrets if s.encode() in raw}, "the test payload holds personal data"
    result = service.process("unit.passenger.events", 1, 9, b"k", raw)
    assert result.rejected == "schema"
    out = result.outbound[0].value
    letter = CODEC.decode("DeadLetter", out)
    assert letter["raw_payload_protection"] == protection
    leaked = {s for s in secrets if s.encode() in out}
    if protection == "clear":
        assert letter["raw_payload"] == raw and leaked
        return
    assert not leaked
    if protection == "sealed":
        assert service.payload_seal is not None
        assert service.payload_seal.open(letter["raw_payload"]) == raw
    else:
        assert letter["raw_payload"] == b""
