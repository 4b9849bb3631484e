"""What the Kafka bridge writes: new cases from verdicts, cases closed by outcomes that other
systems published, and how far it has read, all in one transaction per batch.

Opening a case is an insert that does nothing when the event id is known, so replaying the
verdicts topic never makes a case twice. An outcome read back from Kafka closes a case still
open or claimed here (answered elsewhere), confirms that an outcome recorded here reached
Kafka (its outbox row is then published), or, when its verdict has not been read yet,
leaves a closed placeholder that the verdict fills in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from workbench.tables import cases, consumer_offsets, outbox

CASE_LEVELS = ("physical_inspection", "document_check")
_VERDICT_COLUMNS = ("stream", "hub", "score", "level", "selection_kind", "reasons",
                    "model_version", "refs", "event_time", "decided_at")


@dataclass
class Ingested:
    """What one batch changed, for the metrics."""

    opened: list[str] = field(default_factory=list)  # hubs of new cases
    # (hub, result, decided_at, closed_at) of cases closed by an outcome from elsewhere
    closed: list[tuple[str, str, datetime | None, datetime]] = field(default_factory=list)
    confirmed: int = 0  # outcomes recorded here, seen on Kafka


def _insert(connection: Connection) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def ingest(
    engine: Engine,
    verdicts: Sequence[Mapping[str, Any]],
    outcomes: Sequence[Mapping[str, Any]],
    offsets: Mapping[tuple[str, int], int],
    now: datetime,
) -> Ingested:
    """Apply one batch read from Kafka, and the offsets to resume after it."""
    report = Ingested()
    with engine.begin() as connection:
        _open_cases(connection, verdicts, now, report)
        for outcome in outcomes:
            _apply_outcome(connection, outcome, now, report)
        insert = _insert(connection)
        for (topic, partition), offset in offsets.items():
            statement = insert(consumer_offsets).values(
                topic=topic, partition=partition, next_offset=offset
            )
            connection.execute(statement.on_conflict_do_update(
                index_elements=["topic", "partition"], set_={"next_offset": offset}
            ))
    return report


def _open_cases(connection: Connection, verdicts: Sequence[Mapping[str, Any]],
                now: datetime, report: Ingested) -> None:
    rows = {}
    for verdict in verdicts:
        if verdict["level"] not in CASE_LEVELS:
            continue
        rows[verdict["event_id"]] = {
            "event_id": verdict["event_id"], "stream": verdict["stream"], "hub": verdict["hub"],
            "score": float(verdict["score"]), "level": verdict["level"],
            "selection_kind": verdict["selection_kind"],
            "reasons": [dict(reason) for reason in verdict["reasons"]],
            "model_version": verdict["model_version"],
            "refs": dict(verdict.get("references") or {}),
            "event_time": verdict["event_time"], "decided_at": verdict["decided_at"],
            "opened_at": now, "state": "open",
        }
    if not rows:
        return
    known = set(connection.execute(
        select(cases.c.event_id).where(cases.c.event_id.in_(list(rows)))
    ).scalars())
    statement = _insert(connection)(cases).values(list(rows.values()))
    # a placeholder left by an early outcome (hub still null) gets the verdict's fields
    connection.execute(statement.on_conflict_do_update(
        index_elements=["event_id"],
        set_={name: statement.excluded[name] for name in _VERDICT_COLUMNS},
        where=cases.c.hub.is_(None),
    ))
    report.opened += [row["hub"] for event_id, row in rows.items() if event_id not in known]


def _apply_outcome(connection: Connection, outcome: Mapping[str, Any], now: datetime,
                   report: Ingested) -> None:
    event_id = outcome["event_id"]
    row = connection.execute(
        select(cases.c.hub, cases.c.state, cases.c.decided_at, cases.c.closed_at,
               cases.c.result, cases.c.officer_unit)
        .where(cases.c.event_id == event_id)
    ).first()
    closing = {
        "state": "closed", "closed_at": outcome["outcome_time"],
        "closed_by": str(outcome["officer_unit"])[:80], "source": "elsewhere",
        "result": outcome["result"], "severity": outcome["severity"],
        "recovered_amount": Decimal(outcome["recovered_amount"]),
        "officer_unit": str(outcome["officer_unit"])[:64],
        "claimed_by": None, "claimed_at": None,
    }
    if row is None:
        connection.execute(_insert(connection)(cases).values(
            event_id=event_id, stream=outcome["stream"], opened_at=now, **closing
        ).on_conflict_do_nothing(index_elements=["event_id"]))
        return
    if row.state == "closed":
        ours = (row.result, row.officer_unit, row.closed_at) == (
            outcome["result"], outcome["officer_unit"], outcome["outcome_time"])
        if not ours:  # another system answered a case closed here: ours still goes out
            return
        confirmed = connection.execute(
            update(outbox).where(outbox.c.event_id == event_id, outbox.c.published_at.is_(None))
            .values(published_at=now)
        )
        report.confirmed += confirmed.rowcount
        return
    connection.execute(update(cases).where(cases.c.event_id == event_id).values(**closing))
    report.closed.append((row.hub, outcome["result"], row.decided_at, outcome["outcome_time"]))


def stored_offsets(engine: Engine) -> dict[tuple[str, int], int]:
    """Where the bridge resumes: the next offset of every partition it has read."""
    with engine.connect() as connection:
        rows = connection.execute(select(consumer_offsets)).all()
    return {(row.topic, row.partition): row.next_offset for row in rows}
