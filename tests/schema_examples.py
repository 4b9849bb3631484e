"""One small valid record per riskstream schema, as a producer would hand it to the codec.

Input events carry personal fields in clear (they are pseudonymised on ingest); times are
aware UTC datetimes with whole milliseconds (``timestamp-millis`` keeps no more), money is
``Decimal`` with two places. Each call returns a fresh dict, so tests may change it.

>>> sorted(example("InspectionOutcome"))[:3]
['event_id', 'officer_unit', 'outcome_time']
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

_AT = datetime(2026, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)


def _courier() -> dict[str, Any]:
    return {
        "event_id": "cc-000001",
        "hub": "hub_LEJ",
        "event_time": _AT,
        "air_waybill": "176-12345675",
        "shipper_id": "CN9876543210",
        "shipper_name": "Shenzhen Bright Lamp Trading Co",
        "shipper_address": "88 Nanshan Road, Shenzhen",
        "consignee_id": "DE123456789012345",
        "consignee_name": "Marta Kowalski",
        "consignee_address": "Lindenstrasse 12, 04109 Leipzig",
        "consignee_phone": "+49 341 5550199",
        "declarant_id": None,
        "origin_country": "CN",
        "destination_country": "DE",
        "route": ["SZX", "LEJ"],
        "hs_code": "940540",
        "goods_description": "LED desk lamps",
        "declared_value": Decimal("149.90"),
        "currency": "USD",
        "gross_weight_kg": 3.2,
        "pieces": 2,
        "incoterms": "DAP",
        "aeo_status": "none",
        "attributes": {"procedure": "4000", "payment_type": "deferred"},
        "measures": {"tax_rate": 0.19},
    }


def _postal() -> dict[str, Any]:
    return {
        "event_id": "pi-000001",
        "hub": "hub_FRA",
        "event_time": _AT,
        "item_id": "RR123456785CN",
        "declaration_form": "cn22",
        "item_category": "gift",
        "sender_name": "Li Wei",
        "sender_address": "5 Jiefang Avenue, Wuhan",
        "addressee_name": "Jonas Becker",
        "addressee_address": "Bergstrasse 3, 60311 Frankfurt",
        "addressee_phone": None,
        "origin_country": "CN",
        "destination_country": "DE",
        "hs_code": "6109",
        "goods_description": "cotton t-shirts",
        "declared_value": Decimal("12.00"),
        "currency": "EUR",
        "gross_weight_kg": 0.45,
        "quantity": 3,
        "attributes": {"declaration_channel": "paper"},
        "measures": {},
    }


def _passenger() -> dict[str, Any]:
    return {
        "event_id": "pr-000001",
        "hub": "hub_FRA",
        "event_time": _AT,
        "traveller_name": "Amara Okafor",
        "document_number": "A12345678",
        "date_of_birth": "1988-07-21",
        "phone": "+234 803 555 0142",
        "nationality": "NGA",
        "carrier": "LH",
        "flight_number": "LH569",
        "departure_airport": "LOS",
        "arrival_airport": "FRA",
        "departure_time": datetime(2026, 3, 14, 22, 40, tzinfo=UTC),
        "itinerary": ["LOS", "FRA", "LOS"],
        "one_way": False,
        "booking_time": datetime(2026, 3, 1, 11, 5, 12, 250000, tzinfo=UTC),
        "check_in_time": None,
        "payment_form": "card",
        "baggage_count": 2,
        "trips_last_year": 4,
        "api_received_before_departure_s": 48_600,
        "mandatory_fields_missing": 0,
    }


def _outcome() -> dict[str, Any]:
    return {
        "event_id": "cc-000001",
        "stream": "courier",
        "result": "revenue_adjustment",
        "severity": 1,
        "recovered_amount": Decimal("38.25"),
        "outcome_time": datetime(2026, 3, 16, 14, 0, tzinfo=UTC),
        "officer_unit": "unit_LEJ_2",
    }


def _verdict() -> dict[str, Any]:
    return {
        "event_id": "cc-000001",
        "stream": "courier",
        "hub": "hub_LEJ",
        "score": 0.82,
        "level": "physical_inspection",
        "reasons": [
            {"code": "valuation.under", "text": "declared value per kg far below peers",
             "weight": 1.4},
            {"code": "rule.watchlist_route", "text": "route on watch list", "weight": 0.9},
        ],
        "selection_kind": "model",
        "propensity": 0.95,
        "model_version": "courier-2026.03.14-0007",
        "event_time": _AT,
        "decided_at": datetime(2026, 3, 14, 9, 26, 53, 612000, tzinfo=UTC),
        "references": {"air_waybill": "176-12345675"},
        "priority": 1.37,
        "expected_recovery": Decimal("412.50"),
    }


def _scored() -> dict[str, Any]:
    return {
        "event_id": "cc-000001",
        "stream": "courier",
        "hub": "hub_LEJ",
        "event_time": _AT,
        "features": {
            "value_per_kg": 46.84,
            "hs_chapter": "94",
            "aeo": False,
            "incoterms": None,
        },
        "entities": {"shipper": "px_0123456789abcdef0123", "consignee": "px_fedcba98765432100123",
                     "route": "SZX>LEJ"},
        "previous_entities": {"shipper": "px_99999999990000000000"},
        "sub_scores": {"supervised": 0.7, "valuation": 0.9, "anomaly": 0.4},
        "score": 0.82,
        "level": "physical_inspection",
        "selection_kind": "model",
        "propensity": 0.95,
        "model_version": "courier-2026.03.14-0007",
        "decided_at": datetime(2026, 3, 14, 9, 26, 53, 612000, tzinfo=UTC),
        "priority": 1.37,
        "area": "excise",
        "expected_recovery": Decimal("412.50"),
    }


def _dead_letter() -> dict[str, Any]:
    return {
        "source_topic": "riskstream.postal.events",
        "partition": 3,
        "offset": 1_234_567,
        "key": b"pi-000002",
        "error_kind": "validation",
        "reason": "field gross_weight_kg must be positive, got -1.0",
        "raw_payload": b"\x00\x00\x00\x00\x01\x02",
        "raw_payload_protection": "clear",
        "failed_at": _AT,
    }


def _learning_event() -> dict[str, Any]:
    return {
        "learner_id": "learner-1",
        "kind": "drift",
        "stream": "courier",
        "at": _AT,
        "model_version": "learner-1-o1200-s48000",
        "summary": "courier: error rose from 0.08 to 0.21 after 1200 outcomes",
        "details": {"error_before": 0.08, "error_after": 0.21},
    }


def _erasure_request() -> dict[str, Any]:
    return {
        "request_id": "erasure-2026-0042",
        "tokens": ["px_0123456789abcdef0123", "px_fedcba98765432100123"],
        "requested_at": _AT,
    }


_EXAMPLES = {
    "CourierConsignment": _courier,
    "PostalItem": _postal,
    "PassengerRecord": _passenger,
    "InspectionOutcome": _outcome,
    "RiskVerdict": _verdict,
    "ScoredRecord": _scored,
    "DeadLetter": _dead_letter,
    "LearningEvent": _learning_event,
    "ErasureRequest": _erasure_request,
}


def example(name: str) -> dict[str, Any]:
    """Return a fresh valid record of schema ``name`` (a short name such as ``PostalItem``)."""
    return _EXAMPLES[name]()
