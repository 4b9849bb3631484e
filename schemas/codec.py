"""Records to Confluent-framed Avro bytes and back, with every failure as a :class:`CodecError`.

The wire format is Confluent's: byte 0 is the magic ``0``, bytes 1-4 the big-endian schema id,
then the schemaless Avro body. ``decode`` reads with the writer's schema (found by id) and the
current schema as reader, so payloads of every shipped version decode, then runs the semantic
checks of :mod:`schemas.validation`. Error messages are built from field names and schema
types only: fastavro's own messages quote the offending value, which could be personal.

Keys are plain UTF-8 event ids (what Confluent's ``StringSerializer`` writes), so the same
event always lands on the same partition and a replay gives the same verdict key.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import expand_schema
from fastavro.types import Schema

from schemas import catalog
from schemas.errors import CodecError
from schemas.registry import LocalRegistry, SchemaRegistry, canonical_form
from schemas.validation import validate

MAGIC = 0
HEADER_BYTES = 5


class AvroCodec:
    """Encode and decode riskstream records in the Confluent wire format.

    ``registry`` maps schemas to ids (default: a :class:`~schemas.registry.LocalRegistry`,
    which needs no server); ``max_bytes`` bounds both encoded and accepted payloads.

    >>> from datetime import UTC, datetime
    >>> from decimal import Decimal
    >>> codec = AvroCodec()
    >>> outcome = {"event_id": "evt-1", "stream": "postal", "result": "seizure",
    ...            "severity": 2, "recovered_amount": Decimal("120.50"),
    ...            "outcome_time": datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
    ...            "officer_unit": "unit_FRA_3"}
    >>> payload = codec.encode("InspectionOutcome", outcome)
    >>> payload[:5].hex()
    '001327ee72'
    >>> codec.decode("InspectionOutcome", payload) == outcome
    True
    >>> codec.decode("InspectionOutcome", b"\\x07" + payload[1:])
    Traceback (most recent call last):
    ...
    schemas.errors.CodecError: magic byte 7, expected 0 (not Confluent-framed Avro)
    """

    def __init__(self, registry: SchemaRegistry | None = None, max_bytes: int = 1_048_576):
        self.registry = registry
        self.max_bytes = max_bytes
        self._registry: SchemaRegistry = registry if registry is not None else LocalRegistry()
        self._headers: dict[str, bytes] = {}
        # (schema name, writer id) -> reader schema, or None when writer == reader.
        self._readers: dict[tuple[str, int], Schema | None] = {}

    def _header(self, name: str) -> bytes:
        header = self._headers.get(name)
        if header is None:
            schema_id = self._registry.register(catalog.subject(name), catalog.raw_schema(name))
            header = bytes([MAGIC]) + schema_id.to_bytes(4, "big")
            self._headers[name] = header
        return header

    def encode(self, name: str, record: Mapping[str, Any]) -> bytes:
        """Return ``record`` as Confluent-framed Avro of the current schema ``name``.

        Unknown fields are rejected; fields with a default may be left out.
        """
        schema = catalog.parsed_schema(name)
        buffer = io.BytesIO()
        buffer.write(self._header(name))
        try:
            schemaless_writer(buffer, schema, record, strict_allow_default=True)
        except Exception:
            # `from None`: the fastavro message would quote the offending (maybe personal) value.
            raise _encode_error(name, record) from None
        payload = buffer.getvalue()
        if len(payload) > self.max_bytes:
            raise CodecError(
                "oversized",
                f"encoded {catalog.full_name(name)} of {len(payload)} bytes exceeds the limit "
                f"of {self.max_bytes} bytes",
            )
        return payload

    def decode(
        self, name: str, payload: bytes | bytearray | memoryview, now: datetime | None = None
    ) -> dict[str, Any]:
        """Return the record in ``payload`` as the current schema ``name`` sees it.

        ``now`` is the reference time for the future event-time check (default: wall clock).
        """
        if not isinstance(payload, bytes | bytearray | memoryview):
            found = "no payload (tombstone)" if payload is None else type(payload).__name__
            raise CodecError("framing", f"expected Avro bytes, got {found}")
        size = len(payload)
        if size > self.max_bytes:
            raise CodecError(
                "oversized", f"payload of {size} bytes exceeds the limit of {self.max_bytes} bytes"
            )
        if size < HEADER_BYTES:
            raise CodecError(
                "framing",
                f"payload of {size} bytes is shorter than the {HEADER_BYTES}-byte Confluent header",
            )
        if payload[0] != MAGIC:
            raise CodecError(
                "framing",
                f"magic byte {payload[0]}, expected {MAGIC} (not Confluent-framed Avro)",
            )
        schema_id = int.from_bytes(payload[1:HEADER_BYTES], "big")
        writer = self._registry.schema_for_id(schema_id)
        reader = self._reader(name, schema_id, writer)
        body = io.BytesIO(payload[HEADER_BYTES:])
        try:
            record = schemaless_reader(body, writer, reader)
        except Exception as exc:
            raise CodecError(
                "schema",
                f"payload with schema id {schema_id} ({_schema_name(writer)}) cannot be read as "
                f"{catalog.full_name(name)}: {_read_problem(exc)}",
            ) from None
        trailing = size - HEADER_BYTES - body.tell()
        if trailing or not isinstance(record, dict):
            raise CodecError(
                "schema",
                f"payload with schema id {schema_id} ({_schema_name(writer)}) has {trailing} "
                f"bytes after the {catalog.full_name(name)} record",
            )
        validate(name, record, now)
        return record

    def _reader(self, name: str, schema_id: int, writer: Schema) -> Schema | None:
        key = (name, schema_id)
        if key not in self._readers:
            current = catalog.parsed_schema(name)
            same = canonical_form(writer) == canonical_form(current)
            # Resolution costs time on every read; skip it when nothing needs resolving.
            self._readers[key] = None if same else current
        return self._readers[key]


def encode_key(event_id: str) -> bytes:
    """Return the Kafka key of an event: its id in UTF-8.

    >>> encode_key("evt-1")
    b'evt-1'
    """
    if not isinstance(event_id, str) or not event_id:
        raise CodecError("validation", "event id for the key must be a non-empty string")
    return event_id.encode("utf-8")


def decode_key(key: bytes | None) -> str:
    """Return the event id in a Kafka key written by :func:`encode_key`.

    >>> decode_key(b"evt-1")
    'evt-1'
    """
    if not key:
        raise CodecError("framing", "record has no key (expected the event id)")
    try:
        return bytes(key).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        raise CodecError("framing", "key is not a UTF-8 event id") from None


def _schema_name(schema: Schema) -> str:
    return str(schema.get("name", "?")) if isinstance(schema, dict) else str(schema)


def _read_problem(exc: Exception) -> str:
    kind = type(exc).__name__
    if kind == "SchemaResolutionError":
        return "the schemas are not compatible"
    if isinstance(exc, EOFError):
        return "the body is truncated"
    return f"the body is corrupt ({kind})"


# --- encode diagnostics: only on the failure path, so encode itself stays fast ---------------


def _describe(schema: Any) -> str:
    """A short readable name of an (expanded) Avro type, e.g. ``null|string``."""
    if isinstance(schema, list):
        return "|".join(_describe(branch) for branch in schema)
    if isinstance(schema, str):
        return schema
    logical = schema.get("logicalType")
    if logical == "decimal":
        scale = schema.get("scale", 0)
        return f"decimal({schema.get('precision')},{scale}), a Decimal with at most {scale} places"
    if logical:
        return f"{logical} (an aware datetime)" if "timestamp" in logical else str(logical)
    kind = schema["type"]
    if kind == "enum":
        return f"enum {schema['name']} ({', '.join(schema['symbols'])})"
    if kind == "array":
        return f"array<{_describe(schema['items'])}>"
    if kind == "map":
        return f"map<{_describe(schema['values'])}>"
    if kind in ("record", "fixed"):
        return str(schema["name"])
    return _describe(kind)


@cache
def _probes(name: str) -> dict[str, tuple[str, Schema | None]]:
    """For each field: a readable type and a one-field schema to test the value alone."""
    expanded: Any = expand_schema(catalog.raw_schema(name))
    probes: dict[str, tuple[str, Schema | None]] = {}
    for field in expanded["fields"]:
        one = {"type": "record", "name": "riskstream.FieldProbe",
               "fields": [{"name": field["name"], "type": field["type"]}]}
        try:
            probe: Schema | None = parse_schema(one)
        except Exception:  # a type defined twice inside one field; fall back to the record
            probe = None
        probes[field["name"]] = (_describe(field["type"]), probe)
    return probes


def _encode_error(name: str, record: Any) -> CodecError:
    schema_name = catalog.full_name(name)
    if not isinstance(record, Mapping):
        return CodecError("schema", f"{schema_name} must be a mapping, got {type(record).__name__}")
    event_id = record.get("event_id")
    event_id = event_id if isinstance(event_id, str) and event_id else None
    fields = catalog.raw_schema(name)["fields"]
    unknown = sorted(str(key) for key in record if key not in {f["name"] for f in fields})
    if unknown:
        return CodecError(
            "schema",
            f"unknown field {', '.join(unknown)} (not in {schema_name})",
            field=unknown[0],
            event_id=event_id,
        )
    for field in fields:
        if field["name"] not in record and "default" not in field:
            return CodecError(
                "schema", f"field {field['name']} missing", field=field["name"], event_id=event_id
            )
    for field_name, (described, probe) in _probes(name).items():
        if field_name not in record or probe is None:
            continue
        try:
            schemaless_writer(io.BytesIO(), probe, {field_name: record[field_name]})
        except Exception:
            return CodecError(
                "schema",
                f"field {field_name} does not fit Avro type {described}",
                field=field_name,
                event_id=event_id,
            )
    return CodecError("schema", f"record does not fit {schema_name}", event_id=event_id)
