"""Flat CSV files of simulated events for replays and backtests.

One row per event: ``id``, ``time`` (ISO 8601 UTC), ``stream``, ``hub``, every non-personal
field of the record (lists joined with ``-``, booleans as ``true``/``false``, nulls empty),
one opaque token per entity instead of names and ids, and the hidden truth: ``label`` (1
illicit, 0 licit), ``revenue`` (EUR recoverable), ``pattern``, ``result`` and ``severity``.
Personal fields never reach the file in clear text.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulator.personal import STREAMS, load_avsc, personal_fields
from simulator.schedule import Rates
from simulator.truth import SimEvent
from simulator.world import DEFAULT_RATES, HubWorld

#: Entity token columns per stream, and the personal fields that identify each entity.
ENTITY_FIELDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "courier": {"shipper": ("shipper_id",), "consignee": ("consignee_id",),
                "declarant": ("declarant_id",)},
    "postal": {"sender": ("sender_name", "sender_address"),
               "addressee": ("addressee_name", "addressee_address")},
    "passenger": {"traveller": ("document_number",)},
}
_HEAD = ("id", "time", "stream", "hub")
_TAIL = ("label", "revenue", "pattern", "result", "severity")
_ENVELOPE = frozenset({"event_id", "hub", "event_time"})


@functools.cache
def record_columns(stream: str) -> tuple[str, ...]:
    """The non-personal record fields of ``stream`` that become CSV columns, schema order."""
    personal = personal_fields(stream)
    return tuple(field["name"] for field in load_avsc(stream)["fields"]
                 if field["name"] not in personal and field["name"] not in _ENVELOPE)


def csv_columns(streams: Iterable[str]) -> list[str]:
    """Header of a CSV file holding ``streams``; fields shared by streams appear once.

    >>> csv_columns(["passenger"])[:6]
    ['id', 'time', 'stream', 'hub', 'nationality', 'carrier']
    """
    chosen = [stream for stream in STREAMS if stream in set(streams)]
    middle = [*(c for s in chosen for c in record_columns(s)),
              *(c for s in chosen for c in ENTITY_FIELDS[s])]
    return [*_HEAD, *dict.fromkeys(middle), *_TAIL]


def entity_token(seed: int, kind: str, clear: str) -> str:
    """A stable opaque token for one entity: a keyed hash, unlinkable without the seed.

    >>> entity_token(0, "shipper", "CN123") == entity_token(0, "shipper", "CN123")
    True
    >>> len(entity_token(0, "shipper", "CN123"))
    16
    """
    key = f"riskstream-simulator/{seed}".encode()
    return hashlib.blake2b(f"{kind}\x1f{clear}".encode(), key=key, digest_size=8).hexdigest()


def flatten(event: SimEvent, seed: int) -> dict[str, str]:
    """One CSV row for ``event``, with entity tokens keyed by ``seed``."""
    record = event.record
    row = {"id": event.event_id, "time": _cell(record["event_time"]), "stream": event.stream,
           "hub": event.hub}
    for column in record_columns(event.stream):
        row[column] = _cell(record.get(column))
    for kind, fields in ENTITY_FIELDS[event.stream].items():
        parts = [record.get(field) for field in fields]
        row[kind] = "" if any(part is None for part in parts) else entity_token(
            seed, kind, "\x1f".join(str(part) for part in parts)
        )
    truth = event.truth
    row["label"] = "1" if truth.illicit else "0"
    row["revenue"] = str(truth.recovered_eur)
    row["pattern"] = truth.pattern
    row["result"] = truth.result
    row["severity"] = str(truth.severity)
    return row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, list):
        return "-".join(str(item) for item in value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def export_csv(
    path: str | Path,
    world: HubWorld,
    start: datetime,
    *,
    duration_s: float | None = None,
    n_rows: int | None = None,
    rates: Rates = DEFAULT_RATES,
    stream: str | None = None,
) -> int:
    """Write the world's events from ``start`` to a CSV file; return the number of rows.

    Give ``duration_s`` (simulated seconds), ``n_rows`` (stop after that many rows), or both.
    ``stream`` keeps one stream of ``rates`` (one stream per file keeps the columns tight).

    >>> import tempfile
    >>> from datetime import timezone
    >>> start = datetime(2025, 1, 6, tzinfo=timezone.utc)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     export_csv(Path(folder) / "postal.csv", HubWorld(seed=1), start, n_rows=500,
    ...                stream="postal")
    500
    """
    if duration_s is None and n_rows is None:
        raise ValueError("export_csv needs duration_s or n_rows (or both) to know when to stop")
    if n_rows is not None and n_rows < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    if stream is not None:
        if stream not in rates:
            raise ValueError(
                f"stream {stream!r} has no rates; rates cover {', '.join(rates) or 'nothing'}"
            )
        rates = {stream: rates[stream]}
    events = world.events(start, math.inf if duration_s is None else duration_s, rates)
    if n_rows is not None:
        events = itertools.islice(events, n_rows)
    seed = world.seed
    written = 0
    with Path(path).open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=csv_columns(rates), restval="")
        writer.writeheader()
        for event in events:
            writer.writerow(flatten(event, seed))
            written += 1
    return written
