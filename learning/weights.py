"""Inverse-propensity weights: learning from a biased sample of inspections.

Only inspected events ever get an outcome, and the model picks mostly the events it already
scores high. Learnt naively, that sample teaches the model about the top of its own ranking
only, and every estimate made from it is biased: the finding rate among model picks says
nothing about the rate in the traffic, and a risk pattern the model scores low is never
inspected and so never learnt.

The selection policy therefore spends a share of the budget on random picks, and logs with
every decision the probability ``p`` with which the event would be inspected (1 for rule
hits and events above the model threshold, the small random rate below it). Weighting each
outcome by ``1 / p`` makes the inspected sample stand for the whole traffic: an event
inspected with probability 1 % stands for the 100 similar events that were not. Sums over
inspected events weighted by ``1 / p`` are unbiased estimates of the sums over all events
(Horvitz-Thompson), and random picks are what keep ``p`` above zero everywhere.

The price is variance: a single random pick with ``p = 0.5 %`` weighs 200 model picks. For
learning, :func:`ipw` clips the weight (at 20 unless told). The learner's clip is 1
(:data:`LEARNING_CLIP`), which learns every outcome with weight 1: on the targeting
benchmark's worlds a clip of 20 (one random pick taking an SGD step twenty times the size)
ranked worse than a clip of 1, in ROC AUC on every world and seed tried and in Precision@5%
on most (bench/targeting_ablations.json, ``weight_clip_*``). The propensities stay in every
scored record, so estimates stay unbiased; only the SGD steps ignore them. For estimates,
:func:`weighted_rate` normalises by the sum of weights
(Hajek), unclipped by default.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["DEFAULT_CLIP", "LEARNING_CLIP", "ipw", "weighted_rate"]

DEFAULT_CLIP = 20.0
#: The learner's clip (LearnerConfig.weight_clip): 1, unweighted, as measured (module doc).
LEARNING_CLIP = 1.0


def _check_propensity(propensity: float) -> float:
    if (
        isinstance(propensity, bool)
        or not isinstance(propensity, int | float)
        or not 0.0 < propensity <= 1.0
    ):
        raise ValueError(f"propensity must be in (0, 1], got {propensity!r}")
    return float(propensity)


def ipw(propensity: float, clip: float | None = DEFAULT_CLIP) -> float:
    """The inverse-propensity weight ``1 / propensity``, at most ``clip`` (None: unclipped).

    >>> ipw(1.0), ipw(0.25), ipw(0.005), ipw(0.005, clip=None), ipw(0.25, clip=LEARNING_CLIP)
    (1.0, 4.0, 20.0, 200.0, 1.0)
    >>> ipw(0.0)
    Traceback (most recent call last):
    ...
    ValueError: propensity must be in (0, 1], got 0.0
    """
    weight = 1.0 / _check_propensity(propensity)
    if clip is None:
        return weight
    if not clip >= 1.0:
        raise ValueError(f"clip must be at least 1, got {clip!r}")
    return min(weight, float(clip))


def weighted_rate(
    outcomes: Iterable[tuple[bool, float]], clip: float | None = None
) -> float:
    """Hajek estimate of the finding rate of all traffic from ``(finding, propensity)`` pairs.

    >>> # 10 model picks (p=1, 5 findings) and 2 random picks (p=0.1, none) out of ~30 events
    >>> round(weighted_rate([(i < 5, 1.0) for i in range(10)] + [(False, 0.1)] * 2), 3)
    0.167
    """
    total = hits = 0.0
    for finding, propensity in outcomes:
        weight = ipw(propensity, clip)
        total += weight
        hits += weight * bool(finding)
    return hits / total if total > 0.0 else math.nan
