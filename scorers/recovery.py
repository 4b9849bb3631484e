"""Expected recovery: what an inspection that finds something recovers, in EUR.

Revenue-aware selection ranks by expected revenue, the probability of a finding times what a
finding recovers (duties, taxes, penalties). ``RecoveryModel`` learns the second factor from
the outcomes that found something and reported a recovered amount: an online linear
regression (River) of the log amount on the declaration's encoded features, the same
encoding as the supervised model (declared value and weight, HS chapter, origin, the
authority's own fields and measures such as a tax rate), so that what drives duties drives
the estimate. Amounts are heavy-tailed, hence the log; the prediction returns to EUR with the
log-normal mean (half the residual variance added back).

Until it has learnt ``min_amounts`` amounts it predicts nothing (``None``), and revenue
ranking then ranks by probability alone. ``ratio_one`` is the estimate against the mean
amount learnt so far: 1 for a typical consignment, so that a ranking key of probability times
ratio stays on the probability's scale.

Examples
--------
>>> import random
>>> rng = random.Random(3)
>>> model = RecoveryModel(min_amounts=50)
>>> model.predict_one({"value_eur": 400.0}) is None
True
>>> for _ in range(3000):  # a quarter of the declared value, give or take
...     value = rng.lognormvariate(5, 1.2)
...     model.learn_one({"value_eur": value, "hs_chapter": "85"},
...                     0.25 * value * rng.lognormvariate(0, 0.3))
>>> round(model.predict_one({"value_eur": 400.0, "hs_chapter": "85"}), -1)
100.0
>>> round(model.ratio_one({"value_eur": 4000.0, "hs_chapter": "85"}), 1)
12.9
"""

from __future__ import annotations

import math
from typing import Any

from river import linear_model, optim

from scorers.base import Features
from scorers.supervised import DeclarationEncoder

__all__ = ["RecoveryModel"]

# log1p(EUR) of a prediction is clipped here: no consignment recovers more than ~1e9 EUR
_MAX_LOG = 21.0


class RecoveryModel:
    """Expected recovered amount (EUR) of a consignment, given that its inspection finds.

    Parameters
    ----------
    learning_rate
        SGD step of the regression on ``log1p(amount)``.
    l2
        Ridge penalty, keeps rare one-hot weights small.
    min_amounts
        Amounts learnt before the model predicts.
    encoder
        An encoder whose owner learns its statistics from every event (the ensemble shares
        the supervised model's, and encodes each event once for both); default: one of its
        own, learnt from the amounts' declarations.
    """

    def __init__(
        self,
        learning_rate: float = 0.02,
        l2: float = 1e-4,
        min_amounts: int = 30,
        encoder: DeclarationEncoder | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self.min_amounts = min_amounts
        self.shared_encoder = encoder is not None
        self.encoder = encoder if encoder is not None else DeclarationEncoder()
        self.regressor = linear_model.LinearRegression(
            optimizer=optim.SGD(learning_rate), l2=l2, intercept_lr=learning_rate
        )
        self.amounts = 0
        # Welford moments of the residuals (log scale) and running mean of the amounts (EUR)
        self.residual = [0.0, 0.0, 0.0]
        self.mean_amount = 0.0

    def learn_one(self, x: Features, y: Any = None, w: float = 1.0) -> None:
        """Learn one recovered amount ``y`` (EUR); nothing unless it is a positive number.

        ``w`` is accepted for the contract and ignored: an amount is what it is.
        """
        if not self.shared_encoder and _amount(y) is not None:
            self.encoder.learn_one(x)
        self.learn_encoded(self.encoder.transform_one(x), y)

    def learn_encoded(self, z: Features, y: Any) -> None:
        """:meth:`learn_one` on features the encoder encoded already."""
        amount = _amount(y)
        if amount is None:
            return
        target = math.log1p(amount)
        error = target - self._predict(z)
        count, mean, m2 = self.residual
        count += 1.0
        delta = error - mean
        mean += delta / count
        self.residual = [count, mean, m2 + delta * (error - mean)]
        self.regressor.learn_one(z, target)
        self.amounts += 1
        self.mean_amount += (amount - self.mean_amount) / self.amounts

    def predict_one(self, x: Features) -> float | None:
        """Expected recovered amount in EUR, or None before ``min_amounts`` were learnt."""
        if self.amounts < self.min_amounts:
            return None
        return self.predict_encoded(self.encoder.transform_one(x))

    def predict_encoded(self, z: Features) -> float | None:
        """:meth:`predict_one` on features the encoder encoded already."""
        if self.amounts < self.min_amounts:
            return None
        log_amount = self._predict(z)
        count, _, m2 = self.residual
        variance = m2 / (count - 1.0) if count > 1.0 else 0.0
        return math.expm1(max(0.0, min(_MAX_LOG, log_amount + variance / 2.0)))

    def _predict(self, z: Features) -> float:
        return float(self.regressor.predict_one(z))  # type: ignore[no-untyped-call]

    def ratio_one(self, x: Features) -> float:
        """The expected amount against the mean amount learnt (1: typical, or not known)."""
        return self.ratio_of(self.predict_one(x))

    def ratio_of(self, amount: float | None) -> float:
        """An expected amount against the mean amount learnt (1: typical, or not known)."""
        if amount is None or self.mean_amount <= 0.0:
            return 1.0
        return amount / self.mean_amount


def _amount(y: Any) -> float | None:
    """A recovered amount worth learning: a finite positive number, else None."""
    if isinstance(y, bool) or not isinstance(y, int | float):
        return None
    amount = float(y)
    return amount if amount > 0.0 and math.isfinite(amount) else None
