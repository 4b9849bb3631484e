"""The data contract of riskstream: Avro schemas, their wire format, and what guards them.

* **Schemas** live in ``schemas/avro/riskstream.<Name>.avsc`` (namespace ``riskstream``), one
  per topic value: ``CourierConsignment``, ``PostalItem``, ``PassengerRecord`` (inputs),
  ``InspectionOutcome``, ``RiskVerdict``, ``ScoredRecord`` and ``DeadLetter``. Every record and
  field has a ``doc``; money is ``decimal(14, 2)``, times are ``timestamp-millis`` read as
  timezone-aware UTC datetimes.
* **Wire format** is Confluent's: magic byte ``0``, a 4-byte big-endian schema id, then the
  schemaless Avro body, so Kafka tooling and Confluent's ``AvroSerializer`` read and write the
  same bytes. Keys are the event id in UTF-8. Subjects are ``<topic>-value``.
* **Evolution policy is BACKWARD_TRANSITIVE**: topics are replayed to retrain, so the current
  schema must read every version ever shipped. Only add fields with defaults (or remove
  fields that had one); enums need a default symbol before they grow. Each shipped version is
  kept in ``schemas/avro/history/`` and pre-registered in :class:`LocalRegistry`, and golden
  payloads in the tests pin it.
* **Personal fields** carry ``"personal": true`` in the schema. :class:`Pseudonymiser` replaces
  them by keyed tokens on ingest, and no error message ever quotes their values.
* **Errors**: every failure is a :class:`CodecError` with a ``kind`` (``framing``,
  ``unknown_schema``, ``schema``, ``validation``, ``oversized``) and a message that names the
  field.

>>> from schemas import AvroCodec, CodecError
>>> try:
...     AvroCodec().decode("PostalItem", b"\\x00\\x00\\x00")
... except CodecError as err:
...     print(err.kind, "|", err)
framing | payload of 3 bytes is shorter than the 5-byte Confluent header
"""

from __future__ import annotations

from schemas.catalog import SCHEMA_NAMES
from schemas.codec import AvroCodec, decode_key, encode_key
from schemas.errors import CodecError
from schemas.pseudonymise import Pseudonymiser
from schemas.registry import LocalRegistry, SchemaRegistry

__all__ = [
    "SCHEMA_NAMES",
    "AvroCodec",
    "CodecError",
    "LocalRegistry",
    "Pseudonymiser",
    "SchemaRegistry",
    "decode_key",
    "encode_key",
]
