"""How declarants fill in the forms: HS code precision, wording, currency, money, numbers.

Shared by the courier and postal generators, so both streams show the same habits (upper-case
descriptions, 6 to 10 digit HS codes, values in the currency of the origin).
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from simulator.catalogue import UNITS_PER_EUR, Goods

# Extensions that turn an HS6 code into a CN8 or TARIC10 code; empty means HS6 only.
_HS_EXTENSIONS = ("", "", "", "00", "00", "90", "0000", "9000")
_HOME_CURRENCY = {"US": "USD", "GB": "GBP", "CH": "CHF"}
_S10_CHECK_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    """A draw spread evenly in log scale between ``low`` and ``high``."""
    return low * math.exp(rng.random() * math.log(high / low))


def money(amount: float) -> Decimal:
    """An amount as Decimal quantized to cents, never below one cent.

    >>> money(12.345), money(0.0)
    (Decimal('12.35'), Decimal('0.01'))
    """
    return Decimal(f"{max(amount, 0.01):.2f}")


def eur(amount: float) -> Decimal:
    """A non-negative EUR amount as Decimal cents (zero allowed, unlike ``money``)."""
    return Decimal(f"{max(amount, 0.0):.2f}")


def declared_hs(rng: random.Random, hs6: str) -> str:
    """The HS6 code as a declarant writes it: sometimes extended to 8 or 10 digits."""
    return hs6 + rng.choice(_HS_EXTENSIONS)


def describe(rng: random.Random, goods: Goods) -> str:
    """One way a declarant describes ``goods``: a variant, sometimes shouted, with a count."""
    text = rng.choice(goods.descriptions)
    roll = rng.random()
    if roll < 0.35:
        text = text.upper()
    elif roll < 0.45:
        text = f"{text}, {rng.randint(2, 50)} pcs"
    return text


def currency_for(rng: random.Random, origin: str) -> str:
    """The invoice currency: the origin's own for USD/GBP/CHF countries, else EUR or USD."""
    home = _HOME_CURRENCY.get(origin)
    if home and rng.random() < 0.8:
        return home
    return "USD" if rng.random() < 0.45 else "EUR"


def in_currency(value_eur: float, currency: str) -> Decimal:
    """``value_eur`` converted at the world's fixed rate into ``currency``."""
    return money(value_eur * UNITS_PER_EUR[currency])


def air_waybill(rng: random.Random) -> str:
    """An air waybill number: airline prefix, 7 serial digits and a mod-7 check digit.

    >>> air_waybill(random.Random(2))
    '615-19487742'
    """
    serial = rng.randint(1_000_000, 9_999_999)
    return f"{rng.choice(('615', '406', '023', '020'))}-{serial}{serial % 7}"


def s10_item_id(rng: random.Random, service: str, country: str) -> str:
    """A UPU S10 item identifier with a valid check digit, e.g. ``RR123456785CN``.

    >>> s10_item_id(random.Random(1), "RR", "CN")
    'RR180340635CN'
    """
    serial = f"{rng.randint(0, 99_999_999):08d}"
    check = 11 - sum(int(d) * w for d, w in zip(serial, _S10_CHECK_WEIGHTS, strict=True)) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"{service}{serial}{check}{country}"
