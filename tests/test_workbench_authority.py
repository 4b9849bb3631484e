"""The simulated inspection authority with a workbench: it answers, through the workbench's
API, only the cases nobody claimed; a case an officer took or closed is never answered
twice, and a case whose verdict the workbench has not read yet is asked about again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from werkzeug.serving import make_server
from workbench_helpers import AT, PASSWORD, verdict

from streams.broker import free_port
from streams.hubsim import UNKNOWN_RETRY_S, HubSimulator
from streams.testing import Deployment
from streams.workbench_client import WorkbenchClient, WorkbenchUnavailable
from workbench import actions
from workbench.cases import get_case
from workbench.database import connect, migrate
from workbench.ingest import ingest
from workbench.officers import add_officer
from workbench.outbox import due
from workbench.settings import WorkbenchSettings
from workbench.web import create_app

pytestmark = [pytest.mark.kafka]
TOKEN = "s" * 40


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    engine = connect(f"sqlite:///{tmp_path}/cases.sqlite3")
    migrate(engine)
    app = create_app(engine, WorkbenchSettings(system_token=SecretStr(TOKEN)))
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield engine, f"http://127.0.0.1:{server.port}"
    server.shutdown()
    engine.dispose()


def _answer(event_id: str) -> dict[str, object]:
    return {"event_id": event_id, "stream": "courier", "result": "revenue_adjustment",
            "severity": 1, "recovered_amount": Decimal("84.10"),
            "outcome_time": AT, "officer_unit": "unit_LEJ_2"}


def test_the_authority_answers_only_cases_nobody_took(
    served: tuple[Engine, str], deployment: Deployment
) -> None:
    engine, url = served
    ingest(engine, [verdict(e) for e in ("free", "taken", "closed")], [], {}, AT)
    olga = add_officer(engine, "olga", PASSWORD, ["hub_LEJ"])
    actions.claim(engine, "taken", olga)
    actions.claim(engine, "closed", olga)
    actions.record(engine, "closed", olga, "no_finding")
    sim = HubSimulator(deployment.settings, {}, workbench=WorkbenchClient(url, TOKEN))
    now = datetime.now(UTC)
    for event_id in ("free", "taken", "closed", "late"):
        sim.queue.push(now, _answer(event_id))
    sim._answer_through_workbench(now)

    assert sim.tally.outcomes == 1 and sim.tally.left_to_officers == 2
    free, taken = get_case(engine, "free"), get_case(engine, "taken")
    assert free is not None and (free.state, free.source, free.result) == (
        "closed", "system", "revenue_adjustment")
    assert taken is not None and (taken.state, taken.claimed_by) == ("claimed", "olga")
    assert {row["event_id"] for row in due(engine)} == {"free", "closed"}, "one outcome each"
    # "late": its verdict reaches the workbench after the answer was due, and is then answered
    assert len(sim.queue) == 1 and sim.queue.next_due() == now + timedelta(
        seconds=UNKNOWN_RETRY_S)
    ingest(engine, [verdict("late")], [], {}, AT)
    sim._answer_through_workbench(now + timedelta(seconds=UNKNOWN_RETRY_S))
    assert sim.tally.outcomes == 2 and len(sim.queue) == 0


def test_a_wrong_token_or_no_workbench_is_reported(served: tuple[Engine, str]) -> None:
    _, url = served
    with pytest.raises(WorkbenchUnavailable, match="401"):
        WorkbenchClient(url, "wrong").answer([_answer("free")])
    with pytest.raises(WorkbenchUnavailable):
        WorkbenchClient(f"http://127.0.0.1:{free_port()}", TOKEN).answer([_answer("free")])
