"""The replay: history learned with its labels, then the live part day by day, in process.

Same code path as production, step by step:

1. **History.** Rows before ``learn_until`` go through :func:`scorers.history.warm_start`
   (what ``riskstream warm-start`` runs): pseudonymised, scored, observed and learned with
   their labels. The model is written as a signed model file and read back with
   :func:`streams.runtime.build_model`, exactly as a worker and a learner warm start.
2. **Live part.** From ``learn_until`` on, each row becomes an event of the stream's Avro
   schema and goes through :meth:`streams.scoring.ScoringService.process` (decode, validate,
   pseudonymise, features, scorers, ensemble, selection policy, verdict). Its
   ``ScoredRecord`` bytes are decoded and fed to :meth:`learning.learner.Learner.on_scored`,
   as the learner process reads them from Kafka.
3. **Outcomes.** Only rows the policy selects reveal their label: an ``InspectionOutcome``
   (seizure with the revenue, or no finding) dated the end of the row's UTC day, plus
   ``outcome_delay_days``. Outcomes due are learnt at the day boundary, before the next
   day's first row, through :meth:`~learning.learner.Learner.on_outcome`.
4. **Hot swap.** After a day boundary that taught the learner something, its sealed
   :meth:`~learning.learner.Learner.model_snapshot` is unsealed and swapped into the scoring
   service, as a worker swaps the snapshots the learner publishes. So each day is scored by
   the model that had learnt every outcome due before it began and observed every event
   before it. (A live learner snapshots every few seconds; ``--via-kafka`` is configured to
   snapshot on outcomes only, which gives the same swap points.)

The scorer's clock is the replayed event time, so ``decided_at`` is the row's time. The
selection policy reads no clock and draws by hashed event id: the same rows, seed and
options give the same report.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from learning.learner import LearnerEvent
from learning.monitor import DriftEvent
from learning.snapshot import unseal
from schemas import Pseudonymiser
from schemas.validation import MAX_MONEY
from scorers.history import WarmStartReport, warm_start
from scorers.model import RiskModel
from streams.learner import new_learner, snapshot_extra
from streams.replay.mapping import MappedRow, ReadResult, ReplayMapping, read_rows
from streams.replay.report import ScoredRow, budget_use
from streams.runtime import build_model, build_scoring_service, write_model_file
from streams.scoring import ScoringResult
from streams.settings import Settings

__all__ = [
    "LiveRun",
    "OutcomeBook",
    "Progress",
    "ReplayError",
    "ReplayOptions",
    "ReplayPlan",
    "outcome_for",
    "plan_replay",
    "replay_in_process",
    "replay_settings",
    "warm_model",
]

OFFICER_UNIT = "replay"


class ReplayError(RuntimeError):
    """The replay could not run to its end; the message says where and why."""


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay: the budget, the history cut, the seed and the outcome delay.

    ``seed`` ``None`` keeps the configured one (``RISKSTREAM_SEED``). ``max_bad_share``:
    above this share of unreadable rows the replay stops instead of skipping them.
    """

    budget: float = 0.05
    learn_until: datetime | None = None
    seed: int | None = None
    outcome_delay_days: int = 0
    progress_every: int = 10_000
    max_bad_share: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 < self.budget <= 1.0:
            raise ValueError(f"budget must be an inspection rate in (0, 1], got {self.budget!r}")
        if self.outcome_delay_days < 0:
            raise ValueError(f"outcome delay must be >= 0 days, got {self.outcome_delay_days!r}")
        if self.learn_until is not None and self.learn_until.utcoffset() is None:
            raise ValueError("learn_until must be a timezone-aware time")


def replay_settings(
    options: ReplayOptions, base: Settings | None = None, mapping: ReplayMapping | None = None
) -> Settings:
    """The settings of the replay: the configured ones, with the budget and seed given, and
    the mapping's personal attributes added to the configured ones."""
    settings = base if base is not None else Settings()
    update: dict[str, Any] = {"inspection_rates": {"*": options.budget}}
    if options.seed is not None:
        update["seed"] = options.seed
    if mapping is not None:
        update["personal_attributes"] = with_personal(settings, mapping).personal_attributes
    return settings.model_copy(update=update)


def with_personal(settings: Settings, mapping: ReplayMapping) -> Settings:
    """``settings`` with the mapping's personal attributes, which the pseudonymiser tokenises."""
    if mapping.personal <= settings.personal_attributes:
        return settings
    personal = settings.personal_attributes | mapping.personal
    return settings.model_copy(update={"personal_attributes": personal})


@dataclass
class ReplayPlan:
    """The rows of a replay, read, checked and split at ``learn_until``, each in time order."""

    mapping: ReplayMapping
    read: ReadResult
    history: list[MappedRow]
    live: list[MappedRow]


def plan_replay(path: str | Path, mapping: ReplayMapping, options: ReplayOptions) -> ReplayPlan:
    """Read the CSV with the mapping, order it by time (file order on ties), and split it."""
    read = read_rows(path, mapping, options.max_bad_share)
    ordered = sorted(read.rows, key=lambda row: row.time)
    cut = options.learn_until
    history = [row for row in ordered if cut is not None and row.time < cut]
    live = [row for row in ordered if cut is None or row.time >= cut]
    return ReplayPlan(mapping, read, history, live)


def warm_model(settings: Settings, plan: ReplayPlan) -> tuple[RiskModel, WarmStartReport]:
    """The configured model with the history learnt, as ``riskstream warm-start`` makes it."""
    model = build_model(settings)
    named = ({**row.fields, "label": "1" if row.label else "0",
              "recovered_amount": str(row.revenue)} for row in plan.history)
    pseudonymiser = Pseudonymiser(
        settings.pseudonym_key.get_secret_value().encode(),
        personal_attributes=with_personal(settings, plan.mapping).personal_attributes,
    )
    report = warm_start(model, named, pseudonymiser, stream=plan.mapping.stream)
    if report.skipped:  # every history row was checked when it was read
        raise ReplayError(f"history rows the warm start could not read: {report.problems}")
    model.version = f"warm-{sum(report.learned.values())}"
    return model, report


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def outcome_for(stream: str, row: MappedRow, at: datetime) -> dict[str, Any]:
    """The inspection outcome a selected row reports: its label, and revenue if illicit.

    >>> row = MappedRow(2, "e1", datetime(2026, 1, 5, 9, tzinfo=UTC), True, 80.5, {})
    >>> outcome = outcome_for("postal", row, datetime(2026, 1, 6, tzinfo=UTC))
    >>> outcome["result"], outcome["recovered_amount"], outcome["officer_unit"]
    ('seizure', Decimal('80.50'), 'replay')
    """
    amount = Decimal(str(max(row.revenue, 0.0) if row.label else 0.0)).quantize(Decimal("0.01"))
    return {
        "event_id": row.event_id,
        "stream": stream,
        "result": "seizure" if row.label else "no_finding",
        "severity": 1 if row.label else 0,
        "recovered_amount": min(amount, MAX_MONEY),
        "outcome_time": at,
        "officer_unit": OFFICER_UNIT,
    }


@dataclass
class OutcomeBook:
    """Outcomes of selected rows, waiting for the day boundary at which they are due.

    >>> book = OutcomeBook("courier", delay_days=1)
    >>> row = MappedRow(2, "e1", datetime(2026, 1, 5, 9, tzinfo=UTC), False, 0.0, {})
    >>> book.add(row)
    >>> book.due(datetime(2026, 1, 6, tzinfo=UTC)), len(book.due(datetime(2026, 1, 7, tzinfo=UTC)))
    ([], 1)
    """

    stream: str
    delay_days: int = 0
    waiting: list[tuple[datetime, int, MappedRow]] = field(default_factory=list)

    def add(self, row: MappedRow) -> None:
        due = day_start(row.time.date()) + timedelta(days=1 + self.delay_days)
        self.waiting.append((due, len(self.waiting), row))

    def due(self, until: datetime | None = None) -> list[dict[str, Any]]:
        """Remove and return the outcomes due at or before ``until`` (all: None), in order."""
        ready = sorted(w for w in self.waiting if until is None or w[0] <= until)
        self.waiting = [w for w in self.waiting if until is not None and w[0] > until]
        return [outcome_for(self.stream, row, due) for due, _, row in ready]


class Progress:
    """A line on stderr every ``every`` live rows: how far, how fast, how much selected."""

    def __init__(self, total: int, every: int, out: TextIO | None = None) -> None:
        self.total = total
        self.every = every
        self.out = out if out is not None else sys.stderr
        self.started = time.monotonic()
        self.done = 0

    def start(self) -> None:
        """The live part begins: rates count from here."""
        self.started = time.monotonic()

    def tick(self, row: MappedRow, selected: int) -> None:
        self.done += 1
        if self.every and (self.done % self.every == 0 or self.done == self.total):
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            print(
                f"replay: {self.done}/{self.total} live rows scored (at {row.time:%Y-%m-%d}), "
                f"{selected} selected, {rate:,.0f} rows/s",
                file=self.out,
                flush=True,
            )

    def note(self, message: str) -> None:
        if self.every:
            print(f"replay: {message}", file=self.out, flush=True)


@dataclass
class LiveRun:
    """What the live part produced: one :class:`ScoredRow` per row, and the learning."""

    rows: list[ScoredRow] = field(default_factory=list)
    rejected: int = 0
    rejected_reasons: Counter[str] = field(default_factory=Counter)
    outcomes: int = 0
    model_swaps: int = 0
    final_model_version: str = ""
    learner_events: Counter[str] = field(default_factory=Counter)
    budget: dict[str, Any] = field(default_factory=dict)  # per lane: report.budget_use

    def learnt(self, events: list[LearnerEvent]) -> None:
        for event in events:
            self.learner_events["drifts" if isinstance(event, DriftEvent) else "promotions"] += 1


def days(rows: list[MappedRow]) -> Iterator[tuple[date, list[MappedRow]]]:
    """The rows grouped by UTC day, in order."""
    for day, group in groupby(rows, key=lambda row: row.time.date()):
        yield day, list(group)


class _Clock:
    """The scorer's clock in a replay: the time of the row being scored."""

    def __init__(self) -> None:
        self.now = datetime(1970, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def replay_in_process(
    plan: ReplayPlan,
    settings: Settings,
    options: ReplayOptions,
    progress: Progress,
    observer: Callable[[MappedRow, ScoringResult], None] | None = None,
) -> tuple[LiveRun, WarmStartReport]:
    """Replay the plan through a scoring service and a learner in this process.

    ``observer`` sees every live row with what scoring it produced (the encoded verdict and
    scored record among its outbound records), e.g. to read the verdicts' reasons.
    """
    warm, history = warm_model(settings, plan)
    stream, mapping = plan.mapping.stream, plan.mapping
    key = settings.snapshot_key.get_secret_value().encode()
    with tempfile.TemporaryDirectory(prefix="riskstream-replay-") as folder:
        model_file = Path(folder) / "warm.snapshot"
        write_model_file(settings, warm, model_file)
        warm_settings = with_personal(settings, mapping).model_copy(
            update={"model_file": str(model_file)}
        )
        service = build_scoring_service(warm_settings)  # reads the file, as a worker does
        learner = new_learner(warm_settings)  # ...and as the learner process does
    clock = _Clock()
    service.clock = clock
    codec, topology = service.codec, service.topology
    topic = topology.events(stream)
    run = LiveRun()
    book = OutcomeBook(stream, options.outcome_delay_days)
    offsets = Counter[str]()
    selected = 0

    def release(until: datetime | None) -> None:
        outcomes = book.due(until)
        for outcome in outcomes:
            decoded = codec.decode("InspectionOutcome", codec.encode("InspectionOutcome", outcome))
            run.learnt(learner.on_outcome(decoded, offsets["outcomes"]))
            offsets["outcomes"] += 1
        run.outcomes += len(outcomes)
        if outcomes and until is not None:
            blob = learner.model_snapshot(
                key, created_at=until, extra=snapshot_extra(learner, settings)
            )
            meta, model = unseal(blob, key)
            service.apply_snapshot(meta, model)
            run.model_swaps += 1

    progress.start()
    for day, rows in days(plan.live):
        release(day_start(day))
        for row in rows:
            clock.now = row.time
            value = codec.encode(mapping.schema, mapping.record(row))
            result = service.process(topic, 0, offsets["events"], row.event_id.encode(), value)
            offsets["events"] += 1
            if observer is not None:
                observer(row, result)
            if result.rejected is not None:
                run.rejected += 1
                run.rejected_reasons[result.rejected] += 1
                continue
            (scored_bytes,) = (o.value for o in result.outbound if o.topic == topology.scored)
            scored = codec.decode("ScoredRecord", scored_bytes)
            run.learnt(learner.on_scored(scored, offsets["scored"]))
            offsets["scored"] += 1
            scored_row = ScoredRow.decided(row.event_id, row.time, row.label, row.revenue, scored)
            run.rows.append(scored_row)
            if scored_row.selected:
                book.add(row)
                selected += 1
            progress.tick(row, selected)
    release(None)  # what is still due teaches the learner, but scores nothing more
    run.final_model_version = service.model.version
    run.budget = budget_use(service.policy.ledgers(closed=True))
    return run, history
