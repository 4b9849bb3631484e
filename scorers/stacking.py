"""Stacking: one online logistic regression over the evidence of the sub-scorers.

Unlike a fresh ``river.linear_model.LogisticRegression`` it starts from given weights, so
before the first outcome arrives it already computes a sensible prior combination (rules
and strong valuation or tariff evidence raise the score, the rest barely moves it). Each
outcome then moves the weights by weighted SGD on the log loss, so the combination becomes
calibrated on the stream's own outcomes. Inputs are the few sub-score evidences; the
features themselves are the supervised model's business.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))


class Stacker:
    """Online logistic regression with explicit initial weights.

    Parameters
    ----------
    initial_weights
        ``(name, weight)`` pairs the weights start from; unknown inputs start at 0.
    intercept_init
        Starting log-odds, e.g. the logit of the expected finding rate.
    learning_rate
        SGD step size.
    l2
        Pull of the weights back towards their initial values.
    max_gradient
        Bound of one weighted gradient, so a large importance weight cannot derail it.

    Examples
    --------
    >>> stacker = Stacker((("rules", 3.0),), intercept_init=-3.0)
    >>> round(stacker.predict_proba_one({"rules": 1.0})[True], 3)
    0.5
    >>> for _ in range(200):
    ...     stacker.learn_one({"rules": 1.0}, False)
    >>> round(stacker.predict_proba_one({"rules": 1.0})[True], 3)
    0.124
    """

    def __init__(
        self,
        initial_weights: tuple[tuple[str, float], ...] = (),
        intercept_init: float = 0.0,
        learning_rate: float = 0.02,
        l2: float = 1e-3,
        max_gradient: float = 5.0,
    ) -> None:
        self.initial_weights = initial_weights
        self.intercept_init = intercept_init
        self.learning_rate = learning_rate
        self.l2 = l2
        self.max_gradient = max_gradient
        self._initial = dict(initial_weights)
        self.weights: dict[str, float] = dict(initial_weights)
        self.intercept = intercept_init
        self.updates = 0

    def contributions(self, x: Mapping[str, float]) -> dict[str, float]:
        """Log-odds contribution of each input."""
        return {k: self.weights.get(k, 0.0) * v for k, v in x.items()}

    def raw_one(self, x: Mapping[str, float]) -> float:
        return self.intercept + sum(self.weights.get(k, 0.0) * v for k, v in x.items())

    def predict_proba_one(self, x: Mapping[str, float]) -> dict[bool, float]:
        p = _sigmoid(self.raw_one(x))
        return {False: 1.0 - p, True: p}

    def learn_one(self, x: Mapping[str, float], y: Any, w: float = 1.0) -> None:
        g = (_sigmoid(self.raw_one(x)) - (1.0 if y else 0.0)) * w
        g = max(-self.max_gradient, min(self.max_gradient, g))
        step = self.learning_rate
        self.intercept -= step * g
        for k, v in x.items():
            weight = self.weights.get(k, 0.0)
            pull = self.l2 * (weight - self._initial.get(k, 0.0))
            self.weights[k] = weight - step * (g * v + pull)
        self.updates += 1
