"""A small world of the targeting benchmark, run through the production replay path.

bench/targeting.json has the full figures on every world and seed, including those where
riskstream misses the issue's margin. This test holds, on one fixed small world (national
import declarations, seed 1, 30% of its rows: 10,500), the margin that riskstream reaches
there, so that a regression in the learning core shows in make test. Measured with today's
defaults (empirical-Bayes profile shrinkage, calibrated rules, the budget held per day):
P@5% 0.469 against the River target-encoding baseline's 0.422 (1.11x) and ROC AUC 0.737
against 0.679. The test asks for
1.05x the baseline's P@5%, 0.02 more ROC AUC, and 2x random.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.baselines import random_selection, river_te
from bench.targeting import (
    REVENUE_RANKING,
    measured,
    readme_table,
    replay_run,
    riskstream,
    run_benchmark,
)
from simulator.worlds import World, generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, dict[str, Any]]:
    """The small world, and riskstream's figures on it (ranking by probability), with how
    each office lane kept its budget."""
    world = generate("national_imports", seed=1, scale=0.3)
    run = replay_run(world, tmp_path_factory.mktemp("small"))
    return world, {**measured(run.rows, world), "budget": run.budget}


def test_riskstream_beats_the_baseline_on_a_small_world(
    small_world: tuple[World, dict[str, Any]],
) -> None:
    world, ours = small_world
    baseline = measured(river_te(world), world)
    chance = measured(random_selection(world), world)
    p5, base_p5, random_p5 = (
        f["precision_at"]["0.05"] for f in (ours, baseline, chance)
    )
    print(f"P@5%: riskstream {p5:.3f}, river_te {base_p5:.3f}, random {random_p5:.3f}; "
          f"AUC {ours['roc_auc']:.3f} vs {baseline['roc_auc']:.3f}")
    assert p5 >= 2.0 * random_p5
    assert p5 >= 1.05 * base_p5
    assert ours["roc_auc"] >= baseline["roc_auc"] + 0.02


def test_every_office_lane_keeps_its_budget_on_the_small_world(
    small_world: tuple[World, dict[str, Any]],
) -> None:
    """20 customs offices, about 1.6 declarations a day each: a day allows an office 0.08
    inspections, so days hold within one inspection and the rate holds over the months
    (measured: 2,200 of 2,245 office-days within; 175 selected against 175.5 allowed)."""
    _, ours = small_world
    lanes = ours["budget"]
    assert len(lanes) == 20
    periods = sum(lane["periods"] for lane in lanes.values())
    assert sum(lane["within"] for lane in lanes.values()) >= 0.95 * periods
    selected = sum(lane["selected"] for lane in lanes.values())
    allowed = sum(lane["allowed"] for lane in lanes.values())
    assert abs(selected - allowed) <= 0.05 * allowed


def test_ranking_by_expected_revenue_raises_revenue_at_a_bounded_precision_cost(
    small_world: tuple[World, dict[str, Any]], tmp_path: Path,
) -> None:
    """Measured when written: Revenue@5% 0.128 by probability, 0.630 by expected revenue
    (4.9x); P@5% 0.461 and 0.156. Recovered duties follow the declared value, which spans
    orders of magnitude, so the few high-value declarations take the revenue ranking's
    slots: the test asks for at least 3x the revenue at a P@5% cost of at most 0.35."""
    world, by_probability = small_world
    by_revenue = measured(riskstream(world, tmp_path, REVENUE_RANKING), world)
    revenue = [f["revenue_at"]["0.05"] for f in (by_probability, by_revenue)]
    precision = [f["precision_at"]["0.05"] for f in (by_probability, by_revenue)]
    print(f"Revenue@5%: by probability {revenue[0]:.3f}, by expected revenue {revenue[1]:.3f}; "
          f"P@5%: {precision[0]:.3f}, {precision[1]:.3f}")
    assert revenue[1] >= 3.0 * revenue[0]
    assert precision[1] >= precision[0] - 0.35


def test_report_has_the_issue_format_and_renders_a_table() -> None:
    report = run_benchmark(["express_courier"], seeds=(2,), scale=0.05, with_gbdt=False)
    (world,) = report["worlds"]
    assert {"name", "seed", "rows", "base_rate", "systems"} <= set(world)
    for system in ("riskstream", "baseline_river_te", "random"):
        figures = world["systems"][system]
        assert set(figures["precision_at"]) == {"0.01", "0.05", "0.1"}
        assert "roc_auc" in figures
    assert report["checks"]["per_world"][0]["world"] == "express_courier"
    assert "| express_courier | riskstream |" in readme_table(report)
