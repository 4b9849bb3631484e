"""The one contract every scorer follows, and the helpers that rely on it.

A scorer is anything with River's grammar of verbs:

* ``learn_one(x, y=None, w=1.0)``: supervised scorers learn from a label, unsupervised ones
  ignore it and learn from ``x`` alone.
* ``predict_proba_one(x) -> {False: p0, True: p1}`` for classifiers, or
  ``score_one(x) -> float`` in [0, 1] for detectors and domain checks.
* optionally ``explain_one(x) -> list[Reason]``: readable reasons, strongest first.

So any River pipeline *is* a scorer, and ``risk_of`` turns either kind into one number.
Feature dicts map names to numbers, strings or booleans. Scorers never mutate them and
tolerate missing and unseen keys, because schemas evolve and fields go missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

Features = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reason:
    """One readable reason behind a score.

    ``code`` is stable for machines (``valuation.under``), ``text`` is for the officer and
    must never contain a personal field in clear text, ``weight`` is the contribution
    (log-odds for linear parts, severity for rules).
    """

    code: str
    text: str
    weight: float


@runtime_checkable
class Learner(Protocol):
    def learn_one(self, x: Features, y: Any = ..., /) -> None: ...


def risk_of(scorer: Any, x: Features) -> float:
    """Return the scorer's risk for ``x`` in [0, 1], whichever verb it speaks.

    >>> from river import linear_model
    >>> risk_of(linear_model.LogisticRegression(), {"value_per_kg": 1.0})
    0.5
    """
    if hasattr(scorer, "predict_proba_one"):
        proba = scorer.predict_proba_one(x)
        return float(min(1.0, max(0.0, proba.get(True, 0.0))))
    return float(min(1.0, max(0.0, scorer.score_one(x))))


def explain(scorer: Any, x: Features) -> list[Reason]:
    """Return the scorer's reasons for ``x``, or none if it cannot explain itself."""
    if hasattr(scorer, "explain_one"):
        return list(scorer.explain_one(x))
    return []
