"""Features and entity keys per stream, as plain functions.

``features_for(stream, record)`` turns one decoded, pseudonymised event into a flat dict of
numbers, strings and booleans that every scorer reads. ``entities_for(stream, record)`` gives
the pseudonymised keys (shipper, consignee, traveller, route, HS code, ...) that entity risk
profiles learn outcome rates for. Features never contain a personal token; entity keys only
contain tokens, never a clear personal value.

>>> features_for("postal", {"goods_description": "books", "hs_code": "4901"})["hs_heading"]
'4901'
>>> features_for("ship", {})
Traceback (most recent call last):
...
ValueError: unknown stream 'ship': expected one of courier, postal, passenger
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scorers.features import courier, passenger, postal

STREAMS = ("courier", "postal", "passenger")

_FEATURES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "courier": courier.features,
    "postal": postal.features,
    "passenger": passenger.features,
}
_ENTITIES: dict[str, Callable[[Mapping[str, Any]], dict[str, str]]] = {
    "courier": courier.entities,
    "postal": postal.entities,
    "passenger": passenger.entities,
}

# String features with a small, known set of values: safe to one-hot encode. Any other string
# (a new field, a token that slipped through) is ignored by the linear models.
CATEGORICAL = (
    "hub", "origin_country", "hs_chapter", "category", "incoterms", "declaration_form",
    "carrier", "departure_airport", "payment_form",
)


def check_stream(stream: str) -> None:
    """Raise a clear error for a stream name that is not one of ours."""
    if stream not in _FEATURES:
        raise ValueError(f"unknown stream {stream!r}: expected one of {', '.join(STREAMS)}")


def features_for(stream: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the features of one decoded, pseudonymised event of ``stream``."""
    check_stream(stream)
    return _FEATURES[stream](record)


def entities_for(stream: str, record: Mapping[str, Any]) -> dict[str, str]:
    """Return the pseudonymised entity keys of one event of ``stream``, by entity kind."""
    check_stream(stream)
    return _ENTITIES[stream](record)


__all__ = ["CATEGORICAL", "STREAMS", "check_stream", "entities_for", "features_for", "recordable"]


def recordable(value: Any) -> float | str | bool | None:
    """A feature value as the scored record's feature map keeps it (numbers as floats).

    >>> [recordable(v) for v in (3, 2.5, "cash", True, None)]
    [3.0, 2.5, 'cash', True, None]
    """
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return float(value)
    return str(value)
