"""The replay report: what the policy caught, and Precision@n% as customs research reports it.

Every figure covers the live part of a replay and is recomputable from the per-row dump
(``--dump-scores``: id, day, score, selected, kind, label, revenue, model version, and the
key the selection ranked by):

* ``hit_rate``: illicit share of the rows the policy actually selected for inspection
  (model, random and rule picks alike);
* ``precision_at[n]``, ``recall_at[n]`` for n = 1, 2, 5 and 10%: each day's rows are ranked
  by the key their lane ranks by (the score, or under revenue ranking the expected revenue;
  ties: earlier arrival first), the top ``ceil(n * rows of the day)`` are taken, and
  the picks of all days are pooled; precision is the illicit share of the picks, recall the
  share of all illicit rows that were picked;
* ``revenue_at[n]``: share of all revenue (recovered amounts) in those picks, when the
  mapping has a revenue column;
* ``roc_auc``: ranking quality over all rows (Mann-Whitney, ties counted half);
* ``random_hit_rate``: illicit share among random picks, an unbiased estimate of the base
  rate that a deployment can measure without knowing the truth.

The same figures are given per calendar month (UTC) under ``months``, and ``budget`` says
how each lane kept its budget per accounting period (:func:`budget_use`).
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from scorers.selection import NOT_SELECTED, Ledger

__all__ = [
    "DUMP_COLUMNS",
    "SHARES",
    "ScoredRow",
    "budget_use",
    "figures",
    "read_dump",
    "roc_auc",
    "top_count",
    "write_dump",
]

SHARES = (0.01, 0.02, 0.05, 0.1)
"""Inspection rates n of Precision@n%, as customs fraud research reports them."""

DUMP_COLUMNS = (
    "id", "day", "score", "selected", "kind", "label", "revenue", "model_version", "priority",
)


@dataclass(frozen=True, slots=True)
class ScoredRow:
    """One live row as the replay saw it: the verdict, and the truth it never showed.

    >>> from datetime import UTC, datetime
    >>> row = ScoredRow("e1", datetime(2026, 1, 5, 9, tzinfo=UTC), 0.8, True, "model",
    ...                 True, 120.0, "warm-100")
    >>> row.day.isoformat(), row.month
    ('2026-01-05', '2026-01')
    """

    event_id: str
    time: datetime
    score: float
    selected: bool
    kind: str
    label: bool
    revenue: float
    model_version: str
    # the key the selection ranked the row by (its lane's ranking); None: the score
    priority: float | None = None

    @property
    def rank(self) -> float:
        """What the row is ranked by for Precision@n% and Revenue@n%: the lane's key."""
        return self.score if self.priority is None else self.priority

    @classmethod
    def decided(
        cls, event_id: str, time: datetime, label: bool, revenue: float,
        decision: Mapping[str, Any],
    ) -> ScoredRow:
        """The row of a replayed event from its verdict or scored record (both carry score,
        selection kind and model version)."""
        kind = str(decision["selection_kind"])
        priority = decision.get("priority")
        return cls(event_id, time, float(decision["score"]), kind not in NOT_SELECTED, kind, label,
                   revenue, str(decision["model_version"]),
                   None if priority is None else float(priority))

    @property
    def day(self) -> date:
        return self.time.date()

    @property
    def month(self) -> str:
        return f"{self.time.year:04d}-{self.time.month:02d}"


def share_key(share: float) -> str:
    """The report key of an inspection rate: ``0.05`` -> ``"0.05"``, ``0.1`` -> ``"0.1"``."""
    return f"{share:g}"


def top_count(share: float, size: int) -> int:
    """How many of ``size`` rows the top ``share`` holds: ``ceil(share * size)``.

    >>> top_count(0.05, 1100), top_count(0.01, 30), top_count(0.1, 0)
    (55, 1, 0)
    """
    return math.ceil(round(share * size, 9))  # 0.05 * 1100 is 55.000000000000007


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Probability that an illicit row outscores a licit one (ties count half); None if a
    class is absent.

    >>> roc_auc([0.9, 0.8, 0.3, 0.3, 0.1], [True, False, True, False, False])
    0.75
    """
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        mid_rank = (start + end) / 2.0 + 1.0  # ties share the average rank
        rank_sum += mid_rank * sum(labels[order[i]] for i in range(start, end + 1))
        start = end + 1
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def figures(
    rows: Sequence[ScoredRow], shares: Iterable[float] = SHARES, revenue: bool = True
) -> dict[str, Any]:
    """Every figure of the report over ``rows`` (in arrival order); see the module doc.

    >>> from datetime import UTC, datetime, timedelta
    >>> at = datetime(2026, 1, 5, tzinfo=UTC)
    >>> rows = [ScoredRow(f"e{i}", at + timedelta(hours=i), 1 - i / 40, i % 10 == 0,
    ...                   "model" if i % 10 == 0 else "none", i < 4, 10.0 * (i < 4), "v1")
    ...         for i in range(40)]  # one day and a bit: 24 rows, then 16
    >>> report = figures(rows, shares=(0.1,))
    >>> report["n_scored"], report["n_selected"], report["hit_rate"], report["roc_auc"]
    (40, 4, 0.25, 1.0)
    >>> report["precision_at"], report["recall_at"], report["revenue_at"]  # 3 + 2 picks
    ({'0.1': 0.6}, {'0.1': 0.75}, {'0.1': 0.75})
    """
    shares = tuple(shares)
    illicit = sum(row.label for row in rows)
    selected = [row for row in rows if row.selected]
    randoms = [row for row in selected if row.kind == "random"]
    total_revenue = sum(row.revenue for row in rows)
    picked = dict.fromkeys(shares, 0)
    hits = dict.fromkeys(shares, 0)
    recovered = dict.fromkeys(shares, 0.0)
    for _, day_rows in groupby(rows, key=lambda row: row.day):
        ranked = sorted(day_rows, key=lambda row: -row.rank)  # stable: earlier first on ties
        for share in shares:
            top = ranked[: top_count(share, len(ranked))]
            picked[share] += len(top)
            hits[share] += sum(row.label for row in top)
            recovered[share] += sum(row.revenue for row in top)
    result: dict[str, Any] = {
        "n_scored": len(rows),
        "n_selected": len(selected),
        "n_illicit": illicit,
        "base_rate": _ratio(illicit, len(rows)),
        "hit_rate": _ratio(sum(row.label for row in selected), len(selected)),
        "selected_by_kind": dict(sorted(Counter(row.kind for row in selected).items())),
        "random_hit_rate": _ratio(sum(row.label for row in randoms), len(randoms)),
        "precision_at": {share_key(s): _ratio(hits[s], picked[s]) for s in shares},
        "recall_at": {share_key(s): _ratio(hits[s], illicit) for s in shares},
    }
    if revenue:
        result["revenue_at"] = {share_key(s): _ratio(recovered[s], total_revenue) for s in shares}
    result["roc_auc"] = roc_auc([row.score for row in rows], [row.label for row in rows])
    return result


BUDGET_TOLERANCE = 0.05
"""A period keeps its budget when its selections are within 5% of it (or one inspection)."""


def budget_use(ledgers: Mapping[tuple[str, str, str], Sequence[Ledger]]) -> dict[str, Any]:
    """How each lane kept its budget per accounting period.

    A period's selections (model, random, rule and green audits together, less the rule hits
    beyond the budget: ``rule_overflow``, reported apart) are within the budget's tolerance
    when they differ from its allowance, ``rate * arrivals`` and what the previous period
    carried over (at most one inspection either way), by at most 5% of the budget or by one
    inspection (a lane's day may allow a fraction of one). ``worst`` is the largest relative
    difference over periods with a budget of 20 inspections or more (5% is one inspection).

    >>> day = [Ledger("2026-03-01", 0.05, 1000, 51), Ledger("2026-03-02", 0.05, 400, 23, 2),
    ...        Ledger("2026-03-03", 0.05, 7, 1)]
    >>> use = budget_use({("postal", "FRA", ""): day})["postal.FRA"]
    >>> use["periods"], use["within"], use["rule_overflow"], use["worst"]
    (3, 3, 2, 0.05)
    """
    lanes: dict[str, Any] = {}
    for (stream, hub, area), periods in sorted(ledgers.items()):
        periods = [p for p in periods if p.arrivals]
        if not periods:
            continue
        within, deviations = 0, []
        for p in periods:
            off = p.selected - p.overflow - (p.budget + p.carry)
            within += abs(off) <= max(BUDGET_TOLERANCE * p.budget, 1.0)
            if p.budget >= 20:
                deviations.append(off / p.budget)
        name = ".".join(part for part in (stream, hub, area) if part)
        lanes[name] = {
            "periods": len(periods),
            "within": within,
            "arrivals": sum(p.arrivals for p in periods),
            "selected": sum(p.selected for p in periods),
            "allowed": round(sum(p.budget for p in periods), 2),
            "rule_overflow": sum(p.overflow for p in periods),
            "worst": round(max((abs(d) for d in deviations), default=0.0), 4),
            "deviation_range": [round(min(deviations), 4), round(max(deviations), 4)]
            if deviations else None,
        }
    return lanes


def monthly(
    rows: Sequence[ScoredRow], shares: Iterable[float] = SHARES, revenue: bool = True
) -> dict[str, dict[str, Any]]:
    """:func:`figures` per calendar month (UTC), keyed ``YYYY-MM``."""
    shares = tuple(shares)
    return {
        month: figures(list(month_rows), shares, revenue)
        for month, month_rows in groupby(rows, key=lambda row: row.month)
    }


def write_dump(path: str | Path, rows: Iterable[ScoredRow]) -> int:
    """Write one CSV line per live row (:data:`DUMP_COLUMNS`); return the count."""
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(DUMP_COLUMNS)
        for row in rows:
            writer.writerow(
                (
                    row.event_id,
                    row.day.isoformat(),
                    repr(row.score),
                    int(row.selected),
                    row.kind,
                    int(row.label),
                    repr(row.revenue),
                    row.model_version,
                    "" if row.priority is None else repr(row.priority),
                )
            )
            count += 1
    return count


def read_dump(path: str | Path) -> list[dict[str, str]]:
    """The rows of a score dump, as text, in file (arrival) order."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def compare(
    left: Mapping[str, Any], right: Mapping[str, Any], path: str = ""
) -> list[tuple[str, float]]:
    """Every number that differs between two reports, with the absolute difference.

    ``run`` (timings) and ``mode`` are left out: they differ by design, and so is ``budget``,
    which only an in-process replay measures (a worker behind Kafka counts wall-clock periods).

    >>> compare({"a": 0.5, "m": {"b": 1}, "run": {"s": 3}}, {"a": 0.75, "m": {"b": 1}})
    [('a', 0.25)]
    """
    found: list[tuple[str, float]] = []
    for key in sorted(set(left) | set(right)):
        if key in ("run", "mode", "budget"):
            continue
        where = f"{path}.{key}" if path else str(key)
        a, b = left.get(key), right.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found += compare(a, b, where)
        elif isinstance(a, bool | int | float) and isinstance(b, bool | int | float):
            if a != b:
                found.append((where, abs(float(a) - float(b))))
        elif a != b:
            found.append((where, math.inf))
    return found
