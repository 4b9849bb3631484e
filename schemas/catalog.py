"""The schemas shipped with riskstream, loaded from the ``.avsc`` files next to this module.

``schemas/avro/riskstream.<Name>.avsc`` is the current version of each schema, the data
contract. ``schemas/avro/history/riskstream.<Name>.v<N>.avsc`` are the versions that were ever
shipped; they stay forever, so a payload written by any of them can still be decoded.
Personal fields are found from the schema's own ``"personal": true`` marker, never from a
hand-kept list, so a new personal field is protected the moment it is declared.

>>> "CourierConsignment" in SCHEMA_NAMES
True
>>> personal_fields("PassengerRecord")
('traveller_name', 'document_number', 'date_of_birth', 'phone')
>>> subject("PostalItem")
'riskstream.postal.events-value'
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.types import Schema

from schemas.errors import CodecError

NAMESPACE = "riskstream"
AVRO_DIR = Path(__file__).parent / "avro"
HISTORY_DIR = AVRO_DIR / "history"

SCHEMA_NAMES: tuple[str, ...] = (
    "CourierConsignment",
    "PostalItem",
    "PassengerRecord",
    "InspectionOutcome",
    "RiskVerdict",
    "ScoredRecord",
    "DeadLetter",
    "LearningEvent",
    "ErasureRequest",
)

# The topic each schema is the value of; subjects follow Confluent's TopicNameStrategy.
TOPICS: dict[str, str] = {
    "CourierConsignment": "riskstream.courier.events",
    "PostalItem": "riskstream.postal.events",
    "PassengerRecord": "riskstream.passenger.events",
    "InspectionOutcome": "riskstream.outcomes",
    "RiskVerdict": "riskstream.verdicts",
    "ScoredRecord": "riskstream.scored",
    "DeadLetter": "riskstream.deadletter",
    "LearningEvent": "riskstream.learning",
    "ErasureRequest": "riskstream.privacy",
}

_HISTORY_FILE = re.compile(r"^riskstream\.(?P<name>\w+)\.v(?P<version>\d+)\.avsc$")


def _check_name(name: str) -> None:
    if name not in SCHEMA_NAMES:
        raise CodecError(
            "unknown_schema", f"unknown schema {name!r}, expected one of {', '.join(SCHEMA_NAMES)}"
        )


def full_name(name: str) -> str:
    """Return the Avro full name of a schema, e.g. ``riskstream.PostalItem``."""
    _check_name(name)
    return f"{NAMESPACE}.{name}"


def subject(name: str) -> str:
    """Return the registry subject of a schema: ``<topic>-value`` (TopicNameStrategy)."""
    _check_name(name)
    return f"{TOPICS[name]}-value"


@cache
def _load(name: str) -> dict[str, Any]:
    _check_name(name)
    loaded: dict[str, Any] = json.loads(
        (AVRO_DIR / f"{NAMESPACE}.{name}.avsc").read_text(encoding="utf-8")
    )
    return loaded


def raw_schema(name: str) -> dict[str, Any]:
    """Return the current schema as a JSON dict (a copy: callers may change it freely)."""
    return copy.deepcopy(_load(name))


@cache
def parsed_schema(name: str) -> Schema:
    """Return the current schema parsed by fastavro (cached; do not mutate)."""
    return parse_schema(_load(name))


@cache
def personal_fields(name: str) -> tuple[str, ...]:
    """Return the top-level fields marked ``"personal": true``, in schema order."""
    return tuple(f["name"] for f in _load(name)["fields"] if f.get("personal") is True)


@cache
def reference_fields(name: str) -> tuple[str, ...]:
    """Return the top-level fields marked ``"reference": true``: the non-personal references
    (air waybill, postal item id, flight) that verdicts carry so officers find what to inspect.

    >>> reference_fields("CourierConsignment"), reference_fields("PassengerRecord")
    (('air_waybill',), ('flight_number', 'departure_time'))
    """
    fields = _load(name)["fields"]
    both = [f["name"] for f in fields if f.get("reference") is True and f.get("personal") is True]
    if both:  # a schema edit must never turn a personal value into a shown reference
        raise CodecError("schema", f"{name}: fields both personal and reference: {both}")
    return tuple(f["name"] for f in fields if f.get("reference") is True)


@cache
def _history(name: str) -> tuple[tuple[int, Schema], ...]:
    _check_name(name)
    versions = []
    for path in HISTORY_DIR.glob(f"{NAMESPACE}.{name}.v*.avsc"):
        match = _HISTORY_FILE.match(path.name)
        if match and match["name"] == name:
            raw = json.loads(path.read_text(encoding="utf-8"))
            versions.append((int(match["version"]), parse_schema(raw)))
    return tuple(sorted(versions, key=lambda item: item[0]))


def history(name: str) -> list[Schema]:
    """Return every shipped version of a schema, parsed, oldest (v1) first.

    The newest entry equals the current schema until the next change is shipped.
    """
    return [schema for _, schema in _history(name)]
