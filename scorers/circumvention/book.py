"""What customs knows about circumvention, in a YAML file analysts edit: the book.

Three sections, each optional (an empty book keeps every check silent)::

    relabelling_hubs:                 # transshipment hubs known for re-labelling origin
      airports: [HKG, {XYZ: AE}]      # IATA codes; an airport the table does not know
                                      #   is given with its country
      countries: [AE]                 # every airport of these countries
      any_dispatch_mismatch: false    # also flag a dispatch country other than the
                                      #   declared origin without a listed hub (weaker)
    trade_defence:                    # anti-dumping, countervailing and safeguard duties
      - heading: '8712'               # HS heading (4 digits, quoted)
        origin: CN                    # the origin the duty hits
        since: 2025-02-01             # when it applies
        measure: anti-dumping duty on bicycles   # optional, for analysts
    switch_after_finding:
      within_days: 30                 # a switch of origin or HS heading by the same
                                      #   trader this soon after a finding is flagged; 0: off

Loading is strict: every problem in the file is reported at once, and codes must be quoted
text (YAML reads a bare ``NO`` as false and ``8712`` as a number).

>>> book = CircumventionBook.from_text('''
... relabelling_hubs: {airports: [HKG]}
... trade_defence: [{heading: '7208', origin: CN, since: 2025-02-01}]
... switch_after_finding: {within_days: 30}
... ''')
>>> book.hub_airports, book.measures[0].since_day, book.switch_within_days
({'HKG': 'HK'}, 20120, 30)
>>> CircumventionBook.from_text("trade_defence: [{heading: 7208, origin: CN}]")
Traceback (most recent call last):
...
scorers.circumvention.book.CircumventionFileError: <string>: 2 problems in circumvention file
  trade_defence[0].heading: 7208 must be an HS heading of 4 digits, as quoted text ('7208')
  trade_defence[0].since: a date (YYYY-MM-DD) is required
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from scorers.features.airports import AIRPORT_COUNTRY

__all__ = ["CircumventionBook", "CircumventionFileError", "TradeDefenceMeasure", "day_of"]

_EPOCH = date(1970, 1, 1).toordinal()
_AIRPORT = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_HEADING = re.compile(r"\d{4}")
_SECTIONS = ("relabelling_hubs", "trade_defence", "switch_after_finding")
_MAX_WINDOW_DAYS = 366


class CircumventionFileError(ValueError):
    """A circumvention file that cannot be used; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        header = f"{source}: {count} problem{'s' if count != 1 else ''} in circumvention file"
        super().__init__("\n  ".join([header, *self.problems]))

    def __reduce__(self) -> tuple[type[CircumventionFileError], tuple[str, tuple[str, ...]]]:
        return (type(self), (self.source, self.problems))


@lru_cache(maxsize=4096)
def _day_of_text(text: str) -> int | None:
    try:
        return date.fromisoformat(text).toordinal() - _EPOCH
    except ValueError:
        return None


def day_of(x: Mapping[str, Any]) -> int | None:
    """The event's day number (days since 1970-01-01 UTC, as the profiles count them) from
    its ``event_date`` feature, ``None`` without one.

    >>> day_of({"event_date": "2025-02-01"}), day_of({})
    (20120, None)
    """
    text = x.get("event_date")
    return _day_of_text(text) if isinstance(text, str) else None


@dataclass(frozen=True, slots=True)
class TradeDefenceMeasure:
    """A duty on goods of one HS heading from one origin, applying from ``since``."""

    heading: str
    origin: str
    since: str  # ISO date, as written
    since_day: int
    measure: str = ""


@dataclass(frozen=True)
class CircumventionBook:
    """The analysts' knowledge the circumvention checks work from; empty: all silent."""

    hub_airports: dict[str, str] = field(default_factory=dict)  # airport -> its country
    hub_countries: frozenset[str] = frozenset()
    any_dispatch_mismatch: bool = False
    measures: tuple[TradeDefenceMeasure, ...] = ()
    switch_within_days: int = 0
    source: str = "<empty>"

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> CircumventionBook:
        """Load a file; ``None`` loads the packaged ``rules/circumvention.yaml``."""
        if path is None:
            packaged = resources.files("scorers").joinpath("rules", "circumvention.yaml")
            return cls.from_text(packaged.read_text(encoding="utf-8"), "circumvention.yaml")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CircumventionFileError(str(path), [f"cannot read the file: {exc}"]) from None
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<string>") -> CircumventionBook:
        try:
            data = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2025-13-01
            raise CircumventionFileError(source, [f"not valid YAML: {exc}"]) from None
        return cls.from_dict(data or {}, source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> CircumventionBook:
        """A book from parsed YAML (or a world's configuration), checked strictly."""
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise CircumventionFileError(source, ["the file must be a mapping of sections"])
        for name in data:
            if name not in _SECTIONS:
                problems.append(f"{name}: unknown section (expected one of "
                                f"{', '.join(_SECTIONS)})")
        hubs = _section(data, "relabelling_hubs", problems)
        airports = _hub_airports(hubs.get("airports") or [], problems)
        countries = frozenset(
            code for code in _codes(hubs.get("countries") or [], _COUNTRY,
                                    "relabelling_hubs.countries", "country", problems)
        )
        for key in hubs:
            if key not in ("airports", "countries", "any_dispatch_mismatch"):
                problems.append(f"relabelling_hubs.{key}: unknown key")
        mismatch = hubs.get("any_dispatch_mismatch", False)
        if not isinstance(mismatch, bool):
            problems.append("relabelling_hubs.any_dispatch_mismatch: must be true or false")
        measures = _measures(data.get("trade_defence") or [], problems)
        switch = _section(data, "switch_after_finding", problems)
        within = switch.get("within_days", 0)
        for key in switch:
            if key != "within_days":
                problems.append(f"switch_after_finding.{key}: unknown key")
        if isinstance(within, bool) or not isinstance(within, int) or not (
            0 <= within <= _MAX_WINDOW_DAYS
        ):
            problems.append(f"switch_after_finding.within_days: {within!r} must be a whole "
                            f"number of days from 0 (off) to {_MAX_WINDOW_DAYS}")
            within = 0
        if problems:
            raise CircumventionFileError(source, problems)
        return cls(airports, countries, bool(mismatch), measures, int(within), source)

    def __bool__(self) -> bool:
        """True when any check has something to work from."""
        return bool(self.hub_airports or self.hub_countries or self.any_dispatch_mismatch
                    or self.measures or self.switch_within_days)


def _section(data: Mapping[str, Any], name: str, problems: list[str]) -> Mapping[str, Any]:
    section = data.get(name) or {}
    if not isinstance(section, Mapping):
        problems.append(f"{name}: must be a mapping")
        return {}
    return section


def _codes(values: Any, pattern: re.Pattern[str], where: str, what: str,
           problems: list[str]) -> list[str]:
    if not isinstance(values, list):
        problems.append(f"{where}: must be a list")
        return []
    codes = []
    for value in values:
        if isinstance(value, str) and pattern.fullmatch(value.strip().upper()):
            codes.append(value.strip().upper())
        else:
            problems.append(f"{where}: {value!r} is not a {what} code (quote codes: 'NO')")
    return codes


def _hub_airports(values: Any, problems: list[str]) -> dict[str, str]:
    where = "relabelling_hubs.airports"
    if not isinstance(values, list):
        problems.append(f"{where}: must be a list")
        return {}
    hubs: dict[str, str] = {}
    for value in values:
        if isinstance(value, Mapping) and len(value) == 1:
            ((airport, country),) = value.items()
        else:
            airport, country = value, None
        if not isinstance(airport, str) or not _AIRPORT.fullmatch(airport.strip().upper()):
            problems.append(f"{where}: {airport!r} is not an IATA airport code")
            continue
        airport = airport.strip().upper()
        if country is None:
            country = AIRPORT_COUNTRY.get(airport)
            if country is None:
                problems.append(f"{where}: {airport} is not in the airport table; "
                                f"give its country as {{{airport}: CC}}")
                continue
        if not isinstance(country, str) or not _COUNTRY.fullmatch(country.strip().upper()):
            problems.append(f"{where}: {country!r} is not a country code for {airport}")
            continue
        hubs[airport] = country.strip().upper()
    return hubs


def _measures(values: Any, problems: list[str]) -> tuple[TradeDefenceMeasure, ...]:
    if not isinstance(values, list):
        problems.append("trade_defence: must be a list of measures")
        return ()
    measures = []
    for i, entry in enumerate(values):
        where = f"trade_defence[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a mapping with heading, origin and since")
            continue
        for key in entry:
            if key not in ("heading", "origin", "since", "measure"):
                problems.append(f"{where}.{key}: unknown key")
        heading, origin = entry.get("heading"), entry.get("origin")
        since, text = entry.get("since"), entry.get("measure", "")
        ok = True
        if not isinstance(heading, str) or not _HEADING.fullmatch(heading.strip()):
            problems.append(f"{where}.heading: {heading!r} must be an HS heading of 4 digits, "
                            "as quoted text ('7208')")
            ok = False
        if not isinstance(origin, str) or not _COUNTRY.fullmatch(origin.strip().upper()):
            problems.append(f"{where}.origin: {origin!r} is not a country code (quote codes)")
            ok = False
        if isinstance(since, datetime):
            since = since.date()
        if isinstance(since, date):
            since = since.isoformat()
        day = _day_of_text(since) if isinstance(since, str) else None
        if since is None:
            problems.append(f"{where}.since: a date (YYYY-MM-DD) is required")
            ok = False
        elif day is None:
            problems.append(f"{where}.since: {since!r} is not a date (YYYY-MM-DD)")
            ok = False
        if not isinstance(text, str):
            problems.append(f"{where}.measure: must be text")
            ok = False
        if ok:
            assert isinstance(heading, str) and isinstance(origin, str) and day is not None
            measures.append(TradeDefenceMeasure(
                heading.strip(), origin.strip().upper(), str(since), day, str(text).strip()
            ))
    return tuple(measures)
