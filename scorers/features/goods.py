"""Declaration features shared by courier consignments and postal items.

Money, weight, HS code and goods description look the same on an air waybill and on a
CN22/CN23 form, so both streams derive them here. Every function tolerates missing optional
fields by leaving the feature out rather than inventing a value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from scorers.features.airports import AIRPORT_COUNTRY

# Fixed reference rates (EUR per unit, rounded 2024 averages). Risk scoring needs orders of
# magnitude, not the rate of the day, and a fixed table keeps replays reproducible.
FX_TO_EUR: Mapping[str, float] = MappingProxyType(
    {
        "EUR": 1.0, "USD": 0.92, "GBP": 1.17, "CHF": 1.05, "CNY": 0.128, "HKD": 0.118,
        "JPY": 0.0061, "KRW": 0.00068, "TWD": 0.029, "SGD": 0.69, "INR": 0.011, "THB": 0.026,
        "VND": 0.000037, "MYR": 0.20, "IDR": 0.000058, "PHP": 0.016, "AED": 0.25, "SAR": 0.245,
        "TRY": 0.028, "ILS": 0.25, "RUB": 0.010, "UAH": 0.023, "PLN": 0.23, "CZK": 0.040,
        "HUF": 0.0025, "RON": 0.20, "SEK": 0.088, "NOK": 0.086, "DKK": 0.134, "CAD": 0.68,
        "AUD": 0.61, "NZD": 0.56, "MXN": 0.052, "BRL": 0.17, "ZAR": 0.050, "NGN": 0.0006,
        "EGP": 0.019, "MAD": 0.092, "PKR": 0.0033, "BDT": 0.0079,
    }
)

# Words that say nothing about what is in the box; vague descriptions hide misdeclared goods.
GENERIC_WORDS = frozenset(
    {
        "gift", "gifts", "present", "parts", "part", "spare", "goods", "sample", "samples",
        "accessories", "accessory", "items", "item", "stuff", "merchandise", "products",
        "product", "misc", "various", "personal", "effects", "general", "article", "articles",
        "things", "package", "parcel", "commodity", "commodities",
    }
)

_TOKEN = re.compile(r"[a-z0-9]+")
_MIN_WEIGHT_KG = 0.01  # scales weigh to 10 g; below that value per kg means nothing
_MIN_VALUE_PER_KG = 1e-3


def event_label(stream: str, record: Mapping[str, Any]) -> str:
    """Name an event in error messages without quoting any personal field."""
    return f"event {record.get('event_id', '<no event_id>')} on stream {stream}"


def number(stream: str, record: Mapping[str, Any], field: str) -> float | None:
    """Read a numeric field as float, ``None`` when absent; reject non-numbers clearly."""
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(
            f"{event_label(stream, record)} rejected: field {field} is not a number "
            f"({type(value).__name__})"
        )
    result = float(value)
    return result if math.isfinite(result) else None


def text(record: Mapping[str, Any], field: str) -> str | None:
    """Read a string field, ``None`` when absent or blank."""
    value = record.get(field)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def tokens(description: str) -> list[str]:
    """Lower-case alphanumeric words of a goods description.

    >>> tokens("USB-C cables, 2x (spare parts)")
    ['usb', 'c', 'cables', '2x', 'spare', 'parts']
    """
    return _TOKEN.findall(description.lower())


def hs_levels(hs_code: str | None) -> dict[str, str]:
    """Split a declared HS code into chapter, heading and subheading (HS6).

    >>> hs_levels("8517.12.00")
    {'hs_chapter': '85', 'hs_heading': '8517', 'hs6': '851712'}
    >>> hs_levels("85")
    {'hs_chapter': '85'}
    """
    digits = "".join(ch for ch in hs_code or "" if ch.isdigit())
    levels: dict[str, str] = {}
    if len(digits) >= 2:
        levels["hs_chapter"] = digits[:2]
    if len(digits) >= 4:
        levels["hs_heading"] = digits[:4]
    if len(digits) >= 6:
        levels["hs6"] = digits[:6]
    return levels


def value_features(
    stream: str, record: Mapping[str, Any], count_field: str
) -> dict[str, Any]:
    """Value in EUR, weight and the ratios between them.

    ``count_field`` is what the value is spread over: ``pieces`` on an air waybill,
    ``quantity`` on a postal declaration.
    """
    features: dict[str, Any] = {}
    amount = number(stream, record, "declared_value")
    currency = (text(record, "currency") or "").upper()
    rate = FX_TO_EUR.get(currency)
    features["currency_known"] = rate is not None
    weight = number(stream, record, "gross_weight_kg")
    if weight is not None and weight >= 0.0:
        features["weight_kg"] = weight
    if amount is None:
        return features
    # An unknown currency keeps its face value: wrong by a factor, still better than nothing,
    # and currency_known tells the models not to trust it.
    value_eur = amount * rate if rate is not None else amount
    features["value_eur"] = value_eur
    if weight is not None and weight >= 0.0:
        per_kg = value_eur / max(weight, _MIN_WEIGHT_KG)
        features["value_per_kg"] = per_kg
        features["log_value_per_kg"] = math.log10(max(per_kg, _MIN_VALUE_PER_KG))
    count = number(stream, record, count_field)
    if count is not None and count >= 1:
        features["value_per_item"] = value_eur / count
    return features


def description_features(description: str | None) -> dict[str, Any]:
    """Length, word count and vagueness of the goods description; the text itself too.

    The text is goods wording, never personal, and the tariff scorer learns from it.

    >>> description_features("Gift")
    {'description': 'gift', 'description_length': 4, 'description_words': 1, 'description_generic': True}
    """  # noqa: E501
    if description is None:
        return {"description_length": 0, "description_words": 0, "description_generic": True}
    words = tokens(description)
    return {
        "description": " ".join(words),
        "description_length": len(description),
        "description_words": len(words),
        # vague when nothing but generic words (and numbers) is left
        "description_generic": all(w in GENERIC_WORDS or w.isdigit() for w in words),
    }


def route_features(route: Any) -> dict[str, Any]:
    """Route length and transshipment, when the event carries a route at all; where it was
    dispatched from (the first airport, and its country when known) and the airports it
    changed planes at on the way (between the first and the last).

    >>> route_features(["PVG", "HKG", "LEJ"])
    {'route_length': 3, 'transshipment': True, 'dispatch_airport': 'PVG', 'dispatch_country': 'CN', 'transit_airports': 'HKG'}
    >>> route_features(["XYZ", "LEJ"])
    {'route_length': 2, 'transshipment': False, 'dispatch_airport': 'XYZ'}
    """  # noqa: E501
    if not isinstance(route, list | tuple) or not route:
        return {}
    stops = [str(stop) for stop in route]
    x: dict[str, Any] = {
        "route_length": len(stops),
        # any airport between the first and the last one is a transshipment point
        "transshipment": len(set(stops[1:-1]) - {stops[0], stops[-1]}) > 0,
    }
    if dispatch := stops[0].strip().upper():
        x["dispatch_airport"] = dispatch
        if (country := AIRPORT_COUNTRY.get(dispatch)) is not None:
            x["dispatch_country"] = country
    transits = [code for stop in stops[1:-1] if (code := stop.strip().upper())]
    if transits:
        x["transit_airports"] = ">".join(transits)
    return x


def event_date(record: Mapping[str, Any]) -> dict[str, str]:
    """The UTC day of the event, as ``event_date`` (ISO text: no model takes it as a number),
    for the checks that compare events over days.

    >>> from datetime import datetime, timezone
    >>> event_date({"event_time": datetime(2025, 3, 1, 23, 30, tzinfo=timezone.utc)})
    {'event_date': '2025-03-01'}
    >>> event_date({"event_time": 1740873600000}), event_date({})
    ({'event_date': '2025-03-02'}, {})
    """
    value = record.get("event_time")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return {}  # a naive time is rejected by validation; guess nothing here
        return {"event_date": value.astimezone(UTC).date().isoformat()}
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return {"event_date": datetime.fromtimestamp(value / 1000.0, UTC).date().isoformat()}
    return {}


def classification_features(record: Mapping[str, Any]) -> dict[str, Any]:
    """HS levels, whether the code is missing, origin country and route, of a consignment
    or a postal item (a stream without a route today picks up a future route field as is).

    >>> classification_features({"hs_code": "8517", "origin_country": "cn"})
    {'hs_chapter': '85', 'hs_heading': '8517', 'hs_missing': False, 'origin_country': 'CN'}
    """
    x: dict[str, Any] = hs_levels(text(record, "hs_code"))
    x["hs_missing"] = "hs_chapter" not in x
    if (origin := text(record, "origin_country")) is not None:
        x["origin_country"] = origin.upper()
    x.update(route_features(record.get("route")))
    return x


def declared_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The authority's own declaration fields: ``attr_<name>`` (text) per entry of the
    ``attributes`` map, ``measure_<name>`` (float) per entry of ``measures``.

    Personal attributes arrive as ``px_`` tokens (pseudonymised on ingest); blank texts and
    numbers that are not finite are left out.

    >>> declared_fields({"attributes": {"tax_type": "B", "owner": "px_1f"},
    ...                  "measures": {"tax_rate": 8}})
    {'attr_owner': 'px_1f', 'attr_tax_type': 'B', 'measure_tax_rate': 8.0}
    >>> declared_fields({"event_id": "e1"})
    {}
    """
    x: dict[str, Any] = {}
    attributes = record.get("attributes")
    if isinstance(attributes, Mapping):
        for name, value in sorted(attributes.items()):
            if isinstance(value, str) and value.strip():
                x[f"attr_{name}"] = value.strip()
    measures = record.get("measures")
    if isinstance(measures, Mapping):
        for name, value in sorted(measures.items()):
            numeric = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
            if numeric and math.isfinite(amount := float(value)):
                x[f"measure_{name}"] = amount
    return x


def completeness(record: Mapping[str, Any], optional_fields: tuple[str, ...]) -> float:
    """Share of the optional declaration fields that were filled (0 to 1)."""
    filled = 0
    for field in optional_fields:
        value = record.get(field)
        if value is None or value == "" or value == [] or value == "none":
            continue
        filled += 1
    return filled / len(optional_fields) if optional_fields else 1.0
