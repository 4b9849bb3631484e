"""Features and entity keys of an express courier consignment (air waybill)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scorers.features.goods import (
    classification_features,
    completeness,
    declared_fields,
    description_features,
    event_date,
    hs_levels,
    text,
    value_features,
)

STREAM = "courier"
OPTIONAL_FIELDS = ("consignee_phone", "declarant_id", "incoterms", "route")


def features(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the model features of one pseudonymised courier consignment.

    >>> from decimal import Decimal
    >>> x = features({"event_id": "e1", "hub": "hub_LEJ", "origin_country": "CN",
    ...               "route": ["PVG", "DXB", "LEJ"], "hs_code": "85171200",
    ...               "goods_description": "mobile phone", "declared_value": Decimal("12.00"),
    ...               "currency": "USD", "gross_weight_kg": 0.5, "pieces": 2,
    ...               "aeo_status": "none"})
    >>> round(x["value_per_kg"], 2), x["hs_heading"], x["transshipment"], x["completeness"]
    (22.08, '8517', True, 0.25)
    """
    x: dict[str, Any] = {"stream": STREAM, "category": "sale"}
    if (hub := text(record, "hub")) is not None:
        x["hub"] = hub
    x.update(value_features(STREAM, record, "pieces"))
    x.update(classification_features(record))
    x["aeo"] = (text(record, "aeo_status") or "none").lower() != "none"
    x["incoterms"] = (text(record, "incoterms") or "none").upper()
    x.update(description_features(text(record, "goods_description")))
    x["completeness"] = completeness(record, OPTIONAL_FIELDS)
    x.update(declared_fields(record))
    x.update(event_date(record))
    return x


def entities(record: Mapping[str, Any]) -> dict[str, str]:
    """Return the pseudonymised entity keys of a courier consignment.

    >>> entities({"shipper_id": "px_a1", "consignee_id": "px_b2", "origin_country": "CN",
    ...           "destination_country": "DE", "hs_code": "851712", "air_waybill": "020-1234"})
    {'shipper': 'px_a1', 'consignee': 'px_b2', 'origin': 'CN', 'route': 'CN>DE', 'carrier': '020', 'hs6': '851712', 'hs4': '8517', 'hs2': '85'}
    """  # noqa: E501
    keys: dict[str, str] = {}
    for kind, field in (
        ("shipper", "shipper_id"),
        ("consignee", "consignee_id"),
        ("declarant", "declarant_id"),
        ("importer", "importer_id"),
    ):
        if (token := text(record, field)) is not None:
            keys[kind] = token
    origin = text(record, "origin_country")
    if origin is not None:
        keys["origin"] = origin.upper()
    route = record.get("route")
    if isinstance(route, list | tuple) and route:
        keys["route"] = ">".join(str(stop) for stop in route)
    elif origin is not None:
        keys["route"] = f"{origin.upper()}>{(text(record, 'destination_country') or '?').upper()}"
    # the first three digits of an air waybill number are the airline's IATA prefix
    awb = text(record, "air_waybill") or ""
    if len(awb) > 3 and awb[:3].isdigit():
        keys["carrier"] = awb[:3]
    levels = hs_levels(text(record, "hs_code"))
    for kind, level in (("hs6", "hs6"), ("hs4", "hs_heading"), ("hs2", "hs_chapter")):
        if level in levels:
            keys[kind] = levels[level]
    return keys
