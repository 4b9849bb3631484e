"""Semantic checks that Avro types cannot express, run after every decode.

A record can be perfectly valid Avro and still be nonsense: a negative weight, an HS code with
letters in it, an event time next week. Each rule below names a field, a problem and a test;
a rule applies to every schema that has the field (or only to the schemas listed). Messages
name the field and the problem, and quote the value only when the field is not personal.

The open maps of the authority's own declaration fields (``attributes``: name -> text,
``measures``: name -> number) are bounded: at most :data:`MAX_MAP_ENTRIES` entries, names
matching :data:`MAP_NAME`, texts of at most :data:`MAX_ATTRIBUTE_CHARS` characters, finite
numbers. Their messages name the entry, never its value (an attribute may be personal).

>>> validate("InspectionOutcome", {"event_id": "e1"})
Traceback (most recent call last):
...
schemas.errors.CodecError: field stream missing
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from schemas import catalog
from schemas.errors import CodecError

MAX_FUTURE = timedelta(days=1)
# decimal(14, 2): twelve digits before the point.
MAX_MONEY = Decimal("999999999999.99")

MAX_MAP_ENTRIES = 32
MAX_ATTRIBUTE_CHARS = 64
#: Names of ``attributes`` and ``measures`` entries (they become ``attr_<name>`` features).
MAP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

_HS_CODE = re.compile(r"[0-9]{4,10}")
_COUNTRY2 = re.compile(r"[A-Z]{2}")
_COUNTRY3 = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class Rule:
    """``field`` is rejected with ``problem`` unless ``ok(value)``; ``None`` values are skipped
    (optional fields), and ``schemas`` limits the rule to some schema names."""

    field: str
    problem: str
    ok: Callable[[Any], bool]
    schemas: frozenset[str] | None = None


def _nonblank(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _matches(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


def _between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: not isinstance(value, bool) and low <= value <= high


def _money(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and 0 <= value <= MAX_MONEY


def _positive_finite(value: Any) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


def _propensity(value: Any) -> bool:
    return isinstance(value, float | int) and 0 < value <= 1


_TRADE = frozenset({"CourierConsignment", "PostalItem"})
_COUNT = 1_000_000

RULES: tuple[Rule, ...] = (
    Rule("event_id", "must not be empty", _nonblank),
    Rule("hub", "must not be empty", _nonblank),
    Rule("gross_weight_kg", "must be positive", _positive_finite),
    Rule("declared_value", "must be between 0 and 999999999999.99", _money),
    Rule("recovered_amount", "must be between 0 and 999999999999.99", _money),
    Rule("hs_code", "must be 4 to 10 digits", _matches(_HS_CODE)),
    Rule("origin_country", "must be 2 upper-case letters", _matches(_COUNTRY2), _TRADE),
    Rule("destination_country", "must be 2 upper-case letters", _matches(_COUNTRY2), _TRADE),
    Rule("nationality", "must be 3 upper-case letters", _matches(_COUNTRY3)),
    Rule("currency", "must be 3 upper-case letters", _matches(_COUNTRY3)),
    Rule("pieces", "must be between 1 and 1000000", _between(1, _COUNT)),
    Rule("quantity", "must be between 1 and 1000000", _between(1, _COUNT)),
    Rule("baggage_count", "must be between 0 and 1000", _between(0, 1000)),
    Rule("trips_last_year", "must be between 0 and 1000", _between(0, 1000)),
    Rule("mandatory_fields_missing", "must not be negative", _between(0, _COUNT)),
    Rule("severity", "must be between 0 and 3", _between(0, 3)),
    Rule("score", "must be between 0 and 1", _between(0.0, 1.0)),
    Rule("propensity", "must be in (0, 1]", _propensity),
)

# Times that are facts reported by someone else; a clock far ahead is a broken sender.
FUTURE_LIMITED = ("event_time", "outcome_time")


# Open maps: field -> (what each value must be, the check of one value).
_MAPS: Mapping[str, tuple[str, Callable[[Any], bool]]] = {
    "attributes": (
        f"a text of at most {MAX_ATTRIBUTE_CHARS} characters",
        lambda value: isinstance(value, str) and len(value) <= MAX_ATTRIBUTE_CHARS,
    ),
    "measures": (
        "a finite number",
        lambda value: isinstance(value, float | int)
        and not isinstance(value, bool)
        and math.isfinite(value),
    ),
}


@cache
def _plan(
    name: str,
) -> tuple[tuple[str, ...], tuple[Rule, ...], tuple[str, ...], tuple[str, ...]]:
    """Required fields, applicable rules, future-limited times and open maps of a schema."""
    fields = catalog.raw_schema(name)["fields"]
    names = {f["name"] for f in fields}
    required = tuple(f["name"] for f in fields if "default" not in f)
    rules = tuple(
        rule
        for rule in RULES
        if rule.field in names and (rule.schemas is None or name in rule.schemas)
    )
    maps = tuple(f for f in _MAPS if f in names)
    return required, rules, tuple(f for f in FUTURE_LIMITED if f in names), maps


def _shown_name(key: Any) -> str:
    text = str(key)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def check_map(name: str, record: Mapping[str, Any], field: str) -> None:
    """Reject an ``attributes`` or ``measures`` map beyond its bounds, naming the entry.

    >>> check_map("PostalItem", {"attributes": {"tax_type": "B"}}, "attributes")
    >>> check_map("PostalItem", {"attributes": {"Tax-Type": "B"}}, "attributes")
    Traceback (most recent call last):
    ...
    schemas.errors.CodecError: field attributes: name 'Tax-Type' must match ^[a-z][a-z0-9_]{0,39}$
    >>> check_map("PostalItem", {"measures": {"tax_rate": float("nan")}}, "measures")
    Traceback (most recent call last):
    ...
    schemas.errors.CodecError: field measures: tax_rate must be a finite number
    """
    entries = record.get(field)
    if entries is None:
        return
    if not isinstance(entries, Mapping):
        _reject(name, record, field, "must be a map of names to values")
    if len(entries) > MAX_MAP_ENTRIES:
        _reject(name, record, field, f"has {len(entries)} entries, at most {MAX_MAP_ENTRIES}")
    what, ok = _MAPS[field]
    for key, value in entries.items():
        if not isinstance(key, str) or MAP_NAME.fullmatch(key) is None:
            _reject(name, record, field, f": name {_shown_name(key)} must match {MAP_NAME.pattern}")
        if not ok(value):
            _reject(name, record, field, f": {key} must be {what}")


def _reject(
    name: str, record: Mapping[str, Any], field: str, problem: str, value: Any = None
) -> None:
    shown = "" if value is None or field in catalog.personal_fields(name) else f", got {value!r}"
    event_id = record.get("event_id")
    raise CodecError(
        "validation",
        f"field {field}{'' if problem.startswith(':') else ' '}{problem}{shown}",
        field=field,
        event_id=event_id if isinstance(event_id, str) and event_id else None,
    )


def validate(name: str, record: Mapping[str, Any], now: datetime | None = None) -> None:
    """Raise :class:`CodecError` (kind ``validation``) at the first field that is wrong.

    ``now`` is the reference for the event-time check (an event more than a day in the
    future is rejected); it defaults to the wall clock, and replays pass their own.
    """
    required, rules, times, maps = _plan(name)
    for field in required:
        if field not in record:
            _reject(name, record, field, "missing")
    for rule in rules:
        value = record.get(rule.field)
        if value is None:
            continue
        try:
            ok = rule.ok(value)
        except (TypeError, ValueError, ArithmeticError):
            ok = False
        if not ok:
            _reject(name, record, rule.field, rule.problem, value)
    for field in maps:
        check_map(name, record, field)
    if not times:
        return
    limit = (now or datetime.now(UTC)) + MAX_FUTURE
    for field in times:
        value = record.get(field)
        if value is None:
            continue
        if not isinstance(value, datetime) or value.tzinfo is None:
            _reject(name, record, field, "must be a timezone-aware datetime")
        elif value > limit:
            _reject(name, record, field, "is more than 1 day in the future", value.isoformat())
