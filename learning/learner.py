"""The learner: the single writer of everything the scorers learn, as plain logic.

One :class:`Learner` process reads two single-partition topics, ``riskstream.scored`` and
``riskstream.outcomes``, and is the only place the model learns (River models cannot be
trained in parallel or merged). The streams layer feeds it decoded records with their
offsets and publishes what it returns; nothing here touches Kafka or a clock:

* ``on_scored(record, offset)``: the model's unsupervised parts observe every scored event
  (reference prices, tariff text model, anomaly trees, scaling statistics, neutral points),
  and the record waits for its outcome;
* ``on_outcome(outcome, offset)``: joined to its scored record (in either order, each pair
  once), labelled by the :class:`~learning.labels.LabelMap`, learnt with the clipped
  inverse-propensity weight, accounted by the stream's
  :class:`~learning.monitor.QualityMonitor`, and learnt by the shadow challenger, if any;
* both return the :class:`~learning.monitor.DriftEvent` and
  :class:`~learning.challenger.Promotion` events they caused, for the caller to publish;
* ``expire(now)`` drops what waited too long and masks personal profile keys past their
  retention (it runs by itself every ``expire_every`` scored records at the event-time
  watermark, the latest ``decided_at`` seen);
* ``on_erasure(request)`` erases a subject's derived state; scored records carrying
  ``previous_entities`` (a key rotation) move profiles to the new tokens. See
  :mod:`learning.privacy`;
* with a green lane (:meth:`Learner.set_green_lane`), every joined outcome of a green-lane
  audit updates the stream's miss-rate estimate and score cap
  (:class:`~learning.green_lane.GreenLaneControl`); :meth:`Learner.green_lane_caps` is what
  the scorers are told to use.

Offsets make it idempotent: the learner records the next offset it expects on each topic and
skips any record below it, so a redelivery after a restart is never learnt twice. Its whole
state (model, challenger, pending records, joiner, monitors, counters, offsets) restores
exactly from :meth:`Learner.state_snapshot`: continuing from the recorded offsets gives the
same state as a run that never stopped. :meth:`Learner.model_snapshot` is what scorers
hot-swap; the model's ``version`` is set to :attr:`Learner.version` (learner id, outcomes
learnt, events observed) when it is taken.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from learning.challenger import ChampionChallenger, Promotion, PromotionRule
from learning.green_lane import GreenLaneConfig, GreenLaneControl
from learning.idset import RecentIds
from learning.join import OutcomeJoiner
from learning.labels import LabelMap
from learning.monitor import DriftEvent, DriftReaction, QualityMonitor
from learning.privacy import PrivacyLedger, RetentionPolicy
from learning.rescoring import assessment_of
from learning.snapshot import SnapshotError, seal, unseal
from learning.weights import LEARNING_CLIP, ipw
from scorers.features import STREAMS
from scorers.model import RiskModel
from scorers.profiles import day_number
from scorers.selection import NOT_SELECTED

__all__ = ["COUNTERS", "Learner", "LearnerConfig", "LearnerEvent", "LearnerState"]

log = logging.getLogger(__name__)

LearnerEvent = DriftEvent | Promotion
TOPICS = ("scored", "outcomes")
PRIVACY = "privacy"  # erasure requests: applied as read, outside the merge of the two inputs
COUNTERS = (
    "scored_seen",
    "scored_observed",
    "scored_duplicate",
    "scored_rejected",
    "scored_replayed",
    "outcomes_seen",
    "outcomes_applied",
    "outcomes_duplicate",
    "outcomes_unlabelled",
    "outcomes_rejected",
    "outcomes_replayed",
    "drifts",
    "promotions",
    "erasures",
    "profiles_erased",
    "profiles_expired",
    "profiles_carried",
    *(f"{kind}_{stream}" for stream in STREAMS for kind in ("outcomes", "findings")),
)


@dataclass(frozen=True, slots=True)
class LearnerConfig:
    """Everything the learner can be tuned by; every field has a working default.

    Time to live and memory of what waits: ``scored_ttl_seconds`` / ``max_pending`` /
    ``pending_arena_bytes`` for scored records, ``outcome_ttl_seconds`` /
    ``max_waiting_outcomes`` for outcomes that came first, ``applied_window`` joined ids
    remembered against duplicates. ``keep_unselected=False`` keeps only records some
    selection picked (kind model, random or rule) waiting, about 20 times less memory, for
    deployments where released events never get an outcome; the ids of the others are
    remembered (``released_window`` of them, 32 bytes each at most) so that a redelivered
    one is still not observed twice.
    """

    learner_id: str = "learner"
    labels: LabelMap = field(default_factory=LabelMap)
    weight_clip: float = LEARNING_CLIP
    scored_ttl_seconds: float = 14 * 86_400.0
    outcome_ttl_seconds: float = 14 * 86_400.0
    max_pending: int = 1 << 20
    pending_arena_bytes: int = 256 << 20
    max_waiting_outcomes: int = 1 << 16
    applied_window: int = 500_000
    keep_unselected: bool = True
    released_window: int = 1_000_000
    expire_every: int = 10_000
    snapshot_every_outcomes: int = 1_000
    snapshot_every_seconds: float = 60.0
    monitor_window: int = 1_000
    auc_window: int = 1_000
    drift_confidence: float = 1e-4
    drift_reaction: DriftReaction = field(default_factory=DriftReaction)
    promotion: PromotionRule = field(default_factory=PromotionRule)
    challenger_window: int = 1_000
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)

    def __post_init__(self) -> None:
        if not self.learner_id or not isinstance(self.learner_id, str):
            raise ValueError(f"learner_id must be a non-empty string, got {self.learner_id!r}")
        if self.snapshot_every_outcomes < 1 or not self.snapshot_every_seconds > 0:
            raise ValueError("snapshot_every_outcomes must be >= 1 and snapshot_every_seconds > 0")
        if self.expire_every < 0:
            raise ValueError(f"expire_every must be >= 0, got {self.expire_every!r}")


@dataclass(slots=True)
class LearnerState:
    """Everything a learner is made of; pickled whole into a state snapshot."""

    config: LearnerConfig
    model: RiskModel
    arena: ChampionChallenger | None
    joiner: OutcomeJoiner
    released: RecentIds | None
    monitors: dict[str, QualityMonitor]
    counts: dict[str, int]
    offsets: dict[str, int]
    watermark: datetime | None
    since_expiry: int
    marks: dict[str, int]
    privacy: PrivacyLedger | None = None  # None in states saved before it existed
    green_lanes: dict[str, GreenLaneControl] | None = None  # ...and so with the green lane


class _Rejected(ValueError):
    """An input record the learner cannot use; the message names event and field."""


def _aware(record: Mapping[str, Any], name: str, what: str) -> datetime:
    value = record.get(name)
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise _Rejected(f"{what} rejected: field {name} missing or not a timezone-aware time")
    return value


def _check_event(record: Mapping[str, Any], what: str) -> str:
    """The record's event id, if it has one and names one of our streams."""
    event_id = record.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise _Rejected(f"{what} rejected: field event_id missing")
    if record.get("stream") not in STREAMS:
        raise _Rejected(f"{what} rejected: stream {record.get('stream')!r} is not one of "
                        f"{', '.join(STREAMS)}")
    return event_id


def _check_scored(record: Mapping[str, Any], offset: int) -> str:
    what = f"scored record at offset {offset} (event {record.get('event_id')})"
    event_id = _check_event(record, what)
    _aware(record, "decided_at", what)
    propensity = record.get("propensity")
    if isinstance(propensity, bool) or not isinstance(propensity, int | float) or not (
        0.0 < propensity <= 1.0
    ):
        raise _Rejected(f"{what} rejected: field propensity {propensity!r} outside (0, 1]")
    score = record.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise _Rejected(f"{what} rejected: field score missing or not a number")
    for name in ("features", "entities", "sub_scores"):
        if not isinstance(record.get(name, {}), Mapping):
            raise _Rejected(f"{what} rejected: field {name} is not a map")
    return event_id


class Learner:
    """The deterministic core of the learner process.

    Parameters
    ----------
    model
        The champion: what scorers hot-swap.
    config
        Tuning; default ``LearnerConfig()``.
    challenger
        A second model learning in the shadow, promoted per stream when it does better on
        random picks; ``None`` for none.
    green_lane
        Run a green lane on every stream with this configuration; ``None`` for none.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> from decimal import Decimal
    >>> from scorers.synth import records
    >>> model = RiskModel(seed=42)
    >>> learner = Learner(model, LearnerConfig(learner_id="lrn-1"))
    >>> at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> for offset, (record, finding) in enumerate(records("courier", 200, seed=1)):
    ...     made = model.assess("courier", record)
    ...     scored = {"event_id": record["event_id"], "stream": "courier",
    ...               "features": made.features, "entities": made.entities,
    ...               "sub_scores": made.sub_scores, "score": made.score,
    ...               "selection_kind": "random" if offset % 10 == 0 else "none",
    ...               "propensity": 0.1, "decided_at": at + timedelta(seconds=offset)}
    ...     _ = learner.on_scored(scored, offset)
    >>> outcome = {"event_id": "courier-1-10", "stream": "courier", "result": "seizure",
    ...            "severity": 2, "recovered_amount": Decimal("80.00"),
    ...            "outcome_time": at + timedelta(days=1), "officer_unit": "unit_LEJ_2"}
    >>> learner.on_outcome(outcome, 0), learner.on_outcome(outcome, 1)
    ([], [])
    >>> {k: v for k, v in learner.counters.items() if v and "_" in k}
    {'scored_seen': 200, 'scored_observed': 200, 'outcomes_seen': 2, 'outcomes_applied': 1, 'outcomes_duplicate': 1, 'outcomes_courier': 1, 'findings_courier': 1}
    >>> learner.pending, learner.offsets, learner.version
    (199, {'scored': 200, 'outcomes': 2}, 'lrn-1-o1-s200')
    """  # noqa: E501

    def __init__(
        self,
        model: RiskModel,
        config: LearnerConfig | None = None,
        challenger: RiskModel | None = None,
        green_lane: GreenLaneConfig | None = None,
    ) -> None:
        self.model = model
        self.config = config if config is not None else LearnerConfig()
        cfg = self.config
        self.arena = (
            ChampionChallenger(challenger, cfg.promotion, cfg.challenger_window)
            if challenger is not None
            else None
        )
        self.joiner = OutcomeJoiner(
            scored_ttl_seconds=cfg.scored_ttl_seconds,
            outcome_ttl_seconds=cfg.outcome_ttl_seconds,
            max_scored=cfg.max_pending,
            max_outcomes=cfg.max_waiting_outcomes,
            applied_window=cfg.applied_window,
            max_arena_bytes=cfg.pending_arena_bytes,
        )
        # ids of records not kept waiting (keep_unselected=False), against redeliveries
        self.released = RecentIds(cfg.released_window) if not cfg.keep_unselected else None
        self.monitors = {
            stream: QualityMonitor(
                stream, cfg.monitor_window, cfg.auc_window, cfg.drift_confidence,
                cfg.drift_reaction,
            )
            for stream in STREAMS
        }
        self._counts = dict.fromkeys(COUNTERS, 0)
        self.offsets = dict.fromkeys(TOPICS, 0)
        self.watermark: datetime | None = None
        self._since_expiry = 0
        self._marks = {"outcomes_applied": 0, "scored_observed": 0}
        self._snapshot_clock: float | None = None
        self.privacy = PrivacyLedger(memory=timedelta(seconds=cfg.scored_ttl_seconds))
        self._privacy_changed = False  # an erasure waits for the next snapshot
        self.green_lanes: dict[str, GreenLaneControl] = {}
        self.set_green_lane(green_lane)

    # -- inputs ----------------------------------------------------------------------------

    def _first_time(self, topic: str, offset: int) -> bool:
        """Record ``offset`` as read; False if it was read before (a redelivery)."""
        if offset < self.offsets[topic]:
            self._counts[f"{topic}_replayed"] += 1
            return False
        self.offsets[topic] = offset + 1
        self._counts[f"{topic}_seen"] += 1
        return True

    def on_scored(self, record: Mapping[str, Any], offset: int) -> list[LearnerEvent]:
        """Observe one scored record and keep it for its outcome; events it caused."""
        if not self._first_time("scored", offset):
            return []
        try:
            event_id = _check_scored(record, offset)
        except _Rejected as exc:
            self._counts["scored_rejected"] += 1
            log.warning("%s", exc)
            return []
        kept = self.config.keep_unselected or (
            record.get("selection_kind", "none") not in NOT_SELECTED
        )
        if self.joiner.is_duplicate_scored(event_id) or (
            not kept and self.released is not None and not self.released.add(event_id)
        ):
            self._counts["scored_duplicate"] += 1
            return []
        stream = record["stream"]
        assessment = assessment_of(record)
        previous = record.get("previous_entities")
        if previous:  # a key rotation: the subject's profile follows it to the new token
            self.privacy.note_rotation(assessment.entities, previous)
            for model in self._models():
                moved = model.carry_over(stream, assessment.entities, previous)
                if model is self.model:
                    self._counts["profiles_carried"] += moved
        self.model.observe(stream, assessment)
        if self.arena is not None:
            self.arena.challenger.observe(stream, assessment)
        self._counts["scored_observed"] += 1
        events: list[LearnerEvent] = []
        if kept:
            try:
                pairs = self.joiner.on_scored(record)
            except ValueError as exc:  # a value the pending store cannot keep
                self._counts["scored_rejected"] += 1
                log.warning("scored record at offset %s not kept for its outcome: %s",
                            offset, exc)
                pairs = []
            for scored, outcome in pairs:
                events += self._apply(scored, outcome)
        decided_at: datetime = record["decided_at"]
        if self.watermark is None or decided_at > self.watermark:
            self.watermark = decided_at
        self._since_expiry += 1
        if self.config.expire_every and self._since_expiry >= self.config.expire_every:
            self.expire(self.watermark)
        return events

    def on_outcome(self, outcome: Mapping[str, Any], offset: int) -> list[LearnerEvent]:
        """Join one inspection outcome and learn it once joined; events it caused."""
        if not self._first_time("outcomes", offset):
            return []
        event_id = outcome.get("event_id")
        what = f"outcome at offset {offset} (event {event_id})"
        try:
            _check_event(outcome, what)
            _aware(outcome, "outcome_time", what)
            self.config.labels(str(outcome.get("result")))
        except ValueError as exc:
            self._counts["outcomes_rejected"] += 1
            log.warning("%s", exc if isinstance(exc, _Rejected) else f"{what} rejected: {exc}")
            return []
        duplicates = self.joiner.duplicate_outcomes
        try:
            pairs = self.joiner.on_outcome(outcome)
        except ValueError as exc:
            self._counts["outcomes_rejected"] += 1
            log.warning("%s rejected: %s", what, exc)
            return []
        self._counts["outcomes_duplicate"] += self.joiner.duplicate_outcomes - duplicates
        events: list[LearnerEvent] = []
        for scored, joined in pairs:
            events += self._apply(scored, joined)
        return events

    def _apply(self, scored: dict[str, Any], outcome: dict[str, Any]) -> list[LearnerEvent]:
        stream = scored["stream"]
        if outcome["stream"] != stream:
            self._counts["outcomes_rejected"] += 1
            log.warning("outcome for event %s rejected: stream %s, but the event was scored "
                        "on %s", scored["event_id"], outcome["stream"], stream)
            return []
        finding = self.config.labels(outcome["result"])
        if finding is None:
            self._counts["outcomes_unlabelled"] += 1
            return []
        weight = ipw(float(scored["propensity"]), self.config.weight_clip)
        features = scored.get("features") or {}
        decided_at: datetime = scored["decided_at"]
        # renamed by a key rotation, or erased since the record was scored
        entities = self.privacy.translate(scored.get("entities") or {}, decided_at)
        scored = {**scored, "entities": entities}
        sub_scores = scored.get("sub_scores") or {}
        if self.arena is not None:  # both score before either learns: prequential
            self.arena.evaluate(self.model, stream, scored, finding)
        # what the finding recovered (EUR), for the recovery model of revenue-aware ranking
        recovered = float(outcome.get("recovered_amount") or 0.0) if finding else None
        self.model.learn_outcome(
            stream, features, entities, sub_scores, finding, weight, day_number(decided_at),
            recovered,
        )
        self._counts["outcomes_applied"] += 1
        self._counts[f"outcomes_{stream}"] += 1
        self._counts[f"findings_{stream}"] += finding
        events: list[LearnerEvent] = []
        drift = self.monitors[stream].update(scored, outcome, finding)
        if drift is not None:
            self._counts["drifts"] += 1
            events.append(drift)
        lane = self.green_lanes.get(stream)
        if lane is not None and scored.get("selection_kind") == "green_audit":
            before = lane.cap
            cap = lane.update(float(scored["score"]), finding, decided_at.timestamp())
            if cap is not None:
                estimate = lane.estimate(before)
                log.warning(
                    "%s green lane %s: score cap %.4g -> %.4g (%d findings in %d audits, miss "
                    "rate at most %.2f%% at 95%%, maximum %.2f%%)", stream,
                    "narrowed" if cap < before else "widened", before, cap, estimate.findings,
                    estimate.audits, 100 * estimate.upper, 100 * lane.max_miss_rate,
                )
        if self.arena is not None:
            self.arena.learn(stream, scored, finding, weight, day_number(decided_at), recovered)
            promotion = self.arena.promote(self.model, stream)
            if promotion is not None:
                self._counts["promotions"] += 1
                events.append(promotion)
        return events

    def expire(self, now: datetime) -> tuple[int, int]:
        """Drop scored records and outcomes that waited too long, and mask personal profile
        keys past their retention (the retention job): (scored, outcomes) dropped."""
        self._since_expiry = 0
        if self.privacy.retention_due(now):  # a full scan of the profiles, once a day
            cutoffs = self.config.retention.cutoff_days(now)
            for model in self._models():
                masked = model.forget_older_than(cutoffs)
                if model is self.model:
                    self._counts["profiles_expired"] += masked
            self.privacy.prune(now)
        return self.joiner.expire(now)

    def on_erasure(self, request: Mapping[str, Any], offset: int | None = None) -> int:
        """Erase a subject's derived state (an ``ErasureRequest``); profile keys dropped.

        Every profile key built from one of the request's tokens goes now, from the champion
        and the challenger; scored records decided before the request lose those keys when
        their outcome is learnt. The next snapshot is due at once, so scorers drop them too.
        A request id is applied once; ``offset`` (on the privacy topic) is recorded like the
        other inputs', so a restart resumes after the last request applied.
        """
        if offset is not None:
            if offset < self.offsets.get(PRIVACY, 0):
                return 0
            self.offsets[PRIVACY] = offset + 1
        request_id, tokens = request.get("request_id"), request.get("tokens")
        requested_at = request.get("requested_at")
        if not isinstance(request_id, str) or not isinstance(tokens, list | tuple):
            raise ValueError("erasure request needs a request_id and a list of tokens")
        if not isinstance(requested_at, datetime) or requested_at.utcoffset() is None:
            raise ValueError(f"erasure request {request_id}: requested_at must be a UTC time")
        if not self.privacy.erase(request_id, tokens, requested_at):
            return 0
        erased = 0
        for model in self._models():
            dropped = model.erase(tokens)
            if model is self.model:
                erased = dropped
        self._counts["erasures"] += 1
        self._counts["profiles_erased"] += erased
        self._privacy_changed = True
        log.warning("erasure request %s applied: %d profile keys erased", request_id, erased)
        return erased

    def _models(self) -> tuple[RiskModel, ...]:
        return (self.model,) if self.arena is None else (self.model, self.arena.challenger)

    # -- what is exposed -------------------------------------------------------------------

    @property
    def challenger(self) -> RiskModel | None:
        """The shadow challenger, if any."""
        return self.arena.challenger if self.arena is not None else None

    @property
    def counters(self) -> dict[str, int]:
        """Every count, including what the joiner and the pending stores dropped."""
        joiner = self.joiner
        return {
            **self._counts,
            "pending": joiner.pending,
            "outcomes_waiting": joiner.waiting_outcomes,
            "expired_scored": joiner.expired_scored,
            "expired_outcomes": joiner.expired_outcomes,
            "evicted_scored": joiner.scored.evicted_total,
            "evicted_outcomes": joiner.outcomes.evicted_total,
        }

    @property
    def pending(self) -> int:
        """Scored records waiting for their outcome."""
        return self.joiner.pending

    @property
    def version(self) -> str:
        """The model version: learner id, outcomes learnt, events observed."""
        counts = self._counts
        return (
            f"{self.config.learner_id}-o{counts['outcomes_applied']}"
            f"-s{counts['scored_observed']}"
        )

    def set_green_lane(self, config: GreenLaneConfig | None) -> None:
        """Run the green lane with ``config`` from now on (None: no green lane).

        A restored learner is given the configuration of the moment: a stream whose lane
        already runs under it keeps its audits and cap; otherwise it starts afresh.
        """
        if config is None:
            self.green_lanes = {}
            return
        lanes = {}
        for stream in STREAMS:
            lane = self.green_lanes.get(stream)
            lanes[stream] = lane if lane is not None and lane.config == config else config.control()
        self.green_lanes = lanes

    def green_lane_caps(self) -> dict[str, float]:
        """The green lane's score cap per stream, for the scorers (empty: no green lane)."""
        return {stream: lane.cap for stream, lane in self.green_lanes.items()}

    def random_share(self, stream: str, configured: float) -> float:
        """The random share to recommend for ``stream`` now (raised after a drift)."""
        return self.monitors[stream].recommended_random_share(configured)

    # -- snapshots -------------------------------------------------------------------------

    def snapshot_due(self, now_monotonic: float) -> bool:
        """True every ``snapshot_every_outcomes`` outcomes learnt or ``snapshot_every_seconds``
        with something new, whichever comes first. The first call starts the clock."""
        if self._snapshot_clock is None:
            self._snapshot_clock = now_monotonic
        if self._privacy_changed:  # an erasure must reach the scorers without delay
            return True
        learnt = self._counts["outcomes_applied"] - self._marks["outcomes_applied"]
        if learnt >= self.config.snapshot_every_outcomes:
            return True
        changed = learnt or self._counts["scored_observed"] != self._marks["scored_observed"]
        return bool(changed) and (
            now_monotonic - self._snapshot_clock >= self.config.snapshot_every_seconds
        )

    def _meta(self, kind: str, created_at: datetime | None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "kind": kind,
            "learner_id": self.config.learner_id,
            "model_version": self.version,
            "offsets": dict(self.offsets),
            "outcomes_applied": self._counts["outcomes_applied"],
            "scored_observed": self._counts["scored_observed"],
        }
        if created_at is not None:
            meta["created_at"] = created_at
        return meta

    def model_snapshot(
        self,
        key: bytes,
        now_monotonic: float | None = None,
        created_at: datetime | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The champion, versioned and sealed, for the scorers; restarts the snapshot clock.

        ``extra`` goes into the header for the scorers (e.g. the random share to use now).
        """
        self.model.version = self.version
        blob = seal(self.model, key, {**self._meta("risk-model", created_at), **(extra or {})})
        self._privacy_changed = False
        self._marks = {
            "outcomes_applied": self._counts["outcomes_applied"],
            "scored_observed": self._counts["scored_observed"],
        }
        if now_monotonic is not None:
            self._snapshot_clock = now_monotonic
        return blob

    def state(self) -> LearnerState:
        """The learner's whole state (live objects: seal or copy it before going on)."""
        return LearnerState(
            config=self.config,
            model=self.model,
            arena=self.arena,
            joiner=self.joiner,
            released=self.released,
            monitors=self.monitors,
            counts=self._counts,
            offsets=self.offsets,
            watermark=self.watermark,
            since_expiry=self._since_expiry,
            marks=self._marks,
            privacy=self.privacy,
            green_lanes=self.green_lanes,
        )

    @classmethod
    def from_state(cls, state: LearnerState) -> Learner:
        """A learner that continues exactly where ``state`` was taken."""
        learner = cls.__new__(cls)
        learner.config = state.config
        learner.model = state.model
        learner.arena = state.arena
        learner.joiner = state.joiner
        learner.released = state.released
        learner.monitors = state.monitors
        learner._counts = {**dict.fromkeys(COUNTERS, 0), **state.counts}
        learner.offsets = state.offsets
        learner.watermark = state.watermark
        learner._since_expiry = state.since_expiry
        learner._marks = state.marks
        learner._snapshot_clock = None
        learner.privacy = state.privacy or PrivacyLedger(
            memory=timedelta(seconds=state.config.scored_ttl_seconds)
        )
        learner._privacy_changed = False
        learner.green_lanes = getattr(state, "green_lanes", None) or {}
        return learner

    def state_snapshot(self, key: bytes, created_at: datetime | None = None) -> bytes:
        """The whole state, sealed: what a restarted learner resumes from."""
        return seal(self.state(), key, self._meta("learner-state", created_at))

    @classmethod
    def restore(cls, blob: bytes, key: bytes) -> tuple[Learner, dict[str, Any]]:
        """The learner sealed in a state snapshot, and the snapshot's header."""
        meta, state = unseal(blob, key)
        if meta.get("kind") != "learner-state" or not isinstance(state, LearnerState):
            raise SnapshotError(
                f"snapshot of kind {meta.get('kind')!r} is not a learner state snapshot"
            )
        return cls.from_state(state), meta

    def __repr__(self) -> str:
        return (
            f"Learner(version={self.version!r}, pending={self.pending}, "
            f"offsets={self.offsets}, challenger={self.arena is not None})"
        )
