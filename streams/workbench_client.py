"""The simulated authority's way into the officer workbench, when one runs.

With a workbench, outcomes must not bypass the officers: the authority answers only the
cases nobody claimed, through the workbench's ``/api/unattended-outcomes``, which records
each answer on a still open case and publishes it once; a case an officer took keeps its
officer. Plain HTTP and JSON (urllib), so ``streams`` never imports the workbench.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

SYSTEM = "authority-sim"
BATCH = 500


class WorkbenchUnavailable(RuntimeError):
    """The workbench did not answer; the outcomes are tried again later."""


class WorkbenchClient:
    """POST outcomes of unclaimed cases to a workbench with the system token."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0) -> None:
        self.endpoint = url.rstrip("/") + "/api/unattended-outcomes"
        self.token = token
        self.timeout_s = timeout_s

    def answer(self, outcomes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Status per event id: recorded, taken, closed, unknown or invalid."""
        statuses: dict[str, str] = {}
        for start in range(0, len(outcomes), BATCH):
            statuses.update(self._post(outcomes[start:start + BATCH]))
        return statuses

    def _post(self, outcomes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        body = json.dumps({"system": SYSTEM, "outcomes": [
            {"event_id": o["event_id"], "result": o["result"], "severity": o["severity"],
             "recovered_amount": str(o["recovered_amount"]), "officer_unit": o["officer_unit"]}
            for o in outcomes
        ]}).encode()
        request = urllib.request.Request(self.endpoint, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token}",
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise WorkbenchUnavailable(f"workbench at {self.endpoint}: {exc}") from None
        results: dict[str, str] = answer.get("results", {})
        return results
