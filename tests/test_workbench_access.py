"""Who may do what in the workbench: officers see and close their own hubs' cases only
(403 otherwise), supervisors all; forms without a valid CSRF token are refused; sessions
are signed cookies; production refuses the development secret and plain HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from workbench_helpers import AT, PASSWORD, csrf_token, log_in, verdict

from workbench.database import connect, migrate
from workbench.ingest import ingest
from workbench.officers import add_officer
from workbench.settings import DEV_SECRET_KEY, WorkbenchSettings
from workbench.tables import outbox
from workbench.web import create_app

TOKEN = "t" * 40


@pytest.fixture
def engine(tmp_path: object) -> Iterator[Engine]:
    store = connect(f"sqlite:///{tmp_path}/cases.sqlite3")
    migrate(store)
    ingest(store, [verdict("lej-1"), verdict("fra-1", hub="hub_FRA")], [], {},
           AT + timedelta(seconds=2))
    add_officer(store, "olga", PASSWORD, ["hub_LEJ"])
    add_officer(store, "fritz", PASSWORD, ["hub_FRA"])
    add_officer(store, "boss", PASSWORD, role="supervisor")
    yield store
    store.dispose()


@pytest.fixture
def app(engine: Engine) -> Flask:
    return create_app(engine, WorkbenchSettings(system_token=SecretStr(TOKEN)))


def _outbox_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(outbox)).scalar_one())


def test_an_officer_of_another_hub_gets_403_for_that_case(app: Flask, engine: Engine) -> None:
    fritz = app.test_client()
    token = log_in(fritz, "fritz")
    assert fritz.get("/cases/lej-1").status_code == 403
    for action in ("claim", "release", "outcome"):
        answer = fritz.post(f"/cases/lej-1/{action}",
                            data={"csrf_token": token, "result": "seizure"})
        assert answer.status_code == 403, action
    assert fritz.get("/?hub=hub_LEJ").status_code == 403
    page = fritz.get("/").get_data(as_text=True)
    assert "fra-1" in page and "lej-1" not in page, "the queue shows own hubs only"
    assert fritz.get("/audit").status_code == 403, "the audit is for supervisors"
    assert fritz.get("/cases/fra-1").status_code == 200
    boss = app.test_client()
    log_in(boss, "boss")
    assert boss.get("/cases/lej-1").status_code == 200, "a supervisor sees every hub"
    assert boss.get("/audit").status_code == 200
    assert _outbox_rows(engine) == 0


def test_a_forged_form_without_the_csrf_token_is_refused(app: Flask, engine: Engine) -> None:
    olga = app.test_client()
    token = log_in(olga, "olga")
    # what a page on another site could make the officer's browser send
    for action, fields in (("claim", {}), ("outcome", {"result": "seizure"})):
        for forged in ({}, {"csrf_token": "forged"}):
            answer = olga.post(f"/cases/lej-1/{action}", data={**fields, **forged})
            assert answer.status_code == 400, (action, forged)
            assert "Form refused" in answer.get_data(as_text=True)
    assert "open" in olga.get("/cases/lej-1").get_data(as_text=True)
    assert _outbox_rows(engine) == 0
    # the officer's own form, with its token, goes through
    assert olga.post("/cases/lej-1/claim", data={"csrf_token": token}).status_code == 303
    answer = olga.post("/cases/lej-1/outcome", data={"csrf_token": token, "result": "seizure"})
    assert answer.status_code == 303 and _outbox_rows(engine) == 1
    login = app.test_client().post("/login", data={"username": "olga", "password": PASSWORD})
    assert login.status_code == 400, "the login form needs its token too"


def test_sessions_are_signed_http_only_cookies(app: Flask) -> None:
    anonymous = app.test_client()
    answer = anonymous.get("/cases/lej-1")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    olga = app.test_client()
    token = csrf_token(olga.get("/login").get_data(as_text=True))
    answer = olga.post("/login?next=//evil.example/x",
                       data={"csrf_token": token, "username": "olga", "password": PASSWORD})
    assert answer.headers["Location"] == "/", "never an open redirect"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    value = olga.get_cookie("riskstream_workbench")
    assert value is not None and "olga" not in value.value.split(".")[-1]
    tampered = app.test_client()
    tampered.set_cookie("riskstream_workbench", value.value[:-2] + "xx")
    assert tampered.get("/").status_code == 302, "a cookie with a bad signature is no login"
    wrong = app.test_client()
    token = csrf_token(wrong.get("/login").get_data(as_text=True))
    answer = wrong.post("/login", data={"csrf_token": token, "username": "olga",
                                        "password": "wrong password"})
    assert answer.status_code == 401
    headers = olga.get("/").headers
    assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers[
        "Content-Security-Policy"]


def test_production_cookies_are_secure_and_the_api_needs_the_system_token(
    engine: Engine,
) -> None:
    app = create_app(engine, WorkbenchSettings(system_token=SecretStr(TOKEN), trusted_proxies=1),
                     production=True)
    client = app.test_client()
    log_in(client, "olga")  # the test client follows the proxy's word: https
    assert "Secure" in client.get("/login").headers.get("Set-Cookie", "Secure")
    body = {"system": "authority-sim", "outcomes": [
        {"event_id": "lej-1", "result": "no_finding", "severity": 0,
         "recovered_amount": "0", "officer_unit": "unit_LEJ_1"}]}
    assert client.post("/api/unattended-outcomes", json=body).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert client.post("/api/unattended-outcomes", json=body, headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    answer = client.post("/api/unattended-outcomes", json=body, headers=right)
    assert answer.json == {"results": {"lej-1": "recorded"}}


def test_production_refuses_the_development_secret_and_plain_http() -> None:
    good = WorkbenchSettings(secret_key=SecretStr("s" * 40), trusted_proxies=1)
    good.check_production("production")
    with pytest.raises(ValueError, match="development secret"):
        WorkbenchSettings(trusted_proxies=1).check_production("production")
    with pytest.raises(ValueError, match="plain HTTP"):
        WorkbenchSettings(secret_key=SecretStr("s" * 40)).check_production("production")
    with pytest.raises(ValueError, match="SYSTEM_TOKEN"):
        good.model_copy(update={"system_token": SecretStr("short")}).check_production(
            "production")
    WorkbenchSettings().check_production("dev")  # a developer's machine needs no setup
    # and the command refuses to start, naming the variable
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKSTREAM_")}
    env.update(RISKSTREAM_MODE="production", RISKSTREAM_ALLOW_INSECURE="true",
               RISKSTREAM_PSEUDONYM_KEY="p" * 40, RISKSTREAM_SNAPSHOT_KEY="n" * 40,
               RISKSTREAM_DEADLETTER_KEY="d" * 40, RISKSTREAM_WORKBENCH_SECRET_KEY=DEV_SECRET_KEY)
    done = subprocess.run([sys.executable, "-m", "streams.cli", "workbench"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "RISKSTREAM_WORKBENCH_SECRET_KEY" in done.stderr


def test_the_readme_lists_the_workbench_settings() -> None:
    from pathlib import Path

    from workbench.settings import settings_table

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert settings_table() in readme, "paste workbench.settings.settings_table() into README"
