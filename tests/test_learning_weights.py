"""Labels and inverse-propensity weights; IPW undoes the bias of model picks."""

from __future__ import annotations

import math
import random

import pytest

from learning.labels import DEFAULT_LABELS, RESULTS, LabelMap
from learning.weights import ipw, weighted_rate
from scorers.selection import SelectionPolicy


def test_results_come_from_the_schema_and_defaults_cover_them() -> None:
    assert RESULTS == ("no_finding", "seizure", "revenue_adjustment", "documentary_irregularity")
    labels = LabelMap()
    assert [labels(r) for r in RESULTS] == [False, True, True, False]
    assert labels.findings == ("seizure", "revenue_adjustment")


def test_documentary_irregularity_is_configurable() -> None:
    assert LabelMap({**DEFAULT_LABELS, "documentary_irregularity": True})(
        "documentary_irregularity") is True
    assert LabelMap({**DEFAULT_LABELS, "documentary_irregularity": None})(
        "documentary_irregularity") is None


@pytest.mark.parametrize(("labels", "fragment"), [
    ({**DEFAULT_LABELS, "smuggling": True}, "unknown results: 'smuggling'"),
    ({"seizure": True}, "results not mapped: no_finding"),
    ({**DEFAULT_LABELS, "seizure": "yes"}, "labels must be True, False or None: seizure -> 'yes'"),
])
def test_invalid_label_maps_say_what_is_wrong(labels: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid label map: .*" + fragment):
        LabelMap(labels)  # type: ignore[arg-type]


def test_ipw_clips_and_validates() -> None:
    assert [ipw(p) for p in (1.0, 0.5, 0.05, 0.01)] == [1.0, 2.0, 20.0, 20.0]
    assert ipw(0.01, clip=None) == 100.0 and ipw(0.01, clip=50.0) == 50.0
    for bad in (0.0, -0.1, 1.5, math.nan, True):
        with pytest.raises(ValueError, match="propensity must be in"):
            ipw(bad)
    with pytest.raises(ValueError, match="clip must be at least 1"):
        ipw(0.5, clip=0.5)
    assert math.isnan(weighted_rate([]))


def test_ipw_recovers_the_base_rate_that_model_picks_overstate() -> None:
    """A policy that inspects the highest scores plus a 1 % random share: the finding rate
    among inspections is far above the traffic's; weighting by 1 / propensity recovers it."""
    rng = random.Random(2024)
    policy = SelectionPolicy(rates={"*": 0.05}, random_share=0.2, window=2000, seed=3)
    findings = inspected_findings = 0
    inspected: list[tuple[bool, float]] = []
    n = 60_000
    for i in range(n):
        risk = rng.gauss(0.0, 1.0)
        finding = rng.random() < 1.0 / (1.0 + math.exp(-(2.0 * risk - 4.0)))
        score = 1.0 / (1.0 + math.exp(-(risk + rng.gauss(0.0, 0.7))))  # an imperfect model
        decision = policy.decide("postal", "hub_FRA", f"p{i}", score)
        findings += finding
        if decision.level == "physical_inspection":
            inspected.append((finding, decision.propensity))
            inspected_findings += finding
    true_rate = findings / n
    naive = inspected_findings / len(inspected)
    model_only = [f for f, p in inspected if p == 1.0]
    estimate = weighted_rate(inspected)
    assert 0.04 < true_rate < 0.07
    assert naive > 3 * true_rate and sum(model_only) / len(model_only) > 4 * true_rate
    assert abs(estimate - true_rate) < 0.015, (estimate, true_rate)
    assert abs(estimate - true_rate) < abs(naive - true_rate) / 10
