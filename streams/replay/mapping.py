"""Mapping files: how the columns of any customs CSV become events of a riskstream stream.

A small YAML file names the columns; no code is needed to replay a new data set::

    stream: courier            # which pipeline: courier, postal or passenger
    id: declaration_id         # unique id of the row
    time: registered_at        # ISO 8601 (or give time_format, a strptime pattern); UTC
    label: illicit             # 1/0, true/false, yes/no (empty counts as licit)
    revenue: recovered_eur     # optional: amount recovered when illicit
    hub: office                # optional: office or hub column (one lane each); else hub_replay
    hs_code: hs6               # role columns the domain scorers use ...
    value: customs_value       #   declared value (currency: EUR unless `currency` names a column)
    mass: net_mass_kg          #   weight in kg
    origin: country_of_origin  #   2-letter country (passenger: departure airport)
    description: goods_text    #   goods description
    entities: [importer, declarant]          # columns that get risk profiles
    categorical: [incoterms, tax_type]       # more model inputs: schema fields or the
    numeric: {pieces: n_packages, tax_rate: rate}  #   authority's own; {name: column} renames
    personal: [owner_name]                   # own categorical fields holding personal data
    fields: {destination_country: dest}      # any other schema field from a column
    defaults: {destination_country: DE}      # a constant, also for empty cells of a column

Every mapped column becomes a field of the stream's Avro event record, so the row then takes
the live worker's path unchanged (encoding, validation, pseudonymisation, features, scorers).
Entity roles land on the record's identity fields, which are personal and therefore
pseudonymised like live traffic: courier ``shipper``, ``consignee``, ``declarant``; postal
``sender``, ``addressee``; passenger ``traveller``, ``phone``; common aliases (importer,
seller, broker...) are listed in :data:`ENTITY_ALIASES`. HS code, origin and route profiles
come from the role columns.

A ``categorical:`` or ``numeric:`` name that is not a schema field is one of the authority's
own declaration fields (process type, payment type, tax rate...). Goods streams (courier,
postal) carry them in the event's open maps: a categorical column lands in ``attributes``
(feature ``attr_<name>``), a numeric one in ``measures`` (feature ``measure_<name>``), under
the mapping's name lower-cased, which must match :data:`schemas.validation.MAP_NAME`. An
empty cell leaves the entry out. ``personal:`` columns land in ``attributes`` too, and their
names are added to the personal attributes (``RISKSTREAM_PERSONAL_ATTRIBUTES``) of the
replay, so their values are pseudonymised on ingest like personal fields; so does an entity
role with no identity field in the schema (postal ``declarant``), which then gets a risk
profile of its own. A column that still has no place (any extra of the passenger stream,
whose records have no open maps) cannot reach the model; the mapping keeps it in
:attr:`ReplayMapping.unused` and the replay report says so instead of dropping it silently.

Columns of the CSV that the mapping does not name are ignored. A named column missing from
the CSV is a :class:`MappingError` naming it; a cell that cannot be read (an unparseable
date, a non-numeric value in a numeric column, a value the schema rejects) is a
:class:`RowError` naming the line and column, and the replay skips and counts that row.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from schemas import CodecError
from schemas.catalog import personal_fields, raw_schema
from schemas.tabular import map_cell, parse_time, record_from_row
from schemas.validation import MAP_NAME, MAX_ATTRIBUTE_CHARS, MAX_MAP_ENTRIES, validate
from streams.topology import STREAM_SCHEMAS

__all__ = [
    "ENTITY_ALIASES",
    "ENTITY_FIELDS",
    "MappedRow",
    "MappingError",
    "ReadResult",
    "ReplayMapping",
    "RowError",
    "read_rows",
]

TRUTHY = frozenset({"1", "true", "yes", "y", "t", "1.0"})
FALSY = frozenset({"", "0", "false", "no", "n", "f", "0.0"})
DEFAULT_HUB = "hub_replay"

_GOODS_ROLES: Mapping[str, str] = {
    "hs_code": "hs_code",
    "value": "declared_value",
    "currency": "currency",
    "mass": "gross_weight_kg",
    "origin": "origin_country",
    "description": "goods_description",
}
#: Role key of the mapping -> schema field, per stream.
ROLE_FIELDS: Mapping[str, Mapping[str, str]] = {
    "courier": _GOODS_ROLES,
    "postal": _GOODS_ROLES,
    "passenger": {"origin": "departure_airport"},
}
#: Entity role -> the identity field of the event that the profiles read it from.
ENTITY_FIELDS: Mapping[str, Mapping[str, str]] = {
    "courier": {"shipper": "shipper_id", "consignee": "consignee_id", "declarant": "declarant_id"},
    "postal": {"sender": "sender_name", "addressee": "addressee_name"},
    "passenger": {"traveller": "document_number", "phone": "phone"},
}
#: Other names customs data sets use for the same roles.
ENTITY_ALIASES: Mapping[str, Mapping[str, str]] = {
    "courier": {
        "importer": "consignee",
        "buyer": "consignee",
        "exporter": "shipper",
        "seller": "shipper",
        "consignor": "shipper",
        "broker": "declarant",
        "agent": "declarant",
    },
    "postal": {
        "shipper": "sender",
        "seller": "sender",
        "exporter": "sender",
        "consignor": "sender",
        "consignee": "addressee",
        "importer": "addressee",
        "buyer": "addressee",
        "recipient": "addressee",
    },
    "passenger": {"passenger": "traveller", "document": "traveller"},
}
# Entity roles profiled from a role column rather than an identity field.
_ROLE_ENTITIES = {"hs_code": "hs_code", "hs": "hs_code", "origin": "origin"}
# Required schema fields a data set may well lack, and the neutral value they get.
FALLBACKS: Mapping[str, str] = {
    "currency": "EUR",
    "pieces": "1",
    "destination_country": "XX",
    "air_waybill": "",
    "goods_description": "",
    "item_id": "",
}
_SCALARS = ("stream", "id", "time", "time_format", "label", "revenue", "hub")
_KEYS = (
    *_SCALARS,
    "hs_code",
    "value",
    "currency",
    "mass",
    "origin",
    "description",
    "entities",
    "categorical",
    "numeric",
    "personal",
    "fields",
    "defaults",
)
_NUMERIC_TYPES = frozenset({"int", "long", "float", "double"})
# The open maps of the authority's own fields, and the names no mapping may target directly.
ATTRIBUTES, MEASURES = "attributes", "measures"
_RESERVED = ("event_id", "event_time", ATTRIBUTES, MEASURES)
_MAX_QUOTED = 40


class MappingError(ValueError):
    """The mapping file or the CSV header cannot work; the message says what to fix."""


class RowError(ValueError):
    """One CSV row cannot be read; the message names the line and the column."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


def _quote(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _MAX_QUOTED else text[:_MAX_QUOTED] + "...")


@cache
def _field_types(schema: str) -> Mapping[str, Any]:
    """Field specs by name (cached: read, never change)."""
    return {f["name"]: f for f in raw_schema(schema)["fields"]}


def _is_numeric(spec: Mapping[str, Any]) -> bool:
    kind = spec["type"]
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, dict):
        if kind.get("logicalType") == "decimal":
            return True
        if kind.get("logicalType") is not None:  # times: read as times, not numbers
            return False
        kind = kind.get("type")
    return kind in _NUMERIC_TYPES


@dataclass(frozen=True, slots=True)
class MappedRow:
    """One readable CSV row: its id, time, truth, and the event's schema fields as text.

    ``fields`` is what :func:`schemas.tabular.record_from_row` types into the event record
    (:meth:`ReplayMapping.record`), and what :func:`scorers.history.warm_start` learns; the
    ``attributes`` and ``measures`` maps are JSON object text (:func:`schemas.tabular.map_cell`).
    """

    line: int
    event_id: str
    time: datetime
    label: bool
    revenue: float
    fields: dict[str, str]


@dataclass(frozen=True)
class ReplayMapping:
    """A parsed mapping: which CSV column feeds which field of the stream's event record.

    Build it with :meth:`from_yaml` or :meth:`from_dict`; ``columns`` maps schema fields to
    CSV columns, ``constants`` gives fields a fixed value, ``attributes`` and ``measures`` map
    entry names of the event's open maps to CSV columns, ``personal`` names the attributes
    that are personal, ``unused`` lists mapped columns that have no place in the event schema
    (they are reported, not used).

    Examples
    --------
    >>> mapping = ReplayMapping.from_dict({
    ...     "stream": "postal", "id": "ref", "time": "date", "label": "fraud",
    ...     "value": "eur", "mass": "kg", "origin": "from", "description": "goods",
    ...     "entities": ["importer", "declarant"], "numeric": ["quantity", "volume_m3"],
    ...     "categorical": {"Tax_Type": "tax"}})
    >>> mapping.columns["addressee_name"], mapping.columns["quantity"], mapping.unused
    ('importer', 'quantity', ())
    >>> mapping.measures, mapping.attributes, sorted(mapping.personal)
    ({'volume_m3': 'volume_m3'}, {'declarant': 'declarant', 'tax_type': 'tax'}, ['declarant'])
    >>> row = mapping.row({"ref": "A1", "date": "2021-03-04", "fraud": "1", "eur": "12.5",
    ...                    "kg": "0.4", "from": "cn", "goods": "phone case", "tax": "B",
    ...                    "importer": "EORI-1", "declarant": "", "quantity": "2",
    ...                    "volume_m3": "0.01"}, line=2)
    >>> row.event_id, row.time.isoformat(), row.label, row.fields["origin_country"]
    ('A1', '2021-03-04T00:00:00+00:00', True, 'CN')
    >>> mapping.record(row)["attributes"], mapping.record(row)["measures"]
    ({'tax_type': 'B'}, {'volume_m3': 0.01})
    >>> mapping.row({"ref": "A2", "date": "4 March", "fraud": "0", "eur": "1", "kg": "1",
    ...              "from": "CN", "goods": "", "importer": "x", "quantity": "1"}, line=3)
    Traceback (most recent call last):
    ...
    streams.replay.mapping.RowError: line 3: column date: cannot read '4 March' as a time (ISO 8601 like 2021-03-04T10:15:00Z, or set time_format)
    """  # noqa: E501

    stream: str
    id: str
    time: str
    label: str
    revenue: str | None = None
    hub: str | None = None
    time_format: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    purposes: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    measures: Mapping[str, str] = field(default_factory=dict)
    personal: frozenset[str] = frozenset()
    unused: tuple[str, ...] = ()
    source: str = "<mapping>"

    @property
    def schema(self) -> str:
        """The Avro schema of the stream's events."""
        return STREAM_SCHEMAS[self.stream]

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path) -> ReplayMapping:
        """Read a mapping file; every problem is a :class:`MappingError` naming the file."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise MappingError(f"cannot read mapping {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" at line {where.line + 1}" if where is not None else ""
            raise MappingError(f"mapping {path} is not valid YAML{line}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<mapping>") -> ReplayMapping:
        """Check a mapping given as a dict (the YAML document)."""
        what = f"mapping {source}"
        if not isinstance(data, Mapping):
            raise MappingError(f"{what} must be a YAML mapping of keys (stream, id, time, ...)")
        unknown = sorted(str(k) for k in data if k not in _KEYS)
        if unknown:
            raise MappingError(
                f"{what}: unknown key {', '.join(unknown)}; keys are {', '.join(_KEYS)}"
            )
        for key in _SCALARS:
            value = data.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise MappingError(f"{what}: {key} must be a column name, got {value!r}")
        missing = [key for key in ("stream", "id", "time", "label") if not data.get(key)]
        if missing:
            raise MappingError(f"{what}: missing {', '.join(missing)} (the column names to use)")
        stream = str(data["stream"]).strip().lower()
        if stream not in STREAM_SCHEMAS:
            raise MappingError(
                f"{what}: stream {data['stream']!r} is not one of {', '.join(STREAM_SCHEMAS)}"
            )
        plan = _Plan(stream, what)
        for role, target in ROLE_FIELDS[stream].items():
            if data.get(role) is not None:
                plan.put(target, _column(data[role], f"{what}: {role}"), role)
        for role in ("hs_code", "value", "currency", "mass", "origin", "description"):
            if data.get(role) is not None and role not in ROLE_FIELDS[stream]:
                raise MappingError(
                    f"{what}: role {role} does not apply to stream {stream} (roles: "
                    f"{', '.join(ROLE_FIELDS[stream])}); map the column under fields: instead"
                )
        for role, column in _pairs(data.get("entities"), f"{what}: entities"):
            plan.entity(role, column, data)
        for kind in ("categorical", "numeric"):
            for name, column in _pairs(data.get(kind), f"{what}: {kind}"):
                plan.feature(kind, name, column)
        for name, column in _pairs(data.get("personal"), f"{what}: personal"):
            plan.personal_column(name, column)
        plan.check_sizes()
        for name, column in _pairs(data.get("fields"), f"{what}: fields", listed=False):
            plan.put(plan.known(name, "fields"), column, f"field {name}")
        constants: dict[str, str] = {}
        for name, value in _pairs(data.get("defaults"), f"{what}: defaults", listed=False):
            constants[plan.known(name, "defaults")] = value
        constants = {**plan.fallbacks(constants), **constants}
        return cls(
            stream=stream,
            id=str(data["id"]).strip(),
            time=str(data["time"]).strip(),
            label=str(data["label"]).strip(),
            revenue=_optional(data.get("revenue")),
            hub=_optional(data.get("hub")),
            time_format=_optional(data.get("time_format")),
            columns=dict(plan.columns),
            purposes=dict(plan.why),
            constants=constants,
            attributes=dict(plan.attributes),
            measures=dict(plan.measures),
            personal=frozenset(plan.personal),
            unused=tuple(plan.unused),
            source=source,
        )

    # -- checking the CSV ----------------------------------------------------------------------

    def named_columns(self) -> dict[str, str]:
        """Every CSV column the mapping names, with what it is for."""
        named = {self.id: "id", self.time: "time", self.label: "label"}
        if self.revenue:
            named[self.revenue] = "revenue"
        if self.hub:
            named[self.hub] = "hub"
        for target, column in self.columns.items():
            named.setdefault(column, self.purposes.get(target, target))
        for name, column in self.attributes.items():
            named.setdefault(column, self._purpose(ATTRIBUTES, name))
        for name, column in self.measures.items():
            named.setdefault(column, self._purpose(MEASURES, name))
        return named

    def _purpose(self, kind: str, name: str) -> str:
        return self.purposes.get(f"{kind}.{name}", f"{kind} {name}")

    def check_header(self, header: Iterable[str], data_source: str) -> None:
        """Raise one :class:`MappingError` naming every mapped column the CSV lacks."""
        present = set(header)
        missing = [
            f"{column} ({what})"
            for column, what in self.named_columns().items()
            if column not in present
        ]
        if missing:
            shown = ", ".join(sorted(present)) or "none"
            raise MappingError(
                f"mapping {self.source} names column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} that {data_source} does not have; its columns are: "
                f"{shown}"
            )

    # -- rows ----------------------------------------------------------------------------------

    def row(self, cells: Mapping[str, str | None], line: int) -> MappedRow:
        """Read one CSV row; a :class:`RowError` names the line and column that failed."""

        def cell(column: str) -> str:
            return (cells.get(column) or "").strip()

        event_id = cell(self.id)
        if not event_id:
            raise RowError(f"line {line}: column {self.id} (id) is empty", self.id)
        at = self._time(cell(self.time), line)
        label = _truth(cell(self.label), line, self.label)
        revenue = 0.0
        if self.revenue and cell(self.revenue):
            revenue = _number(cell(self.revenue), line, self.revenue, "revenue")
        fields = {
            "event_id": event_id,
            "event_time": at.isoformat(),
            "hub": cell(self.hub) if self.hub else "",
        }
        if not fields["hub"]:
            fields["hub"] = self.constants.get("hub", DEFAULT_HUB)
        fields.update((name, value) for name, value in self.constants.items() if name != "hub")
        types = _field_types(self.schema)
        for name, column in self.columns.items():
            text = cell(column)
            if not text and name in self.constants:
                continue  # an empty cell takes the mapping's default
            if _is_numeric(types[name]) and text:
                _number(text, line, column, self.purposes.get(name, name))
            fields[name] = _normalised(name, text)
        attributes: dict[str, str] = {}
        for name, column in self.attributes.items():
            if text := cell(column):
                if len(text) > MAX_ATTRIBUTE_CHARS:  # not quoted: it may be personal
                    raise RowError(
                        f"line {line}: column {column} ({self._purpose(ATTRIBUTES, name)}): "
                        f"longer than {MAX_ATTRIBUTE_CHARS} characters",
                        column,
                    )
                attributes[name] = text
        measures: dict[str, float] = {}
        for name, column in self.measures.items():
            if text := cell(column):
                measures[name] = _number(text, line, column, self._purpose(MEASURES, name))
        if attributes:
            fields[ATTRIBUTES] = map_cell(attributes)
        if measures:
            fields[MEASURES] = map_cell(measures)
        for personal in personal_fields(self.schema):
            fields.setdefault(personal, "")
        try:
            validate(self.schema, record_from_row(self.schema, fields))
        except CodecError as exc:
            name = exc.field or "?"
            column = self.columns.get(name, name)
            purpose = f" ({self.purposes[name]})" if name in self.purposes else ""
            raise RowError(f"line {line}: column {column}{purpose}: {exc}", column) from None
        return MappedRow(line, event_id, at, label, revenue, fields)

    def record(self, row: MappedRow) -> dict[str, Any]:
        """The event record of a mapped row, typed by the schema (not yet pseudonymised)."""
        return record_from_row(self.schema, row.fields)

    def _time(self, text: str, line: int) -> datetime:
        try:
            if self.time_format:
                parsed = datetime.strptime(text, self.time_format)  # noqa: DTZ007 - UTC below
                return (
                    parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
                )
            return parse_time(text)
        except ValueError:
            how = (
                f"time_format {self.time_format!r}"
                if self.time_format
                else ("ISO 8601 like 2021-03-04T10:15:00Z, or set time_format")
            )
            raise RowError(
                f"line {line}: column {self.time}: cannot read {_quote(text)} as a time ({how})",
                self.time,
            ) from None


def _column(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{what} must be a column name, got {value!r}")
    return value.strip()


def _optional(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _pairs(value: Any, what: str, listed: bool = True) -> Iterator[tuple[str, str]]:
    """``(name, column)`` pairs from a list of columns (name = column) or a mapping."""
    if value is None:
        return
    if listed and isinstance(value, list):
        for item in value:
            column = _column(item, what)
            yield column, column
    elif isinstance(value, Mapping):
        for name, column in value.items():
            yield str(name).strip(), ("" if column is None else str(column).strip())
    else:
        shape = (
            "a list of columns or a mapping {name: column}"
            if listed
            else ("a mapping {field: value}")
        )
        raise MappingError(f"{what} must be {shape}, got {type(value).__name__}")


class _Plan:
    """Schema field -> column, built while a mapping is checked."""

    def __init__(self, stream: str, what: str) -> None:
        self.stream = stream
        self.what = what
        self.schema = STREAM_SCHEMAS[stream]
        self.types = _field_types(self.schema)
        self.columns: dict[str, str] = {}
        self.why: dict[str, str] = {}
        self.unused: list[str] = []
        self.attributes: dict[str, str] = {}
        self.measures: dict[str, str] = {}
        self.personal: set[str] = set()
        self.open_maps = ATTRIBUTES in self.types and MEASURES in self.types

    def known(self, name: str, section: str) -> str:
        if name not in self.types or name in _RESERVED:
            raise MappingError(
                f"{self.what}: {section}: {name!r} is not a field of {self.schema}; fields "
                f"are {', '.join(n for n in self.types if n not in _RESERVED)}"
            )
        return name

    def put(self, target: str, column: str, why: str) -> None:
        if not column:
            raise MappingError(f"{self.what}: {why} must name a column")
        have = self.columns.get(target)
        if have is not None and have != column:
            raise MappingError(
                f"{self.what}: field {target} would come from two columns, {have} "
                f"({self.why[target]}) and {column} ({why})"
            )
        self.columns[target] = column
        self.why[target] = why

    def entity(self, role: str, column: str, data: Mapping[str, Any]) -> None:
        name = role.strip().lower()
        if name in _ROLE_ENTITIES:
            role_key = _ROLE_ENTITIES[name]
            target = ROLE_FIELDS[self.stream].get(role_key)
            if target is not None:  # HS and origin profiles come from the role column
                self.put(target, column, f"entity {role}")
                return
        name = ENTITY_ALIASES[self.stream].get(name, name)
        target = ENTITY_FIELDS[self.stream].get(name)
        if target is not None:
            self.put(target, column, f"entity {role}")
        elif self.open_maps:  # no identity field: a personal attribute, profiled as attr_<name>
            self.entry(ATTRIBUTES, self.entry_name(name, "entities"), column, f"entity {role}")
            self.personal.add(self.entry_name(name, "entities"))
        else:
            self.unused.append(f"{column} (entity {role})")

    def entry_name(self, name: str, section: str) -> str:
        lowered = name.strip().lower()
        if MAP_NAME.fullmatch(lowered) is None:
            raise MappingError(
                f"{self.what}: {section}: {name!r} cannot name one of the authority's own "
                f"fields: names are letters, digits and _ (matching {MAP_NAME.pattern})"
            )
        return lowered

    def entry(self, kind: str, name: str, column: str, why: str) -> None:
        if not column:
            raise MappingError(f"{self.what}: {why} must name a column")
        entries = self.attributes if kind == ATTRIBUTES else self.measures
        have = entries.get(name)
        if have is not None and have != column:
            raise MappingError(
                f"{self.what}: {kind} {name} would come from two columns, {have} "
                f"({self.why[f'{kind}.{name}']}) and {column} ({why})"
            )
        entries[name] = column
        self.why.setdefault(f"{kind}.{name}", why)

    def feature(self, kind: str, name: str, column: str) -> None:
        spec = self.types.get(name)
        if name in (ATTRIBUTES, MEASURES):
            raise MappingError(
                f"{self.what}: {kind}: {name} is the map of the authority's own fields; "
                "list each of its columns by name instead"
            )
        if spec is None and self.open_maps:
            entry = self.entry_name(name, kind)
            self.entry(
                ATTRIBUTES if kind == "categorical" else MEASURES,
                entry,
                column,
                f"{kind} {entry}" if entry != column else kind,
            )
            return
        if spec is None or name in ("event_id", "event_time", "hub"):
            self.unused.append(f"{column} ({kind})")
            return
        if kind == "numeric" and not _is_numeric(spec):
            raise MappingError(
                f"{self.what}: numeric: field {name} of {self.schema} is not a number; "
                "list it under categorical"
            )
        self.put(name, column, f"{kind} {name}" if name != column else kind)

    def personal_column(self, name: str, column: str) -> None:
        """A ``personal:`` column: a personal schema field by name, else a personal attribute."""
        if name in self.types and name not in _RESERVED:
            if name not in personal_fields(self.schema):
                raise MappingError(
                    f"{self.what}: personal: {name} is a field of {self.schema} that is not "
                    "personal; map it under fields: or categorical:"
                )
            self.put(name, column, "personal")
        elif self.open_maps:
            entry = self.entry_name(name, "personal")
            self.entry(ATTRIBUTES, entry, column, "personal")
            self.personal.add(entry)
        else:
            self.unused.append(f"{column} (personal)")

    def check_sizes(self) -> None:
        for kind, entries in ((ATTRIBUTES, self.attributes), (MEASURES, self.measures)):
            if len(entries) > MAX_MAP_ENTRIES:
                raise MappingError(
                    f"{self.what}: {len(entries)} columns would land in {kind}; an event "
                    f"carries at most {MAX_MAP_ENTRIES}"
                )

    def fallbacks(self, constants: Mapping[str, str]) -> dict[str, str]:
        """The neutral values of required fields nothing maps; raise if one has none."""
        personal = set(personal_fields(self.schema))
        lacking = []
        for name, spec in self.types.items():
            if name in ("event_id", "event_time", "hub") or "default" in spec:
                continue
            if name in self.columns or name in constants or name in personal:
                continue
            if name in FALLBACKS:
                continue
            lacking.append(name)
        if lacking:
            roles = {target: role for role, target in ROLE_FIELDS[self.stream].items()}
            hints = [f"{n} (role {roles[n]})" if n in roles else n for n in lacking]
            raise MappingError(
                f"{self.what}: stream {self.stream} needs {', '.join(hints)}: map a column "
                "to each (as a role, or under fields:) or give a constant under defaults:"
            )
        return {
            name: FALLBACKS[name]
            for name in self.types
            if name in FALLBACKS and name not in self.columns and "default" not in self.types[name]
        }


def _truth(text: str, line: int, column: str) -> bool:
    lowered = text.lower()
    if lowered in TRUTHY:
        return True
    if lowered in FALSY:
        return False
    raise RowError(
        f"line {line}: column {column} (label): cannot read {_quote(text)} as yes or no "
        "(1/0, true/false, yes/no)",
        column,
    )


def _number(text: str, line: int, column: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RowError(
            f"line {line}: column {column} ({what}): {_quote(text)} is not a number", column
        )
    return value


def _normalised(name: str, text: str) -> str:
    if name == "hs_code":  # 8517.12.00 and 8517 12 00 are the same code
        return "".join(ch for ch in text if ch.isdigit())
    if name in ("origin_country", "destination_country", "currency", "nationality"):
        return text.upper()
    return text


@dataclass
class ReadResult:
    """The readable rows of a CSV (in file order) and what was skipped, with why."""

    rows: list[MappedRow]
    total: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    skipped_by_column: Counter[str] = field(default_factory=Counter)


def read_rows(
    path: str | Path,
    mapping: ReplayMapping,
    max_bad_share: float = 0.01,
    max_problems: int = 20,
) -> ReadResult:
    """Read and check every row of a CSV; bad rows are skipped and counted.

    More than ``max_bad_share`` unreadable rows (and more than 10) means the mapping or the
    file is wrong, not a few rows: that is one :class:`MappingError` with the commonest
    problem, rather than a replay of what is left.
    """
    source = str(path)
    result = ReadResult(rows=[])
    first_problem: dict[str, str] = {}
    lines: dict[str, int] = {}  # id -> line: scorer and learner are idempotent by id
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            mapping.check_header(reader.fieldnames or [], source)
            for cells in reader:
                result.total += 1
                try:
                    row = mapping.row(cells, reader.line_num)
                    if row.event_id in lines:
                        raise RowError(
                            f"line {row.line}: column {mapping.id} (id): {row.event_id} is "
                            f"already the id of line {lines[row.event_id]}",
                            mapping.id,
                        )
                    lines[row.event_id] = row.line
                    result.rows.append(row)
                except RowError as exc:
                    result.skipped += 1
                    result.skipped_by_column[exc.column] += 1
                    first_problem.setdefault(exc.column, str(exc))
                    if len(result.problems) < max_problems:
                        result.problems.append(str(exc))
    except OSError as exc:
        raise MappingError(f"cannot read {source}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MappingError(f"{source} is not a UTF-8 CSV file: {exc}") from None
    if result.skipped > max(10, max_bad_share * result.total):
        column, count = result.skipped_by_column.most_common(1)[0]
        raise MappingError(
            f"{result.skipped} of {result.total} rows of {source} cannot be read (more than "
            f"{max_bad_share:.0%}); {count} of them because of column {column}, for example "
            f"{first_problem[column]}. Fix the mapping {mapping.source} or the file."
        )
    return result
