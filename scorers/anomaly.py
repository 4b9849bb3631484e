"""Unsupervised anomaly score: Half-Space Trees over the scaled numeric features.

``MinMaxScaler | HalfSpaceTrees`` learns from every event, labelled or not, and a high score
means the declaration sits where few others do. It is one input of the ensemble and one
reason among others, never the ranking on its own: unusual is not the same as risky.

Numbers go through a signed ``log1p`` first, because a min-max scale over raw values and
weights would be set by the one 40-tonne consignment. Half-Space Trees only split on features
they saw in their first event, so with ``features`` given every event is projected on that
list and a missing value is replaced by its running mean. Trees alone cannot say why a point
is odd, so the reason names the feature furthest from its running mean.

Raw Half-Space Trees scores bunch up in a narrow band, so ``score_one`` reports where the raw
score falls against recent raw scores: ``Phi((raw - mean) / std)``, about 0.5 for a typical
event and above 0.975 for the rarest few percent.
"""

from __future__ import annotations

import math
from typing import Any

from river import anomaly, compose, preprocessing

from scorers.base import Features, Reason
from scorers.wording import feature_label, figure


class AnomalyScorer:
    """Half-Space Trees anomaly score in [0, 1] with the most unusual feature as reason.

    Parameters
    ----------
    seed
        Seed of the random trees.
    features
        Numeric features to use, or ``None`` for every number and boolean in the event.
    n_trees, height, window_size
        Passed to ``river.anomaly.HalfSpaceTrees``.
    memory
        Sampled events (one in four) over which the running mean and spread of raw scores
        are taken.
    explain_threshold
        Score from which ``explain_one`` gives a reason.
    min_deviation
        Standard deviations from its mean a feature needs to be named.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(5)
    >>> detector = AnomalyScorer(seed=42, features=("weight_kg", "value_eur"))
    >>> for _ in range(600):
    ...     kg = rng.uniform(1, 2)
    ...     detector.learn_one({"weight_kg": kg, "value_eur": 40 * kg * rng.uniform(0.9, 1.1)})
    >>> round(detector.score_one({"weight_kg": 1.5, "value_eur": 60.0}), 2)
    0.32
    >>> odd = {"weight_kg": 40.0, "value_eur": 60.0}
    >>> [r.text for r in detector.explain_one(odd)]
    ['unusual declaration (anomaly 0.99): weight kg 40 is far above usual']
    """

    def __init__(
        self,
        seed: int = 42,
        features: tuple[str, ...] | None = None,
        n_trees: int = 10,
        height: int = 6,
        window_size: int = 250,
        memory: int = 2_500,
        explain_threshold: float = 0.975,
        min_deviation: float = 2.0,
    ) -> None:
        self.seed = seed
        self.features = features
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.memory = memory
        self.explain_threshold = explain_threshold
        self.min_deviation = min_deviation
        self.model = compose.Pipeline(
            preprocessing.MinMaxScaler(),
            anomaly.HalfSpaceTrees(
                n_trees=n_trees, height=height, window_size=window_size, seed=seed
            ),
        )
        # Welford moments of each transformed feature: [count, mean, sum of squares]
        self.moments: dict[str, list[float]] = {}
        # running [count, mean, variance] of the raw scores of learnt events
        self.raw_scores = [0.0, 0.0, 0.0]
        self.learned = 0

    @staticmethod
    def _transformed(value: Any) -> float | None:
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
        return math.copysign(math.log1p(abs(value)), value)

    def _vector(self, x: Features) -> dict[str, float]:
        vector: dict[str, float] = {}
        if self.features is None:
            for name, value in x.items():
                t = self._transformed(value)
                if t is not None:
                    vector[name] = t
            return vector
        for name in self.features:
            t = self._transformed(x.get(name))
            if t is None:
                m = self.moments.get(name)
                t = m[1] if m is not None else 0.0
            vector[name] = t
        return vector

    def learn_one(self, x: Features, y: Any = None, w: float = 1.0) -> None:
        """Learn the event's place in feature space; outcomes are not needed."""
        vector = self._vector(x)
        if not vector:
            return
        # the trees give 0 until their first window of reference mass is full; a sample of
        # one event in four tracks the raw score scale well enough at a quarter of the cost
        self.learned += 1
        if self.learned % 4 == 0 and not getattr(
            self.model.steps["HalfSpaceTrees"], "_first_window", False
        ):
            self._track(self._raw_score(vector))
        self.model.learn_one(vector)
        for name, t in vector.items():
            m = self.moments.get(name)
            if m is None:
                self.moments[name] = [1.0, t, 0.0]
                continue
            m[0] += 1.0
            delta = t - m[1]
            m[1] += delta / m[0]
            m[2] += delta * (t - m[1])

    def _track(self, raw: float) -> None:
        # exponentially weighted once `memory` events are in, so the scale follows drift
        stats = self.raw_scores
        stats[0] = min(stats[0] + 1.0, float(self.memory))
        delta = raw - stats[1]
        stats[1] += delta / stats[0]
        stats[2] += (delta * (raw - stats[1]) - stats[2]) / stats[0]

    def _raw_score(self, vector: dict[str, float]) -> float:
        scaler = self.model.steps["MinMaxScaler"]
        # score only features the scaler knows: unseen ones would be added to its state
        known = {k: v for k, v in vector.items() if k in scaler.min}
        return float(self.model.score_one(known)) if known else 0.0

    def score_one(self, x: Features) -> float:
        count, mean, variance = self.raw_scores
        if count < 2.0:
            return 0.0
        z = (self._raw_score(self._vector(x)) - mean) / max(math.sqrt(variance), 1e-6)
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))

    def explain_one(self, x: Features) -> list[Reason]:
        score = self.score_one(x)
        if score < self.explain_threshold:
            return []
        worst, worst_z = "", 0.0
        for name, value in x.items():
            t = self._transformed(value)
            m = self.moments.get(name)
            if t is None or m is None or m[0] < 2.0 or m[2] <= 0.0:
                continue
            z = (t - m[1]) / math.sqrt(m[2] / (m[0] - 1.0))
            if abs(z) > abs(worst_z):
                worst, worst_z = name, z
        if abs(worst_z) < self.min_deviation:
            return []
        raw = x[worst]
        shown = ("yes" if raw else "no") if isinstance(raw, bool) else figure(float(raw))
        text = (
            f"unusual declaration (anomaly {score:.2f}): {feature_label(worst)} {shown} "
            f"is far {'above' if worst_z > 0 else 'below'} usual"
        )
        return [Reason(f"anomaly.{worst}", text, score)]
