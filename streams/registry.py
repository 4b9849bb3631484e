"""Confluent Schema Registry adapter for the codec (used when a registry URL is configured)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema

from schemas import CodecError, LocalRegistry
from streams.settings import Settings


class ConfluentRegistry:
    """Schema ids from a Confluent Schema Registry, so other Kafka tooling reads our topics."""

    def __init__(self, url: str) -> None:
        self.client = SchemaRegistryClient({"url": url})

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        return int(self.client.register_schema(subject, Schema(json.dumps(schema), "AVRO")))

    @lru_cache(maxsize=256)  # noqa: B019 - one registry per process; ids are immutable
    def schema_for_id(self, schema_id: int) -> Any:
        try:
            found = self.client.get_schema(schema_id)
        except Exception as exc:
            raise CodecError(
                "unknown_schema", f"schema id {schema_id} unknown to the registry"
            ) from exc
        return parse_schema(json.loads(found.schema_str or "{}"))


def registry_for(settings: Settings) -> Any:
    """The configured registry: Confluent's when a URL is set, otherwise the built-in one."""
    if settings.schema_registry_url:
        return ConfluentRegistry(settings.schema_registry_url)
    return LocalRegistry()
