"""The inspection budget is a ceiling per lane and accounting period (issue 15).

Fast tests drive :class:`~scorers.selection.SelectionPolicy` with score streams that break the
sliding window's assumptions: daily bursts, a model swap a day that shifts every score, a lane
with a few events a day, rule hits beyond the budget. The slow test replays a declaration
world of the targeting benchmark as one lane that receives each day's rows in one burst, with
a model swap every day, through the production replay path (the issue's measurement).

A period "keeps its budget" when its selections (model, random, rule and green audits
together, less rule hits beyond the budget, counted apart as overflow) are within 5% of its
allowance (``rate * arrivals`` plus what the previous period carried over, at most one
inspection) or within one inspection of it: a day of 64 declarations at 5% allows 3.2
inspections, and no integer is within 5% of that.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from scorers.selection import NOT_SELECTED, Decision, Ledger, SelectionPolicy
from streams.replay.report import budget_use

RATE = 0.05


def _kept(ledger: Ledger) -> bool:
    off = ledger.selected - ledger.overflow - (ledger.budget + ledger.carry)
    return abs(off) <= max(0.05 * ledger.budget, 1.0)


def _days(
    policy: SelectionPolicy, days: int, per_day: Callable[[int], int],
    score: Callable[[int, random.Random], float], swap: Callable[[int], float | None] = (
        lambda day: None),
    seed: int = 5,
) -> list[tuple[float, Decision]]:
    """Feed ``days`` bursts of scores to one lane; before day ``d``'s burst, ``swap(d)`` may
    name a shift of every score (a new model), carried over by ``rescale``."""
    rng = random.Random(seed)
    shift, recent, out = 0.0, list[float](), []
    for day in range(days):
        new = swap(day)
        if new is not None:
            pairs = [(s, s - shift + new) for s in recent[-200:]]  # both models' scores
            policy.rescale("courier", pairs)
            shift = new
        for i in range(per_day(day)):
            s = score(day, rng) + shift
            decision = policy.decide("courier", "LEJ", f"d{day}-{i}", s,
                                     period=f"day-{day:03d}")
            recent.append(s)
            out.append((s, decision))
    return out


def test_a_swap_that_shifts_every_score_by_a_fifth_keeps_each_day_in_its_budget() -> None:
    # 400 events a day (20 inspections), a new model every day: +0.2, then back, and so on
    policy = SelectionPolicy(rates={"*": RATE}, seed=2)
    decisions = _days(policy, 60, lambda day: 400, lambda day, rng: 0.6 * rng.random(),
                      swap=lambda day: 0.2 * (day % 2))
    ledgers = policy.ledgers(closed=True)[("courier", "LEJ", "")]
    assert len(ledgers) == 60 and all(_kept(ledger) for ledger in ledgers)
    worst = max(abs(led.selected - led.budget - led.carry) / led.budget for led in ledgers)
    assert worst <= 0.05
    # the model's picks are still the top of each day's scores, not the first that came
    picked = [s for s, d in decisions if d.kind == "model"]
    # (top 5% of U(0, 0.6) is above 0.57; half the days add 0.2)
    assert sum(picked) / len(picked) > 0.6


def test_without_a_ledger_the_same_swaps_break_the_budget() -> None:
    policy = SelectionPolicy(rates={"*": RATE}, seed=2)
    rng = random.Random(5)
    per_day = Counter[int]()
    shift = 0.0
    for day in range(20):
        shift = 0.2 * (day % 2)  # no rescale, no period: the window holds the old scale
        for i in range(400):
            d = policy.decide("courier", "LEJ", f"d{day}-{i}", 0.6 * rng.random() + shift)
            per_day[day] += d.kind not in NOT_SELECTED
    assert max(per_day.values()) > 1.5 * 400 * RATE  # the days after a rise overshoot


@pytest.mark.parametrize("per_day", [3, 40])
def test_thin_and_bursty_lanes_keep_their_rate_over_the_days(per_day: int) -> None:
    policy = SelectionPolicy(rates={"*": RATE}, seed=4)
    _days(policy, 300, lambda day: per_day, lambda day, rng: rng.betavariate(1 + day % 5, 4),
          swap=lambda day: 0.1 * (day % 3))
    ledgers = policy.ledgers(closed=True)[("courier", "LEJ", "")]
    selected, allowed = sum(led.selected for led in ledgers), sum(led.budget for led in ledgers)
    assert abs(selected - allowed) <= max(0.05 * allowed, 1.0), (selected, allowed)
    assert sum(_kept(led) for led in ledgers) >= 0.95 * len(ledgers)
    # never more than the slack ahead, but for random picks (never held back)
    assert all(led.selected <= led.budget + led.carry + 1 + 2 for led in ledgers)


def test_rule_hits_beyond_the_budget_are_inspected_and_counted_as_overflow() -> None:
    policy = SelectionPolicy(rates={"*": RATE}, random_share=0.0, seed=1)
    rng = random.Random(3)
    decisions = [
        policy.decide("postal", "FRA", f"e{i}", rng.random(), always_inspect=i % 10 == 0,
                      period="2026-03-01")
        for i in range(2000)
    ]
    assert all(d.kind == "rule" for i, d in enumerate(decisions) if i % 10 == 0)
    (ledger,) = policy.ledgers()[("postal", "FRA", "")]
    assert ledger.selected == 200 + sum(d.kind == "model" for d in decisions)
    assert ledger.overflow >= 200 - ledger.budget - 1
    assert sum(d.overflow for d in decisions) == ledger.overflow
    assert sum(d.kind == "model" for d in decisions[1000:]) == 0  # the rules took it all
    lanes = budget_use(policy.ledgers(closed=True))
    assert lanes["postal.FRA"]["rule_overflow"] == ledger.overflow


def test_propensities_match_observed_frequencies_under_the_ledger() -> None:
    """Bursts and swaps make the ledger hold model picks back and pace them up; the reported
    propensity is still the chance of the decision as taken."""
    policy = SelectionPolicy(rates={"*": RATE}, random_share=0.2, seed=9)
    decisions = _days(policy, 120, lambda day: 150 + 100 * (day % 3),
                      lambda day, rng: rng.random() ** 2, swap=lambda day: 0.15 * (day % 2))
    expected, observed, count = Counter[int](), Counter[int](), Counter[int]()
    for _, d in decisions:
        if d.propensity < 1.0:
            b = min(int(d.propensity * 10), 9)
            expected[b] += d.propensity  # type: ignore[assignment]
            observed[b] += d.kind not in NOT_SELECTED
            count[b] += 1
    checked = [b for b in count if count[b] >= 200]
    assert checked
    # a held-back model pick says the random share alone; a certain pick says 1 and was taken
    assert all(d.kind not in NOT_SELECTED for _, d in decisions if d.propensity == 1.0)
    assert any(d.kind == "random" and s > d.threshold for s, d in decisions)
    for b in checked:
        mean_p = expected[b] / count[b]
        slack = 4 * math.sqrt(count[b] * mean_p * (1 - mean_p)) + 1
        assert abs(observed[b] - expected[b]) <= slack, (b, observed[b], expected[b])


@pytest.mark.slow
def test_daily_bursts_with_a_swap_a_day_keep_the_budget_per_day(tmp_path: Path) -> None:
    """The issue's measurement on a world we did not tune on: national import declarations
    (seed 1, 35,000 rows), one lane, each day's rows in one burst at 06:00 UTC, the model
    swapped before every burst (180 swaps), 5% budget. Without the ledger (the window
    alone) 55 of 181 days kept their budget, from -100% to +224%; with it, measured 172, and
    581 selected against 581 allowed over the six months (the same before and after swaps
    got cheaper)."""
    from bench.targeting import replay_run
    from simulator.worlds import daily_bursts, generate

    world = daily_bursts(generate("national_imports", seed=1))
    run = replay_run(world, tmp_path)
    assert run.model_swaps >= 170
    (lane,) = run.budget.values()
    print(lane)
    assert lane["periods"] >= 180 and lane["within"] >= 0.95 * lane["periods"]
    assert abs(lane["selected"] - lane["allowed"]) <= 0.05 * lane["allowed"]
    assert lane["rule_overflow"] == 0
