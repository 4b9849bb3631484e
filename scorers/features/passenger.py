"""Features and entity keys of a passenger record (API data with PNR elements)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from scorers.features.goods import event_label, number, text

STREAM = "passenger"
OPTIONAL_FIELDS = (
    "date_of_birth", "phone", "nationality", "booking_time", "check_in_time", "itinerary",
)
# PNR markers of a surface (ground) segment between two flights
GROUND_SEGMENTS = frozenset({"ARNK", "SURFACE", "---", "//", ""})


def _seconds(record: Mapping[str, Any], field: str) -> float | None:
    """A timestamp as epoch seconds: aware datetimes, or epoch milliseconds as Avro sends them."""
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(
                f"{event_label(STREAM, record)} rejected: field {field} has no time zone"
            )
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    raise ValueError(
        f"{event_label(STREAM, record)} rejected: field {field} is not a timestamp "
        f"({type(value).__name__})"
    )


def _broken_journey(itinerary: list[str], one_way: bool) -> bool:
    if any(stop.strip().upper() in GROUND_SEGMENTS for stop in itinerary):
        return True
    # a return trip that ends elsewhere than it started is an open jaw
    return not one_way and len(itinerary) >= 2 and itinerary[0] != itinerary[-1]


def features(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the model features of one pseudonymised passenger record.

    >>> from datetime import datetime, timezone
    >>> x = features({"event_id": "e3", "hub": "hub_FRA", "carrier": "XY",
    ...               "departure_airport": "IST", "itinerary": ["LOS", "IST", "FRA"],
    ...               "departure_time": datetime(2025, 3, 1, 12, tzinfo=timezone.utc),
    ...               "booking_time": datetime(2025, 3, 1, 2, tzinfo=timezone.utc),
    ...               "payment_form": "cash", "one_way": False, "baggage_count": 2,
    ...               "api_received_before_departure_s": -120})
    >>> x["booking_lead_hours"], x["cash"], x["broken_journey"], x["api_late"]
    (10.0, True, True, True)
    """
    x: dict[str, Any] = {"stream": STREAM}
    for field in ("hub", "carrier", "departure_airport"):
        if (value := text(record, field)) is not None:
            x[field] = value
    departure = _seconds(record, "departure_time")
    for feature, field in (
        ("booking_lead_hours", "booking_time"),
        ("checkin_lead_hours", "check_in_time"),
    ):
        moment = _seconds(record, field)
        if departure is not None and moment is not None:
            x[feature] = (departure - moment) / 3600.0
    payment = (text(record, "payment_form") or "unknown").lower()
    x["payment_form"] = payment
    x["cash"] = payment == "cash"
    one_way = bool(record.get("one_way", False))
    x["one_way"] = one_way
    raw_itinerary = record.get("itinerary") or []
    itinerary = [str(stop) for stop in raw_itinerary] if isinstance(raw_itinerary, list) else []
    x["itinerary_length"] = len(itinerary)
    x["broken_journey"] = _broken_journey(itinerary, one_way)
    for field in ("baggage_count", "trips_last_year", "mandatory_fields_missing"):
        count = number(STREAM, record, field)
        x[field] = count if count is not None else 0.0
    api_lead = number(STREAM, record, "api_received_before_departure_s")
    if api_lead is not None:
        x["api_lead_minutes"] = api_lead / 60.0
        x["api_late"] = api_lead <= 0
    filled = sum(
        1 for field in OPTIONAL_FIELDS if record.get(field) not in (None, "", [])
    )
    x["completeness"] = filled / len(OPTIONAL_FIELDS)
    return x


def entities(record: Mapping[str, Any]) -> dict[str, str]:
    """Return the pseudonymised entity keys of a passenger record.

    >>> entities({"document_number": "px_d", "phone": "px_p", "carrier": "XY",
    ...           "departure_airport": "IST", "arrival_airport": "FRA"})
    {'traveller': 'px_d', 'phone': 'px_p', 'carrier': 'XY', 'origin': 'IST', 'route': 'IST>FRA'}
    """
    keys: dict[str, str] = {}
    for kind, field in (("traveller", "document_number"), ("phone", "phone")):
        if (token := text(record, field)) is not None:
            keys[kind] = token
    if (carrier := text(record, "carrier")) is not None:
        keys["carrier"] = carrier
    departure = text(record, "departure_airport")
    if departure is not None:
        keys["origin"] = departure
        keys["route"] = f"{departure}>{text(record, 'arrival_airport') or '?'}"
    return keys
