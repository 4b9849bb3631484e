"""Flat table rows (CSV) to event records, typed by the Avro schema.

Past declarations arrive as CSV exports. A row names schema fields as columns; this module
turns the text cells into the types the schema wants (decimals, UTC timestamps, lists,
enums, nullable fields, maps), so warm starts and replays feed the real scoring path. Bad
cells raise :class:`~schemas.errors.CodecError` naming the column, never quoting a personal
value. A map field (``attributes``, ``measures``) is one cell of JSON object text, as
:func:`map_cell` writes it; an empty cell is the empty map.

>>> row = {"event_id": "e1", "event_time": "2026-01-05T09:30:00+00:00",
...        "result": "seizure", "stream": "postal", "recovered_amount": "12.5",
...        "outcome_time": "2026-01-06T10:00:00Z", "officer_unit": "unit_FRA_1"}
>>> record = record_from_row("InspectionOutcome", row)
>>> record["recovered_amount"], record["severity"], record["outcome_time"].isoformat()
(Decimal('12.50'), 0, '2026-01-06T10:00:00+00:00')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from schemas.catalog import personal_fields, raw_schema
from schemas.errors import CodecError

LIST_SEPARATOR = "-"
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as aware UTC; a time without zone is taken as UTC."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def map_cell(values: Mapping[str, str | float]) -> str:
    """The text of a map field in a row: a JSON object, names sorted.

    >>> map_cell({"tax_type": "B", "process_type": "PRO1"})
    '{"process_type":"PRO1","tax_type":"B"}'
    >>> record_from_row("PostalItem", {"event_id": "e1", "event_time": "2026-01-05T09:30:00Z",
    ...     "hub": "hub_FRA", "item_id": "", "sender_name": "", "sender_address": "",
    ...     "addressee_name": "", "addressee_address": "", "origin_country": "CN",
    ...     "destination_country": "DE", "goods_description": "", "declared_value": "1",
    ...     "currency": "EUR", "gross_weight_kg": "1", "measures": map_cell({"tax_rate": 8})}
    ...     )["measures"]
    {'tax_rate': 8.0}
    """
    return json.dumps(dict(values), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _map(values: Any, text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not a JSON object of names to values") from None
    if not isinstance(parsed, dict):
        raise ValueError("not a JSON object of names to values")
    out: dict[str, Any] = {}
    for name, value in parsed.items():
        if values == "string":
            if not isinstance(value, str):
                raise ValueError(f"value of {name} is not a text")
            out[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"value of {name} is not a number")
            try:
                out[name] = float(value)  # not finite: validation names it
            except OverflowError:
                raise ValueError(f"value of {name} is not a finite number") from None
    return out


def _convert(avro_type: Any, text: str) -> Any:
    if isinstance(avro_type, list):  # a union: ["null", X]
        if text == "":
            return None
        return _convert(next(t for t in avro_type if t != "null"), text)
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "decimal":
            scale = int(avro_type.get("scale", 0))
            return Decimal(text.strip()).quantize(Decimal(1).scaleb(-scale))
        if logical == "timestamp-millis":
            return parse_time(text)
        if avro_type["type"] == "map":
            return _map(avro_type["values"], text) if text.strip() else {}
        if avro_type["type"] == "array":
            return [part for part in text.split(LIST_SEPARATOR) if part] if text else []
        if avro_type["type"] == "enum":
            symbol = text.strip().lower()
            if symbol not in avro_type["symbols"]:
                raise ValueError(f"not one of {', '.join(avro_type['symbols'])}")
            return symbol
        return _convert(avro_type["type"], text)
    if avro_type in ("int", "long"):
        return int(float(text)) if text.strip() else 0
    if avro_type in ("float", "double"):
        return float(text)
    if avro_type == "boolean":
        lowered = text.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise ValueError("not a boolean")
        return lowered in _TRUE
    return text


@cache
def _fields(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(raw_schema(name)["fields"])  # one copy per schema, not one per row


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        return " or ".join(_type_name(t) for t in avro_type if t != "null")
    if isinstance(avro_type, dict):
        return str(avro_type.get("logicalType") or avro_type["type"])
    return str(avro_type)


def record_from_row(name: str, row: Mapping[str, str | None]) -> dict[str, Any]:
    """Build a record of schema ``name`` from a row keyed by field names.

    Columns that are not schema fields are ignored; a field missing from the row takes its
    schema default, or is an error naming it when it has none.
    """
    record: dict[str, Any] = {}
    personal = set(personal_fields(name))
    for field in _fields(name):
        column = field["name"]
        text = row.get(column)
        if text is None or (text == "" and "default" in field):
            if "default" in field:
                record[column] = field["default"]
                continue
            raise CodecError("validation", f"column {column} missing", field=column)
        try:
            record[column] = _convert(field["type"], text)
        except (ValueError, InvalidOperation, StopIteration) as exc:
            detail = "" if column in personal else f": {exc}"
            raise CodecError(
                "validation",
                f"column {column} cannot be read as {_type_name(field['type'])}{detail}",
                field=column,
            ) from None
    return record
