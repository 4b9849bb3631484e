"""Valuation: declared value per kg against streaming reference prices per HS code and origin.

Each reference price is a small quantile sketch of log10(EUR per kg): the first ``warmup``
values are kept exactly, after which the quartiles follow the stream by stochastic
approximation (each quartile steps up by ``tau * step`` or down by ``(1 - tau) * step``).
That is four floats per key: a P² estimator (``river.stats.Quantile``) needs about twenty
per quantile and three times the update cost, and with six reference levels per event both
matter. The step shrinks like ``1/sqrt(n)`` down to ``min_gain``, so the sketch settles on
a stable market and still follows one that moves.

Reference levels, most specific first: HS6 and origin, HS6, HS4 and origin, HS4, HS2 and
origin, HS2. The first level with ``min_count`` observations is the reference. An event
without an HS code may carry ``hs_chapter`` read from its description with
``hs_inferred=True`` (the ensemble does this): it is scored at chapter level and says so,
but reference prices only ever learn from declared codes. An event
whose value lies ``z`` robust standard deviations below the reference median scores
``erf(z / sqrt(2))`` for under-valuation (0 at the median, 0.95 at two deviations); above
the median the same value is the over-valuation score.
"""

from __future__ import annotations

import math
from typing import Any

from scorers.base import Features, Reason
from scorers.wording import figure

_TAUS = (0.25, 0.5, 0.75)
_IQR_TO_SIGMA = 1.349  # interquartile range of a standard normal


class ValuationScorer:
    """Under- and over-valuation against reference prices learnt from every event.

    Parameters
    ----------
    min_count
        Observations a reference level needs before it is used.
    warmup
        Values kept exactly before a sketch switches to stochastic approximation.
    gain
        Step size of the quartile updates at ``n`` observations is ``gain / sqrt(n)`` times
        the interquartile range...
    min_gain
        ...but never less than ``min_gain`` times it, so the reference keeps moving.
    min_spread
        Smallest robust standard deviation in log10 units (0.05 is about 12%), so a
        market with one fixed price does not turn every rounding into an alarm.
    explain_threshold
        Score from which ``explain_one`` gives a reason (0.95 is two deviations).
    max_keys
        Reference keys kept; the oldest key is forgotten first.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(3)
    >>> valuation = ValuationScorer()
    >>> for _ in range(200):
    ...     valuation.learn_one({"hs6": "851712", "hs_heading": "8517", "hs_chapter": "85",
    ...                          "origin_country": "CN", "value_per_kg": rng.lognormvariate(3.6, 0.4)})
    >>> x = {"hs_heading": "8517", "hs_chapter": "85", "origin_country": "CN", "value_per_kg": 2.1}
    >>> round(valuation.score_one(x), 3)
    1.0
    >>> [(r.code, r.text) for r in valuation.explain_one(x)]
    [('valuation.under', 'declared 2.1 EUR/kg; median for HS 8517 from CN is 38 EUR/kg')]
    >>> valuation.score_one({"hs_chapter": "97", "value_per_kg": 2.1})
    0.0
    """  # noqa: E501

    def __init__(
        self,
        min_count: int = 20,
        warmup: int = 16,
        gain: float = 0.5,
        min_gain: float = 0.01,
        min_spread: float = 0.05,
        explain_threshold: float = 0.95,
        max_keys: int = 50_000,
    ) -> None:
        self.min_count = min_count
        self.warmup = warmup
        self.gain = gain
        self.min_gain = min_gain
        self.min_spread = min_spread
        self.explain_threshold = explain_threshold
        self.max_keys = max_keys
        # key -> [n, y1..yn] while warming up, then [n, q25, q50, q75] in log10(EUR/kg)
        self.sketches: dict[str, list[float]] = {}

    @staticmethod
    def _levels(x: Features) -> list[tuple[str, str, str | None]]:
        """(sketch key, HS code, origin) per reference level, most specific first."""
        origin = x.get("origin_country")
        origin = origin if isinstance(origin, str) and origin else None
        levels: list[tuple[str, str, str | None]] = []
        for name in ("hs6", "hs_heading", "hs_chapter"):
            code = x.get(name)
            if not isinstance(code, str) or not code:
                continue
            if origin is not None:
                levels.append((f"{code}|{origin}", code, origin))
            levels.append((code, code, None))
        return levels

    @staticmethod
    def _log_price(x: Features) -> float | None:
        if x.get("currency_known") is False:
            return None  # a value in an unknown currency says nothing about the price
        per_kg = x.get("value_per_kg")
        if isinstance(per_kg, bool) or not isinstance(per_kg, int | float):
            return None
        if not math.isfinite(per_kg) or per_kg < 0:
            return None
        return math.log10(max(float(per_kg), 1e-3))

    def learn_one(self, x: Features, y: Any = None, w: float = 1.0) -> None:
        """Add the event's price to every reference level; outcomes are not needed."""
        price = self._log_price(x)
        if price is None or x.get("hs_inferred") is True:
            return
        for key, _, _ in self._levels(x):
            sketch = self.sketches.get(key)
            if sketch is None:
                if len(self.sketches) >= self.max_keys:
                    del self.sketches[next(iter(self.sketches))]
                self.sketches[key] = [1.0, price]
            else:
                self._update(sketch, price)

    def _update(self, sketch: list[float], price: float) -> None:
        n = sketch[0] + 1.0
        sketch[0] = n
        if n <= self.warmup:
            sketch.append(price)
            if n == self.warmup:
                ordered = sorted(sketch[1:])
                sketch[1:] = [_exact_quantile(ordered, tau) for tau in _TAUS]
            return
        spread = max(sketch[3] - sketch[1], self.min_spread)
        step = spread * max(self.gain / math.sqrt(n), self.min_gain)
        for i, tau in enumerate(_TAUS, start=1):
            sketch[i] += step * (tau - (1.0 if price < sketch[i] else 0.0))
        # keep the quartiles ordered
        sketch[1] = min(sketch[1], sketch[2])
        sketch[3] = max(sketch[3], sketch[2])

    def reference_one(self, x: Features) -> tuple[str, str | None, float, float] | None:
        """(HS code, origin, median, robust deviation) of the reference, in log10(EUR/kg)."""
        for key, code, origin in self._levels(x):
            sketch = self.sketches.get(key)
            if sketch is None or sketch[0] < self.min_count:
                continue
            if sketch[0] < self.warmup:
                ordered = sorted(sketch[1:])
                q1, q2, q3 = (_exact_quantile(ordered, tau) for tau in _TAUS)
            else:
                q1, q2, q3 = sketch[1], sketch[2], sketch[3]
            sigma = max((q3 - q1) / _IQR_TO_SIGMA, self.min_spread)
            return code, origin, q2, sigma
        return None

    def scores_one(self, x: Features) -> dict[str, float]:
        """Under- and over-valuation scores in [0, 1]; both 0 without a reference."""
        price = self._log_price(x)
        reference = self.reference_one(x) if price is not None else None
        if price is None or reference is None:
            return {"under": 0.0, "over": 0.0}
        _, _, median, sigma = reference
        z = (median - price) / sigma
        surprise = math.erf(abs(z) / math.sqrt(2.0))
        return {"under": surprise if z > 0 else 0.0, "over": surprise if z < 0 else 0.0}

    def score_one(self, x: Features) -> float:
        return max(self.scores_one(x).values())

    def explain_one(self, x: Features) -> list[Reason]:
        scores = self.scores_one(x)
        direction = max(scores, key=lambda k: scores[k])
        if scores[direction] < self.explain_threshold:
            return []
        reference = self.reference_one(x)
        if reference is None:
            return []
        code, origin, median, _ = reference
        where = f" from {origin}" if origin is not None else ""
        text = (
            f"declared {figure(float(x['value_per_kg']))} EUR/kg; "
            f"median for HS {code}{where} is {figure(10.0**median)} EUR/kg"
        )
        if x.get("hs_inferred") is True:
            text += " (HS chapter read from the description)"
        return [Reason(f"valuation.{direction}", text, scores[direction])]


def _exact_quantile(ordered: list[float], tau: float) -> float:
    position = tau * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
