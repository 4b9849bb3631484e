"""Reading the case store: one case, the queue of a lane, the lanes, and what is still open.

A case is what an officer works on: a verdict that selected an event for a physical
inspection or a document check. It carries only the verdict's non-personal fields (score,
level, selection kind, reasons, model version, references), never a personal value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from workbench.officers import Officer
from workbench.tables import audit, cases

STATES = ("open", "claimed", "closed")
QUEUE_LIMIT = 200


@dataclass(frozen=True)
class Case:
    """One case as the pages show it."""

    event_id: str
    stream: str | None
    hub: str | None
    score: float | None
    level: str | None
    selection_kind: str | None
    reasons: list[dict[str, Any]]
    model_version: str | None
    references: dict[str, str]
    event_time: datetime | None
    decided_at: datetime | None
    opened_at: datetime
    state: str
    claimed_by: str | None
    claimed_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    source: str | None
    result: str | None
    severity: int | None
    recovered_amount: Decimal | None
    officer_unit: str | None
    note: str | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Case:
        values = dict(row)
        values["reasons"] = list(values.get("reasons") or [])
        values["references"] = dict(values.pop("refs", None) or {})
        return cls(**values)

    @property
    def top_reason(self) -> str:
        return str(self.reasons[0]["text"]) if self.reasons else ""


@dataclass(frozen=True)
class Lane:
    """Open and claimed cases of one hub and stream (a lane of the selection policy)."""

    hub: str
    stream: str
    open: int
    claimed: int


def get_case(engine: Engine, event_id: str) -> Case | None:
    with engine.connect() as connection:
        row = connection.execute(select(cases).where(cases.c.event_id == event_id)).first()
    return None if row is None or row.hub is None else Case.from_row(row._mapping)


def queue(
    engine: Engine,
    officer: Officer,
    hub: str | None = None,
    stream: str | None = None,
    states: tuple[str, ...] = ("open", "claimed"),
    limit: int = QUEUE_LIMIT,
) -> list[Case]:
    """Cases of the officer's hubs (a supervisor's: all), highest score first; closed ones
    newest first."""
    query = select(cases).where(cases.c.state.in_(states), cases.c.hub.is_not(None))
    if not officer.supervisor:
        query = query.where(cases.c.hub.in_(sorted(officer.hubs)))
    if hub:
        query = query.where(cases.c.hub == hub)
    if stream:
        query = query.where(cases.c.stream == stream)
    if "closed" in states:
        query = query.order_by(cases.c.closed_at.desc())
    else:
        query = query.order_by(cases.c.score.desc(), cases.c.event_id)
    with engine.connect() as connection:
        return [Case.from_row(row._mapping) for row in connection.execute(query.limit(limit))]


def lanes(engine: Engine, officer: Officer) -> list[Lane]:
    """Every lane with open or claimed cases that the officer may work on."""
    query = (
        select(cases.c.hub, cases.c.stream, cases.c.state, func.count())
        .where(cases.c.state.in_(("open", "claimed")), cases.c.hub.is_not(None))
        .group_by(cases.c.hub, cases.c.stream, cases.c.state)
    )
    if not officer.supervisor:
        query = query.where(cases.c.hub.in_(sorted(officer.hubs)))
    counts: dict[tuple[str, str], dict[str, int]] = {}
    with engine.connect() as connection:
        for hub, stream, state, count in connection.execute(query):
            counts.setdefault((hub, stream), {})[state] = count
    return [
        Lane(hub, stream, found.get("open", 0), found.get("claimed", 0))
        for (hub, stream), found in sorted(counts.items())
    ]


def open_by_hub(engine: Engine) -> dict[str, tuple[int, datetime]]:
    """Per hub: how many cases are open or claimed, and when the oldest was decided."""
    query = (
        select(cases.c.hub, func.count(), func.min(cases.c.decided_at))
        .where(cases.c.state.in_(("open", "claimed")), cases.c.hub.is_not(None))
        .group_by(cases.c.hub)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    # min() keeps the column's type, so the oldest time comes back aware UTC
    return {hub: (count, oldest) for hub, count, oldest in rows}


def audit_log(engine: Engine, limit: int = 200) -> list[dict[str, Any]]:
    """The newest audit entries: who did what to which case, and when."""
    with engine.connect() as connection:
        rows = connection.execute(select(audit).order_by(audit.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]


def closures(engine: Engine, event_ids: list[str]) -> list[tuple[str, str, str, datetime | None,
                                                            datetime]]:
    """(hub, result, source, decided at, closed at) of closed cases, for the metrics."""
    query = select(cases.c.hub, cases.c.result, cases.c.source, cases.c.decided_at,
                   cases.c.closed_at).where(cases.c.event_id.in_(event_ids),
                                            cases.c.state == "closed")
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]
