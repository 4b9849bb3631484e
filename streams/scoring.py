"""The scoring step as plain logic: raw record in, verdict and scored record or dead letter out.

Agents only move bytes between topics; everything that decides lives here, so the live
worker, the replay and the tests run the same code without a broker.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas import AvroCodec, CodecError, Pseudonymiser, catalog
from schemas.sealing import PayloadSeal, Protection
from schemas.validation import MAX_MONEY
from scorers.base import Reason
from scorers.features import entities_for, recordable
from scorers.green_lane import GreenLane
from scorers.model import RiskModel
from scorers.selection import (
    GREEN_KINDS,
    RESCALE_TOLERANCE,
    Decision,
    Ledger,
    SelectionPolicy,
    mean_score_change,
    period_of,
)
from streams.topology import STREAM_SCHEMAS, STREAMS, Topology

log = logging.getLogger(__name__)

RESCALE_PROBE = 50
"""Recent events a swap scores first: when their scores moved by less than half the policy's
``RESCALE_TOLERANCE`` on average, the scale is the same and the rest are not scored (most
swaps; a quarter of the rescoring cost)."""

MAX_REASONS = 5
DEAD_LETTER_OVERHEAD = 1024  # header, topic name, timestamps of a dead letter


@dataclass(frozen=True, slots=True)
class Outbound:
    """One record to publish: topic, key and encoded value."""

    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class ScoringResult:
    """What scoring one input record produced."""

    outbound: tuple[Outbound, ...]
    stream: str | None
    hub: str | None
    level: str | None
    kind: str | None
    rejected: str | None  # the error kind, when the input went to the dead-letter topic
    event_time: datetime | None = None
    record: Mapping[str, Any] | None = None  # pseudonymised; None when rejected
    # for the metrics: the verdict's score, the lane's capacity and the model's features
    score: float | None = None
    capacity: float | None = None
    features: Mapping[str, Any] | None = None
    time_saved_s: float = 0.0  # release time a green-lane release saved (no check)
    area: str = ""
    ledger: Ledger | None = None  # the lane's accounting period after this decision
    overflow: bool = False  # a rule hit inspected beyond the period's budget


def _now() -> datetime:
    return datetime.now(UTC)


def references_of(stream: str, record: Mapping[str, Any]) -> dict[str, str]:
    """The event's non-personal references for its verdict (fields its schema marks
    ``"reference"``), as text; empty ones are left out.

    >>> from datetime import UTC, datetime
    >>> references_of("passenger", {"flight_number": "LH123",
    ...                             "departure_time": datetime(2026, 3, 1, 7, 5, tzinfo=UTC)})
    {'flight_number': 'LH123', 'departure_time': '2026-03-01T07:05+00:00'}
    """
    found = {}
    for name in catalog.reference_fields(STREAM_SCHEMAS[stream]):
        value = record.get(name)
        if isinstance(value, datetime):
            found[name] = value.isoformat(timespec="minutes")
        elif value not in (None, ""):
            found[name] = str(value)
    return found


def _money(amount: float | None) -> Decimal | None:
    """An EUR estimate as the schemas' decimal, capped at their largest amount."""
    if amount is None:
        return None
    return min(Decimal(f"{max(amount, 0.0):.2f}"), MAX_MONEY)


class ScoringService:
    """Decode, validate, pseudonymise, score, select, and encode the results.

    During a pseudonymisation key rotation (the pseudonymiser has previous keys), each event
    is also tokenised under the previous key: the subject's profile moves to the new token in
    this scorer's model at once, and the scored record tells the learner to do the same.
    Dead letters keep the raw payload as ``payload_protection`` says: sealed with
    ``payload_seal`` (the default), clear, or dropped, because it may hold personal data.

    With a ``green_lane``, events that qualify (:mod:`scorers.green_lane`) go to the policy's
    green lane: released without a check but for its random audits, the lane's reason first
    in the verdict's reasons.

    Each lane's budget is a ceiling per ``budget_period`` of decision time (a UTC day by
    default; None: the sliding window alone). A swapped-in model may score on a new scale: the
    service keeps the last ``RESCALE_SAMPLE`` events of each stream, scores them with both
    models at the swap, and the policy carries its windows over
    (:meth:`~scorers.selection.SelectionPolicy.rescale`) before the new model decides.
    """

    RESCALE_SAMPLE = 200

    def __init__(
        self,
        topology: Topology,
        codec: AvroCodec,
        pseudonymiser: Pseudonymiser,
        model: RiskModel,
        policy: SelectionPolicy,
        clock: Any = _now,
        payload_seal: PayloadSeal | None = None,
        payload_protection: Protection = "sealed",
        green_lane: GreenLane | None = None,
        budget_period: str | None = "day",
    ) -> None:
        if payload_protection == "sealed" and payload_seal is None:
            raise ValueError("sealed dead-letter payloads need a payload_seal")
        self.topology = topology
        self.codec = codec
        self.pseudonymiser = pseudonymiser
        self.model = model
        self.policy = policy
        self.clock = clock
        self.payload_seal = payload_seal
        self.payload_protection = payload_protection
        self.green_lane = green_lane
        self.budget_period = budget_period
        # recent decoded, pseudonymised events per stream (in memory only), to rescale with:
        # [record, its score, the model that gave it], so a swap assesses each only once more
        self._recent: dict[str, deque[list[Any]]] = {
            stream: deque(maxlen=self.RESCALE_SAMPLE) for stream in STREAMS
        }
        self._rescale: tuple[RiskModel, dict[str, list[tuple[float, float]]]] | None = None

    def process(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> ScoringResult:
        """Score one raw record from an events topic. Never raises on bad input."""
        stream = self.topology.stream_of(topic)
        if stream is None:
            return self.reject(
                topic,
                partition,
                offset,
                key,
                value,
                "routing",
                f"topic {topic} is not an events topic",
            )
        try:
            record = self.codec.decode(STREAM_SCHEMAS[stream], value or b"")
        except CodecError as exc:
            return self.reject(topic, partition, offset, key, value, exc.kind, str(exc))
        schema = STREAM_SCHEMAS[stream]
        previous = self.pseudonymiser.apply_previous(schema, record)
        record = self.pseudonymiser.apply(schema, record)
        try:
            return self.score(stream, record, previous)
        except Exception as exc:  # a scorer bug must not stop the stream: park the event
            log.exception("scoring failed for event %s on %s", record.get("event_id"), topic)
            return self.reject(
                topic,
                partition,
                offset,
                key,
                value,
                "scoring",
                f"scoring failed: {type(exc).__name__}",
            )

    def swap_model(self, model: RiskModel) -> None:
        """Use ``model`` from the next event on (hot swap; the stream does not pause)."""
        model.set_rulebook(self.model.rulebook)  # rules come from the analysts' file
        model.set_circumvention(self.model.circumvention)  # ...and so does this book
        old = self.model
        if model is old:  # the same model again (in process, a snapshot may be the model)
            return
        pairs: dict[str, list[tuple[float, float]]] = {}
        for stream, recent in self._recent.items():
            entries = list(recent)  # one atomic copy, the stream goes on
            # the newest first: they were decided by the outgoing model, whose scores they keep
            probe = self._pairs(stream, entries[-RESCALE_PROBE:], old, model)
            if len(probe) < len(entries) and mean_score_change(probe) < RESCALE_TOLERANCE / 2:
                continue  # surely the same scale (the policy would not map it): save the rest
            pairs[stream] = self._pairs(stream, entries[:-RESCALE_PROBE], old, model) + probe
        # the scoring thread carries the windows over before the new model's first decision
        self._rescale = (model, {stream: p for stream, p in pairs.items() if p})
        self.model = model

    @staticmethod
    def _pairs(
        stream: str, entries: list[list[Any]], old: RiskModel, model: RiskModel
    ) -> list[tuple[float, float]]:
        """(old score, new score) of recent events; each entry keeps its new score."""
        pairs = []
        for entry in entries:
            record, score, scored_by = entry
            if scored_by is not old:  # decided before an earlier swap: on another scale
                score = old.assess(stream, record).score
            new = model.assess(stream, record).score
            pairs.append((score, new))
            entry[1:] = [new, model]  # the next swap pairs against this one's scale
        return pairs

    def apply_snapshot(self, meta: Mapping[str, Any], model: RiskModel) -> None:
        """Swap in a published snapshot: the model, the random share per stream its header
        asks for (raised by the learner for a while after a drift), and the green lane's
        score cap per stream (a header without caps closes the green lane: it runs only
        under the learner's control)."""
        self.swap_model(model)
        for stream, share in (meta.get("random_share") or {}).items():
            self.policy.set_random_share(stream, share)
        if self.green_lane is not None:
            caps = meta.get("green_lane") or {}
            for stream in STREAMS:
                self.green_lane.set_cap(stream, caps.get(stream))

    def score(
        self,
        stream: str,
        record: Mapping[str, Any],
        previous: Mapping[str, Any] | None = None,
    ) -> ScoringResult:
        """Score an already decoded and pseudonymised record.

        ``previous`` is the same record tokenised under the previous key, during a rotation.
        """
        # One read of the reference: a snapshot swap in between cannot mix two models.
        model = self.model
        pending = self._rescale
        if pending is not None and pending[0] is model:
            self._rescale = None
            for name, pairs in pending[1].items():
                self.policy.rescale(name, pairs)
        previous_entities: dict[str, str] = {}
        if previous is not None:
            entities = entities_for(stream, record)
            previous_entities = {
                kind: old
                for kind, old in entities_for(stream, previous).items()
                if entities.get(kind, old) != old
            }
            model.carry_over(stream, entities, previous_entities)
        assessment = model.assess(stream, record)
        event_id, hub = record["event_id"], record["hub"]
        features = assessment.features
        area = self.policy.area_of(
            features.get("hs6") or features.get("hs_heading") or features.get("hs_chapter")
        )
        green: Reason | None = None
        if self.green_lane is not None:
            green = self.green_lane.qualifies(
                stream, features, assessment.entities, assessment.score,
                model.ensemble(stream).profiles,
            )
        decided_at = self.clock()
        period = None
        if self.budget_period is not None:
            period = period_of(decided_at, self.budget_period)
        decision: Decision = self.policy.decide(
            stream, hub, event_id, assessment.score, assessment.always_inspect,
            assessment.recovery_ratio, area, green=green is not None, period=period,
        )
        self._recent[stream].append([record, assessment.score, model])
        expected_recovery = _money(assessment.expected_recovery)
        shown = assessment.reasons
        if green is not None and decision.kind in GREEN_KINDS:
            shown = [green, *shown]
        reasons = [
            {"code": r.code, "text": r.text, "weight": float(r.weight)}
            for r in shown[:MAX_REASONS]
        ]
        verdict = {
            "event_id": event_id,
            "stream": stream,
            "hub": hub,
            "score": float(assessment.score),
            "level": decision.level,
            "reasons": reasons,
            "selection_kind": decision.kind,
            "propensity": float(decision.propensity),
            "model_version": model.version,
            "event_time": record["event_time"],
            "decided_at": decided_at,
            "references": references_of(stream, record),
            "priority": float(decision.priority),
            "expected_recovery": expected_recovery,
        }
        scored = {
            "event_id": event_id,
            "stream": stream,
            "hub": hub,
            "event_time": record["event_time"],
            "features": {k: recordable(v) for k, v in assessment.features.items()},
            "entities": dict(assessment.entities),
            "previous_entities": previous_entities,
            "sub_scores": {k: float(v) for k, v in assessment.sub_scores.items()},
            "score": float(assessment.score),
            "level": decision.level,
            "selection_kind": decision.kind,
            "propensity": float(decision.propensity),
            "model_version": model.version,
            "decided_at": decided_at,
            "priority": float(decision.priority),
            "area": decision.area,
            "expected_recovery": expected_recovery,
        }
        key = event_id.encode()
        return ScoringResult(
            outbound=(
                Outbound(self.topology.verdicts, key, self.codec.encode("RiskVerdict", verdict)),
                Outbound(self.topology.scored, key, self.codec.encode("ScoredRecord", scored)),
            ),
            stream=stream,
            hub=hub,
            level=decision.level,
            kind=decision.kind,
            rejected=None,
            event_time=record["event_time"],
            record=record,
            score=float(assessment.score),
            capacity=decision.rate,
            features=assessment.features,
            time_saved_s=(
                self.green_lane.check_seconds
                if self.green_lane is not None and decision.kind == "green" else 0.0
            ),
            area=decision.area,
            ledger=self.policy.ledger_of(stream, hub, decision.area),
            overflow=decision.overflow,
        )

    def reject(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        kind: str,
        message: str,
    ) -> ScoringResult:
        """Build the dead letter for a record that cannot be scored."""
        reason = f"record {partition}:{offset} on {topic} rejected: {message}"
        raw = value or b""
        protection = self.payload_protection
        # The dead letter must itself fit the limit: keep the head of an oversized payload
        # (the source topic, partition and offset still point at the whole of it).
        room = self.codec.max_bytes - len(reason) - len(key or b"") - DEAD_LETTER_OVERHEAD
        if protection == "sealed":
            room = PayloadSeal.max_plain_size(room)
        if len(raw) > room:
            reason += f" (raw payload cut from {len(raw)} to {room} bytes)"
            raw = raw[:room]
        if protection == "sealed" and self.payload_seal is not None:
            raw = self.payload_seal.seal(raw)
        elif protection == "dropped":
            raw = b""
        letter = {
            "source_topic": topic,
            "partition": partition,
            "offset": offset,
            "key": key,
            "error_kind": kind,
            "reason": reason,
            "raw_payload": raw,
            "raw_payload_protection": protection,
            "failed_at": self.clock(),
        }
        log.warning("%s", reason)
        return ScoringResult(
            outbound=(
                Outbound(
                    self.topology.deadletter, key or b"", self.codec.encode("DeadLetter", letter)
                ),
            ),
            stream=self.topology.stream_of(topic),
            hub=None,
            level=None,
            kind=None,
            rejected=kind,
        )
