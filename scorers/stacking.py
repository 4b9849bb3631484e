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
    prefix_weights
        ``(prefix, weight)`` pairs: an input first seen whose name starts with ``prefix``
        starts from ``weight`` (inputs named per entity kind, such as ``profile.importer``).

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
        prefix_weights: tuple[tuple[str, float], ...] = (),
    ) -> None:
        self.initial_weights = initial_weights
        self.intercept_init = intercept_init
        self.learning_rate = learning_rate
        self.l2 = l2
        self.max_gradient = max_gradient
        self.prefix_weights = prefix_weights
        self._initial = dict(initial_weights)
        self.weights: dict[str, float] = dict(initial_weights)
        self.intercept = intercept_init
        self.updates = 0

    def initial(self, name: str) -> float:
        """The weight input ``name`` starts from."""
        if name in self._initial:
            return self._initial[name]
        # a stacker unpickled from a snapshot older than prefix weights has none
        prefixes: tuple[tuple[str, float], ...] = getattr(self, "prefix_weights", ())
        for prefix, weight in prefixes:
            if name.startswith(prefix):
                return float(weight)
        return 0.0

    def weight(self, name: str) -> float:
        w = self.weights.get(name)
        return self.initial(name) if w is None else w

    def contributions(self, x: Mapping[str, float]) -> dict[str, float]:
        """Log-odds contribution of each input."""
        return {k: self.weight(k) * v for k, v in x.items()}

    def raw_one(self, x: Mapping[str, float]) -> float:
        weights = self.weights
        z = self.intercept
        for k, v in x.items():
            w = weights.get(k)
            z += (self.initial(k) if w is None else w) * v
        return z

    def predict_proba_one(self, x: Mapping[str, float]) -> dict[bool, float]:
        p = _sigmoid(self.raw_one(x))
        return {False: 1.0 - p, True: p}

    def learn_one(self, x: Mapping[str, float], y: Any, w: float = 1.0) -> None:
        g = (_sigmoid(self.raw_one(x)) - (1.0 if y else 0.0)) * w
        g = max(-self.max_gradient, min(self.max_gradient, g))
        step = self.learning_rate
        self.intercept -= step * g
        for k, v in x.items():
            start = self.initial(k)
            weight = self.weights.get(k, start)
            pull = self.l2 * (weight - start)
            self.weights[k] = weight - step * (g * v + pull)
        self.updates += 1
