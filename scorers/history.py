"""Warm start: train a model on past declarations with their inspection results.

History is a table (CSV) with one row per past event: the schema's field names as columns
(or the simulator export's ``id``/``time`` and entity-token columns), plus ``label`` (1 when
the inspection found something) and, optionally, ``recovered_amount`` (the EUR a finding
recovered, which the recovery model of revenue-aware ranking learns). Every row is learned
with its label, as past inspection records would be; the rows go through the same
pseudonymiser, features and ensemble as live events, so the warm model scores live traffic
with the same meaning.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import CodecError, Pseudonymiser
from schemas.catalog import personal_fields
from schemas.tabular import record_from_row
from scorers.model import RiskModel

SCHEMAS = {"courier": "CourierConsignment", "postal": "PostalItem", "passenger": "PassengerRecord"}

# Export column -> schema field, for anonymised exports that carry one token per entity.
COLUMN_ALIASES = {
    "id": "event_id",
    "time": "event_time",
    "shipper": "shipper_id",
    "consignee": "consignee_id",
    "declarant": "declarant_id",
    "sender": "sender_name",
    "addressee": "addressee_name",
    "traveller": "document_number",
}
TRUTHY = frozenset({"1", "true", "yes", "y", "t"})


@dataclass
class WarmStartReport:
    """What a warm start learned, and what it skipped."""

    rows: int = 0
    learned: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def record_of(stream: str, row: Mapping[str, str]) -> dict[str, Any]:
    """The event record of a history row (personal fields absent from the row left empty)."""
    schema = SCHEMAS[stream]
    named = {COLUMN_ALIASES.get(column, column): value for column, value in row.items()}
    for personal in personal_fields(schema):
        named.setdefault(personal, "")
    return record_from_row(schema, named)


def _recovered(row: Mapping[str, str]) -> float | None:
    """The optional ``recovered_amount`` column (EUR recovered by a finding), if a number."""
    try:
        return float(row.get("recovered_amount") or "")
    except ValueError:
        return None


def read_history(path: str | Path) -> Iterator[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def warm_start(
    model: RiskModel,
    rows: Iterable[Mapping[str, str]],
    pseudonymiser: Pseudonymiser,
    stream: str | None = None,
    max_problems: int = 20,
) -> WarmStartReport:
    """Learn every row, in order: unsupervised parts from each, supervised from its label.

    A row that cannot be read is skipped and counted, with the first problems kept for the
    report (they name the row and column, never a personal value).

    >>> from scorers.model import RiskModel
    >>> rows = [{"id": f"e{i}", "time": "2026-01-05T09:30:00Z", "stream": "postal",
    ...          "hub": "hub_FRA", "item_id": f"RR{i:09d}DE", "origin_country": "CN",
    ...          "destination_country": "DE", "goods_description": "phone case",
    ...          "declared_value": "9.90", "currency": "EUR", "gross_weight_kg": "0.2",
    ...          "sender": f"s{i % 5}", "addressee": f"a{i}", "label": str(int(i % 7 == 0))}
    ...         for i in range(50)] + [{"id": "bad", "stream": "postal"}]
    >>> report = warm_start(RiskModel(seed=1), rows, Pseudonymiser(b"doctest-key-0123456789"))
    >>> report.learned, report.findings, report.skipped
    ({'postal': 50}, {'postal': 8}, 1)
    >>> report.problems[0]
    'row 51: column hub missing'
    """
    report = WarmStartReport()
    for number, row in enumerate(rows, start=1):
        report.rows += 1
        row_stream = stream or row.get("stream") or ""
        try:
            if row_stream not in SCHEMAS:
                raise CodecError("validation", f"unknown stream {row_stream!r}", field="stream")
            record = record_of(row_stream, row)
        except CodecError as exc:
            report.skipped += 1
            if len(report.problems) < max_problems:
                report.problems.append(f"row {number}: {exc}")
            continue
        record = pseudonymiser.apply(SCHEMAS[row_stream], record)
        assessment = model.assess(row_stream, record)
        model.observe(row_stream, assessment)
        finding = (row.get("label") or "").strip().lower() in TRUTHY
        model.learn_outcome(
            row_stream, assessment.features, assessment.entities, assessment.sub_scores, finding,
            recovered=_recovered(row) if finding else None,
        )
        report.learned[row_stream] = report.learned.get(row_stream, 0) + 1
        report.findings[row_stream] = report.findings.get(row_stream, 0) + finding
    return report
