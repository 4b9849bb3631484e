"""Rules and watch lists that analysts edit in YAML, without touching code.

A rules file has two top-level keys::

    watchlists:                       # optional: named lists of values
      source_airports: [BOG, GRU]
    rules:
      - id: cash_short_notice         # stable id: the reason code is rule.<id>
        stream: passenger             # courier, postal, passenger, a list of them, or "*"
        when:                         # every condition must hold (see below)
          cash: true
          booking_lead_hours: {lt: 48}
          departure_airport: {in_watchlist: source_airports}
        severity: 0.7                 # 0..1, the rule's score when it fires
        always_inspect: false         # optional: true sends every hit to inspection
        reason: "Cash ticket booked {booking_lead_hours} h before departure"
        enabled: true                 # optional

A condition maps a field to operators: ``eq ne in not_in lt le gt ge between startswith
contains missing present in_watchlist not_in_watchlist``; a bare value means ``eq``. Lists
of values (``in``, ``startswith``, ``contains``) may be ``{watchlist: name}``. Conditions
combine with ``all: [...]``, ``any: [...]`` and ``not: {...}``; several fields in one
mapping must all hold.

Evaluation never raises on data: a condition on a missing field is false (except
``missing``), and so is a comparison between mismatched types (``"abc" < 3``). A list field
(route, itinerary) matches ``in``, ``startswith`` and ``contains`` when any element does.
Loading is strict instead: every problem in a file is reported at once, with its line, in
one :class:`RuleFileError`. Reasons are shown to officers verbatim; ``{name}``
placeholders may show features and non-personal record fields, never personal ones.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import string
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from numbers import Real
from pathlib import Path
from typing import Any

import yaml

from scorers.base import Features, Reason

__all__ = [
    "FEATURE_NAMES",
    "OPERATORS",
    "STREAMS",
    "Rule",
    "RuleBook",
    "RuleFileError",
    "RuleHit",
    "personal_fields",
    "record_fields",
]

STREAMS = ("courier", "postal", "passenger")

_NUMERIC_FEATURES = frozenset({
    "value_eur", "weight_kg", "value_per_kg", "log_value_per_kg", "value_per_item", "route_length",
    "description_length", "description_words", "completeness", "booking_lead_hours",
    "checkin_lead_hours", "itinerary_length", "baggage_count", "trips_last_year",
    "api_lead_minutes", "mandatory_fields_missing",
})  # fmt: skip
_TEXT_FEATURES = frozenset({
    "stream", "hub", "hs_chapter", "hs_heading", "hs6", "origin_country", "category", "carrier",
    "departure_airport", "payment_form", "description", "dispatch_airport", "dispatch_country",
    "transit_airports", "event_date",
})  # fmt: skip
# Flags whose encoding (bool or 0/1) is the feature extractor's choice: left untyped.
_FLAG_FEATURES = frozenset({
    "hs_missing", "transshipment", "aeo", "description_generic", "cash", "one_way",
    "broken_journey", "api_late", "currency_known",
})  # fmt: skip
FEATURE_NAMES: frozenset[str] = _NUMERIC_FEATURES | _TEXT_FEATURES | _FLAG_FEATURES
"""Feature names the feature extractors promise; rules may test them and reasons show them."""

_EVENT_SCHEMAS = (
    "riskstream.CourierConsignment.avsc",
    "riskstream.PostalItem.avsc",
    "riskstream.PassengerRecord.avsc",
)
_AVRO_NUMERIC = frozenset({"int", "long", "float", "double"})


@lru_cache(maxsize=1)
def _schema_fields() -> dict[str, tuple[str, bool]]:
    """Map each top-level event field to (kind, personal), read from the Avro contract."""
    fields: dict[str, tuple[str, bool]] = {}
    folder = resources.files("schemas").joinpath("avro")
    for name in _EVENT_SCHEMAS:
        schema = json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
        for field in schema.get("fields", []):
            kind = _avro_kind(field.get("type"))
            personal = bool(field.get("personal", False))
            known = fields.get(field["name"])
            fields[field["name"]] = (
                kind if known is None or known[0] == kind else "any",
                personal or (known is not None and known[1]),
            )
    return fields


def _avro_kind(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        kinds = {_avro_kind(t) for t in avro_type if t != "null"}
        return kinds.pop() if len(kinds) == 1 else "any"
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") == "decimal":
            return "number"
        if avro_type.get("type") == "enum":
            return "text"
        if avro_type.get("type") == "array":
            return "list"
        if avro_type.get("logicalType"):
            return "any"
        return _avro_kind(avro_type.get("type"))
    if avro_type in _AVRO_NUMERIC:
        return "number"
    if avro_type == "string":
        return "text"
    return "any"


def personal_fields() -> frozenset[str]:
    """Fields marked ``"personal": true`` in the event schemas.

    >>> sorted(personal_fields())[:3]
    ['addressee_address', 'addressee_name', 'addressee_phone']
    """
    return frozenset(name for name, (_, personal) in _schema_fields().items() if personal)


def record_fields() -> frozenset[str]:
    """Every top-level field of the courier, postal and passenger schemas."""
    return frozenset(_schema_fields())


def _field_kind(name: str) -> str:
    if name in _NUMERIC_FEATURES:
        return "number"
    if name in _TEXT_FEATURES:
        return "text"
    known = _schema_fields().get(name)
    return known[0] if known is not None else "any"


class RuleFileError(ValueError):
    """A rules file that cannot be used; ``problems`` lists every problem found, with lines."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        header = f"{source}: {count} problem{'s' if count != 1 else ''} in rules file"
        super().__init__("\n  ".join([header, *self.problems]))

    def __reduce__(self) -> tuple[type[RuleFileError], tuple[str, tuple[str, ...]]]:
        return (type(self), (self.source, self.problems))


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that fired: ``reason`` is the analyst's text with placeholders filled in."""

    id: str
    severity: float
    always_inspect: bool
    reason: str


# -- conditions ------------------------------------------------------------------------------

_ABSENT = object()


def _is_missing(value: Any) -> bool:
    if value is None or value is _ABSENT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return len(value) == 0
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, Real | Decimal) and not isinstance(value, bool)


def _ordered(value: Any, bound: Any) -> bool:
    """True when ``value`` and ``bound`` may be compared: both numbers or both text."""
    if _is_number(bound):
        return _is_number(value)
    return isinstance(value, str) and isinstance(bound, str)


def _op_in(value: Any, arg: frozenset[Any]) -> bool:
    if isinstance(value, list | tuple):
        return any(item in arg for item in value)
    return value in arg


def _op_startswith(value: Any, arg: tuple[str, ...]) -> bool:
    if isinstance(value, list | tuple):
        return any(isinstance(item, str) and item.startswith(arg) for item in value)
    return isinstance(value, str) and value.startswith(arg)


def _op_contains(value: Any, arg: tuple[str, ...]) -> bool:
    items = value if isinstance(value, list | tuple) else (value,)
    for item in items:
        if isinstance(item, str):
            folded = item.casefold()
            if any(needle in folded for needle in arg):
                return True
    return False


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda v, a: bool(v == a),
    "ne": lambda v, a: bool(v != a),
    "in": _op_in,
    "not_in": lambda v, a: not _op_in(v, a),
    "lt": lambda v, a: _ordered(v, a) and bool(v < a),
    "le": lambda v, a: _ordered(v, a) and bool(v <= a),
    "gt": lambda v, a: _ordered(v, a) and bool(v > a),
    "ge": lambda v, a: _ordered(v, a) and bool(v >= a),
    "between": lambda v, a: _ordered(v, a[0]) and bool(a[0] <= v <= a[1]),
    "startswith": _op_startswith,
    "contains": _op_contains,
}


@dataclass(frozen=True, slots=True)
class _Test:
    """``field op arg``; ``arg`` is already normalised (frozensets, tuples, casefolded text)."""

    field: str
    op: str
    arg: Any

    def test(self, x: Mapping[str, Any]) -> bool:
        value = x.get(self.field, _ABSENT)
        if self.op == "missing":
            return _is_missing(value) is self.arg
        if _is_missing(value):
            return False
        try:
            return _OPS[self.op](value, self.arg)
        except Exception:  # data never breaks scoring: odd values just do not match
            return False


@dataclass(frozen=True, slots=True)
class _All:
    parts: tuple[_Condition, ...]

    def test(self, x: Mapping[str, Any]) -> bool:
        return all(part.test(x) for part in self.parts)


@dataclass(frozen=True, slots=True)
class _Any:
    parts: tuple[_Condition, ...]

    def test(self, x: Mapping[str, Any]) -> bool:
        return any(part.test(x) for part in self.parts)


@dataclass(frozen=True, slots=True)
class _Not:
    part: _Condition

    def test(self, x: Mapping[str, Any]) -> bool:
        return not self.part.test(x)


_Condition = _Test | _All | _Any | _Not


# -- reasons ---------------------------------------------------------------------------------


def _show(value: Any, spec: str) -> str:
    if _is_missing(value):
        return "n/a"
    if spec:
        try:
            return format(value, spec)
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and math.isfinite(value):
        if value.is_integer():
            return str(int(value))
        return format(round(value, 2), ".12g") if abs(value) >= 1 else format(value, ".2g")
    return str(value)


@dataclass(frozen=True, slots=True)
class _Template:
    """A reason text split into literal parts and ``{field:spec}`` placeholders."""

    parts: tuple[tuple[str, str | None, str], ...]

    def render(self, x: Mapping[str, Any]) -> str:
        out: list[str] = []
        for literal, field, spec in self.parts:
            out.append(literal)
            if field is not None:
                out.append(_show(x.get(field), spec))
        return "".join(out)


@dataclass(frozen=True, slots=True)
class Rule:
    """One loaded rule; ``line`` is where it starts in its file."""

    id: str
    streams: frozenset[str] | None
    when: _Condition
    severity: float
    always_inspect: bool
    reason: str
    enabled: bool
    line: int
    template: _Template

    def fires(self, x: Mapping[str, Any]) -> bool:
        """Whether the rule applies to ``x``'s stream and its condition holds."""
        stream = x.get("stream")
        if self.streams is not None and not (isinstance(stream, str) and stream in self.streams):
            return False
        return self.enabled and self.when.test(x)

    def hit(self, x: Mapping[str, Any]) -> RuleHit:
        return RuleHit(self.id, self.severity, self.always_inspect, self.template.render(x))


# -- loading ---------------------------------------------------------------------------------

_RULE_KEYS = frozenset(
    {"id", "stream", "when", "severity", "always_inspect", "reason", "enabled", "description"}
)
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_LIST_OPS = frozenset({"in", "not_in", "startswith", "contains"})
_ORDER_OPS = frozenset({"lt", "le", "gt", "ge"})
OPERATORS = frozenset({*_OPS, "missing", "present", "in_watchlist", "not_in_watchlist"})
_Scalar = str | int | float | bool


class _Loader:
    """Builds rules from a composed YAML tree, collecting every problem with its line."""

    def __init__(self, source: str, extra_fields: Iterable[str]) -> None:
        self.source = source
        self.problems: list[tuple[int, str]] = []
        self.ids: dict[str, int] = {}
        self.watchlists: dict[str, frozenset[_Scalar]] = {}
        self.fields = FEATURE_NAMES | record_fields() | frozenset(extra_fields)
        self.shown = self.fields - personal_fields()
        self.rule = ""
        self._constructor = yaml.SafeLoader("")

    def problem(self, node: yaml.Node, message: str) -> None:
        line = node.start_mark.line + 1
        where = f"{self.source} line {line}: " + (f"{self.rule}: " if self.rule else "")
        self.problems.append((line, where + message))

    def report(self) -> list[str]:
        return [message for _, message in sorted(self.problems, key=lambda p: p[0])]

    def value(self, node: yaml.Node) -> Any:
        """The plain Python value of ``node``; problems become errors, never exceptions."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            self.problem(node, f"cannot read value: {exc}")
            return None

    def pairs(self, node: yaml.MappingNode) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """Key/value pairs of a mapping, reporting non-text and duplicate keys."""
        seen: set[str] = set()
        pairs: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.problem(key_node, "keys must be plain names")
                continue
            if key in seen:
                self.problem(key_node, f"'{key}' appears twice")
                continue
            seen.add(key)
            pairs.append((key, key_node, value_node))
        return pairs

    def check_tags(self, root: yaml.Node | None) -> None:
        """Refuse explicit tags such as !!python/object: rules are plain data."""
        allowed = {tag for tag in yaml.SafeLoader.yaml_constructors if tag is not None}
        pending, seen = [root], set()
        while pending:
            node = pending.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if node.tag not in allowed:
                self.problem(node, f"unsupported YAML tag {node.tag!r}: rules are plain data")
            elif isinstance(node, yaml.SequenceNode):
                pending.extend(node.value)
            elif isinstance(node, yaml.MappingNode):
                pending.extend(item for pair in node.value for item in pair)

    # document ---------------------------------------------------------------------------

    def document(self, root: yaml.Node | None) -> list[Rule]:
        if root is None:
            self.problems.append((1, f"{self.source} line 1: empty file, expected 'rules:'"))
            return []
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "expected a mapping with 'watchlists:' and 'rules:'")
            return []
        sections = {key: (key_node, value) for key, key_node, value in self.pairs(root)}
        for key, (key_node, _) in sections.items():
            if key not in ("watchlists", "rules"):
                self.problem(key_node, f"unknown section '{key}' (expected watchlists, rules)")
        if "watchlists" in sections:
            self.read_watchlists(sections["watchlists"][1])
        if "rules" not in sections:
            self.problem(root, "missing 'rules:' section")
            return []
        rules_node = sections["rules"][1]
        if isinstance(rules_node, yaml.ScalarNode) and rules_node.value in ("", "~", "null"):
            return []
        if not isinstance(rules_node, yaml.SequenceNode):
            self.problem(rules_node, "'rules' must be a list of rules")
            return []
        rules = [self.read_rule(rule_node, i) for i, rule_node in enumerate(rules_node.value, 1)]
        self.rule = ""
        return [rule for rule in rules if rule is not None]

    def read_watchlists(self, node: yaml.Node) -> None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "'watchlists' must map names to lists of values")
            return
        for name, key_node, value_node in self.pairs(node):
            if not _NAME.match(name):
                self.problem(key_node, f"watchlist name '{name}' must be letters, digits, _")
            values = self.value(value_node)
            if values is None:
                values = []
            if not isinstance(values, list) or not all(
                isinstance(v, _Scalar) and not isinstance(v, bool) for v in values
            ):
                self.problem(
                    value_node,
                    f"watchlist '{name}' must be a list of plain values "
                    "(quote codes such as 'NO' or 'ON' that YAML reads as true/false)",
                )
                continue
            self.watchlists[name] = frozenset(values)

    # rules ------------------------------------------------------------------------------

    def read_rule(self, node: yaml.Node, index: int) -> Rule | None:
        self.rule = f"rule #{index}"
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "a rule must be a mapping with id, stream, when, severity, reason")
            return None
        fields = {key: (key_node, value) for key, key_node, value in self.pairs(node)}
        before = len(self.problems)
        rule_id = self.read_id(node, fields)
        for key, (key_node, _) in fields.items():
            if key not in _RULE_KEYS:
                self.problem(key_node, f"unknown key '{key}'{_suggest(key, _RULE_KEYS)}")
        for required in ("stream", "when", "severity", "reason"):
            if required not in fields:
                self.problem(node, f"missing '{required}'")
        streams = self.read_streams(fields["stream"][1]) if "stream" in fields else None
        when = self.read_when(fields["when"][1]) if "when" in fields else None
        severity = self.read_severity(fields["severity"][1]) if "severity" in fields else 0.0
        always = self.read_flag(fields, "always_inspect", default=False)
        enabled = self.read_flag(fields, "enabled", default=True)
        reason, template = ("", None)
        if "reason" in fields:
            reason, template = self.read_reason(fields["reason"][1])
        if "description" in fields and not isinstance(self.value(fields["description"][1]), str):
            self.problem(fields["description"][1], "'description' must be text")
        if len(self.problems) > before or when is None or template is None:
            return None
        return Rule(
            id=rule_id,
            streams=streams,
            when=when,
            severity=severity,
            always_inspect=always,
            reason=reason,
            enabled=enabled,
            line=node.start_mark.line + 1,
            template=template,
        )

    def read_id(self, node: yaml.Node, fields: Mapping[str, tuple[yaml.Node, yaml.Node]]) -> str:
        if "id" not in fields:
            self.problem(node, "missing 'id'")
            return ""
        value_node = fields["id"][1]
        rule_id = self.value(value_node)
        if not isinstance(rule_id, str) or not _ID.match(rule_id):
            self.problem(value_node, "'id' must be text of letters, digits, '_', '.', '-'")
            return ""
        self.rule = f"rule '{rule_id}'"
        line = node.start_mark.line + 1
        if rule_id in self.ids:
            self.problem(value_node, f"duplicate id, first defined on line {self.ids[rule_id]}")
        else:
            self.ids[rule_id] = line
        return rule_id

    def read_streams(self, node: yaml.Node) -> frozenset[str] | None:
        value = self.value(node)
        names = value if isinstance(value, list) else [value]
        if names == ["*"]:
            return None
        bad = [n for n in names if n not in STREAMS]
        if bad or not names:
            self.problem(
                node,
                f"unknown stream {(bad[0] if bad else value)!r}: use one of "
                f'{", ".join(STREAMS)}, a list of them, or "*" (quoted)',
            )
            return None
        return frozenset(names)

    def read_severity(self, node: yaml.Node) -> float:
        value = self.value(node)
        if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
            self.problem(node, f"severity must be a number in [0, 1], got {value!r}")
            return 0.0
        return float(value)

    def read_flag(
        self, fields: Mapping[str, tuple[yaml.Node, yaml.Node]], key: str, default: bool
    ) -> bool:
        if key not in fields:
            return default
        value = self.value(fields[key][1])
        if not isinstance(value, bool):
            self.problem(fields[key][1], f"'{key}' must be true or false, got {value!r}")
            return default
        return value

    def read_reason(self, node: yaml.Node) -> tuple[str, _Template | None]:
        text = self.value(node)
        if not isinstance(text, str) or not text.strip():
            self.problem(node, f"'reason' must be a non-empty text, got {text!r} (quote it)")
            return "", None
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError:
            self.problem(node, "unbalanced braces in reason: write {{ and }} for literal braces")
            return text, None
        parts: list[tuple[str, str | None, str]] = []
        ok = True
        for literal, field, spec, conversion in parsed:
            if field is None:
                parts.append((literal, None, ""))
                continue
            if field in personal_fields():
                self.problem(node, f"reason may not show personal field '{field}'")
                ok = False
            elif field not in self.shown:
                self.problem(
                    node, f"reason shows unknown field '{{{field}}}'{_suggest(field, self.shown)}"
                )
                ok = False
            elif conversion or (spec and "{" in spec):
                self.problem(node, f"placeholder '{{{field}}}' may only carry a format like :.0f")
                ok = False
            parts.append((literal, field, spec or ""))
        return text, _Template(tuple(parts)) if ok else None

    # conditions -------------------------------------------------------------------------

    def read_when(self, node: yaml.Node) -> _Condition | None:
        if isinstance(node, yaml.SequenceNode):
            parts = [self.read_condition(item) for item in node.value]
            if not parts:
                self.problem(node, "'when' is empty")
                return None
            return _All(tuple(p for p in parts if p is not None)) if all(parts) else None
        return self.read_condition(node)

    def read_condition(self, node: yaml.Node) -> _Condition | None:
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.problem(node, "a condition must be a mapping like {field: {op: value}}")
            return None
        parts: list[_Condition | None] = []
        for key, key_node, value_node in self.pairs(node):
            if key in ("all", "any"):
                if not isinstance(value_node, yaml.SequenceNode) or not value_node.value:
                    self.problem(value_node, f"'{key}' needs a non-empty list of conditions")
                    parts.append(None)
                    continue
                items = [self.read_condition(item) for item in value_node.value]
                done = tuple(i for i in items if i is not None)
                ok = len(done) == len(items)
                parts.append((_All(done) if key == "all" else _Any(done)) if ok else None)
            elif key == "not":
                inner = self.read_condition(value_node)
                parts.append(_Not(inner) if inner is not None else None)
            else:
                parts.append(self.read_field(key, key_node, value_node))
        if not all(parts):
            return None
        done = tuple(p for p in parts if p is not None)
        return done[0] if len(done) == 1 else _All(done)

    def read_field(self, field: str, key_node: yaml.Node, node: yaml.Node) -> _Condition | None:
        if field not in self.fields:
            self.problem(key_node, f"unknown field '{field}'{_suggest(field, self.fields)}")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self.read_test(field, "eq", node)
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.problem(node, f"field '{field}' needs {{operator: value}} or a single value")
            return None
        tests: list[_Condition | None] = []
        for op, op_node, arg_node in self.pairs(node):
            if op not in OPERATORS:
                self.problem(op_node, f"unknown operator '{op}'{_suggest(op, OPERATORS)}")
                tests.append(None)
                continue
            tests.append(self.read_test(field, op, arg_node))
        if not all(tests):
            return None
        done = tuple(t for t in tests if t is not None)
        return done[0] if len(done) == 1 else _All(done)

    def read_test(self, field: str, op: str, node: yaml.Node) -> _Test | None:
        kind = _field_kind(field)
        if op in ("missing", "present"):
            flag = self.value(node)
            if not isinstance(flag, bool):
                self.problem(node, f"'{op}' takes true or false")
                return None
            return _Test(field, "missing", flag if op == "missing" else not flag)
        if op in ("in_watchlist", "not_in_watchlist"):
            values = self.watchlist(self.value(node), node)
            if values is None or not self.check_kind(field, kind, op, values, node):
                return None
            return _Test(field, "in" if op == "in_watchlist" else "not_in", values)
        arg = self.value(node)
        if op in _LIST_OPS:
            listed = self.list_arg(op, arg, node)
            if listed is None or not self.check_kind(field, kind, op, listed, node):
                return None
            if op in ("in", "not_in"):
                return _Test(field, op, frozenset(listed))
            texts = tuple(str(t) for t in listed)
            return _Test(
                field, op, tuple(t.casefold() for t in texts) if op == "contains" else texts
            )
        if op == "between":
            if (
                not isinstance(arg, list)
                or len(arg) != 2
                or not all(_is_number(b) for b in arg)
                or arg[0] > arg[1]
            ):
                self.problem(node, "'between' takes [low, high] numbers with low <= high")
                return None
            if not self.check_kind(field, kind, op, arg, node):
                return None
            return _Test(field, op, (arg[0], arg[1]))
        if op in _ORDER_OPS:
            if not (_is_number(arg) or isinstance(arg, str)):
                self.problem(node, f"'{op}' takes a number, got {arg!r}")
                return None
        elif not isinstance(arg, _Scalar):  # eq, ne
            hint = " (use 'in' for a list, 'missing' for null)"
            self.problem(node, f"'{op}' takes a single value, got {arg!r}{hint}")
            return None
        if not self.check_kind(field, kind, op, [arg], node):
            return None
        return _Test(field, op, arg)

    def watchlist(self, name: Any, node: yaml.Node) -> frozenset[_Scalar] | None:
        if not isinstance(name, str) or name not in self.watchlists:
            known = ", ".join(sorted(self.watchlists)) or "none defined"
            hint = _suggest(str(name), self.watchlists)
            self.problem(node, f"unknown watchlist '{name}'{hint} (known: {known})")
            return None
        return self.watchlists[name]

    def list_arg(self, op: str, arg: Any, node: yaml.Node) -> Collection[_Scalar] | None:
        if isinstance(arg, dict):
            if set(arg) != {"watchlist"}:
                self.problem(node, f"'{op}' takes a list or {{watchlist: name}}")
                return None
            return self.watchlist(arg["watchlist"], node)
        values = arg if isinstance(arg, list) else [arg]
        if not values or not all(isinstance(v, _Scalar) for v in values):
            self.problem(node, f"'{op}' takes a non-empty list of plain values")
            return None
        if op in ("startswith", "contains") and not all(isinstance(v, str) for v in values):
            self.problem(node, f"'{op}' takes text: quote codes like '85'")
            return None
        return values

    def check_kind(
        self, field: str, kind: str, op: str, values: Iterable[Any], node: yaml.Node
    ) -> bool:
        """Catch the classic mistakes: unquoted HS codes, numbers compared to text."""
        values = list(values)
        if kind == "text" and any(not isinstance(v, str) for v in values):
            self.problem(
                node, f"field '{field}' holds text: quote the values ('22' not 22, 'NO' not NO)"
            )
            return False
        if kind == "number" and (
            op in ("startswith", "contains") or any(not _is_number(v) for v in values)
        ):
            self.problem(node, f"field '{field}' holds numbers: '{op}' needs numbers here")
            return False
        return True


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _compile(
    text: str, source: str, extra_fields: Iterable[str]
) -> tuple[tuple[Rule, ...], dict[str, frozenset[_Scalar]]]:
    loader = _Loader(source, extra_fields)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where, hint = source, ""
        if mark is not None:
            where = f"{source} line {mark.line + 1}"
            lines = text.splitlines()
            if mark.line < len(lines) and "*" in lines[mark.line]:
                hint = ' (a bare * must be quoted: "*")'
        raise RuleFileError(source, [f"{where}: not valid YAML: {exc.problem}{hint}"]) from None
    except yaml.YAMLError as exc:
        raise RuleFileError(source, [f"{source}: not valid YAML: {exc}"]) from None
    loader.check_tags(root)
    rules = loader.document(root) if not loader.problems else []
    if loader.problems:
        raise RuleFileError(source, loader.report())
    return tuple(rules), loader.watchlists


# -- the rule book ---------------------------------------------------------------------------


class RuleBook:
    """Analyst rules as a scorer: ``score_one`` is the highest severity among the hits.

    Build it with :meth:`from_yaml` (the packaged ``rules/default.yaml`` when no path is
    given) or :meth:`from_text`. Rules do not learn; ``learn_one`` is there so that a rule
    book fits anywhere a scorer does.

    Parameters
    ----------
    text
        The rules file's content.
    source
        Where the text came from, named in every load error.
    extra_fields
        Field names to accept besides :data:`FEATURE_NAMES` and the event schema fields.

    Examples
    --------
    >>> book = RuleBook.from_text('''
    ... watchlists:
    ...   source_airports: [BOG, GRU]
    ... rules:
    ...   - id: cash_short_notice
    ...     stream: passenger
    ...     when:
    ...       cash: true
    ...       booking_lead_hours: {lt: 48}
    ...       departure_airport: {in_watchlist: source_airports}
    ...     severity: 0.7
    ...     reason: "Cash ticket booked {booking_lead_hours} h ahead"
    ... ''')
    >>> x = {"stream": "passenger", "cash": True, "booking_lead_hours": 20.0,
    ...      "departure_airport": "GRU"}
    >>> book.score_one(x)
    0.7
    >>> book.explain_one(x)
    [Reason(code='rule.cash_short_notice', text='Cash ticket booked 20 h ahead', weight=0.7)]
    >>> book.score_one({"stream": "passenger", "cash": True})
    0.0
    """

    def __init__(
        self, text: str, source: str = "<string>", extra_fields: Iterable[str] | None = None
    ) -> None:
        self.text = text
        self.source = source
        self.extra_fields = tuple(extra_fields or ())
        self._rules, self._watchlists = _compile(text, source, self.extra_fields)
        self._any_stream = tuple(r for r in self._rules if r.enabled and r.streams is None)
        self._by_stream = {
            stream: tuple(
                r for r in self._rules if r.enabled and (r.streams is None or stream in r.streams)
            )
            for stream in STREAMS
        }

    @classmethod
    def from_yaml(
        cls, path: str | Path | None = None, extra_fields: Iterable[str] | None = None
    ) -> RuleBook:
        """Load a rules file; ``None`` loads the packaged ``rules/default.yaml``."""
        if path is None:
            default = resources.files("scorers").joinpath("rules", "default.yaml")
            return cls(default.read_text(encoding="utf-8"), "default.yaml", extra_fields)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleFileError(str(path), [f"{path}: cannot read rules file: {exc}"]) from None
        return cls(text, str(path), extra_fields)

    @classmethod
    def from_text(
        cls, text: str, source: str = "<string>", extra_fields: Iterable[str] | None = None
    ) -> RuleBook:
        """Load rules from YAML text; ``source`` names it in errors."""
        return cls(text, source, extra_fields)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule in file order, disabled ones included."""
        return self._rules

    @property
    def watchlists(self) -> dict[str, frozenset[str | int | float | bool]]:
        return dict(self._watchlists)

    def hits(self, x: Mapping[str, Any]) -> list[RuleHit]:
        """The rules that fire on ``x``, highest severity first (file order among equals)."""
        found = [rule.hit(x) for rule in self._applicable(x) if rule.when.test(x)]
        found.sort(key=lambda hit: -hit.severity)
        return found

    def score_one(self, x: Features) -> float:
        return max(
            (rule.severity for rule in self._applicable(x) if rule.when.test(x)), default=0.0
        )

    def explain_one(self, x: Features) -> list[Reason]:
        return [Reason(f"rule.{h.id}", h.reason, h.severity) for h in self.hits(x)]

    def always_inspect(self, x: Mapping[str, Any]) -> bool:
        """Whether any firing rule demands physical inspection whatever the budget."""
        return any(r.always_inspect and r.when.test(x) for r in self._applicable(x))

    def learn_one(self, x: Features, y: Any = None, w: float = 1.0) -> None:
        """Rules do not learn: analysts change them in the YAML file."""

    def _applicable(self, x: Mapping[str, Any]) -> tuple[Rule, ...]:
        stream = x.get("stream")
        if isinstance(stream, str):
            return self._by_stream.get(stream, self._any_stream)
        return self._any_stream

    def __repr__(self) -> str:
        active = sum(r.enabled for r in self._rules)
        lists = len(self._watchlists)
        return f"RuleBook(source={self.source!r}, rules={active}, watchlists={lists})"
