"""A small world of the targeting benchmark, run through the production replay path.

riskstream does not yet reach the targeting issue's margin (1.05x the River target-encoding
baseline) on every world; bench/targeting.json has the full figures. This test holds the
floor that it does reach on a fixed seed, so a regression in the learning core shows here.
Measured when it was written: P@5% 0.097 against the baseline's 0.137 and random's 0.040
on this small world (10,500 rows); the floor is 2x random and 0.65x the baseline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.baselines import random_selection, river_te
from bench.targeting import measured, readme_table, riskstream, run_benchmark
from simulator.worlds import generate

pytestmark = pytest.mark.slow


def test_riskstream_on_a_small_world_beats_random_and_holds_its_floor(tmp_path: Path) -> None:
    world = generate("express_courier", seed=1, scale=0.3)
    ours = measured(riskstream(world, tmp_path), world)
    baseline = measured(river_te(world), world)
    chance = measured(random_selection(world), world)
    p5, base_p5, random_p5 = (
        f["precision_at"]["0.05"] for f in (ours, baseline, chance)
    )
    print(f"P@5%: riskstream {p5:.3f}, river_te {base_p5:.3f}, random {random_p5:.3f}; "
          f"AUC {ours['roc_auc']:.3f} vs {baseline['roc_auc']:.3f}")
    assert p5 >= 2.0 * random_p5
    assert p5 >= 0.65 * base_p5
    assert ours["roc_auc"] > 0.6


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
