"""Replay mappings: any CSV onto a stream's events, with one clear message per problem."""

from __future__ import annotations

import csv
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from schemas import AvroCodec
from simulator import DEFAULT_RATES, HubWorld, export_csv, scale_rates
from streams.replay.mapping import MappingError, ReplayMapping, read_rows
from streams.topology import STREAM_SCHEMAS

DEPLOY = Path(__file__).parent.parent / "deploy" / "replay"
START = datetime(2026, 1, 1, tzinfo=UTC)

# A customs-style file with its own column names, nothing like the schema's.
CUSTOMS = {
    "stream": "courier",
    "id": "decl_no",
    "time": "registered",
    "label": "fraud",
    "revenue": "recovered",
    "hub": "office",
    "hs_code": "tariff",
    "value": "cif_eur",
    "mass": "net_kg",
    "origin": "origin",
    "description": "goods",
    "entities": {"importer": "importer_eori", "declarant": "broker", "seller": "seller"},
    "categorical": ["incoterms", "procedure"],
    "numeric": {"pieces": "packages", "tax_rate": "tax_rate"},
}
HEADER = [
    "decl_no",
    "registered",
    "fraud",
    "recovered",
    "office",
    "tariff",
    "cif_eur",
    "net_kg",
    "origin",
    "goods",
    "importer_eori",
    "broker",
    "seller",
    "incoterms",
    "procedure",
    "packages",
    "tax_rate",
    "an_ignored_column",
]


def customs_row(i: int, **changes: str) -> dict[str, str]:
    row = {
        "decl_no": f"D{i:05d}",
        "registered": f"2021-03-{1 + i % 28:02d} 10:{i % 60:02d}:00",
        "fraud": "yes" if i % 9 == 0 else "no",
        "recovered": "120.5" if i % 9 == 0 else "",
        "office": "hub_BRU",
        "tariff": "8517.12.00",
        "cif_eur": f"{10 + i}.50",
        "net_kg": "0.8",
        "origin": "cn",
        "goods": "mobile phones",
        "importer_eori": f"BE{i % 13:010d}",
        "broker": "",
        "seller": f"S{i % 7}",
        "incoterms": "DAP",
        "procedure": "4000",
        "packages": "2",
        "tax_rate": "0.2",
        "an_ignored_column": "whatever",
    }
    row.update(changes)
    return row


def write(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def mapping_file(path: Path, **changes: object) -> Path:
    path.write_text(yaml.safe_dump({**CUSTOMS, **changes}), encoding="utf-8")
    return path


def test_a_customs_file_maps_onto_events_the_worker_accepts(tmp_path: Path) -> None:
    mapping = ReplayMapping.from_yaml(mapping_file(tmp_path / "m.yaml"))
    data = write(tmp_path / "d.csv", [customs_row(i) for i in range(40)])
    read = read_rows(data, mapping)
    assert (read.total, read.skipped, len(read.rows)) == (40, 0, 40)
    # roles and entities land on schema fields; aliases map importer/seller/broker
    assert mapping.columns["declared_value"] == "cif_eur"
    assert mapping.columns["consignee_id"] == "importer_eori"
    assert mapping.columns["shipper_id"] == "seller"
    assert mapping.columns["declarant_id"] == "broker"
    assert mapping.columns["pieces"] == "packages"
    # the authority's own fields land in the open maps: nothing is left unused
    assert mapping.attributes == {"procedure": "procedure"}
    assert mapping.measures == {"tax_rate": "tax_rate"}
    assert mapping.unused == ()
    codec = AvroCodec()
    for row in read.rows:
        record = mapping.record(row)
        assert record["hs_code"] == "85171200" and record["origin_country"] == "CN"
        assert record["currency"] == "EUR" and record["event_time"].tzinfo is not None
        assert record["attributes"] == {"procedure": "4000"}
        assert record["measures"] == {"tax_rate": 0.2}
        decoded = codec.decode("CourierConsignment", codec.encode("CourierConsignment", record))
        assert decoded["event_id"] == row.event_id
        assert decoded["attributes"] == {"procedure": "4000"}
        assert decoded["measures"] == {"tax_rate": 0.2}
    assert [row.label for row in read.rows[:10]] == [i % 9 == 0 for i in range(10)]
    assert read.rows[0].revenue == 120.5 and read.rows[1].revenue == 0.0


@pytest.mark.parametrize("stream", ["courier", "postal", "passenger"])
def test_shipped_mappings_read_simulator_exports_without_a_skip(
    tmp_path: Path, stream: str
) -> None:
    data = tmp_path / f"{stream}.csv"
    rates = scale_rates({stream: DEFAULT_RATES[stream]}, 0.01)
    export_csv(data, HubWorld(seed=3), START, n_rows=400, rates=rates)
    mapping = ReplayMapping.from_yaml(DEPLOY / f"simulator-{stream}.yaml")
    read = read_rows(data, mapping)
    assert (read.skipped, len(read.rows)) == (0, 400), read.problems
    assert mapping.unused == ()
    schema = STREAM_SCHEMAS[stream]
    codec = AvroCodec()
    for row in read.rows[:50]:
        codec.decode(schema, codec.encode(schema, mapping.record(row)))


def test_a_mapped_column_missing_from_the_csv_is_one_error_naming_it(tmp_path: Path) -> None:
    header = [c for c in HEADER if c != "net_kg"]
    data = write(tmp_path / "d.csv", [customs_row(1)], header)
    mapping = ReplayMapping.from_yaml(mapping_file(tmp_path / "m.yaml"))
    with pytest.raises(MappingError) as caught:
        read_rows(data, mapping)
    message = str(caught.value)
    assert "names column net_kg (mass) that" in message and str(data) in message
    assert "an_ignored_column" in message  # it lists what the file does have


def test_a_few_unreadable_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = [customs_row(i) for i in range(300)]
    rows[10] = customs_row(10, registered="31/02/2021")
    rows[20] = customs_row(20, cif_eur="12,50 EUR")
    rows[30] = customs_row(30, net_kg="-1")
    rows[40] = customs_row(40, decl_no="D00041")  # the id of row 41 as well
    data = write(tmp_path / "d.csv", rows)
    read = read_rows(data, ReplayMapping.from_yaml(mapping_file(tmp_path / "m.yaml")))
    assert (read.total, read.skipped, len(read.rows)) == (300, 4, 296)
    assert dict(read.skipped_by_column) == {
        "registered": 1,
        "cif_eur": 1,
        "net_kg": 1,
        "decl_no": 1,
    }
    assert read.problems[0] == (
        "line 12: column registered: cannot read '31/02/2021' as a time (ISO 8601 like "
        "2021-03-04T10:15:00Z, or set time_format)"
    )
    assert read.problems[1] == "line 22: column cif_eur (value): '12,50 EUR' is not a number"
    assert read.problems[2] == (
        "line 32: column net_kg (mass): field gross_weight_kg must be positive, got -1.0"
    )
    assert read.problems[3] == "line 43: column decl_no (id): D00041 is already the id of line 42"


def test_a_column_that_is_wrong_throughout_stops_with_one_message(tmp_path: Path) -> None:
    rows = [customs_row(i, registered=f"{1 + i % 28:02d}/03/2021") for i in range(200)]
    data = write(tmp_path / "d.csv", rows)
    with pytest.raises(MappingError) as caught:
        read_rows(data, ReplayMapping.from_yaml(mapping_file(tmp_path / "m.yaml")))
    message = str(caught.value)
    assert message.startswith("200 of 200 rows of")
    assert "because of column registered" in message and "set time_format" in message
    # the fix it points at works
    fixed = ReplayMapping.from_yaml(mapping_file(tmp_path / "m.yaml", time_format="%d/%m/%Y"))
    assert len(read_rows(data, fixed).rows) == 200


def test_non_numeric_values_in_a_numeric_column_are_named(tmp_path: Path) -> None:
    rows = [customs_row(i, packages="two" if i % 2 else "2") for i in range(50)]
    data = write(tmp_path / "d.csv", rows)
    with pytest.raises(MappingError) as caught:
        read_rows(data, ReplayMapping.from_yaml(mapping_file(tmp_path / "m.yaml")))
    assert "25 of 50 rows" in str(caught.value)
    assert "column packages (numeric pieces): 'two' is not a number" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"lable": "fraud"}, "unknown key lable"),
        ({"stream": "ferry"}, "stream 'ferry' is not one of courier, postal, passenger"),
        ({"id": None}, "missing id"),
        ({"hs_code": None}, "stream courier needs hs_code (role hs_code)"),
        ({"stream": "passenger"}, "role hs_code does not apply to stream passenger"),
        ({"fields": {"shoe_size": "x"}}, "fields: 'shoe_size' is not a field of"),
        ({"numeric": ["incoterms"]}, "numeric: field incoterms of CourierConsignment is not"),
        ({"categorical": ["Tax Type"]}, "categorical: 'Tax Type' cannot name one of the"),
        ({"numeric": {"9rate": "tax_rate"}}, "numeric: '9rate' cannot name one of the"),
        ({"personal": ["incoterms"]}, "personal: incoterms is a field of CourierConsignment"),
        ({"fields": {"attributes": "x"}}, "fields: 'attributes' is not a field of"),
        (
            {"categorical": {"procedure": "procedure"}, "personal": {"procedure": "seller"}},
            "attributes procedure would come from two columns, procedure (categorical) and "
            "seller (personal)",
        ),
        (
            {"categorical": [f"c{i}" for i in range(33)]},
            "33 columns would land in attributes; an event carries at most 32",
        ),
        (
            {"fields": {"declared_value": "fob"}},
            "field declared_value would come from two columns, cif_eur (value) and fob (field "
            "declared_value)",
        ),
    ],
)
def test_mapping_mistakes_are_named(
    tmp_path: Path, changes: dict[str, object], expected: str
) -> None:
    with pytest.raises(MappingError) as caught:
        ReplayMapping.from_yaml(mapping_file(tmp_path / "m.yaml", **changes))
    assert expected in str(caught.value)
    assert str(tmp_path / "m.yaml") in str(caught.value)


def test_unreadable_mapping_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read mapping"):
        ReplayMapping.from_yaml(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("stream: courier\nid: [unclosed\n", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML at line"):
        ReplayMapping.from_yaml(broken)


def test_the_readme_example_mapping_is_valid() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Replay and backtest")[1].split("\n## ")[0]
    example = section.split("```yaml\n")[1].split("```")[0]
    mapping = ReplayMapping.from_dict(yaml.safe_load(example), source="README.md")
    assert mapping.columns["consignee_id"] == "importer"
    assert mapping.columns["destination_country"] == "destination"
    assert mapping.unused == ()


def test_defaults_fill_unmapped_fields_and_empty_cells(tmp_path: Path) -> None:
    changes = {"fields": {"destination_country": "dest"}, "defaults": {"destination_country": "BE"}}
    mapping = ReplayMapping.from_yaml(mapping_file(tmp_path / "m.yaml", **changes))
    header = [*HEADER, "dest"]
    rows = [customs_row(1, dest="nl"), customs_row(2, dest="")]
    read = read_rows(write(tmp_path / "d.csv", rows, header), mapping)
    assert [mapping.record(row)["destination_country"] for row in read.rows] == ["NL", "BE"]
    assert mapping.record(read.rows[0])["air_waybill"] == ""  # required, never mapped


def _postal(**changes: object) -> dict[str, object]:
    return {
        "stream": "postal", "id": "decl_no", "time": "registered", "label": "fraud",
        "value": "cif_eur", "mass": "net_kg", "origin": "origin", "description": "goods",
        "entities": {"importer": "importer_eori", "declarant": "broker"},
        "categorical": {"Procedure": "procedure"}, "numeric": {"tax_rate": "tax_rate"},
        **changes,
    }


def test_own_fields_and_unplaced_entities_land_in_the_open_maps(tmp_path: Path) -> None:
    mapping = ReplayMapping.from_dict(_postal(personal={"owner": "seller"}))
    # postal has no declarant field: the broker becomes a personal attribute, profiled
    assert mapping.attributes == {"declarant": "broker", "procedure": "procedure",
                                  "owner": "seller"}
    assert mapping.measures == {"tax_rate": "tax_rate"}
    assert mapping.personal == {"declarant", "owner"}
    assert mapping.unused == ()
    assert mapping.named_columns()["seller"] == "personal"
    rows = [customs_row(1, broker="BR-1"), customs_row(2, tax_rate="", procedure="")]
    read = read_rows(write(tmp_path / "d.csv", rows), mapping)
    first, second = (mapping.record(row) for row in read.rows)
    assert first["attributes"] == {"declarant": "BR-1", "owner": "S1", "procedure": "4000"}
    assert first["measures"] == {"tax_rate": 0.2}
    # empty cells leave their entries out
    assert second["attributes"] == {"owner": "S2"} and second["measures"] == {}


def test_a_non_numeric_measure_is_a_row_error_naming_line_and_column(tmp_path: Path) -> None:
    mapping = ReplayMapping.from_dict(_postal())
    rows = [customs_row(i, tax_rate="high" if i == 3 else "0.2") for i in range(30)]
    read = read_rows(write(tmp_path / "d.csv", rows), mapping)
    assert read.skipped == 1
    assert read.problems == ["line 5: column tax_rate (numeric): 'high' is not a number"]
    too_long = customs_row(1, procedure="P" * 65)
    read = read_rows(write(tmp_path / "e.csv", [too_long]), mapping)
    assert read.problems == [
        "line 2: column procedure (categorical): longer than 64 characters"
    ]


def test_passenger_extras_have_no_place_and_are_reported() -> None:
    mapping = ReplayMapping.from_dict({
        "stream": "passenger", "id": "ref", "time": "at", "label": "hit",
        "entities": ["traveller", "travel_agent"], "categorical": ["fare_class"],
        "numeric": ["miles"], "personal": ["loyalty_no"], "origin": "from",
        "defaults": {"carrier": "LH", "flight_number": "LH1", "arrival_airport": "FRA",
                     "departure_time": "2026-01-01T10:00:00Z",
                     "api_received_before_departure_s": "3600"},
    })
    assert mapping.attributes == {} and mapping.personal == frozenset()
    assert mapping.unused == ("travel_agent (entity travel_agent)", "fare_class (categorical)",
                              "miles (numeric)", "loyalty_no (personal)")


def test_the_replay_pseudonymises_personal_attributes(tmp_path: Path) -> None:
    from scorers.history import warm_start
    from scorers.model import RiskModel
    from streams.replay.engine import ReplayOptions, plan_replay, replay_settings, warm_model
    from streams.runtime import build_pseudonymiser
    from streams.settings import Settings

    mapping = ReplayMapping.from_dict(_postal(personal={"owner": "seller"}))
    data = write(tmp_path / "d.csv", [customs_row(i, seller=f"Jane Doe {i}") for i in range(20)])
    options = ReplayOptions(learn_until=datetime(2021, 3, 10, tzinfo=UTC))
    settings = replay_settings(options, Settings(), mapping)
    assert settings.personal_attributes == {"declarant", "owner"}
    pseudonymiser = build_pseudonymiser(settings)
    plan = plan_replay(data, mapping, options)
    for row in plan.live:
        record = pseudonymiser.apply(mapping.schema, mapping.record(row))
        assert record["attributes"]["owner"].startswith("px_")
        assert "Jane" not in repr(record)
    # the history path reads the same text fields, and learns tokens only
    seen: list[dict[str, object]] = []
    model = RiskModel(seed=1)
    observe = model.observe
    model.observe = lambda stream, assessment: (seen.append(assessment.features),  # type: ignore[method-assign]
                                                observe(stream, assessment))[1]
    warm_start(model, ({**row.fields, "label": "0"} for row in plan.history), pseudonymiser,
               stream="postal")
    assert seen and all(x["attr_owner"].startswith("px_") for x in seen)
    assert all(x["measure_tax_rate"] == 0.2 and x["attr_procedure"] == "4000" for x in seen)
    # the replay's own warm start adds the mapping's personal columns by itself
    warm, report = warm_model(Settings(), plan)
    assert report.learned == {"postal": len(plan.history)}
    assert b"Jane" not in pickle.dumps(warm), "no personal value in the model snapshot"
