"""What an officer may record, and the InspectionOutcome a closed case becomes on Kafka.

Officers record a seizure, a revenue adjustment with the amount recovered in euros, or that
nothing was found; automated answerers may also report a documentary irregularity. The
severity follows the result, since the form does not ask for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas import catalog

RESULTS = tuple(
    next(f["type"]["symbols"] for f in catalog.raw_schema("InspectionOutcome")["fields"]
         if f["name"] == "result")
)
OFFICER_RESULTS = ("seizure", "revenue_adjustment", "no_finding")
RESULT_TEXT = {
    "seizure": "Seizure",
    "revenue_adjustment": "Revenue adjustment",
    "no_finding": "Nothing found",
    "documentary_irregularity": "Documentary irregularity",
}
SEVERITY = {"no_finding": 0, "documentary_irregularity": 1, "revenue_adjustment": 1, "seizure": 2}
MAX_AMOUNT = Decimal("999999999999.99")  # decimal(14, 2) of the schema
CENT = Decimal("0.01")
MAX_NOTE_CHARS = 2000


class OutcomeError(ValueError):
    """An outcome that cannot be recorded, with a message an officer can act on."""


def checked_amount(result: str, amount: Decimal | str | None) -> Decimal:
    """The recovered amount for ``result``, in euros with cents.

    >>> checked_amount("revenue_adjustment", "84.1"), checked_amount("no_finding", None)
    (Decimal('84.10'), Decimal('0.00'))
    >>> checked_amount("seizure", "12")
    Traceback (most recent call last):
    ...
    workbench.outcomes.OutcomeError: an amount goes with a revenue adjustment only
    """
    if result not in RESULTS:
        raise OutcomeError(f"unknown result {result!r}; expected one of {', '.join(RESULTS)}")
    try:
        value = Decimal(str(amount)) if amount not in (None, "") else Decimal(0)
    except InvalidOperation:
        raise OutcomeError("the amount must be a number of euros, e.g. 84.10") from None
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        raise OutcomeError("the amount must be between 0 and 999,999,999,999.99 euros")
    if value != value.quantize(CENT):
        raise OutcomeError("the amount has at most two decimal places (cents)")
    if result == "revenue_adjustment" and value == 0:
        raise OutcomeError("a revenue adjustment needs the amount recovered, in euros")
    if result != "revenue_adjustment" and value > 0:
        raise OutcomeError("an amount goes with a revenue adjustment only")
    return value.quantize(CENT)


def inspection_outcome(case: Mapping[str, Any]) -> dict[str, Any]:
    """The InspectionOutcome record of a closed case row (keyed by its event id on Kafka)."""
    closed_at: datetime = case["closed_at"]
    amount = case["recovered_amount"]
    return {
        "event_id": case["event_id"],
        "stream": case["stream"],
        "result": case["result"],
        "severity": int(case["severity"] or 0),
        "recovered_amount": Decimal(amount if amount is not None else 0).quantize(CENT),
        "outcome_time": closed_at,
        "officer_unit": case["officer_unit"],
    }
