"""Smuggling regimes: how illicit traffic behaves before and after the concept drift.

A regime fixes which commodities are undervalued and from where, which goods hide under which
low-duty HS codes, which routes and origins carry concealed goods, where cash couriers fly
from, and how often each pattern occurs. At ``drift_at`` the world switches from ``BASE`` to
``DRIFTED``: the same kinds of fraud, but on other goods, origins and airports, so a model
that learned the old specifics loses its edge until it learns again. Cash couriers also
change how they book (ahead, return tickets, card), which the error stream shows as a drift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

DraftT = TypeVar("DraftT")


@dataclass(frozen=True, slots=True)
class Regime:
    """The specifics of illicit traffic in one period.

    >>> BASE.undervalued_goods[0], DRIFTED.undervalued_goods[0]
    ('phone', 'perfume')
    """

    name: str
    #: stream -> pattern -> relative frequency among that stream's illicit events
    pattern_weights: Mapping[str, Mapping[str, float]]
    undervalued_goods: tuple[str, ...]
    undervalued_origins: tuple[tuple[str, float], ...]
    misclassified_goods: tuple[str, ...]
    misclassified_as: tuple[str, ...]
    counterfeit_goods: tuple[str, ...]
    risky_origins: tuple[str, ...]
    risky_transit: str
    concealment_origins: tuple[str, ...]
    cash_source_airports: tuple[str, ...]
    offender_departures: tuple[str, ...]
    #: how cash couriers book: hours before departure, share of one-way tickets, and whether
    #: they pay like ordinary travellers (card) to evade payment-based profiles
    cash_booking_hours: tuple[float, float] = (2.0, 48.0)
    cash_one_way: float = 0.7
    cash_pays_by_card: bool = False


BASE = Regime(
    name="base",
    pattern_weights={
        "courier": {"undervaluation": 0.40, "misclassification": 0.25, "repeat_offender": 0.20,
                    "risky_route": 0.15},
        "postal": {"undervaluation": 0.40, "misclassification": 0.15, "repeat_offender": 0.20,
                   "concealment": 0.25},
        "passenger": {"cash_short_notice": 0.45, "repeat_offender": 0.25, "late_api": 0.30},
    },
    undervalued_goods=("phone", "laptop", "tablet", "earbuds", "smartwatch", "drone"),
    undervalued_origins=(("CN", 0.7), ("HK", 0.3)),
    misclassified_goods=("handbag", "sneakers", "watch"),
    misclassified_as=("books", "notebooks"),
    counterfeit_goods=("handbag", "sneakers", "watch", "sunglasses", "earbuds", "wallet"),
    risky_origins=("CO", "PE"),
    risky_transit="PTY",
    concealment_origins=("CO", "PE"),
    cash_source_airports=("GRU", "BOG", "PTY"),
    offender_departures=("IST", "DXB", "BKK"),
)

DRIFTED = Regime(
    name="drifted",
    pattern_weights={
        "courier": {"undervaluation": 0.30, "misclassification": 0.20, "repeat_offender": 0.20,
                    "risky_route": 0.30},
        "postal": {"undervaluation": 0.45, "misclassification": 0.10, "repeat_offender": 0.15,
                   "concealment": 0.30},
        "passenger": {"cash_short_notice": 0.55, "repeat_offender": 0.20, "late_api": 0.25},
    },
    undervalued_goods=("perfume", "cosmetics", "lipstick", "gold_jewellery"),
    undervalued_origins=(("TR", 0.8), ("AE", 0.2)),
    misclassified_goods=("vape", "dress", "jacket"),
    misclassified_as=("toys", "handicraft"),
    counterfeit_goods=("perfume", "cosmetics", "jewellery", "sneakers"),
    risky_origins=("EC", "PY"),
    risky_transit="GRU",
    concealment_origins=("IN", "LK"),
    cash_source_airports=("LOS", "ACC", "CMN"),
    offender_departures=("CAI", "DOH", "SIN"),
    # smugglers adapt to the profiles that caught them: planned, return, paid by card
    cash_booking_hours=(72.0, 240.0),
    cash_one_way=0.2,
    cash_pays_by_card=True,
)

REGIMES: Mapping[str, Regime] = {BASE.name: BASE, DRIFTED.name: DRIFTED}


def pattern_draft(
    patterns: Mapping[str, Callable[[Regime], DraftT]], stream: str, pattern: str, regime: Regime
) -> DraftT:
    """The draft of ``pattern``'s maker under ``regime``, or a clear error naming the patterns.

    >>> pattern_draft({"none": lambda regime: regime.name}, "postal", "none", REGIMES["base"])
    'base'
    >>> pattern_draft({"none": str}, "postal", "smurfing", REGIMES["base"])
    Traceback (most recent call last):
    ...
    ValueError: postal stream has no pattern 'smurfing'; expected one of none
    """
    maker = patterns.get(pattern)
    if maker is None:
        raise ValueError(
            f"{stream} stream has no pattern {pattern!r}; expected one of " + ", ".join(patterns)
        )
    return maker(regime)
