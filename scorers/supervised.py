"""Supervised online model per stream: a River pipeline learning from inspection outcomes.

The pipeline is ``DeclarationEncoder | LogisticRegression``. The encoder standardises numbers
(after a signed log, because values and weights are heavy-tailed), turns booleans into 0/1
and one-hot encodes the categorical features it knows, and the authority's own declaration
fields (``attr_*``). Other strings are ignored, and so is any pseudonymised (``px_``) value:
a personal token can never become a weight.

``learn_one(x)`` without a label only updates the encoder's statistics. Call it for every
scored event so that scaling follows the whole stream, not just the inspected sample. With a
label it trains the classifier, weighted by ``w`` (inverse propensity of the inspection).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from river import base, compose, linear_model, optim

from schemas.pseudonymise import TOKEN_PREFIX
from scorers.base import Features, Reason
from scorers.features import CATEGORICAL
from scorers.wording import feature_label, figure, signed

# The goods text and fine-grained codes belong to the tariff scorer and the profiles.
DEFAULT_EXCLUDE = ("description", "hs6", "hs_heading", "stream", "log_value_per_kg")
# Features of the authority's own categorical fields (scorers.features.goods.declared_fields).
OWN_FIELD = "attr_"


def _signed_log(value: float) -> float:
    return math.copysign(math.log1p(abs(value)), value)


class DeclarationEncoder(base.Transformer):
    """Standardise numbers, pass booleans as 0/1 and one-hot the known categoricals.

    The authority's own categorical fields (features named ``attr_<name>``) are one-hot
    encoded too, unless their value is a pseudonymised token; their own numbers
    (``measure_<name>``) are numbers like any other.

    Parameters
    ----------
    categorical
        String features to one-hot encode; others are ignored. Default: ``CATEGORICAL``.
    exclude
        Features never used. Default: ``DEFAULT_EXCLUDE``.
    log_scale
        Take a signed ``log1p`` of numbers before standardising them.
    clip
        Bound of the standardised values, so one absurd declaration cannot swamp the model.

    Examples
    --------
    >>> encoder = DeclarationEncoder()
    >>> for kg in (1.0, 2.0, 3.0):
    ...     encoder.learn_one({"weight_kg": kg})
    >>> x = {"weight_kg": 3.0, "cash": True, "hub": "hub_FRA", "shipper": "px_1",
    ...      "attr_procedure": "4000", "attr_owner": "px_2"}
    >>> {k: round(v, 3) for k, v in encoder.transform_one(x).items()}
    {'weight_kg': 0.939, 'cash': 1.0, 'hub=hub_FRA': 1.0, 'attr_procedure=4000': 1.0}
    """

    def __init__(
        self,
        categorical: tuple[str, ...] | None = None,
        exclude: tuple[str, ...] | None = None,
        log_scale: bool = True,
        clip: float = 5.0,
    ) -> None:
        self.categorical = categorical
        self.exclude = exclude
        self.log_scale = log_scale
        self.clip = clip
        self._categorical = frozenset(CATEGORICAL if categorical is None else categorical)
        self._exclude = frozenset(DEFAULT_EXCLUDE if exclude is None else exclude)
        # Welford moments per numeric feature: [count, mean, sum of squared deviations]
        self.moments: dict[str, list[float]] = {}

    def _numeric(self, value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value):
            return None
        return _signed_log(value) if self.log_scale else float(value)

    def learn_one(self, x: dict[Any, Any]) -> None:
        exclude, moments, log_scale = self._exclude, self.moments, self.log_scale
        for name, value in x.items():
            # bool is an int: flags are not scaled
            if value.__class__ is bool or not isinstance(value, float | int) or name in exclude:
                continue
            if not math.isfinite(value):
                continue
            t = math.copysign(math.log1p(abs(value)), value) if log_scale else float(value)
            m = moments.get(name)
            if m is None:
                moments[name] = [1.0, t, 0.0]
                continue
            m[0] += 1.0
            delta = t - m[1]
            m[1] += delta / m[0]
            m[2] += delta * (t - m[1])

    def standardise(self, name: str, value: Any) -> float | None:
        """The encoded value of one numeric feature, ``None`` if it is not a number."""
        t = self._numeric(value)
        if t is None:
            return None
        m = self.moments.get(name)
        if m is None or m[0] < 2.0 or m[2] <= 0.0:
            return 0.0
        z = (t - m[1]) / math.sqrt(m[2] / (m[0] - 1.0))
        return max(-self.clip, min(self.clip, z))

    def transform_one(self, x: dict[Any, Any]) -> dict[Any, Any]:
        encoded: dict[str, float] = {}
        exclude, categorical, moments = self._exclude, self._categorical, self.moments
        log_scale, clip = self.log_scale, self.clip
        for name, value in x.items():
            if name in exclude:
                continue
            kind = value.__class__
            if kind is bool:
                encoded[name] = 1.0 if value else 0.0
            elif kind is str:
                if name in categorical or (
                    name.startswith(OWN_FIELD) and not value.startswith(TOKEN_PREFIX)
                ):
                    encoded[f"{name}={value}"] = 1.0
            elif isinstance(value, float | int):
                if not math.isfinite(value):
                    continue
                m = moments.get(name)
                if m is None or m[0] < 2.0 or m[2] <= 0.0:
                    encoded[name] = 0.0
                    continue
                t = math.copysign(math.log1p(abs(value)), value) if log_scale else value
                z = (t - m[1]) / math.sqrt(m[2] / (m[0] - 1.0))
                encoded[name] = clip if z > clip else -clip if z < -clip else z
        return encoded


class SupervisedScorer:
    """Online logistic regression on encoded declaration features, with readable reasons.

    Parameters
    ----------
    categorical, exclude, log_scale
        Passed to the ``DeclarationEncoder``.
    learning_rate
        Step size of the SGD optimiser, for the weights and the intercept alike.
    l2
        Ridge penalty, keeps rare one-hot weights small.
    scale_from_labels
        Whether a labelled ``learn_one`` also updates the encoder statistics. The ensemble
        turns it off because it feeds every event to ``learn_one(x)`` already.
    max_reasons
        How many contributions ``explain_one`` names at most.
    min_contribution
        Smallest log-odds contribution worth naming.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(7)
    >>> scorer = SupervisedScorer()
    >>> for _ in range(500):
    ...     per_kg = rng.lognormvariate(3, 1)
    ...     x = {"value_per_kg": per_kg, "hub": rng.choice(["hub_FRA", "hub_LEJ"])}
    ...     scorer.learn_one(x, per_kg < 8)
    >>> round(scorer.predict_proba_one({"value_per_kg": 2.1, "hub": "hub_FRA"})[True], 2)
    0.9
    >>> [r.text for r in scorer.explain_one({"value_per_kg": 2.1, "hub": "hub_FRA"})]
    ['value per kg 2.1 (low) +4.6']
    """

    def __init__(
        self,
        categorical: tuple[str, ...] | None = None,
        exclude: tuple[str, ...] | None = None,
        log_scale: bool = True,
        learning_rate: float = 0.05,
        l2: float = 1e-4,
        scale_from_labels: bool = True,
        max_reasons: int = 3,
        min_contribution: float = 0.1,
    ) -> None:
        self.categorical = categorical
        self.exclude = exclude
        self.log_scale = log_scale
        self.learning_rate = learning_rate
        self.l2 = l2
        self.scale_from_labels = scale_from_labels
        self.max_reasons = max_reasons
        self.min_contribution = min_contribution
        self.encoder = DeclarationEncoder(categorical, exclude, log_scale)
        self.classifier = linear_model.LogisticRegression(
            optimizer=optim.SGD(learning_rate), l2=l2, intercept_lr=learning_rate
        )
        # a plain River pipeline: usable, and picklable, on its own
        self.model = compose.Pipeline(self.encoder, self.classifier)

    def learn_one(self, x: Features, y: Any = None, w: float = 1.0) -> None:
        if y is None or self.scale_from_labels:
            self.encoder.learn_one(x)
        if y is not None:
            self.classifier.learn_one(self.encoder.transform_one(x), bool(y), w)

    def predict_proba_one(self, x: Features) -> dict[bool, float]:
        proba: dict[bool, float] = self.model.predict_proba_one(x)
        return proba

    def contributions(self, x: Features) -> dict[str, float]:
        """Log-odds contribution of every encoded feature, the intercept left out."""
        return self.contributions_encoded(self.encoder.transform_one(x))

    def contributions_encoded(self, z: Features) -> dict[str, float]:
        """:meth:`contributions` of features the encoder encoded already."""
        weights = self.classifier.weights
        return {k: weights.get(k, 0.0) * v for k, v in z.items()}

    def proba_from(self, contributions: Mapping[str, float]) -> float:
        """Probability of a finding from ``contributions``, without encoding ``x`` again."""
        z = self.classifier.intercept + sum(contributions.values())
        return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))

    def explain_one(self, x: Features) -> list[Reason]:
        return self.reasons_from(x, self.contributions(x))

    def reasons_from(self, x: Features, contributions: Mapping[str, float]) -> list[Reason]:
        """The strongest positive ``contributions`` of ``x`` as reasons."""
        ranked = sorted(contributions.items(), key=lambda kv: kv[1], reverse=True)
        reasons = []
        for key, contribution in ranked[: self.max_reasons]:
            if contribution < self.min_contribution:
                break
            reasons.append(
                Reason(f"supervised.{key.split('=')[0]}", self._describe(key, x, contribution),
                       contribution)
            )
        return reasons

    def _describe(self, key: str, x: Features, contribution: float) -> str:
        if "=" in key:
            name, value = key.split("=", 1)
            return f"{feature_label(name)} {value} {signed(contribution)}"
        raw = x[key]
        if isinstance(raw, bool):
            return f"{feature_label(key)} {'yes' if raw else 'no'} {signed(contribution)}"
        z = self.encoder.standardise(key, raw) or 0.0
        level = "high" if z > 0 else "low"
        return f"{feature_label(key)} {figure(float(raw))} ({level}) {signed(contribution)}"
