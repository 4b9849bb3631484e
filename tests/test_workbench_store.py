"""The workbench's case store, on SQLite and on PostgreSQL (where the machine has a server):
migrations, cases opened once however often verdicts are replayed, outcomes from elsewhere,
claims and outcomes that race, and a store that outlives its process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from postgres import NO_SERVER, fresh_database, postgres_server
from sqlalchemy import Engine, func, select
from tools import postgres_bin
from workbench_helpers import AT, PASSWORD, outcome, verdict

from workbench import actions
from workbench.cases import get_case, lanes, open_by_hub, queue
from workbench.database import alembic_config, connect, migrate
from workbench.ingest import ingest, stored_offsets
from workbench.officers import add_officer, authenticate
from workbench.outbox import due
from workbench.tables import audit, cases, metadata, officers, outbox

NOW = AT + timedelta(seconds=2)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    if postgres_bin() is None:
        pytest.skip(NO_SERVER)
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store')}/cases.sqlite3"
    return fresh_database(request.getfixturevalue("postgres_admin"))


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    opened = connect(store_url)
    migrate(opened)
    yield opened
    opened.dispose()


def _count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(
            select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
        ).scalar_one())


def test_migrations_build_exactly_the_tables_of_the_code(engine: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert migrate(engine) == head == "0001", "a second run changes nothing"
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == [], "tables.py changed without a migration"


def test_replaying_the_verdicts_never_opens_a_case_twice(store_url: str, engine: Engine) -> None:
    batch = [verdict(f"e{n}", level=level)
             for n, level in enumerate(["physical_inspection", "document_check", "release"] * 4)]
    first = ingest(engine, batch, [], {("v", 0): 12}, NOW)
    assert len(first.opened) == 8, "releases never become cases"
    # the same records again, in the same batch and in a later one, then after a restart
    assert ingest(engine, batch + batch, [], {("v", 0): 24}, NOW).opened == []
    engine.dispose()
    restarted = connect(store_url)
    assert migrate(restarted) == "0001"
    assert ingest(restarted, batch, [], {("v", 0): 36}, NOW).opened == []
    assert _count(restarted, cases) == 8
    assert stored_offsets(restarted) == {("v", 0): 36}
    restarted.dispose()


def test_an_outcome_from_elsewhere_closes_the_case_even_before_its_verdict(
    engine: Engine,
) -> None:
    ingest(engine, [verdict("open-1")], [outcome("early-1", unit="unit_FRA_1")], {}, NOW)
    assert get_case(engine, "early-1") is None, "no verdict yet: nothing to show"
    report = ingest(engine, [verdict("early-1")], [outcome("open-1", "no_finding")], {}, NOW)
    early, closed = get_case(engine, "early-1"), get_case(engine, "open-1")
    assert early is not None and early.state == "closed" and early.source == "elsewhere"
    assert early.hub == "hub_LEJ" and early.reasons and early.closed_by == "unit_FRA_1"
    assert closed is not None and closed.state == "closed" and closed.result == "no_finding"
    assert [entry[:2] for entry in report.closed] == [("hub_LEJ", "no_finding")]
    assert report.opened == [], "the early case was known already"


def test_claims_and_outcomes_that_race_change_a_case_once(engine: Engine) -> None:
    ingest(engine, [verdict("race-1"), verdict("other-hub", hub="hub_FRA")], [], {}, NOW)
    olga = add_officer(engine, "olga", PASSWORD, ["hub_LEJ"])
    pavel = add_officer(engine, "pavel", PASSWORD, ["hub_LEJ"])
    statuses: list[str] = []
    threads = [threading.Thread(target=lambda who=who: statuses.append(
        actions.claim(engine, "race-1", who))) for who in (olga, pavel) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(actions.CLAIMED) == 1, statuses
    case = get_case(engine, "race-1")
    assert case is not None and case.state == "claimed"
    owner = olga if case.claimed_by == "olga" else pavel
    other = pavel if owner is olga else olga
    assert actions.record(engine, "race-1", other, "seizure") == actions.TAKEN
    recorded: list[str] = []
    threads = [threading.Thread(target=lambda: recorded.append(actions.record(
        engine, "race-1", owner, "revenue_adjustment", Decimal("84.10"), "under-valued")))
        for _ in range(4)]  # a double click, and a browser retrying
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(recorded) == [actions.ALREADY] * 3 + [actions.RECORDED]
    assert _count(engine, outbox) == 1, "one outcome to publish"
    (row,) = due(engine)
    assert (row["result"], row["recovered_amount"], row["officer_unit"]) == (
        "revenue_adjustment", Decimal("84.10"), "unit_LEJ")
    assert _count(engine, audit, audit.c.action == "outcome") == 1
    assert actions.claim(engine, "other-hub", owner) == actions.FORBIDDEN


def test_unattended_answers_leave_claimed_cases_to_their_officer(engine: Engine) -> None:
    ingest(engine, [verdict("free"), verdict("taken"), verdict("done")], [], {}, NOW)
    olga = add_officer(engine, "olga", PASSWORD, ["hub_LEJ"])
    assert actions.claim(engine, "taken", olga) == actions.CLAIMED
    assert actions.claim(engine, "done", olga) == actions.CLAIMED
    assert actions.record(engine, "done", olga, "no_finding") == actions.RECORDED
    answer = {"result": "seizure", "severity": 2, "recovered_amount": "0",
              "officer_unit": "unit_LEJ_3"}
    statuses = actions.record_unattended(engine, "authority-sim", [
        {**answer, "event_id": "free", "result": "bogus"}
    ] + [{**answer, "event_id": event_id} for event_id in ("taken", "done", "unread")])
    assert statuses == {"free": "invalid", "taken": "taken", "done": "closed",
                        "unread": "unknown"}
    statuses = actions.record_unattended(engine, "authority-sim", [{**answer, "event_id": "free"}])
    assert statuses == {"free": "recorded"}
    free = get_case(engine, "free")
    assert free is not None and free.closed_by == "system:authority-sim"
    assert _count(engine, outbox) == 2


def test_queue_lanes_and_waiting_cases_per_hub(engine: Engine) -> None:
    ingest(engine, [verdict("low", score=0.4), verdict("high", score=0.95),
                    verdict("fra", hub="hub_FRA"), verdict("post", stream="postal")], [], {}, NOW)
    olga = add_officer(engine, "olga", PASSWORD, ["hub_LEJ"])
    boss = add_officer(engine, "boss", PASSWORD, role="supervisor")
    assert [c.event_id for c in queue(engine, olga, stream="courier")] == ["high", "low"]
    assert {c.hub for c in queue(engine, boss)} == {"hub_LEJ", "hub_FRA"}
    assert [(lane.hub, lane.stream, lane.open) for lane in lanes(engine, olga)] == [
        ("hub_LEJ", "courier", 2), ("hub_LEJ", "postal", 1)]
    waiting = open_by_hub(engine)
    assert {hub: count for hub, (count, _) in waiting.items()} == {"hub_LEJ": 3, "hub_FRA": 1}
    assert waiting["hub_LEJ"][1] == AT + timedelta(seconds=1)


def test_passwords_are_argon2id_hashes_and_a_new_password_ends_old_sessions(
    engine: Engine,
) -> None:
    first = add_officer(engine, "olga", PASSWORD, ["hub_LEJ"])
    with engine.connect() as connection:
        stored = connection.execute(select(officers.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert authenticate(engine, "olga", "wrong password!!") is None
    assert authenticate(engine, "nobody", PASSWORD) is None
    assert authenticate(engine, "olga", PASSWORD) == first
    second = add_officer(engine, "olga", PASSWORD + "2", ["hub_LEJ"])
    assert second.session_stamp != first.session_stamp
    with pytest.raises(ValueError, match="at least 12"):
        add_officer(engine, "pavel", "short", ["hub_LEJ"])
