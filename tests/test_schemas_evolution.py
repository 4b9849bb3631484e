"""Schema catalogue and evolution: every shipped version stays readable (BACKWARD_TRANSITIVE).

The golden payloads in ``tests/data/golden/v1.json`` were written once by the v1 codec; they
must decode forever. To add a version's goldens, run this file as a script
(``python tests/test_schemas_evolution.py v2``): it writes the current examples, never
overwrites an existing file.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from schema_examples import example

from schemas import SCHEMA_NAMES, AvroCodec, CodecError, LocalRegistry, catalog
from schemas.registry import canonical_form, fingerprint_id

GOLDEN_DIR = Path(__file__).parent / "data" / "golden"
CODEC = AvroCodec()


# --- the catalogue ---------------------------------------------------------------------------


def test_every_avsc_file_is_a_known_schema() -> None:
    files = {p.name for p in catalog.AVRO_DIR.glob("*.avsc")}
    assert files == {f"riskstream.{name}.avsc" for name in SCHEMA_NAMES}
    assert set(catalog.TOPICS) == set(SCHEMA_NAMES)


def _named_types(schema: Any) -> list[dict[str, Any]]:
    if isinstance(schema, list):
        return [t for branch in schema for t in _named_types(branch)]
    if not isinstance(schema, dict):
        return []
    found = [schema] if schema.get("type") in ("record", "enum", "fixed") else []
    for field in schema.get("fields", []):
        found += _named_types(field["type"])
    for key in ("items", "values"):
        found += _named_types(schema.get(key))
    if isinstance(schema.get("type"), dict | list):
        found += _named_types(schema["type"])
    return found


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_record_and_field_has_a_doc(name: str) -> None:
    for named in _named_types(catalog.raw_schema(name)):
        assert named.get("doc"), named["name"]
        for field in named.get("fields", []):
            assert field.get("doc"), f"{named['name']}.{field['name']}"


def test_shared_enums_are_identical_wherever_they_appear() -> None:
    seen: dict[str, str] = {}
    for name in SCHEMA_NAMES:
        for named in _named_types(catalog.raw_schema(name)):
            form = canonical_form(named | {"namespace": "riskstream"})
            assert seen.setdefault(named["name"], form) == form, named["name"]


def test_personal_fields_come_from_the_schema_markers() -> None:
    for name in SCHEMA_NAMES:
        marked = [f["name"] for f in catalog.raw_schema(name)["fields"] if f.get("personal")]
        assert list(catalog.personal_fields(name)) == marked
        for field in catalog.raw_schema(name)["fields"]:
            if field["name"] in marked:
                assert field["type"] in ("string", ["null", "string"])
    assert len(catalog.personal_fields("CourierConsignment")) == 8
    assert "document_number" in catalog.personal_fields("PassengerRecord")
    for name in ("InspectionOutcome", "RiskVerdict", "ScoredRecord", "DeadLetter"):
        assert catalog.personal_fields(name) == ()


def test_schema_ids_ignore_docs_but_not_logical_types() -> None:
    raw = catalog.raw_schema("InspectionOutcome")
    redocumented = catalog.raw_schema("InspectionOutcome")
    redocumented["doc"] = "reworded"
    redocumented["fields"][0]["doc"] = "reworded too"
    assert fingerprint_id(redocumented) == fingerprint_id(raw)
    rescaled = catalog.raw_schema("InspectionOutcome")
    rescaled["fields"][4]["type"]["scale"] = 3  # recovered_amount: cents -> mills
    assert fingerprint_id(rescaled) != fingerprint_id(raw)


def test_unknown_schema_id_is_reported() -> None:
    with pytest.raises(CodecError) as info:
        LocalRegistry().schema_for_id(7)
    assert info.value.kind == "unknown_schema"


# --- every shipped version stays readable ----------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_shipped_version_is_read_by_the_current_schema(name: str) -> None:
    versions = catalog.history(name)
    assert versions, f"{name} has no v1 golden copy in schemas/avro/history/"
    # Whatever is current has shipped: a changed schema needs its next history copy.
    assert canonical_form(versions[-1]) == canonical_form(catalog.parsed_schema(name))
    defaults = {f["name"]: f.get("default") for f in catalog.raw_schema(name)["fields"]}
    for old in versions:
        old_fields = [f["name"] for f in old["fields"]]
        record = {k: v for k, v in example(name).items() if k in old_fields}
        body = io.BytesIO()
        schemaless_writer(body, old, record)
        payload = b"\x00" + fingerprint_id(old).to_bytes(4, "big") + body.getvalue()
        expected = {field: record.get(field, defaults[field]) for field in defaults}
        assert CODEC.decode(name, payload) == expected


def _tag(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tag(v) for v in value]
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"$decimal"}:
            return Decimal(value["$decimal"])
        if value.keys() == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        if value.keys() == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def _golden_files() -> list[Path]:
    return sorted(GOLDEN_DIR.glob("v*.json"))


@pytest.mark.parametrize("path", _golden_files(), ids=lambda p: p.stem)
def test_golden_payloads_decode_to_their_records(path: Path) -> None:
    golden = json.loads(path.read_text(encoding="utf-8"))
    assert set(golden) <= set(SCHEMA_NAMES)
    for name, entry in golden.items():
        payload = bytes.fromhex(entry["hex"])
        defaults = {f["name"]: f.get("default") for f in catalog.raw_schema(name)["fields"]}
        expected = {**defaults, **_untag(entry["record"])}  # newer fields take their default
        assert CODEC.decode(name, payload) == expected, name


def test_v1_goldens_cover_every_schema_and_pin_the_ids() -> None:
    golden = json.loads((GOLDEN_DIR / "v1.json").read_text(encoding="utf-8"))
    assert set(golden) == set(SCHEMA_NAMES)
    for name, entry in golden.items():
        v1 = catalog.history(name)[0]
        # Ids are fingerprints: this process computes the id another process wrote.
        assert bytes.fromhex(entry["hex"])[1:5] == fingerprint_id(v1).to_bytes(4, "big")


# --- a v2 with an added field, both directions -----------------------------------------------


def test_added_field_with_default_keeps_old_and_new_readers_working() -> None:
    v2_raw = catalog.raw_schema("CourierConsignment")
    v2_raw["fields"].append({
        "name": "customs_procedure", "type": "string", "default": "4000",
        "doc": "Customs procedure code requested (added in v2).",
    })
    v2 = parse_schema(v2_raw)
    current = catalog.history("CourierConsignment")[-1]
    record = example("CourierConsignment")

    # Old bytes, new reader: the new field takes its default.
    old_payload = CODEC.encode("CourierConsignment", record)
    assert old_payload[1:5] == fingerprint_id(current).to_bytes(4, "big")
    read = schemaless_reader(io.BytesIO(old_payload[5:]), current, v2)
    assert read == {**record, "customs_procedure": "4000"}

    # New bytes, old reader: a registry that knows v2 lets the current codec skip the field.
    registry = LocalRegistry()
    v2_id = registry.register(catalog.subject("CourierConsignment"), v2_raw)
    assert v2_id != fingerprint_id(current)
    body = io.BytesIO()
    schemaless_writer(body, v2, {**record, "customs_procedure": "4200"})
    new_payload = b"\x00" + v2_id.to_bytes(4, "big") + body.getvalue()
    assert AvroCodec(registry=registry).decode("CourierConsignment", new_payload) == record


@pytest.mark.parametrize("name", ["RiskVerdict", "ScoredRecord"])
def test_green_lane_kinds_read_as_none_by_readers_of_v3(name: str) -> None:
    """v4 added the green lane's selection kinds: a border system still reading with v3
    sees a green release or audit as kind none (the enum's default), level unchanged."""
    v2, v3 = catalog.history(name)[2], catalog.history(name)[3]
    for kind, level in (("green", "release"), ("green_audit", "physical_inspection")):
        record = {**example(name), "selection_kind": kind, "level": level}
        payload = CODEC.encode(name, record)
        assert payload[1:5] == fingerprint_id(v3).to_bytes(4, "big")
        assert CODEC.decode(name, payload)["selection_kind"] == kind
        old_fields = {f["name"] for f in v2["fields"]}
        read = schemaless_reader(io.BytesIO(payload[5:]), v3, v2)
        assert read == {k: v for k, v in {**record, "selection_kind": "none"}.items()
                        if k in old_fields}


def test_added_field_without_default_breaks_old_data_as_a_schema_error() -> None:
    # Why every new field needs a default: a writer that lacks a field the reader requires.
    v0_raw = catalog.raw_schema("PostalItem")
    v0_raw["fields"] = [f for f in v0_raw["fields"] if f["name"] != "currency"]
    registry = LocalRegistry()
    v0_id = registry.register(catalog.subject("PostalItem"), v0_raw)
    record = {k: v for k, v in example("PostalItem").items() if k != "currency"}
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(v0_raw), record)
    with pytest.raises(CodecError) as info:
        AvroCodec(registry=registry).decode(
            "PostalItem", b"\x00" + v0_id.to_bytes(4, "big") + body.getvalue()
        )
    assert info.value.kind == "schema"
    assert "not compatible" in str(info.value)


def write_goldens(version: str) -> Path:
    """Write the current examples as golden payloads of ``version`` (never overwrites)."""
    path = GOLDEN_DIR / f"{version}.json"
    if path.exists():
        raise SystemExit(f"{path} exists; golden payloads are never rewritten")
    golden = {
        name: {"hex": CODEC.encode(name, example(name)).hex(), "record": _tag(example(name))}
        for name in SCHEMA_NAMES
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_goldens(sys.argv[1]))
