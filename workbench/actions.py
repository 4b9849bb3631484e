"""What officers do to a case: claim it, release it, record its outcome.

Every change is one conditional update of the case row (``... WHERE state = 'open'``), so
two officers clicking at once, a double click or a browser retry change it once: the
database decides who was first. Recording an outcome writes, in the same transaction, the
outbox row the publisher sends to Kafka (one per case: the primary key) and an audit entry.
Each function returns a status word the web pages turn into a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from workbench.officers import Officer
from workbench.outcomes import (
    MAX_NOTE_CHARS,
    OFFICER_RESULTS,
    RESULTS,
    SEVERITY,
    OutcomeError,
    checked_amount,
)
from workbench.tables import audit, cases, outbox

# statuses
CLAIMED, RELEASED, RECORDED = "claimed", "released", "recorded"
ALREADY = "already"  # the same officer did this before: nothing changes
FORBIDDEN = "forbidden"  # not one of the officer's hubs
UNKNOWN = "unknown"  # no such case (yet)
TAKEN = "taken"  # claimed by somebody else
CLOSED = "closed"  # closed by somebody or something else
NOT_CLAIMED = "not_claimed"  # an outcome needs the case claimed by this officer first


def _now() -> datetime:
    # whole milliseconds, as the outcome's timestamp-millis carries it: the bridge knows an
    # outcome read back from Kafka as this one by its time
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _state(connection: Connection, event_id: str) -> Any:
    return connection.execute(
        select(cases.c.hub, cases.c.state, cases.c.claimed_by, cases.c.closed_by, cases.c.source)
        .where(cases.c.event_id == event_id)
    ).first()


def _audit(connection: Connection, actor: str, action: str, event_id: str,
           at: datetime, **detail: Any) -> None:
    connection.execute(insert(audit).values(
        at=at, actor=actor, action=action, event_id=event_id, detail=detail
    ))


def claim(engine: Engine, event_id: str, officer: Officer, now: datetime | None = None) -> str:
    """Take an open case: it is the officer's until they record its outcome or release it."""
    now = now or _now()
    with engine.begin() as connection:
        row = _state(connection, event_id)
        if row is None or row.hub is None:
            return UNKNOWN
        if not officer.may_work_on(row.hub):
            return FORBIDDEN
        done = connection.execute(
            update(cases).where(cases.c.event_id == event_id, cases.c.state == "open")
            .values(state="claimed", claimed_by=officer.username, claimed_at=now)
        )
        if done.rowcount == 1:
            _audit(connection, officer.username, "claim", event_id, now)
            return CLAIMED
        row = _state(connection, event_id)  # as the update found it (it may have waited)
        if row.state == "claimed" and row.claimed_by == officer.username:
            return ALREADY
        return CLOSED if row.state == "closed" else TAKEN


def release(engine: Engine, event_id: str, officer: Officer, now: datetime | None = None) -> str:
    """Give a claimed case back to the queue (the claimant, or a supervisor)."""
    now = now or _now()
    with engine.begin() as connection:
        row = _state(connection, event_id)
        if row is None or row.hub is None:
            return UNKNOWN
        if not officer.may_work_on(row.hub):
            return FORBIDDEN
        if row.state != "claimed":
            return CLOSED if row.state == "closed" else ALREADY
        if row.claimed_by != officer.username and not officer.supervisor:
            return TAKEN
        connection.execute(
            update(cases).where(cases.c.event_id == event_id, cases.c.state == "claimed")
            .values(state="open", claimed_by=None, claimed_at=None)
        )
        _audit(connection, officer.username, "release", event_id, now,
               claimed_by=row.claimed_by)
        return RELEASED


def record(
    engine: Engine,
    event_id: str,
    officer: Officer,
    result: str,
    amount: Decimal | str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> str:
    """Record the outcome of a case the officer claimed; it is published once, by the outbox.

    Raises :class:`OutcomeError` for a result or amount that cannot be recorded.
    """
    if result not in OFFICER_RESULTS:
        raise OutcomeError(f"choose one of: {', '.join(OFFICER_RESULTS)}")
    value = checked_amount(result, amount)
    note = (note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise OutcomeError(f"the note has more than {MAX_NOTE_CHARS} characters")
    now = now or _now()
    with engine.begin() as connection:
        row = _state(connection, event_id)
        if row is None or row.hub is None:
            return UNKNOWN
        if not officer.may_work_on(row.hub):
            return FORBIDDEN
        done = connection.execute(
            update(cases)
            .where(cases.c.event_id == event_id, cases.c.state == "claimed",
                   cases.c.claimed_by == officer.username)
            .values(state="closed", closed_at=now, closed_by=officer.username, source="officer",
                    result=result, severity=SEVERITY[result], recovered_amount=value,
                    officer_unit=officer.unit, note=note or None)
        )
        if done.rowcount == 1:
            connection.execute(insert(outbox).values(event_id=event_id, created_at=now,
                                                     attempts=0))
            _audit(connection, officer.username, "outcome", event_id, now, result=result,
                   recovered_amount=str(value), note=note, officer_unit=officer.unit)
            return RECORDED
        row = _state(connection, event_id)  # as the update found it (it may have waited)
        if row.state == "closed":
            mine = row.source == "officer" and row.closed_by == officer.username
            return ALREADY if mine else CLOSED
        return NOT_CLAIMED if row.state == "open" else TAKEN


def record_unattended(
    engine: Engine, system: str, answers: Iterable[Mapping[str, Any]],
    now: datetime | None = None,
) -> dict[str, str]:
    """Outcomes from an automated answerer (the simulated authority) for cases that no
    officer claimed; a claimed or closed case keeps its officer. Status per event id."""
    now = now or _now()
    statuses: dict[str, str] = {}
    with engine.begin() as connection:
        for answer in answers:
            event_id = str(answer.get("event_id", ""))
            result = str(answer.get("result", ""))
            try:
                value = checked_amount(result, answer.get("recovered_amount"))
            except OutcomeError:
                statuses[event_id] = "invalid"
                continue
            severity = answer.get("severity", SEVERITY.get(result, 0))
            unit = str(answer.get("officer_unit") or f"system_{system}")[:64]
            if result not in RESULTS or not isinstance(severity, int) or not 0 <= severity <= 3:
                statuses[event_id] = "invalid"
                continue
            done = connection.execute(
                update(cases)
                .where(cases.c.event_id == event_id, cases.c.state == "open",
                       cases.c.hub.is_not(None))
                .values(state="closed", closed_at=now, closed_by=f"system:{system}",
                        source="system", result=result, severity=severity,
                        recovered_amount=value, officer_unit=unit)
            )
            if done.rowcount == 1:
                connection.execute(insert(outbox).values(event_id=event_id, created_at=now,
                                                         attempts=0))
                _audit(connection, f"system:{system}", "outcome", event_id, now,
                       result=result, recovered_amount=str(value), officer_unit=unit)
                statuses[event_id] = RECORDED
                continue
            row = _state(connection, event_id)
            if row is None or row.hub is None:
                statuses[event_id] = UNKNOWN
            else:
                statuses[event_id] = TAKEN if row.state == "claimed" else CLOSED
    return statuses
