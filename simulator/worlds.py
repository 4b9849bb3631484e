"""Realistic declaration worlds for the targeting benchmark: hard, noisy, drifting.

The hub simulator of :mod:`simulator.world` plants patterns a model finds with ROC AUC 0.99;
a world where everything scores that well cannot tell good modelling choices from bad. These
worlds are shaped like national import-declaration data instead:

* latent fraud propensity per importer, declarant and seller, with heavy-tailed activity
  (Zipf): most traders are seen once or twice, a few thousands of times;
* weaker propensities per HS6 code, origin, office and the authority's own categorical
  fields (process, payment and tax types), and a value per kg that fraud lowers against the
  HS6 code's unit price, under log-normal noise;
* label noise: an inspection finds only part of the fraud;
* a drift in the live part: a new set of fraudulent importers appears in month 14.

Every world covers 18 months from 2024-01-01: 12 months of history, 6 live months, of which
the last 3 are judged (``measure_from``). Same preset and seed give the same rows.

``generate(..., circumvention=patterns)`` gives the same world with routes, habitual
importers and the circumvention patterns named planted (:mod:`simulator.circumvention`);
``circumvention=()`` is its clean counterpart. Without the option a world is as it always
was, row for row.

>>> world = generate("national_imports", seed=1, scale=0.02)
>>> len(world.rows), world.columns[:4], world.rows[0]["declaration_id"]
(700, ('declaration_id', 'registered_at', 'office', 'importer'), 'national_imports-1-0000000')
>>> world.learn_until.isoformat(), 0.1 < world.base_rate < 0.3
('2025-01-01T00:00:00+00:00', True)
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simulator.circumvention import Planted, plant

__all__ = ["PRESETS", "SEEDS", "World", "WorldSpec", "daily_bursts", "generate"]

SEEDS = (1, 2, 3)
START = datetime(2024, 1, 1, tzinfo=UTC)
LEARN_UNTIL = datetime(2025, 1, 1, tzinfo=UTC)
MEASURE_FROM = datetime(2025, 4, 1, tzinfo=UTC)
END = datetime(2025, 7, 1, tzinfo=UTC)
DRIFT_AT = datetime(2025, 3, 1, tzinfo=UTC)
_ORIGINS = (
    "CN", "US", "DE", "IN", "TR", "VN", "GB", "JP", "KR", "TH", "IT", "FR", "MY", "ID", "BR",
    "MX", "PL", "ES", "NL", "AE", "HK", "TW", "PK", "BD", "EG", "ZA", "NG", "MA", "CH", "CA",
)


@dataclass(frozen=True)
class WorldSpec:
    """The knobs of one preset."""

    rows: int
    intercept: float  # log-odds of fraud for an average declaration (sets the base rate)
    importers: int
    sellers: int
    declarants: int
    entity_sd: float  # spread of the traders' latent propensity (log-odds)
    detection: float  # share of fraud an inspection finds
    drift_sd: float  # propensity of the importers that turn fraudulent at the drift
    categorical: dict[str, int]  # the authority's own categorical fields: name -> levels
    numeric: tuple[str, ...]
    currency: str
    value_scale: float  # local currency units per EUR
    offices: int = 20
    hs_codes: int = 2000


PRESETS: dict[str, WorldSpec] = {
    "national_imports": WorldSpec(
        35_000, -1.9, 12_000, 9_000, 600, 1.0, 0.8, 1.5,
        {"process_type": 6, "payment_type": 5, "tax_type": 4}, ("tax_rate",), "KRW", 1470.0,
    ),
    "express_courier": WorldSpec(
        35_000, -4.6, 20_000, 6_000, 80, 1.3, 0.7, 2.0,
        {"incoterms": 5, "channel": 3}, ("pieces_count",), "EUR", 1.0,
    ),
    "postal_smallparcels": WorldSpec(
        35_000, -3.3, 25_000, 10_000, 40, 1.2, 0.75, 2.5,
        {"item_category": 4, "declaration_form": 2}, ("quantity",), "INR", 90.0,
    ),
}


@dataclass(frozen=True)
class World:
    """One generated data set: rows, the replay mapping that reads them, and its periods."""

    name: str
    seed: int
    columns: tuple[str, ...]
    rows: list[dict[str, str]]
    mapping: dict[str, Any]
    learn_until: datetime
    measure_from: datetime
    base_rate: float
    truth: list[float] = field(default_factory=list)
    circumvention: Planted | None = None  # routes, habits and patterns, when asked for

    def write_circumvention(self, path: str | Path) -> None:
        """Write the circumvention book customs has for this world, for
        ``RISKSTREAM_CIRCUMVENTION_FILE``."""
        if self.circumvention is None:
            raise ValueError(f"world {self.name} was generated without circumvention")
        Path(path).write_text(yaml.safe_dump(self.circumvention.book, sort_keys=False),
                              encoding="utf-8")

    def write_csv(self, path: str | Path) -> None:
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)

    def write_mapping(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.mapping, sort_keys=False), encoding="utf-8")


def daily_bursts(world: World, hub: str = "OF00", at_hour: int = 6) -> World:
    """``world`` as a single lane that receives each day's declarations in one burst.

    Real declaration data often arrives as a daily file: every row goes to ``hub``, and a
    day's rows are registered one second apart from ``at_hour`` (UTC), in their order. The
    replay then swaps its model at every day boundary, just before each burst.

    >>> world = daily_bursts(generate("national_imports", 1, scale=0.01))
    >>> {row["office"] for row in world.rows}, world.rows[1]["registered_at"]  # 1 row a day
    ({'OF00'}, '2024-01-02T06:00:00Z')
    """
    rows, day, second = [], "", 0
    for row in world.rows:
        today = row["registered_at"][:10]
        second = second + 1 if today == day else 0
        day = today
        moved = datetime.fromisoformat(today).replace(hour=at_hour, tzinfo=UTC)
        moved += timedelta(seconds=second)
        rows.append({**row, "office": hub,
                     "registered_at": moved.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return World(world.name + "_bursts", world.seed, world.columns, rows, world.mapping,
                 world.learn_until, world.measure_from, world.base_rate, world.truth)


def _rng(preset: str, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"worlds/{preset}/{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _zipf(rng: np.random.Generator, size: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1) ** exponent
    return rng.permutation(weights / weights.sum())


def generate(
    preset: str, seed: int, scale: float = 1.0, circumvention: Collection[str] | None = None
) -> World:
    """The world ``preset`` for ``seed``, with ``scale`` times its rows; with
    ``circumvention`` (pattern names of :data:`simulator.circumvention.PATTERNS`, or none for
    the clean counterpart), with routes, habitual importers and those patterns planted."""
    spec = PRESETS[preset]
    rng = _rng(preset, seed)
    n = max(100, int(spec.rows * scale))
    importer_p, seller_p = _zipf(rng, spec.importers, 1.05), _zipf(rng, spec.sellers, 1.05)
    declarant_p, hs_p = _zipf(rng, spec.declarants, 1.0), _zipf(rng, spec.hs_codes, 1.0)
    origin_p = _zipf(rng, len(_ORIGINS), 1.2)
    importer_z = rng.normal(0.0, spec.entity_sd, spec.importers)
    drifted = rng.random(spec.importers) < 0.05  # these turn fraudulent at the drift
    seller_z = rng.normal(0.0, 0.7 * spec.entity_sd, spec.sellers)
    declarant_z = rng.normal(0.0, 0.5, spec.declarants)
    hs_z, origin_z = rng.normal(0.0, 0.5, spec.hs_codes), rng.normal(0.0, 0.5, len(_ORIGINS))
    office_z = rng.normal(0.0, 0.3, spec.offices)
    cat_z = {name: rng.normal(0.0, 0.4, levels) for name, levels in spec.categorical.items()}
    chapters = rng.integers(1, 98, spec.hs_codes)
    hs_codes = [f"{c:02d}{rng.integers(1, 100):02d}{rng.integers(0, 100):02d}" for c in chapters]
    unit_price = rng.lognormal(3.0, 1.5, spec.hs_codes)  # EUR per kg
    tax_rate = (chapters % 8) * 2.5
    cats = list(spec.categorical)
    columns = (
        "declaration_id", "registered_at", "office", "importer", "declarant", "seller", "hs6",
        "origin", "value", "currency", "net_mass_kg", *cats, *spec.numeric, "fraud", "recovered",
    )
    span = (END - START).total_seconds()
    times = np.sort(rng.random(n)) * span
    imp = rng.choice(spec.importers, n, p=importer_p)
    sel = rng.choice(spec.sellers, n, p=seller_p)
    dec = rng.choice(spec.declarants, n, p=declarant_p)
    hs = rng.choice(spec.hs_codes, n, p=hs_p)
    org = rng.choice(len(_ORIGINS), n, p=origin_p)
    off = rng.integers(0, spec.offices, n)
    levels = {name: rng.integers(0, size, n) for name, size in spec.categorical.items()}
    rows, truth, found_count = [], [], 0
    for i in range(n):
        at = START + timedelta(seconds=float(times[i]))
        z = (spec.intercept + importer_z[imp[i]] + seller_z[sel[i]] + declarant_z[dec[i]]
             + hs_z[hs[i]] + origin_z[org[i]] + office_z[off[i]]
             + sum(cat_z[name][levels[name][i]] for name in cats)
             + 0.05 * tax_rate[hs[i]])
        if at >= DRIFT_AT and drifted[imp[i]]:
            z += spec.drift_sd
        p = 1.0 / (1.0 + math.exp(-z))
        fraud = bool(rng.random() < p)
        mass = float(rng.lognormal(1.5, 1.3))
        value = mass * unit_price[hs[i]] * float(rng.lognormal(0.0, 0.9))
        if fraud and rng.random() < 0.5:
            value *= float(rng.uniform(0.2, 0.7))  # under-valuation
        found = fraud and rng.random() < spec.detection
        found_count += found
        row = {
            "declaration_id": f"{preset}-{seed}-{i:07d}",
            "registered_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "office": f"OF{off[i]:02d}",
            "importer": f"IMP{imp[i]:06d}",
            "declarant": f"DEC{dec[i]:04d}",
            "seller": f"SEL{sel[i]:06d}",
            "hs6": hs_codes[hs[i]],
            "origin": _ORIGINS[org[i]],
            "value": f"{value * spec.value_scale:.2f}",
            "currency": spec.currency,
            "net_mass_kg": f"{mass:.3f}",
            **{name: f"{name[:3].upper()}{levels[name][i]}" for name in cats},
            **{name: f"{tax_rate[hs[i]] if name == 'tax_rate' else 1 + int(rng.poisson(2))}"
               for name in spec.numeric},
            "fraud": "1" if found else "0",
            "recovered": f"{value * 0.25:.2f}" if found else "0",
        }
        rows.append(row)
        truth.append(p)
    planted = None
    if circumvention is not None:
        planted = plant(rows, truth, preset, seed, circumvention, hs_codes, unit_price,
                        spec.detection, spec.value_scale)
        columns = (*columns[:columns.index("origin") + 1], "route",
                   *columns[columns.index("origin") + 1:])
        found_count = sum(row["fraud"] == "1" for row in rows)
    mapping = {
        "stream": "courier", "id": "declaration_id", "time": "registered_at", "label": "fraud",
        "revenue": "recovered", "hub": "office", "hs_code": "hs6", "value": "value",
        "currency": "currency", "mass": "net_mass_kg", "origin": "origin",
        "entities": ["importer", "declarant", "seller"], "categorical": cats,
        "numeric": list(spec.numeric),
        "defaults": {"destination_country": "XX", "goods_description": "", "air_waybill": "",
                     "pieces": "1"},
    }
    if planted is not None:
        mapping["fields"] = {"route": "route"}
    return World(preset, seed, columns, rows, mapping, LEARN_UNTIL, MEASURE_FROM,
                 found_count / n, truth, planted)
