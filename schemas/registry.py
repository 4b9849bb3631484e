"""Where schema ids come from: the registry contract and a local, serverless registry.

The Confluent wire format carries a 4-byte schema id instead of the schema. A
:class:`SchemaRegistry` turns a schema into an id when writing and an id back into the
writer's schema when reading. The Confluent Schema Registry adapter (in ``streams/``)
implements the same two methods; :class:`LocalRegistry` needs no file and no server: ids are
fingerprints of the schema's Parsing Canonical Form (extended with logical types), so every
process and every run agrees on them, and every shipped version is pre-registered so any
payload ever written still decodes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from fastavro import parse_schema
from fastavro.types import Schema

from schemas import catalog
from schemas.errors import CodecError


@runtime_checkable
class SchemaRegistry(Protocol):
    """What the codec needs from a schema registry."""

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        """Register ``schema`` under ``subject`` (idempotent) and return its id."""
        ...

    def schema_for_id(self, schema_id: int) -> Schema:
        """Return the parsed writer schema for ``schema_id``.

        Raises :class:`CodecError` with kind ``unknown_schema`` if the id is not known.
        """
        ...


# Attributes that decide how bytes are read. Plain Parsing Canonical Form drops logicalType,
# precision and scale, so a decimal(14,2) -> decimal(14,3) change would keep its id and
# silently misread money by a factor of ten; the id form keeps them.
_FORM_KEYS = ("name", "type", "fields", "symbols", "items", "values", "size",
              "logicalType", "precision", "scale")


def _form(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_form(branch) for branch in schema]
    if not isinstance(schema, Mapping):
        return schema
    kept = {key: schema[key] for key in _FORM_KEYS if key in schema}
    if "fields" in kept:
        kept["fields"] = [{"name": f["name"], "type": _form(f["type"])} for f in kept["fields"]]
    for key in ("type", "items", "values"):
        if key in kept and not isinstance(kept[key], str):
            kept[key] = _form(kept[key])
    if set(kept) == {"type"}:  # a primitive written as {"type": "long"}
        return kept["type"]
    return kept


def canonical_form(schema: Mapping[str, Any] | Schema) -> str:
    """Return the schema's Parsing Canonical Form extended with logical types.

    Docs, defaults, aliases and custom properties (``personal``) do not change it, so they
    can be improved without a new id.

    >>> canonical_form({"type": "record", "name": "Ping", "namespace": "riskstream",
    ...                 "doc": "ignored", "fields": [{"name": "at", "doc": "ignored",
    ...                 "type": {"type": "long", "logicalType": "timestamp-millis"}}]})
    '{"name":"riskstream.Ping","type":"record","fields":[{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}'
    """
    parsed = parse_schema(dict(schema) if isinstance(schema, Mapping) else schema)
    return json.dumps(_form(parsed), separators=(",", ":"), ensure_ascii=False)


def fingerprint_id(schema: Mapping[str, Any] | Schema) -> int:
    """Return a stable schema id: the first 4 bytes of the SHA-256 of
    :func:`canonical_form`, as a positive 31-bit integer.

    >>> fingerprint_id({"type": "record", "name": "riskstream.Ping", "fields": []})
    2129775929
    """
    digest = hashlib.sha256(canonical_form(schema).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF or 1


class LocalRegistry:
    """A registry that needs no server: ids are fingerprints of the schemas.

    Every current and historic schema of :mod:`schemas.catalog` is registered at start-up.
    The subject is accepted for compatibility with Confluent's API but does not change the id:
    the same schema gets the same id everywhere.

    >>> registry = LocalRegistry()
    >>> schema_id = registry.register("riskstream.postal.events-value",
    ...                               catalog.raw_schema("PostalItem"))
    >>> schema_id == fingerprint_id(catalog.raw_schema("PostalItem"))
    True
    >>> registry.schema_for_id(schema_id)["name"]
    'riskstream.PostalItem'
    """

    def __init__(self) -> None:
        self._schemas: dict[int, Schema] = {}
        self._canonical: dict[int, str] = {}
        for name in catalog.SCHEMA_NAMES:
            for old in catalog.history(name):
                self._add(old)
            self._add(catalog.parsed_schema(name))

    def _add(self, parsed: Schema) -> int:
        form = canonical_form(parsed)
        schema_id = fingerprint_id(parsed)
        known = self._canonical.setdefault(schema_id, form)
        if known != form:
            # Ids are 31 bits: a clash is very unlikely, but refuse it rather than misread.
            raise ValueError(f"schema id {schema_id} collides with another schema")
        self._schemas.setdefault(schema_id, parsed)
        return schema_id

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        """Register ``schema`` (the subject does not change the id) and return its id."""
        return self._add(parse_schema(schema))

    def schema_for_id(self, schema_id: int) -> Schema:
        """Return the parsed schema registered under ``schema_id``."""
        try:
            return self._schemas[schema_id]
        except KeyError:
            raise CodecError(
                "unknown_schema",
                f"schema id {schema_id} is not registered (not written by a known riskstream "
                "schema version)",
            ) from None
