"""A tiny seeded generator of pseudonymised events with planted risk, for examples and tests.

This is not the simulator (``simulator/`` models hubs, regimes and offenders in depth); it
only gives every scorer something realistic to chew on in a doctest or a unit test. Each
record matches its Avro schema after decoding and pseudonymisation: aware UTC datetimes,
``Decimal`` money, enum symbols as strings and ``px_`` tokens in the personal fields. The
label says whether an inspection would find something; the planted patterns are risky
traders, under-valuation, HS misclassification, vague descriptions (goods) and cash,
last-minute bookings, broken journeys and risky origins (passengers).

>>> record, finding = next(records("courier", 1, seed=1))
>>> record["shipper_id"][:3], type(record["declared_value"]).__name__, finding
('px_', 'Decimal', False)
>>> round(sum(y for _, y in records("passenger", 2000, seed=1)) / 2000, 3)
0.059
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from scorers.features import check_stream

# (HS6, descriptions, EUR per kg, weight range in kg)
GOODS = (
    ("851713", ("smartphone", "mobile phone"), 300.0, (0.3, 1.0)),
    ("420221", ("leather handbag", "handbag"), 150.0, (0.5, 2.0)),
    ("490199", ("printed books", "books"), 15.0, (0.5, 5.0)),
    ("610910", ("cotton t-shirts", "t-shirt"), 40.0, (0.2, 3.0)),
    ("950300", ("toys", "plush toy"), 20.0, (0.3, 4.0)),
    ("330499", ("cosmetics", "face cream"), 80.0, (0.1, 1.0)),
    ("847130", ("laptop", "notebook computer"), 250.0, (1.0, 3.0)),
    ("640399", ("leather shoes", "sneakers"), 60.0, (0.5, 2.0)),
)
ORIGINS = (("CN", 0.8, "CNY"), ("HK", 1.0, "HKD"), ("US", 1.3, "USD"), ("TR", 0.9, "TRY"),
           ("IN", 0.85, "INR"), ("GB", 1.2, "GBP"))
_FX = {"CNY": 0.128, "HKD": 0.118, "USD": 0.92, "TRY": 0.028, "INR": 0.011, "GBP": 1.17}
AIRPORTS = ("IST", "DXB", "DOH", "LOS", "GRU", "BOG", "JFK", "PEK", "DEL", "CAI")
RISKY_AIRPORTS = ("LOS", "BOG")
_START = datetime(2025, 1, 6, tzinfo=UTC)


def token(kind: str, index: int, seed: int) -> str:
    """A stable opaque token, as the ingest's keyed hash would produce."""
    digest = hashlib.blake2b(f"{kind}:{index}:{seed}".encode(), digest_size=6).hexdigest()
    return f"px_{digest}"


def _any_of(rng: random.Random, *chances: float) -> bool:
    miss = 1.0
    for chance in chances:
        miss *= 1.0 - chance
    return rng.random() < 1.0 - miss


def _goods(rng: random.Random, seed: int, stream: str, i: int) -> tuple[dict[str, Any], bool]:
    hs6, descriptions, price, (low, high) = rng.choice(GOODS)
    origin, factor, currency = rng.choice(ORIGINS)
    weight = round(rng.uniform(low, high), 2)
    value_eur = price * factor * weight * rng.lognormvariate(0.0, 0.3)
    trader = rng.randrange(300)
    risky_trader = trader < 15
    under = rng.random() < 0.06
    if under:
        value_eur *= rng.uniform(0.05, 0.2)
    misclassified = rng.random() < 0.04
    declared = rng.choice([g[0] for g in GOODS if g[0] != hs6]) if misclassified else hs6
    vague = rng.random() < 0.05
    description = rng.choice(("gift", "parts", "goods", "sample")) if vague else rng.choice(
        descriptions)
    finding = _any_of(rng, 0.02, 0.4 * risky_trader, 0.7 * under, 0.6 * misclassified,
                      0.15 * vague)
    if rng.random() < 0.7:
        currency = "EUR"
    amount = Decimal(f"{value_eur / (_FX[currency] if currency != 'EUR' else 1.0):.2f}")
    common = {
        "event_id": f"{stream}-{seed}-{i}",
        "hub": rng.choice(("hub_LEJ", "hub_FRA", "hub_CGN")),
        "event_time": _START + timedelta(minutes=i),
        "origin_country": origin,
        "destination_country": "DE",
        "goods_description": description,
        "declared_value": amount,
        "currency": currency,
        "gross_weight_kg": weight,
    }
    if stream == "courier":
        record: dict[str, Any] = {
            **common,
            "air_waybill": f"{rng.choice(('020', '176', '618'))}-{rng.randrange(10**8):08d}",
            "shipper_id": token("shipper", trader, seed),
            "shipper_name": token("shipper_name", trader, seed),
            "shipper_address": token("shipper_address", trader, seed),
            "consignee_id": token("consignee", rng.randrange(5000), seed),
            "consignee_name": token("consignee_name", i, seed),
            "consignee_address": token("consignee_address", i, seed),
            "consignee_phone": token("phone", i, seed) if rng.random() < 0.6 else None,
            "declarant_id": token("declarant", rng.randrange(20), seed)
            if rng.random() < 0.5 else None,
            "route": [rng.choice(("PVG", "HKG", "JFK", "IST")), "LEJ"]
            if rng.random() < 0.7 else ["PVG", "DXB", "LEJ"],
            "hs_code": declared + "00",
            "pieces": rng.randint(1, 3),
            "incoterms": rng.choice(("DAP", "DDP", None)),
            "aeo_status": "aeoc" if trader % 10 == 5 and not risky_trader else "none",
            "attributes": {},
            "measures": {},
        }
    else:
        record = {
            **common,
            "item_id": f"RR{rng.randrange(10**8):08d}9{origin}",
            "declaration_form": rng.choice(("cn22", "cn23")),
            "item_category": "gift" if vague or rng.random() < 0.2 else "sale",
            "sender_name": token("sender", trader, seed),
            "sender_address": token("sender_address", trader, seed),
            "addressee_name": token("addressee", rng.randrange(5000), seed),
            "addressee_address": token("addressee_address", i, seed),
            "addressee_phone": None,
            "hs_code": declared if rng.random() < 0.7 else None,
            "quantity": rng.randint(1, 4),
            "attributes": {},
            "measures": {},
        }
    return record, finding


def _passenger(rng: random.Random, seed: int, i: int) -> tuple[dict[str, Any], bool]:
    traveller = rng.randrange(2000)
    origin = rng.choice(AIRPORTS)
    departure = _START + timedelta(minutes=i, hours=2)
    lead_hours = rng.lognormvariate(4.5, 1.2)
    cash = rng.random() < 0.08
    one_way = rng.random() < 0.2
    broken = rng.random() < 0.05
    itinerary = [origin, "FRA"] if one_way else [origin, "FRA", origin]
    if broken:
        itinerary = [origin, "FRA", "ARNK", rng.choice(AIRPORTS)]
    finding = _any_of(rng, 0.01, 0.3 * (traveller < 40), 0.15 * cash, 0.1 * (lead_hours < 24),
                      0.1 * broken, 0.08 * (origin in RISKY_AIRPORTS))
    record = {
        "event_id": f"passenger-{seed}-{i}",
        "hub": "hub_FRA",
        "event_time": departure - timedelta(hours=1),
        "traveller_name": token("traveller_name", traveller, seed),
        "document_number": token("document", traveller, seed),
        "date_of_birth": token("birth", traveller, seed) if rng.random() < 0.9 else None,
        "phone": token("phone", traveller, seed) if rng.random() < 0.5 else None,
        "nationality": None,
        "carrier": rng.choice(("LH", "TK", "EK", "QR")),
        "flight_number": f"LH{rng.randrange(100, 999)}",
        "departure_airport": origin,
        "arrival_airport": "FRA",
        "departure_time": departure,
        "itinerary": itinerary,
        "one_way": one_way,
        # whole seconds: Avro timestamps carry milliseconds at most
        "booking_time": departure - timedelta(seconds=round(lead_hours * 3600)),
        "check_in_time": departure - timedelta(seconds=round(rng.uniform(1, 24) * 3600)),
        "payment_form": "cash" if cash else rng.choice(("card", "card", "invoice", "miles")),
        "baggage_count": rng.randint(0, 3),
        "trips_last_year": rng.randint(0, 12),
        "api_received_before_departure_s": rng.randint(-600, 7200),
        "mandatory_fields_missing": 1 if rng.random() < 0.03 else 0,
    }
    return record, finding


def records(stream: str, n: int, seed: int = 42) -> Iterator[tuple[dict[str, Any], bool]]:
    """Yield ``n`` (record, finding) pairs of ``stream``, the same ones for the same seed."""
    check_stream(stream)
    rng = random.Random(f"{stream}:{seed}")
    for i in range(n):
        yield _passenger(rng, seed, i) if stream == "passenger" else _goods(rng, seed, stream, i)
