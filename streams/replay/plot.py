"""The replay's picture: Precision@n% over time, and the scores of illicit and licit rows.

Left: for each n, the precision of the top n% of each day, pooled over the trailing seven
days (one day is too few picks to read), against the base rate. Right: the score
distributions of illicit and licit rows on a log scale, which shows how far apart the
model holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import groupby
from pathlib import Path

from streams.replay.report import SHARES, ScoredRow, top_count

__all__ = ["daily_precision", "draw"]

WINDOW_DAYS = 7


def daily_precision(
    rows: Sequence[ScoredRow], share: float, window_days: int = WINDOW_DAYS
) -> list[tuple[date, float]]:
    """Precision of each day's top ``share``, pooled over the trailing ``window_days`` days.

    >>> from datetime import UTC, datetime, timedelta
    >>> at = datetime(2026, 1, 5, tzinfo=UTC)
    >>> rows = [ScoredRow(f"e{i}", at + timedelta(hours=6 * i), i % 4 / 4, True, "model",
    ...                   i % 4 == 3, 0.0, "v") for i in range(12)]
    >>> [(day.isoformat(), p) for day, p in daily_precision(rows, 0.25)]
    [('2026-01-05', 1.0), ('2026-01-06', 1.0), ('2026-01-07', 1.0)]
    """
    per_day: list[tuple[date, int, int]] = []
    for day, group in groupby(rows, key=lambda row: row.day):
        ranked = sorted(group, key=lambda row: -row.score)
        top = ranked[: top_count(share, len(ranked))]
        per_day.append((day, len(top), sum(row.label for row in top)))
    points: list[tuple[date, float]] = []
    for index, (day, _, _) in enumerate(per_day):
        recent = [d for d in per_day[: index + 1] if (day - d[0]).days < window_days]
        picked = sum(d[1] for d in recent)
        if picked:
            points.append((day, sum(d[2] for d in recent) / picked))
    return points


def draw(rows: Sequence[ScoredRow], path: str | Path, title: str = "replay") -> None:
    """Write the two panels as a PNG (or any format matplotlib infers from ``path``)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file is all a replay writes
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (over_time, scores) = plt.subplots(1, 2, figsize=(13, 4.8))
    for share in SHARES:
        points = daily_precision(rows, share)
        if points:
            over_time.plot(
                [day for day, _ in points],
                [value for _, value in points],
                marker=".",
                label=f"Precision@{share:.0%}",
            )
    illicit = sum(row.label for row in rows)
    if rows:
        over_time.axhline(illicit / len(rows), color="grey", linestyle="--", label="base rate")
    over_time.set_ylim(0.0, 1.0)
    over_time.set_ylabel(f"precision (trailing {WINDOW_DAYS} days)")
    over_time.set_title("Precision@n% of each day's ranking")
    # below the curves and above the base rate: where the lines never are
    over_time.legend(loc="lower left", bbox_to_anchor=(0.0, 0.08), ncols=2, fontsize="small")
    over_time.tick_params(axis="x", labelrotation=30)

    bins = np.linspace(0.0, 1.0, 51)
    for label, name, colour in ((False, "licit", "tab:blue"), (True, "illicit", "tab:red")):
        sample = [row.score for row in rows if row.label == label]
        if sample:
            scores.hist(
                sample,
                bins=bins,
                density=True,
                alpha=0.55,
                color=colour,
                label=f"{name} ({len(sample)})",
            )
    scores.set_yscale("log")
    scores.set_xlabel("risk score")
    scores.set_ylabel("density (log)")
    scores.set_title("Scores of illicit and licit rows")
    scores.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
