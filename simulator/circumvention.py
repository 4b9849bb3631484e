"""Circumvention planted in the declaration worlds: routes, traders' habits, three patterns.

``simulator.worlds.generate(preset, seed, circumvention=...)`` passes its rows here. Any
circumvention world, even one with no pattern planted (``circumvention=()``, the clean
counterpart), gets what the patterns need to be visible at all, and honest noise:

* a ``route`` per declaration: dispatched from the origin's airport, one in five via a
  transit hub, and one in a hundred legitimately consolidated at a re-labelling hub in
  another country (what the route check will wrongly flag);
* habitual importers: a share of the active importers declare one origin and one HS code
  most of the time, and now and then another origin for the same goods or other goods
  from the same origin (what the switch check will wrongly flag after a finding);
* the circumvention book customs has: the world's re-labelling hubs, one anti-dumping
  measure (the heading with most traffic, on its main origin, from 2025-02-01) and a
  30-day switch window.

The patterns, each switched on by name, mark their rows illicit (found by an inspection
with the world's detection rate):

* ``relabelled_route``: goods declared from a neighbouring origin, dispatched from a
  re-labelling hub or through one after a dispatch from their true origin;
* ``origin_surge``: after the measure, three in four declarations of the heading from the
  duty-hit origin are declared from an origin that hardly shipped it before;
* ``switch_after_finding``: within 25 days after a finding on its usual origin and goods,
  a habitual importer declares the same goods from another origin, or other goods under
  another heading from the same origin (four in five of its declarations).

Every step draws from its own random stream, so the rows a pattern does not touch are the
same in the clean and in the planted world.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

__all__ = ["HUBS", "PATTERNS", "SURGE_SINCE", "Planted", "plant"]

PATTERNS = ("relabelled_route", "origin_surge", "switch_after_finding")
#: Re-labelling hubs of these worlds (airport -> country), as customs lists them.
HUBS = {"HKG": "HK", "DXB": "AE", "SIN": "SG"}
SURGE_SINCE = datetime(2025, 2, 1, tzinfo=UTC)
WINDOW_DAYS = 30  # the book's switch window
_REACTION_DAYS = 25  # how long a caught importer keeps switching
ARRIVAL = "LEJ"
#: Main cargo airport of each origin of the worlds.
AIRPORTS = {
    "CN": "PVG", "US": "JFK", "DE": "FRA", "IN": "DEL", "TR": "IST", "VN": "SGN", "GB": "LHR",
    "JP": "NRT", "KR": "ICN", "TH": "BKK", "IT": "MXP", "FR": "CDG", "MY": "KUL", "ID": "CGK",
    "BR": "GRU", "MX": "MEX", "PL": "WAW", "ES": "MAD", "NL": "AMS", "AE": "DXB", "HK": "HKG",
    "TW": "TPE", "PK": "KHI", "BD": "DAC", "EG": "CAI", "ZA": "JNB", "NG": "LOS", "MA": "CMN",
    "CH": "ZRH", "CA": "YYZ",
}
_TRANSITS = ("HKG", "DXB", "IST", "DOH", "SIN", "ANC")
# origins that goods are re-labelled as (none of them a hub's country)
_MASKS = ("VN", "MY", "TH", "ID")
_TRANSIT_SHARE = 0.2
_CONSOLIDATED_SHARE = 0.01
_HABITUAL_MIN_ROWS = 8
_HABITUAL_MAX_SHARE = 0.01  # the very largest importers trade too widely to have a habit
_HABITUAL_SHARE = 0.8
_HOME_SHARE = 0.8  # a habitual importer's usual origin and goods...
_OTHER_ORIGIN_SHARE = 0.1  # ...the same goods from elsewhere; the rest: other goods
_RELABELLED_SHARE = 0.015
_SURGE_SHARE = 0.75
_REACTION_SHARE = 0.8  # a caught importer reacts...
_SWITCH_SHARE = 0.8  # ...by switching each of its next declarations...
_SWITCHES = 4  # ...up to this many


@dataclass(frozen=True)
class Planted:
    """What a circumvention world planted: per row the pattern ("" for none), the finding
    each planted switch follows (row index -> row index), and customs' circumvention book."""

    patterns: tuple[str, ...]
    triggers: dict[int, int] = field(default_factory=dict)
    book: dict[str, Any] = field(default_factory=dict)
    habitual: frozenset[str] = frozenset()


def _rng(preset: str, seed: int, step: str) -> np.random.Generator:
    digest = hashlib.sha256(f"worlds/{preset}/{seed}/circumvention/{step}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def plant(
    rows: list[dict[str, str]],
    truth: list[float],
    preset: str,
    seed: int,
    patterns: Collection[str],
    hs_codes: Sequence[str],
    unit_price: Iterable[float],
    detection: float,
    value_scale: float,
) -> Planted:
    """Give ``rows`` routes and habits and plant ``patterns`` in them, in place."""
    unknown = sorted(set(patterns) - set(PATTERNS))
    if unknown:
        raise ValueError(f"unknown circumvention pattern(s) {', '.join(unknown)}; expected "
                         f"some of {', '.join(PATTERNS)}")
    price = {code: float(p) for code, p in zip(hs_codes, unit_price, strict=True)}
    n = len(rows)
    days = [datetime.fromisoformat(r["registered_at"].replace("Z", "+00:00")) for r in rows]
    marks = [""] * n
    routes: dict[int, list[str]] = {}

    def recode(i: int, origin: str, hs6: str) -> None:
        row = rows[i]
        old = row["hs6"]
        if hs6 != old:  # same mass and noise, the new goods' unit price
            value = float(row["value"]) * price[hs6] / price[old]
            row["value"] = f"{value:.2f}"
        row["origin"], row["hs6"] = origin, hs6

    def illicit(i: int, pattern: str, rng: np.random.Generator) -> None:
        row = rows[i]
        found = bool(rng.random() < detection)
        row["fraud"] = "1" if found else "0"
        row["recovered"] = f"{float(row['value']) / value_scale * 0.25:.2f}" if found else "0"
        truth[i] = 1.0
        marks[i] = pattern

    # -- habitual importers: one origin and one HS code most of the time --------------------
    rng = _rng(preset, seed, "habits")
    counts = Counter(row["importer"] for row in rows)
    active = sorted(imp for imp, count in counts.items()
                    if _HABITUAL_MIN_ROWS <= count <= _HABITUAL_MAX_SHARE * n)
    habitual = frozenset(imp for imp in active if rng.random() < _HABITUAL_SHARE)
    origins = sorted(AIRPORTS)
    home: dict[str, tuple[str, str]] = {}
    for i, row in enumerate(rows):
        u, pick_origin, pick_code = rng.random(), rng.integers(len(origins)), rng.integers(
            len(hs_codes))
        importer = row["importer"]
        if importer not in habitual:
            continue
        if importer not in home:
            home[importer] = (row["origin"], row["hs6"])
        origin, code = home[importer]
        if u >= _HOME_SHARE + _OTHER_ORIGIN_SHARE:
            other = hs_codes[int(pick_code)]
            code = other if other[:4] != code[:4] else code
        elif u >= _HOME_SHARE:
            other = origins[int(pick_origin)]
            origin = other if other != origin else origin
        recode(i, origin, code)

    # -- the measure: the busiest heading, on its main origin before the measure ------------
    headings = Counter(row["hs6"][:4] for row in rows if row["importer"] not in habitual)
    heading = min(headings, key=lambda h: (-headings[h], h))
    before = Counter(row["origin"] for row, at in zip(rows, days, strict=True)
                     if row["hs6"][:4] == heading and at < SURGE_SINCE
                     and row["importer"] not in habitual)
    hit = min(before, key=lambda o: (-before[o], o))
    newcomer = min((o for o in _MASKS if o != hit), key=lambda o: (before[o], o))

    if "origin_surge" in patterns:
        rng = _rng(preset, seed, "origin_surge")
        for i, row in enumerate(rows):
            u = rng.random()
            if (days[i] >= SURGE_SINCE and row["hs6"][:4] == heading and row["origin"] == hit
                    and row["importer"] not in habitual and u < _SURGE_SHARE):
                recode(i, newcomer, row["hs6"])
                routes[i] = [AIRPORTS[newcomer], ARRIVAL]  # transshipped there for real
                illicit(i, "origin_surge", rng)

    if "relabelled_route" in patterns:
        rng = _rng(preset, seed, "relabelled_route")
        hubs = sorted(HUBS)
        for i, row in enumerate(rows):
            u, mask, hub, direct = (rng.random(), _MASKS[int(rng.integers(len(_MASKS)))],
                                    hubs[int(rng.integers(len(hubs)))], rng.random() < 0.6)
            if (u >= _RELABELLED_SHARE or marks[i] or row["importer"] in habitual
                    or row["hs6"][:4] == heading):
                continue
            true_origin = row["origin"]
            if true_origin in (mask, *HUBS.values()):
                true_origin = "CN" if mask != "CN" else "IN"
            recode(i, mask, row["hs6"])
            routes[i] = [hub, ARRIVAL] if direct else [AIRPORTS[true_origin], hub, ARRIVAL]
            illicit(i, "relabelled_route", rng)

    triggers: dict[int, int] = {}
    if "switch_after_finding" in patterns:
        rng = _rng(preset, seed, "switch_after_finding")
        caught: dict[str, list[Any]] = {}  # importer -> [finding's row, its time, switches]
        for i, row in enumerate(rows):
            u, how, react = rng.random(), rng.random(), rng.random()
            pick_origin, pick_code = rng.integers(len(origins)), rng.integers(len(hs_codes))
            importer = row["importer"]
            if importer not in habitual:
                continue
            usual = home[importer]
            last = caught.get(importer)
            if (last is not None and last[2] < _SWITCHES
                    and days[i] - last[1] <= timedelta(days=_REACTION_DAYS)):
                if u < _SWITCH_SHARE:
                    last[2] += 1
                    origin, code = usual
                    if how < 0.5:
                        origin = origins[int(pick_origin)]
                        if origin == usual[0]:
                            origin = "VN" if usual[0] != "VN" else "MY"
                    else:
                        code = hs_codes[int(pick_code)]
                        if code[:4] == usual[1][:4]:
                            code = next(c for c in hs_codes if c[:4] != usual[1][:4])
                    recode(i, origin, code)
                    illicit(i, "switch_after_finding", rng)
                    triggers[i] = last[0]
                continue
            if (row["fraud"] == "1" and (row["origin"], row["hs6"]) == usual
                    and react < _REACTION_SHARE):
                caught[importer] = [i, days[i], 0]

    # -- routes -----------------------------------------------------------------------------
    rng = _rng(preset, seed, "routes")
    hubs = sorted(HUBS)
    for i, row in enumerate(rows):
        u, transit, hub = (rng.random(), _TRANSITS[int(rng.integers(len(_TRANSITS)))],
                           hubs[int(rng.integers(len(hubs)))])
        route = routes.get(i)
        if route is None:
            dispatch = AIRPORTS[row["origin"]]
            if u < _CONSOLIDATED_SHARE and HUBS[hub] != row["origin"]:
                route = [hub, ARRIVAL]  # a consolidator's honest dispatch from a hub
            elif u < _CONSOLIDATED_SHARE + _TRANSIT_SHARE and transit != dispatch:
                route = [dispatch, transit, ARRIVAL]
            else:
                route = [dispatch, ARRIVAL]
        row["route"] = "-".join(route)

    book = {
        "relabelling_hubs": {"airports": hubs},
        "trade_defence": [{"heading": heading, "origin": hit,
                           "since": SURGE_SINCE.date().isoformat(),
                           "measure": "anti-dumping duty (simulated)"}],
        "switch_after_finding": {"within_days": WINDOW_DAYS},
    }
    return Planted(tuple(marks), triggers, book, habitual)
