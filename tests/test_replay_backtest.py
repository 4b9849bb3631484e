"""Replays of simulator exports with known truth: what the policy catches, recomputed."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from simulator import DEFAULT_RATES, HubWorld, export_csv, scale_rates
from streams.cli import cli
from streams.replay.backtest import replay
from streams.replay.engine import ReplayOptions
from streams.replay.report import compare, read_dump

MAPPING = Path(__file__).parent.parent / "deploy" / "replay" / "simulator-courier.yaml"
SHARES = ("0.01", "0.02", "0.05", "0.1")


def courier_export(path: Path, rows: int, scale: float, start: datetime, seed: int) -> Path:
    rates = scale_rates({"courier": DEFAULT_RATES["courier"]}, scale)
    export_csv(path, HubWorld(seed=seed), start, n_rows=rows, rates=rates)
    return path


@pytest.fixture(scope="module")
def month_end(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """About eight days of courier traffic across a month end, four of them history."""
    folder = tmp_path_factory.mktemp("replay")
    data = courier_export(
        folder / "courier.csv", 9_000, 0.0002, datetime(2026, 1, 26, tzinfo=UTC), seed=7
    )
    options = ReplayOptions(
        budget=0.05, learn_until=datetime(2026, 1, 30, tzinfo=UTC), seed=11, progress_every=0
    )
    report = replay(
        data,
        MAPPING,
        options,
        report_path=folder / "report.json",
        dump_scores=folder / "scores.csv",
        plot_path=folder / "replay.png",
    )
    return {"folder": folder, "data": data, "report": report}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About four days of quieter courier traffic: one of history, three replayed."""
    folder = tmp_path_factory.mktemp("small")
    return courier_export(
        folder / "small.csv", 2_000, 0.0001, datetime(2026, 1, 1, tzinfo=UTC), seed=5
    )


SMALL = ReplayOptions(
    budget=0.05, learn_until=datetime(2026, 1, 2, tzinfo=UTC), seed=3, progress_every=0
)


@pytest.fixture(scope="module")
def small_run(small: Path) -> tuple[dict[str, Any], Path]:
    """The small replay's report and score dump."""
    dump = small.parent / "small-scores.csv"
    return replay(small, MAPPING, SMALL, dump_scores=dump), dump


def test_precision_at_5_is_far_above_the_base_rate(month_end: dict[str, Any]) -> None:
    report = month_end["report"]
    base = report["base_rate"]
    assert 0.02 < base < 0.07
    assert report["precision_at"]["0.05"] > 6 * base
    assert report["precision_at"]["0.01"] >= report["precision_at"]["0.1"]
    assert report["hit_rate"] > 5 * base
    assert report["roc_auc"] > 0.85
    # the policy holds the budget, and a tenth of it is random picks
    assert report["n_selected"] == pytest.approx(0.05 * report["n_scored"], rel=0.15)
    kinds = report["selected_by_kind"]
    assert kinds["random"] == pytest.approx(0.1 * report["n_selected"], rel=0.35)
    assert report["rows"]["history"] + report["rows"]["live"] == 9_000
    assert report["history"]["rows"] == report["rows"]["history"]
    assert set(report["months"]) == {"2026-01", "2026-02"}
    assert report["learning"]["outcomes"] == report["n_selected"]
    assert report["learning"]["model_swaps"] >= 3
    assert (month_end["folder"] / "replay.png").stat().st_size > 10_000
    written = json.loads((month_end["folder"] / "report.json").read_text())
    assert compare(written, report) == []


def _top(share: str, size: int) -> int:
    exact = Fraction(share) * size  # no floating point: an independent rounding
    return -(-exact.numerator // exact.denominator)


def _recompute(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Precision, recall and revenue @n%, hit rate and ROC AUC, from the dump alone."""
    by_day: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_day[row["day"]].append(row)
    illicit = sum(int(row["label"]) for row in rows)
    revenue = sum(float(row["revenue"]) for row in rows)
    out: dict[str, Any] = {"precision_at": {}, "recall_at": {}, "revenue_at": {}}
    for share in SHARES:
        picks = hits = 0
        found = 0.0
        for day_rows in by_day.values():
            order = sorted(range(len(day_rows)), key=lambda i: (-float(day_rows[i]["score"]), i))
            top = [day_rows[i] for i in order[: _top(share, len(day_rows))]]
            picks += len(top)
            hits += sum(int(row["label"]) for row in top)
            found += sum(float(row["revenue"]) for row in top)
        out["precision_at"][share] = hits / picks
        out["recall_at"][share] = hits / illicit
        out["revenue_at"][share] = found / revenue
    selected = [row for row in rows if row["selected"] == "1"]
    out["n_scored"], out["n_selected"] = len(rows), len(selected)
    out["hit_rate"] = sum(int(row["label"]) for row in selected) / len(selected)
    positives = [float(row["score"]) for row in rows if row["label"] == "1"]
    negatives = sorted(float(row["score"]) for row in rows if row["label"] == "0")
    wins = 0.0
    for score in positives:  # pairs won, ties half, by counting below and equal
        below = _count_below(negatives, score)
        equal = _count_below(negatives, math.nextafter(score, math.inf)) - below
        wins += below + equal / 2
    out["roc_auc"] = wins / (len(positives) * len(negatives))
    return out


def _count_below(ordered: list[float], value: float) -> int:
    low, high = 0, len(ordered)
    while low < high:
        mid = (low + high) // 2
        if ordered[mid] < value:
            low = mid + 1
        else:
            high = mid
    return low


def test_report_agrees_with_a_recomputation_from_the_dumped_scores(
    month_end: dict[str, Any],
) -> None:
    report = month_end["report"]
    rows = read_dump(month_end["folder"] / "scores.csv")
    assert len(rows) == report["n_scored"]
    mine = _recompute(rows)
    for key in ("n_scored", "n_selected"):
        assert report[key] == mine[key]
    for key in ("hit_rate", "roc_auc"):
        assert report[key] == pytest.approx(mine[key], abs=1e-12)
    for figure in ("precision_at", "recall_at", "revenue_at"):
        assert report[figure] == pytest.approx(mine[figure], abs=1e-12)
    for month, figures in report["months"].items():
        mine = _recompute([row for row in rows if row["day"].startswith(month)])
        assert figures["n_scored"] == mine["n_scored"]
        assert figures["precision_at"] == pytest.approx(mine["precision_at"], abs=1e-12)
        assert figures["roc_auc"] == pytest.approx(mine["roc_auc"], abs=1e-12)


def test_same_seed_same_report(
    small: Path, small_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    first, dump = small_run
    again = replay(small, MAPPING, SMALL, dump_scores=tmp_path / "again.csv")
    assert compare(first, again) == []
    assert dump.read_bytes() == (tmp_path / "again.csv").read_bytes()
    assert first["learning"]["model_swaps"] >= 2


def test_labels_of_rows_not_selected_never_reach_the_models(
    small: Path, small_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    _, truth = small_run
    selected = {row["id"] for row in read_dump(truth) if row["selected"] == "1"}
    live_from = SMALL.learn_until.isoformat() if SMALL.learn_until else ""
    with small.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    flipped = 0
    for row in rows:  # the truth of every live row nobody inspects is turned over
        if row["time"] >= live_from and row["id"] not in selected:
            row["label"] = "0" if row["label"] == "1" else "1"
            flipped += 1
    altered = tmp_path / "altered.csv"
    with altered.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    replay(altered, MAPPING, SMALL, dump_scores=tmp_path / "altered-scores.csv")
    assert flipped > 800

    def decisions(path: Path) -> list[tuple[str, ...]]:
        return [
            (r["id"], r["score"], r["selected"], r["kind"], r["model_version"])
            for r in read_dump(path)
        ]

    assert decisions(truth) == decisions(tmp_path / "altered-scores.csv")


def test_a_few_bad_rows_are_skipped_and_counted_in_the_report(small: Path, tmp_path: Path) -> None:
    data = tmp_path / "with-bad-rows.csv"
    lines = small.read_text().splitlines()
    header = lines[0].split(",")
    bad_time = lines[100].split(",")
    bad_time[header.index("time")] = "yesterday"
    bad_value = lines[1500].split(",")
    bad_value[header.index("declared_value")] = "n/a"
    data.write_text(
        "\n".join(
            [*lines[:100], ",".join(bad_time), *lines[101:1500], ",".join(bad_value), *lines[1501:]]
        )
        + "\n"
    )
    report = replay(data, MAPPING, SMALL)
    assert report["skipped_rows"] == 2
    assert report["rows"]["total"] == 2_000
    assert report["rows"]["history"] + report["rows"]["live"] == 1_998
    assert report["skipped_by_column"] == {"declared_value": 1, "time": 1}
    assert report["problems"][0].startswith("line 101: column time: cannot read 'yesterday'")
    assert report["problems"][1] == (
        "line 1501: column declared_value (value): 'n/a' is not a number"
    )


def test_cli_replays_and_fails_with_one_clear_message(
    small: Path, small_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    runner = CliRunner()
    report = tmp_path / "report.json"
    args = [
        "replay",
        str(small),
        "--mapping",
        str(MAPPING),
        "--budget",
        "0.05",
        "--learn-until",
        "2026-01-02",
        "--seed",
        "3",
        "--report",
        str(report),
        "--progress-every",
        "500",
    ]
    done = runner.invoke(cli, args)
    assert done.exit_code == 0, done.output
    written = json.loads(report.read_text())
    assert f"scored {written['n_scored']} live rows" in done.stdout
    assert f"P@5% {written['precision_at']['0.05']:.3f}" in done.stdout
    assert "replay: 500/" in done.stderr  # progress goes to stderr
    assert compare(written, small_run[0]) == []

    broken = tmp_path / "broken.yaml"
    broken.write_text(MAPPING.read_text().replace("mass: gross_weight_kg", "mass: weight"))
    failed = runner.invoke(cli, [*args[:3], str(broken), *args[4:]])
    assert failed.exit_code == 1
    assert failed.stderr.count("error:") == 1
    assert "names column weight (mass) that" in failed.stderr
    bad_day = runner.invoke(cli, [*args[:7], "the 2nd", *args[8:]])
    assert bad_day.exit_code == 1
    assert "--learn-until 'the 2nd' is not an ISO date" in bad_day.stderr


def test_outcomes_come_back_at_the_end_of_their_day_plus_the_delay(
    small: Path, small_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    def versions_by_day(path: Path) -> dict[str, set[str]]:
        days: dict[str, set[str]] = defaultdict(set)
        for row in read_dump(path):
            days[row["day"]].add(row["model_version"])
        return days

    prompt = versions_by_day(small_run[1])
    warm = prompt["2026-01-02"]
    assert len(warm) == 1 and next(iter(warm)).startswith("warm-")
    # the first day's outcomes are learnt before the second day begins
    assert prompt["2026-01-03"].isdisjoint(warm)
    late = replace(SMALL, outcome_delay_days=1)
    replay(small, MAPPING, late, dump_scores=tmp_path / "late.csv")
    delayed = versions_by_day(tmp_path / "late.csv")
    assert delayed["2026-01-03"] == warm, "a day later, the second day still knows nothing"
    assert delayed["2026-01-04"].isdisjoint(warm)
