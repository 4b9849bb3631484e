"""Features and entity keys per stream: values, missing fields, errors and privacy."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest

from scorers.features import STREAMS, entities_for, features_for
from scorers.features.goods import FX_TO_EUR
from scorers.synth import records

AVRO = Path(__file__).resolve().parent.parent / "schemas" / "avro"
SCHEMAS = {
    "courier": "riskstream.CourierConsignment.avsc",
    "postal": "riskstream.PostalItem.avsc",
    "passenger": "riskstream.PassengerRecord.avsc",
}
T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def _schema(stream: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((AVRO / SCHEMAS[stream]).read_text(encoding="utf-8"))
    return loaded


def _personal(stream: str) -> set[str]:
    return {f["name"] for f in _schema(stream)["fields"] if f.get("personal") is True}


def _courier(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": "c-1", "hub": "hub_LEJ", "event_time": T0, "air_waybill": "020-12345675",
        "shipper_id": "px_aaaa", "shipper_name": "px_bbbb", "shipper_address": "px_cccc",
        "consignee_id": "px_dddd", "consignee_name": "px_eeee", "consignee_address": "px_ffff",
        "consignee_phone": None, "declarant_id": "px_0000", "origin_country": "cn",
        "destination_country": "DE", "route": ["PVG", "DXB", "LEJ"], "hs_code": "8517.13.00",
        "goods_description": "Smartphone, 128 GB", "declared_value": Decimal("200.00"),
        "currency": "USD", "gross_weight_kg": 0.8, "pieces": 4, "incoterms": None,
        "aeo_status": "aeoc",
    }
    record.update(changes)
    return record


def _postal(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": "p-1", "hub": "hub_FRA", "event_time": T0, "item_id": "RR123456785CN",
        "declaration_form": "cn22", "item_category": "gift", "sender_name": "px_s1",
        "sender_address": "px_s2", "addressee_name": "px_a1", "addressee_address": "px_a2",
        "addressee_phone": None, "origin_country": "CN", "destination_country": "DE",
        "hs_code": None, "goods_description": "gift", "declared_value": Decimal("30.00"),
        "currency": "EUR", "gross_weight_kg": 1.5, "quantity": 3,
    }
    record.update(changes)
    return record


def _passenger(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": "t-1", "hub": "hub_FRA", "event_time": T0, "traveller_name": "px_n",
        "document_number": "px_doc", "date_of_birth": None, "phone": "px_ph",
        "nationality": None, "carrier": "TK", "flight_number": "TK1587",
        "departure_airport": "IST", "arrival_airport": "FRA", "departure_time": T0,
        "itinerary": ["FRA", "IST", "FRA"], "one_way": False,
        "booking_time": T0 - timedelta(hours=30), "check_in_time": T0 - timedelta(hours=2),
        "payment_form": "card", "baggage_count": 1, "trips_last_year": 4,
        "api_received_before_departure_s": 5400, "mandatory_fields_missing": 0,
    }
    record.update(changes)
    return record


def test_courier_features() -> None:
    x = features_for("courier", _courier())
    value_eur = 200.0 * FX_TO_EUR["USD"]
    assert x["stream"] == "courier" and x["hub"] == "hub_LEJ" and x["category"] == "sale"
    assert x["value_eur"] == pytest.approx(value_eur)
    assert x["currency_known"] is True
    assert x["weight_kg"] == 0.8
    assert x["value_per_kg"] == pytest.approx(value_eur / 0.8)
    assert x["log_value_per_kg"] == pytest.approx(math.log10(value_eur / 0.8))
    assert x["value_per_item"] == pytest.approx(value_eur / 4)
    assert (x["hs_chapter"], x["hs_heading"], x["hs6"], x["hs_missing"]) == (
        "85", "8517", "851713", False)
    assert x["origin_country"] == "CN"
    assert x["route_length"] == 3 and x["transshipment"] is True
    assert x["aeo"] is True and x["incoterms"] == "NONE"
    assert x["description_words"] == 3 and x["description_length"] == 18
    assert x["description_generic"] is False
    # declarant and route filled; phone and incoterms not
    assert x["completeness"] == 0.5


def test_direct_route_is_no_transshipment() -> None:
    x = features_for("courier", _courier(route=["PVG", "LEJ"]))
    assert x["route_length"] == 2 and x["transshipment"] is False


def test_unknown_currency_keeps_face_value() -> None:
    x = features_for("courier", _courier(currency="XTS"))
    assert x["currency_known"] is False
    assert x["value_eur"] == 200.0


def test_missing_optional_courier_fields() -> None:
    record = _courier()
    for field in ("route", "incoterms", "declarant_id", "consignee_phone", "pieces",
                  "declared_value", "gross_weight_kg", "hs_code", "goods_description"):
        del record[field]
    x = features_for("courier", record)
    for absent in ("route_length", "transshipment", "value_eur", "value_per_kg", "weight_kg",
                   "value_per_item", "hs_chapter", "hs6"):
        assert absent not in x
    assert x["hs_missing"] is True and x["completeness"] == 0.0
    assert x["description_generic"] is True and x["description_words"] == 0
    assert "declarant" not in entities_for("courier", record)


def test_zero_weight_does_not_divide_by_zero() -> None:
    x = features_for("courier", _courier(gross_weight_kg=0.0))
    assert math.isfinite(x["value_per_kg"]) and x["value_per_kg"] > 0


def test_vague_descriptions_are_generic() -> None:
    for text in ("Gift", "spare parts", "SAMPLE goods", "accessories 2"):
        assert features_for("postal", _postal(goods_description=text))["description_generic"]
    assert not features_for("postal", _postal(goods_description="wool socks"))[
        "description_generic"]


def test_postal_features() -> None:
    x = features_for("postal", _postal())
    assert x["stream"] == "postal" and x["category"] == "gift"
    assert x["declaration_form"] == "cn22" and x["aeo"] is False
    assert x["value_eur"] == 30.0 and x["value_per_kg"] == 20.0 and x["value_per_item"] == 10.0
    assert x["hs_missing"] is True and "hs_chapter" not in x
    assert "route_length" not in x  # postal items carry no route
    assert x["completeness"] == pytest.approx(1 / 3)
    with_code = features_for("postal", _postal(hs_code="4202"))
    assert with_code["hs_heading"] == "4202" and "hs6" not in with_code


def test_passenger_features() -> None:
    x = features_for("passenger", _passenger())
    assert x["booking_lead_hours"] == 30.0 and x["checkin_lead_hours"] == 2.0
    assert x["cash"] is False and x["payment_form"] == "card"
    assert x["itinerary_length"] == 3 and x["broken_journey"] is False
    assert x["api_lead_minutes"] == 90.0 and x["api_late"] is False
    assert x["baggage_count"] == 1 and x["trips_last_year"] == 4
    assert x["mandatory_fields_missing"] == 0
    assert x["completeness"] == pytest.approx(4 / 6)


@pytest.mark.parametrize(
    ("itinerary", "one_way", "broken"),
    [
        (["FRA", "IST", "FRA"], False, False),
        (["FRA", "IST", "MUC"], False, True),  # open jaw: back to another airport
        (["LOS", "IST", "ARNK", "FRA"], True, True),  # ground segment
        (["IST", "FRA"], True, False),
    ],
)
def test_broken_journey(itinerary: list[str], one_way: bool, broken: bool) -> None:
    x = features_for("passenger", _passenger(itinerary=itinerary, one_way=one_way))
    assert x["broken_journey"] is broken


def test_passenger_missing_times_and_late_api() -> None:
    x = features_for("passenger", _passenger(
        booking_time=None, check_in_time=None, payment_form="cash",
        api_received_before_departure_s=-60))
    assert "booking_lead_hours" not in x and "checkin_lead_hours" not in x
    assert x["cash"] is True and x["api_late"] is True and x["api_lead_minutes"] == -1.0
    # Avro's raw epoch milliseconds work as well as decoded datetimes
    millis = int(T0.timestamp() * 1000)
    raw = features_for("passenger", _passenger(
        departure_time=millis, booking_time=millis - 3_600_000))
    assert raw["booking_lead_hours"] == 1.0


def test_entities() -> None:
    assert entities_for("courier", _courier()) == {
        "shipper": "px_aaaa", "consignee": "px_dddd", "declarant": "px_0000", "origin": "CN",
        "route": "PVG>DXB>LEJ", "carrier": "020", "hs6": "851713", "hs4": "8517", "hs2": "85",
    }
    assert entities_for("postal", _postal()) == {
        "sender": "px_s1|px_s2", "addressee": "px_a1|px_a2", "origin": "CN", "route": "CN>DE",
    }
    assert entities_for("passenger", _passenger()) == {
        "traveller": "px_doc", "phone": "px_ph", "carrier": "TK", "origin": "IST",
        "route": "IST>FRA",
    }


def test_errors_name_the_event_and_field_not_the_value() -> None:
    with pytest.raises(ValueError, match="event c-1 on stream courier rejected: field "
                                         "declared_value is not a number"):
        features_for("courier", _courier(declared_value="12 dollars"))
    with pytest.raises(ValueError, match="field booking_time has no time zone"):
        features_for("passenger", _passenger(booking_time=datetime(2025, 3, 1)))  # noqa: DTZ001
    with pytest.raises(ValueError, match="unknown stream 'rail'"):
        features_for("rail", {})


@pytest.mark.parametrize("stream", STREAMS)
def test_synthetic_records_decode_and_never_leak_tokens(stream: str) -> None:
    schema = fastavro.parse_schema(_schema(stream))
    personal = _personal(stream)
    for record, _ in records(stream, 200, seed=5):
        # the records are what a decoder hands over: an Avro round trip changes nothing
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, schema, record, strict=True)
        buffer.seek(0)
        decoded: dict[str, Any] = fastavro.schemaless_reader(  # type: ignore[assignment]
            buffer, schema, schema
        )
        x = features_for(stream, decoded)
        assert x == features_for(stream, record)
        tokens = {str(record[f]) for f in personal if record.get(f)}
        texts = [v for v in x.values() if isinstance(v, str)]
        assert not any(token in text for token in tokens for text in texts)
        # entity keys carry only tokens and codes, never another personal field in clear
        assert all(isinstance(v, str) and v for v in entities_for(stream, decoded).values())


def test_features_cover_the_rule_vocabulary() -> None:
    try:
        from scorers.rules import FEATURE_NAMES
    except ImportError:
        pytest.skip("no rule book module")
    produced: set[str] = set()
    for stream in STREAMS:
        for record, _ in records(stream, 50, seed=2):
            produced |= set(features_for(stream, record))
    assert set(FEATURE_NAMES) <= produced
