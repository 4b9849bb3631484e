"""The goods catalogue: what crosses the border, under which HS code, at what price.

Each entry is one kind of goods with the HS6 code it is honestly declared under, a few ways
people describe it, a typical price per kilogram in EUR (gross weight, packaging included), a
typical weight per consignment, where it usually comes from, and its EU duty and German VAT
rate (rounded, for revenue estimates only). Reference prices differ by origin, which is what a
valuation model has to learn per HS code and origin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Goods:
    """One kind of goods in the catalogue.

    >>> phone = GOODS_BY_KEY["phone"]
    >>> phone.hs6, phone.descriptions[0]
    ('851713', 'smartphone')
    >>> round(reference_price(phone, "CN"))
    375
    """

    key: str
    hs6: str
    descriptions: tuple[str, ...]
    price_eur_per_kg: tuple[float, float]
    weight_kg: tuple[float, float]
    origins: tuple[tuple[str, float], ...]
    duty_rate: float
    vat_rate: float = 0.19
    courier_weight: float = 1.0
    postal_weight: float = 1.0

    @property
    def chapter(self) -> str:
        return self.hs6[:2]


def _goods(
    key: str,
    hs6: str,
    descriptions: str,
    price: tuple[float, float],
    weight: tuple[float, float],
    origins: str,
    duty: float,
    *,
    vat: float = 0.19,
    courier: float = 1.0,
    postal: float = 1.0,
) -> Goods:
    # Compact spelling: descriptions separated by "|", origins as "CN:6 HK:2".
    pairs = tuple((code, float(share)) for code, share in (o.split(":") for o in origins.split()))
    return Goods(
        key, hs6, tuple(descriptions.split("|")), price, weight, pairs, duty, vat, courier, postal
    )


GOODS: tuple[Goods, ...] = (
    # electronics
    _goods("phone", "851713", "smartphone|mobile phone|cell phone|android smartphone",
           (250, 1000), (0.3, 6), "CN:6 HK:2 VN:1 KR:1 US:0.5", 0.0, courier=3, postal=1),
    _goods("laptop", "847130", "laptop computer|notebook computer|portable computer|laptop",
           (200, 700), (2, 15), "CN:5 TW:2 US:1", 0.0, courier=2, postal=0.3),
    _goods("tablet", "847130", "tablet computer|tablet pc|android tablet",
           (250, 800), (0.6, 5), "CN:6 TW:1 KR:1", 0.0, courier=1.5, postal=0.5),
    _goods("earbuds", "851830", "wireless earbuds|bluetooth headphones|earphones|headset",
           (120, 600), (0.2, 3), "CN:6 VN:2 HK:1", 0.02, courier=2, postal=2),
    _goods("smartwatch", "851762", "smart watch|fitness tracker|smartwatch",
           (300, 1800), (0.1, 2), "CN:6 HK:1 VN:1", 0.0, courier=1.5, postal=1.5),
    _goods("game_console", "950450", "video game console|game controller|handheld console",
           (80, 250), (0.5, 6), "JP:2 CN:5 US:1", 0.0, courier=1, postal=0.5),
    _goods("camera", "852589", "digital camera|action camera|mirrorless camera",
           (200, 1000), (0.4, 4), "JP:3 CN:4 HK:1", 0.0, courier=0.8, postal=0.4),
    _goods("drone", "880622", "camera drone|quadcopter|drone with camera",
           (100, 400), (0.5, 5), "CN:8 HK:1", 0.0, courier=0.6, postal=0.3),
    _goods("phone_case", "392690", "phone case|silicone phone cover|plastic phone case",
           (8, 40), (0.1, 5), "CN:9 HK:1", 0.065, courier=1.5, postal=4),
    _goods("usb_cable", "854442", "usb cable|charging cable|data cable",
           (10, 60), (0.1, 5), "CN:9 VN:1", 0.033, courier=1, postal=3),
    _goods("power_bank", "850760", "power bank|portable charger|lithium battery pack",
           (40, 150), (0.3, 6), "CN:9 HK:1", 0.027, courier=1, postal=1),
    _goods("led_lamp", "940542", "led lamp|led light strip|desk lamp",
           (15, 60), (0.3, 10), "CN:9", 0.047, courier=1, postal=2),
    _goods("vape", "854340", "e-cigarette|vape pen|disposable vape",
           (60, 300), (0.1, 3), "CN:9 HK:1", 0.022, courier=0.5, postal=1),
    _goods("chips", "854231", "integrated circuits|microcontrollers|electronic components",
           (1000, 15000), (0.1, 3), "TW:4 US:2 KR:2 CN:3 MY:2 SG:1", 0.0, courier=1.5,
           postal=0.1),
    _goods("pcb", "853400", "printed circuit boards|pcb assembly|circuit board",
           (100, 600), (0.2, 8), "CN:6 TW:3", 0.0, courier=1, postal=0.3),
    # clothing, shoes, accessories
    _goods("tshirt", "610910", "cotton t-shirt|t-shirts|men's tee shirt|printed t-shirt",
           (15, 60), (0.2, 10), "CN:4 BD:3 TR:2 IN:2 VN:1", 0.12, courier=2, postal=5),
    _goods("dress", "620442", "women's dress|cotton dress|summer dress",
           (20, 90), (0.2, 5), "CN:5 TR:2 IN:2", 0.12, courier=1, postal=4),
    _goods("jeans", "620342", "denim jeans|cotton trousers|jeans",
           (15, 60), (0.5, 8), "BD:3 TR:3 CN:3 PK:2", 0.12, courier=1, postal=2),
    _goods("jacket", "620193", "winter jacket|rain jacket|anorak",
           (20, 100), (0.6, 10), "CN:6 VN:3", 0.12, courier=1, postal=2),
    _goods("sneakers", "640411", "sneakers|sports shoes|running shoes|trainers",
           (30, 150), (0.8, 8), "CN:5 VN:4 ID:2", 0.169, courier=1.5, postal=3),
    _goods("leather_shoes", "640399", "leather shoes|men's leather boots|leather boots",
           (40, 200), (0.8, 6), "IN:2 CN:3 TR:2 BR:1", 0.08, courier=0.7, postal=1),
    _goods("handbag", "420221", "leather handbag|ladies handbag|leather shoulder bag",
           (100, 800), (0.5, 4), "CN:4 IN:2 TR:2", 0.03, courier=1, postal=2),
    _goods("wallet", "420231", "leather wallet|card holder|leather purse",
           (60, 400), (0.1, 2), "CN:4 IN:3 TR:1", 0.03, courier=0.5, postal=2),
    _goods("watch", "910211", "wrist watch|quartz watch|men's watch",
           (200, 3000), (0.1, 2), "CH:2 CN:4 HK:3 JP:1", 0.045, courier=1, postal=1.5),
    _goods("jewellery", "711719", "fashion jewellery|necklace|earrings|costume jewellery",
           (30, 200), (0.05, 2), "CN:6 IN:2 TR:2", 0.04, courier=0.7, postal=3),
    _goods("gold_jewellery", "711319", "gold necklace|gold bracelet|gold jewellery",
           (20000, 50000), (0.02, 0.5), "TR:4 IN:3 AE:3", 0.025, courier=0.2, postal=0.2),
    _goods("sunglasses", "900410", "sunglasses|polarized sunglasses",
           (50, 400), (0.1, 2), "CN:8 HK:1", 0.029, courier=0.5, postal=2),
    _goods("bed_linen", "630231", "bed linen|cotton bedsheets|duvet cover",
           (10, 40), (1, 15), "IN:3 PK:3 TR:2 CN:2", 0.12, courier=0.7, postal=1),
    _goods("textile_articles", "630790", "textile articles|fabric bags|face masks",
           (10, 50), (0.2, 8), "CN:8 IN:1", 0.063, courier=0.7, postal=2),
    _goods("carpet", "570110", "hand-knotted carpet|wool rug|oriental carpet",
           (50, 300), (3, 30), "TR:4 IN:3 PK:2", 0.08, courier=0.3, postal=0.2),
    # cosmetics and health
    _goods("perfume", "330300", "perfume|eau de parfum|fragrance|eau de toilette",
           (60, 400), (0.3, 5), "AE:3 TR:2 US:2 GB:2 CN:2", 0.0, courier=1, postal=2),
    _goods("cosmetics", "330499", "face cream|makeup set|skin care cream|cosmetics",
           (30, 250), (0.3, 8), "KR:4 TR:2 US:2 CN:3 JP:1", 0.0, courier=1, postal=3),
    _goods("lipstick", "330410", "lipstick|lip gloss|lip balm",
           (100, 600), (0.1, 2), "KR:3 CN:4 US:2", 0.0, courier=0.4, postal=1.5),
    _goods("shampoo", "330510", "shampoo|hair care products|hair conditioner",
           (5, 25), (0.5, 10), "TR:3 US:2 IN:2", 0.0, courier=0.4, postal=1),
    _goods("supplements", "210690", "dietary supplements|vitamin capsules|protein powder",
           (20, 120), (0.3, 8), "US:5 CN:2 IN:2 GB:1", 0.09, vat=0.07, courier=1, postal=3),
    _goods("medicines", "300490", "medicines|pharmaceutical products|prescription drugs",
           (50, 500), (0.1, 3), "IN:5 CN:2 US:2 CH:1", 0.0, courier=0.5, postal=1),
    _goods("medical_devices", "901890", "medical instruments|surgical instruments|diagnostic kit",
           (100, 1000), (0.5, 15), "US:4 CH:2 CN:3 JP:1 IL:1", 0.0, courier=1, postal=0.2),
    # food
    _goods("black_tea", "090230", "black tea|tea bags|ceylon tea",
           (10, 60), (0.2, 5), "IN:3 LK:3 CN:2 TR:2", 0.0, vat=0.07, courier=0.3, postal=2),
    _goods("green_tea", "090210", "green tea|matcha|jasmine tea",
           (15, 120), (0.2, 3), "CN:6 JP:3", 0.0, vat=0.07, courier=0.3, postal=1.5),
    _goods("coffee", "090121", "roasted coffee|coffee beans|ground coffee",
           (10, 50), (0.3, 10), "CO:3 BR:3 ET:2 PE:2 EC:1", 0.075, vat=0.07, courier=0.5, postal=1),
    _goods("spices", "091091", "spices|curry powder|spice mix",
           (5, 40), (0.2, 5), "IN:6 TR:2 LK:1", 0.0, vat=0.07, courier=0.3, postal=1.5),
    _goods("chocolate", "180632", "chocolate|chocolates gift box|chocolate bars",
           (8, 40), (0.2, 5), "CH:4 US:2 GB:2", 0.08, vat=0.07, courier=0.3, postal=1.5),
    _goods("dried_fruit", "081340", "dried fruit|dried apricots|dates",
           (5, 30), (0.5, 10), "TR:6 AE:2", 0.056, vat=0.07, courier=0.2, postal=1),
    # paper, toys, household
    _goods("books", "490199", "books|printed books|novel|textbook",
           (8, 40), (0.3, 12), "US:3 GB:4 CN:2", 0.0, vat=0.07, courier=1, postal=3),
    _goods("notebooks", "482010", "notebooks|paper notebook|diary|planner",
           (4, 20), (0.2, 8), "CN:7 IN:1", 0.0, courier=0.5, postal=1.5),
    _goods("documents", "491199", "documents|business documents|contracts",
           (5, 30), (0.1, 2), "US:3 GB:2 CN:2 CH:1 IN:1 TR:1", 0.0, courier=2, postal=0),
    _goods("toys", "950300", "toys|plastic toy|building blocks|plush toy",
           (10, 60), (0.2, 8), "CN:9 HK:1", 0.0, courier=1, postal=4),
    _goods("handicraft", "442090", "wooden handicraft|wood carving|souvenir",
           (10, 60), (0.3, 6), "IN:3 PE:2 CO:2 ID:2 TH:2 MX:1 EC:0.5 PY:0.5", 0.0, courier=0.3,
           postal=1),
    _goods("kitchenware", "732393", "stainless steel cookware|kitchen utensils|cooking pot",
           (8, 40), (0.5, 12), "CN:7 IN:2 TR:1", 0.032, courier=0.5, postal=1),
    # industry and vehicles
    _goods("auto_parts", "870899", "car parts|auto spare parts|brake pads",
           (10, 80), (1, 30), "CN:4 US:2 JP:2 TR:2", 0.03, courier=1.5, postal=0.3),
    _goods("bicycle_parts", "871499", "bicycle parts|bike components|bicycle gears",
           (15, 80), (0.5, 15), "CN:5 TW:4", 0.047, courier=0.7, postal=0.5),
    _goods("hand_tools", "820559", "hand tools|tool set|screwdriver set",
           (10, 50), (1, 20), "CN:6 TW:2 US:1", 0.027, courier=0.7, postal=0.3),
    _goods("machine_parts", "848790", "machine parts|spare parts|industrial parts",
           (20, 200), (1, 50), "US:3 CN:3 JP:2 CH:2", 0.017, courier=2, postal=0.1),
)

GOODS_BY_KEY: Mapping[str, Goods] = {goods.key: goods for goods in GOODS}

#: Price level of an origin relative to the catalogue price (cheaper from low-cost producers).
ORIGIN_PRICE_FACTOR: Mapping[str, float] = {
    "CN": 0.75, "HK": 0.9, "VN": 0.7, "BD": 0.6, "IN": 0.7, "PK": 0.65, "ID": 0.7, "TH": 0.8,
    "TR": 0.85, "LK": 0.8, "MY": 0.85, "US": 1.2, "GB": 1.15, "JP": 1.2, "KR": 1.05,
    "CH": 1.4, "TW": 1.0, "SG": 1.1, "AE": 1.0, "IL": 1.1,
}

#: Fixed exchange rates, units of the currency per EUR (declared values are converted once).
UNITS_PER_EUR: Mapping[str, float] = {"EUR": 1.0, "USD": 1.08, "GBP": 0.85, "CHF": 0.95}


def reference_price(goods: Goods, origin: str) -> float:
    """Typical EUR per kg of ``goods`` from ``origin``: the geometric middle of its range."""
    low, high = goods.price_eur_per_kg
    return math.sqrt(low * high) * ORIGIN_PRICE_FACTOR.get(origin, 1.0)


def import_charges(value_eur: float, goods: Goods) -> float:
    """Duty plus import VAT due on ``value_eur`` of ``goods`` (VAT is levied on value + duty)."""
    return value_eur * ((1.0 + goods.duty_rate) * (1.0 + goods.vat_rate) - 1.0)
