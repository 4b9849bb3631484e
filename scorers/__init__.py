"""Customs risk scorers: one grammar of verbs, one calibrated score with reasons.

Every scorer follows the contract in :mod:`scorers.base`, the same grammar as River:

* ``learn_one(x, y=None, w=1.0)`` learns from one event. Unsupervised scorers (valuation,
  tariff, anomaly) learn from ``x`` alone and ignore ``y``; the supervised model and the
  entity profiles learn from an inspection outcome ``y``, weighted by ``w`` (the inverse
  propensity of the inspection). Without a label the supervised model only updates its
  scaling statistics.
* ``predict_proba_one(x) -> {False: p0, True: p1}`` for classifiers, ``score_one(x)`` in
  [0, 1] for detectors and domain checks; a high value means risk. ``base.risk_of`` reads
  either, so any River pipeline is a scorer as it is.
* ``explain_one(x) -> list[Reason]``, strongest first, readable by an officer, never quoting
  a personal field.

Scorers never mutate ``x``, ignore feature order, and tolerate missing and unknown features,
because schemas evolve and fields go missing. They pickle before and after learning, and the
same seed gives the same output.

The family:

* :mod:`scorers.features`: features and entity keys per stream, as plain functions;
* :class:`SupervisedScorer`: online logistic regression per stream, from outcomes;
* :class:`ProfileScorer`: smoothed finding rates per pseudonymised entity, route, HS code;
* :class:`ValuationScorer`: declared value per kg against reference prices per HS and origin;
* :class:`TariffScorer`: goods description against the declared HS chapter;
* :class:`AnomalyScorer`: Half-Space Trees on the numeric features;
* :mod:`scorers.rules`: analysts' rules and watch lists from YAML;
* :class:`StreamEnsemble`: all of them stacked into one calibrated probability, with reasons;
* :class:`RiskModel`: one ensemble per stream, versioned and picklable, what the learner
  snapshots and the scorers hot-swap.

>>> from scorers.synth import records
>>> model = RiskModel(seed=42)
>>> record, _ = next(records("courier", 1, seed=1))
>>> assessment = model.assess("courier", record)
>>> 0.0 <= assessment.score <= 1.0, assessment.reasons[0].code
(True, 'score.none')
"""

from __future__ import annotations

from scorers.anomaly import AnomalyScorer
from scorers.base import Features, Reason, explain, risk_of
from scorers.ensemble import Assessment, StreamEnsemble
from scorers.features import STREAMS, entities_for, features_for
from scorers.model import RiskModel
from scorers.profiles import ProfileScorer
from scorers.stacking import Stacker
from scorers.supervised import DeclarationEncoder, SupervisedScorer
from scorers.tariff import TariffScorer
from scorers.valuation import ValuationScorer

__all__ = [
    "STREAMS",
    "AnomalyScorer",
    "Assessment",
    "DeclarationEncoder",
    "Features",
    "ProfileScorer",
    "Reason",
    "RiskModel",
    "Stacker",
    "StreamEnsemble",
    "SupervisedScorer",
    "TariffScorer",
    "ValuationScorer",
    "entities_for",
    "explain",
    "features_for",
    "risk_of",
]
