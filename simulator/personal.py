"""Which fields are personal, read from the Avro contract itself.

The avsc files in ``schemas/avro`` mark personal fields with ``"personal": true``. Reading the
marks (rather than keeping a second list here) means a new personal field in a schema is
covered by the leak tests without touching the simulator.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Avro full name of the record each stream carries.
STREAM_SCHEMAS: Mapping[str, str] = {
    "courier": "riskstream.CourierConsignment",
    "postal": "riskstream.PostalItem",
    "passenger": "riskstream.PassengerRecord",
}

#: Every stream the simulator produces, in a fixed order.
STREAMS: tuple[str, ...] = tuple(STREAM_SCHEMAS)

AVRO_DIR = Path(__file__).resolve().parent.parent / "schemas" / "avro"

# A field only one stream's records carry, to tell streams apart without being told.
_MARKER_FIELDS = (
    ("air_waybill", "courier"), ("item_id", "postal"), ("document_number", "passenger")
)


def avsc_path(name: str) -> Path:
    """Path of the avsc file for a stream (``"postal"``) or a full name (``"riskstream.X"``).

    >>> avsc_path("postal").name
    'riskstream.PostalItem.avsc'
    """
    full_name = STREAM_SCHEMAS.get(name, name)
    path = AVRO_DIR / f"{full_name}.avsc"
    if not path.is_file():
        raise FileNotFoundError(f"no Avro schema for {name!r}: expected {path}")
    return path


def load_avsc(name: str) -> dict[str, Any]:
    """The avsc JSON of a stream or full name, as a fresh dict the caller may change."""
    loaded: dict[str, Any] = json.loads(avsc_path(name).read_text(encoding="utf-8"))
    return loaded


@functools.cache
def personal_fields(stream: str) -> frozenset[str]:
    """Names of the fields marked ``"personal": true`` in a stream's schema.

    >>> sorted(personal_fields("passenger"))
    ['date_of_birth', 'document_number', 'phone', 'traveller_name']
    """
    fields = load_avsc(stream)["fields"]
    return frozenset(field["name"] for field in fields if field.get("personal") is True)


def stream_of(record: Mapping[str, Any]) -> str:
    """Tell which stream a record belongs to from the fields it carries.

    >>> stream_of({"item_id": "RR123456785CN"})
    'postal'
    """
    for field, stream in _MARKER_FIELDS:
        if field in record:
            return stream
    raise ValueError(
        "cannot tell the stream of a record without any of the fields "
        + ", ".join(field for field, _ in _MARKER_FIELDS)
    )


def personal_values(record: Mapping[str, Any], stream: str | None = None) -> set[str]:
    """The clear-text personal values in ``record``, for leak tests to search for.

    Empty and null values are left out: they cannot leak.

    >>> sorted(personal_values({"item_id": "RR1", "sender_name": "Ana Ruiz",
    ...                         "addressee_phone": None, "goods_description": "tea"}))
    ['Ana Ruiz']
    """
    names = personal_fields(stream or stream_of(record))
    return {
        str(value) for name in names if (value := record.get(name)) is not None and str(value)
    }
