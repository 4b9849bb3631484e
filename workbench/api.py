"""The one machine entry point: automated answerers record outcomes of unclaimed cases.

The simulated inspection authority of ``riskstream demo`` answers, after a delay, the cases
that no officer took, so the demo keeps learning unattended. It calls
``POST /api/unattended-outcomes`` with ``Authorization: Bearer <RISKSTREAM_WORKBENCH_SYSTEM_TOKEN>``
and a JSON body ``{"system": "authority-sim", "outcomes": [{"event_id", "result",
"severity", "recovered_amount", "officer_unit"}, ...]}``. Each answer is applied only to a
case that is still open: a claimed case stays with its officer, so no case is answered
twice. The answer names, per event id: recorded, taken, closed, unknown (not read yet) or
invalid.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from streams import metrics
from workbench.actions import RECORDED, record_unattended
from workbench.cases import closures

api = Blueprint("api", __name__, url_prefix="/api")
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_ANSWERS = 1000


def _authorised() -> bool:
    token = current_app.extensions["workbench"].settings.system_token
    given = request.headers.get("Authorization", "")
    if token is None or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given.removeprefix("Bearer ").encode(),
                               token.get_secret_value().encode())


@api.post("/unattended-outcomes")
def unattended_outcomes() -> ResponseReturnValue:
    if not _authorised():
        abort(401)
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("outcomes"), list):
        return jsonify(error="expected {\"system\": NAME, \"outcomes\": [...]}"), 400
    system, answers = str(body.get("system", "")), body["outcomes"]
    if not SYSTEM_NAME.fullmatch(system) or len(answers) > MAX_ANSWERS:
        return jsonify(error=f"system must match {SYSTEM_NAME.pattern}, and at most "
                             f"{MAX_ANSWERS} outcomes per call"), 400
    workbench = current_app.extensions["workbench"]
    statuses = record_unattended(workbench.engine, system,
                                 [a for a in answers if isinstance(a, dict)])
    recorded = [event_id for event_id, status in statuses.items() if status == RECORDED]
    if recorded:
        for hub, result, source, decided_at, closed_at in closures(workbench.engine, recorded):
            metrics.record_case_closed(hub, result, source, decided_at, closed_at)
        workbench.on_recorded()
    return jsonify(results=statuses)
