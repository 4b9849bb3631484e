"""Features and entity keys of a postal item with its CN22/CN23 declaration."""

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

STREAM = "postal"
OPTIONAL_FIELDS = ("addressee_phone", "hs_code", "declaration_form")


def features(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the model features of one pseudonymised postal item.

    >>> from decimal import Decimal
    >>> x = features({"event_id": "e2", "hub": "hub_FRA", "declaration_form": "cn22",
    ...               "item_category": "gift", "origin_country": "CN", "hs_code": None,
    ...               "goods_description": "gift", "declared_value": Decimal("5.00"),
    ...               "currency": "EUR", "gross_weight_kg": 2.0, "quantity": 1})
    >>> x["value_per_kg"], x["hs_missing"], x["description_generic"], x["category"]
    (2.5, True, True, 'gift')
    """
    x: dict[str, Any] = {"stream": STREAM}
    if (hub := text(record, "hub")) is not None:
        x["hub"] = hub
    x["category"] = (text(record, "item_category") or "other").lower()
    x["declaration_form"] = (text(record, "declaration_form") or "none").lower()
    x.update(value_features(STREAM, record, "quantity"))
    x.update(classification_features(record))
    x["aeo"] = False
    x.update(description_features(text(record, "goods_description")))
    x["completeness"] = completeness(record, OPTIONAL_FIELDS)
    x.update(declared_fields(record))
    x.update(event_date(record))
    return x


def entities(record: Mapping[str, Any]) -> dict[str, str]:
    """Return the pseudonymised entity keys of a postal item.

    A sender or addressee is the pair of name and address tokens, so two people with the
    same name at different addresses stay apart.

    >>> entities({"sender_name": "px_s", "sender_address": "px_sa", "addressee_name": "px_a",
    ...           "addressee_address": "px_aa", "origin_country": "CN",
    ...           "destination_country": "DE", "hs_code": None})
    {'sender': 'px_s|px_sa', 'addressee': 'px_a|px_aa', 'origin': 'CN', 'route': 'CN>DE'}
    """
    keys: dict[str, str] = {}
    for kind in ("sender", "addressee"):
        name = text(record, f"{kind}_name")
        address = text(record, f"{kind}_address")
        if name is not None or address is not None:
            keys[kind] = f"{name or ''}|{address or ''}"
    origin = text(record, "origin_country")
    if origin is not None:
        keys["origin"] = origin.upper()
        keys["route"] = f"{origin.upper()}>{(text(record, 'destination_country') or '?').upper()}"
    levels = hs_levels(text(record, "hs_code"))
    for kind, level in (("hs6", "hs6"), ("hs4", "hs_heading"), ("hs2", "hs_chapter")):
        if level in levels:
            keys[kind] = levels[level]
    return keys
