"""Shared builders for the workbench tests: verdicts, outcomes, officers, logged-in clients."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

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
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html)
    assert field, "the page has no CSRF token"
    found = re.search(r'value="([^"]+)"', field.group(0))
    assert found
    return found.group(1)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; return a CSRF token of the session."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"csrf_token": token, "username": username,
                                         "password": password})
    assert answer.status_code == 302, answer.get_data(as_text=True)[-500:]
    return csrf_token(client.get("/").get_data(as_text=True))


def wait_for(predicate: Callable[[], object], timeout_s: float, step_s: float = 0.2) -> float:
    """Seconds until ``predicate()`` held (an endpoint not up yet counts as not yet)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if predicate():
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(step_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


def metric(port: int, name: str) -> float:
    """An unlabelled sample of the /metrics on ``port`` (0 when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    return 0.0
