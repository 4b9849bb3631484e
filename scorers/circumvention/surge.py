"""Sudden origin after a duty rise: the pattern of anti-dumping circumvention.

When a duty hits goods of one HS heading from one origin, circumventing traders ship the
same goods through a third country and declare it as the origin: the duty-hit origin's
share of the heading falls and an origin that hardly sent those goods before surges.

The check counts the traffic of every (HS heading, origin) pair from every observed event,
exponentially weighted over two horizons: ``recent_days`` (in effect the last month) and
``baseline_days`` (in effect the last year). Each count is one float decayed lazily by
the days since its last update, so learning and scoring are a few dictionary look-ups per
event, and memory is bounded (``max_pairs`` pairs, ``max_headings`` headings; the least
recently seen go first). Counting every heading, not only those under a measure, means a
measure added to the book later finds its baseline already there.

Once a heading's measure applies, its counts split at the measure's start: the baseline
stops taking events and stays the traffic of the year **before** the duty (so a lasting
surge never becomes its own baseline), and the recent count starts afresh with the
traffic **since** (so the comparison is sharp from the first weeks, not diluted by the
month before). A heading first seen after its measure began (a measure in force for
years), or under a measure the learner's book did not know while it counted, keeps a
running baseline and a plain recent window instead.

For a heading under a measure of the book (from its ``since`` day on), an event of another
origin ``o`` fires when:

* the heading has at least ``min_recent`` recent events (enough to judge shares);
* ``o``'s recent share is at least ``min_share`` and ``surge_ratio`` times its baseline
  share;
* the duty-hit origin's recent share fell to ``fall_ratio`` of its baseline share or less
  (and it had ``min_hit_share`` of the heading to lose).

The score is ``1 - baseline share / recent share``: the part of ``o``'s recent traffic in
the heading that its usual share does not explain, read as the chance that this event is
part of the surge.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import Any

from scorers.base import Features, Reason
from scorers.circumvention.book import TradeDefenceMeasure, day_of
from scorers.wording import figure

CODE = "circumvention.surge"


def _percent(share: float) -> str:
    return f"{figure(100.0 * share)}%"


class OriginSurgeCheck:
    """An origin surging in an HS heading after a duty rose on another origin.

    Parameters
    ----------
    measures
        The trade-defence measures of the book.
    recent_days, baseline_days
        Time constants of the two exponentially weighted counts, in days.
    min_recent
        Recent (weighted) events a heading needs before shares are judged.
    min_share
        Recent share of the heading an origin needs to be called a surge.
    surge_ratio
        How many times its baseline share the origin's recent share must be.
    fall_ratio
        The duty-hit origin's recent share must have fallen to this share of its baseline.
    min_hit_share
        Baseline share of the heading the duty-hit origin must have had.
    max_pairs, max_headings
        Counts kept; the least recently seen are forgotten first.

    Examples
    --------
    >>> from scorers.circumvention.book import CircumventionBook
    >>> book = CircumventionBook.from_text(
    ...     "trade_defence: [{heading: '7208', origin: CN, since: 2025-02-01}]")
    >>> from datetime import date, timedelta
    >>> surge = OriginSurgeCheck(book.measures)
    >>> start = date(2024, 3, 1)
    >>> for n in range(365):  # a year of HS 7208 from CN, JP, now and then MY...
    ...     for i in range(4):  # ...and mostly MY in place of CN from 2025-02-04 on
    ...         masked = (n >= 340 and i > 0) or (i == 0 and n % 10 == 0)
    ...         origin = "JP" if i == 3 else "MY" if masked else "CN"
    ...         surge.learn_one({"hs_heading": "7208", "origin_country": origin,
    ...                          "event_date": (start + timedelta(n)).isoformat()})
    >>> x = {"hs_heading": "7208", "origin_country": "MY", "event_date": "2025-03-01"}
    >>> round(surge.score_one(x), 2)
    0.95
    >>> [r.text for r in surge.explain_one(x)]
    ['origin MY is new for HS 7208: 49% of its recent traffic against 2.5% before duties rose on CN (2025-02-01)']
    >>> surge.score_one({**x, "origin_country": "JP"}), surge.score_one({**x, "origin_country": "CN"})
    (0.0, 0.0)
    """  # noqa: E501

    def __init__(
        self,
        measures: Iterable[TradeDefenceMeasure] = (),
        recent_days: float = 30.0,
        baseline_days: float = 365.0,
        min_recent: float = 30.0,
        min_share: float = 0.1,
        surge_ratio: float = 3.0,
        fall_ratio: float = 0.7,
        min_hit_share: float = 0.05,
        max_pairs: int = 20_000,
        max_headings: int = 5_000,
    ) -> None:
        self.measures = tuple(measures)
        self.recent_days = recent_days
        self.baseline_days = baseline_days
        self.min_recent = min_recent
        self.min_share = min_share
        self.surge_ratio = surge_ratio
        self.fall_ratio = fall_ratio
        self.min_hit_share = min_hit_share
        self.max_pairs = max_pairs
        self.max_headings = max_headings
        # key -> [recent count, baseline count, day of the recent's and of the baseline's
        # last update]; dict order is recency. Headings are keyed "7208", pairs "7208|CN".
        self.headings: dict[str, list[float]] = {}
        self.pairs: dict[str, list[float]] = {}
        self.day = 0  # the latest event day seen
        self._by_heading = _by_heading(self.measures)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._by_heading = _by_heading(self.measures)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_by_heading", None)  # derived from the measures
        return state

    def set_measures(self, measures: Iterable[TradeDefenceMeasure]) -> None:
        """Use another book's measures; what was counted stays."""
        self.measures = tuple(measures)
        self._by_heading = _by_heading(self.measures)

    # -- learning ----------------------------------------------------------------------------

    def learn_one(self, x: Features, y: Any = None, w: float = 1.0) -> None:
        """Count the event in its heading and (heading, origin) pair; outcomes not needed."""
        heading, origin = x.get("hs_heading"), x.get("origin_country")
        if not isinstance(heading, str) or not isinstance(origin, str) or not origin:
            return
        day = day_of(x)
        if day is None:
            day = self.day
        elif day > self.day:
            self.day = day
        split = self._split_at(heading, day)
        self._add(self.headings, heading, day, self.max_headings, split)
        self._add(self.pairs, f"{heading}|{origin}", day, self.max_pairs, split)

    def _split_at(self, heading: str, day: int) -> int | None:
        """The day the heading's counts split at (before / since its first measure), if a
        measure applies on ``day`` and the heading was counted before it began."""
        measures = self._by_heading.get(heading)
        if not measures:
            return None
        started = [m.since_day for m in measures if m.since_day <= day]
        if not started:
            return None
        since = min(started)
        count = self.headings.get(heading)
        return since if count is not None and count[3] < since else None

    def _add(
        self, table: dict[str, list[float]], key: str, day: int, bound: int, split: int | None
    ) -> None:
        count = table.pop(key, None)
        if count is None:
            if len(table) >= bound:
                del table[next(iter(table))]
            count = [0.0, 0.0, float(day), float(day)]
            key = sys.intern(key)
        if split is not None and count[2] < split:
            count[0], count[2] = 0.0, float(day)  # the recent count starts at the measure
        elif day > count[2]:
            count[0] *= math.exp(-(day - count[2]) / self.recent_days)
            count[2] = float(day)
        count[0] += 1.0
        if split is None:  # after the split the baseline takes no more events
            if day > count[3]:
                count[1] *= math.exp(-(day - count[3]) / self.baseline_days)
                count[3] = float(day)
            count[1] += 1.0
        table[key] = count  # re-inserted: the most recent

    def _counts(
        self, table: dict[str, list[float]], key: str, day: int, split: int | None
    ) -> tuple[float, float]:
        """Recent count on ``day`` (since the split, if any); baseline count on ``day``, or
        on the split day for a split heading."""
        count = table.get(key)
        if count is None:
            return 0.0, 0.0
        recent, baseline = count[0], count[1]
        if split is not None and count[2] < split:
            recent = 0.0  # nothing since the measure
        elif day > count[2]:
            recent *= math.exp(-(day - count[2]) / self.recent_days)
        until = day if split is None else split
        if until > count[3]:
            baseline *= math.exp(-(until - count[3]) / self.baseline_days)
        return recent, baseline

    # -- scoring -----------------------------------------------------------------------------

    def check(self, x: Features) -> tuple[float, str] | None:
        """(score, reason text) of a surge of the event's origin, ``None`` without one."""
        heading = x.get("hs_heading")
        measures = self._by_heading.get(heading) if isinstance(heading, str) else None
        if not measures:
            return None
        origin = x.get("origin_country")
        if not isinstance(origin, str) or not origin:
            return None
        day = day_of(x)
        if day is None:
            day = self.day
        active = [m for m in measures if m.since_day <= day]
        if not active or any(m.origin == origin for m in active):
            return None  # no measure yet, or the event's origin pays the duty itself
        assert isinstance(heading, str)
        split = self._split_at(heading, day)
        recent_total, baseline_total = self._counts(self.headings, heading, day, split)
        if recent_total < self.min_recent or baseline_total <= 0.0:
            return None
        recent, baseline = self._counts(self.pairs, f"{heading}|{origin}", day, split)
        share, usual = recent / recent_total, baseline / baseline_total
        if share < self.min_share or share < self.surge_ratio * usual:
            return None
        best: tuple[float, str] | None = None
        for measure in active:
            hit_recent, hit_baseline = self._counts(
                self.pairs, f"{heading}|{measure.origin}", day, split)
            hit_share, hit_usual = hit_recent / recent_total, hit_baseline / baseline_total
            if hit_usual < self.min_hit_share or hit_share > self.fall_ratio * hit_usual:
                continue
            score = 1.0 - usual / share
            if best is None or score > best[0]:
                best = score, (
                    f"origin {origin} is new for HS {heading}: {_percent(share)} of its recent "
                    f"traffic against {_percent(usual)} before duties rose on "
                    f"{measure.origin} ({measure.since})"
                )
        return best

    def score_one(self, x: Features) -> float:
        found = self.check(x)
        return 0.0 if found is None else found[0]

    def explain_one(self, x: Features) -> list[Reason]:
        found = self.check(x)
        return [] if found is None else [Reason(CODE, found[1], found[0])]


def _by_heading(
    measures: tuple[TradeDefenceMeasure, ...],
) -> dict[str, tuple[TradeDefenceMeasure, ...]]:
    grouped: dict[str, list[TradeDefenceMeasure]] = {}
    for measure in measures:
        grouped.setdefault(measure.heading, []).append(measure)
    return {heading: tuple(group) for heading, group in grouped.items()}
