"""Shared builders for the workbench tests: verdicts, outcomes, officers, logged-in clients."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

AT = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


def verdict(event_id: str, hub: str = "hub_LEJ", level: str = "physical_inspection",
            score: float = 0.9, stream: str = "courier") -> dict[str, Any]:
    """A RiskVerdict as the scorer publishes it."""
    return {
        "event_id": event_id, "stream": stream, "hub": hub, "score": score, "level": level,
        "reasons": [{"code": "rule.sanctioned_origin", "weight": 1.0,
                     "text": "Goods from a sanctioned origin (IR): inspection required"}],
        "selection_kind": "rule", "propensity": 1.0, "model_version": "learner-1-o0-s10",
        "event_time": AT, "decided_at": AT + timedelta(seconds=1),
        "references": {"air_waybill": f"176-{event_id}"},
    }


def outcome(event_id: str, result: str = "seizure", unit: str = "unit_LEJ_2",
            at: datetime = AT + timedelta(minutes=5)) -> dict[str, Any]:
    """An InspectionOutcome another system published."""
    return {"event_id": event_id, "stream": "courier", "result": result, "severity": 2,
            "recovered_amount": Decimal("0.00"), "outcome_time": at, "officer_unit": unit}


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; return a CSRF token of the session."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"csrf_token": token, "username": username,
                                         "password": password})
    assert answer.status_code == 302, answer.get_data(as_text=True)[-500:]
    return csrf_token(client.get("/").get_data(as_text=True))
