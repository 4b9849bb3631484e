"""The case store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Alembic's migrations in ``workbench/migrations/versions`` create exactly these; a test
compares the two, so a change here needs a new migration.

* ``cases``: one row per selected event (``event_id`` is the primary key, so a replayed
  verdict never makes a second case), with the verdict's non-personal fields and the case's
  state: ``open`` -> ``claimed`` -> ``closed``.
* ``outbox``: outcomes recorded here and not yet acknowledged by Kafka (``published_at``
  null); one per case, so a double submit cannot publish twice.
* ``audit``: who did what to which case, and when.
* ``officers`` and ``officer_hubs``: logins, argon2 password hashes, roles and hubs.
* ``consumer_offsets``: how far the Kafka bridge has read, written in the same transaction
  as what it read, so a restart neither skips nor re-applies a record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the case store; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        found: datetime = value
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


metadata = MetaData()

officers = Table(
    "officers",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),  # officer | supervisor
    Column("unit", String(64), nullable=False),  # named on outcomes: a unit, never a person
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

officer_hubs = Table(
    "officer_hubs",
    metadata,
    Column(
        "username", String(64), ForeignKey("officers.username", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("hub", String(64), primary_key=True),
)

cases = Table(
    "cases",
    metadata,
    Column("event_id", String(128), primary_key=True),
    # verdict fields; null only while an outcome read from Kafka waits for its verdict
    Column("stream", String(16)),
    Column("hub", String(64)),
    Column("score", Float),
    Column("level", String(32)),
    Column("selection_kind", String(16)),
    Column("reasons", JSON),
    Column("model_version", String(128)),
    Column("refs", JSON),  # the verdict's non-personal references
    Column("event_time", UTCDateTime),
    Column("decided_at", UTCDateTime),
    Column("opened_at", UTCDateTime, nullable=False),
    # the case
    Column("state", String(16), nullable=False),  # open | claimed | closed
    Column("claimed_by", String(64)),
    Column("claimed_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("closed_by", String(80)),  # an officer, "system:<name>", or the reporting unit
    Column("source", String(16)),  # officer | system | elsewhere (another system's outcome)
    Column("result", String(32)),
    Column("severity", Integer),
    Column("recovered_amount", Numeric(14, 2)),
    Column("officer_unit", String(64)),
    Column("note", Text),
    Index("ix_cases_queue", "state", "hub", "stream", "score"),
)

outbox = Table(
    "outbox",
    metadata,
    Column(
        "event_id", String(128), ForeignKey("cases.event_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("published_at", UTCDateTime),
    Index("ix_outbox_unpublished", "published_at"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(16), nullable=False),  # claim | release | outcome
    Column("event_id", String(128)),
    Column("detail", JSON, nullable=False),
)

consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)
