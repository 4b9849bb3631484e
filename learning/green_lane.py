"""The green lane's miss rate: estimated from its random audits, bounded, kept under a maximum.

The green lane (:mod:`scorers.green_lane`) releases low-risk traffic without a check, so the
only unbiased view of what it lets through is the small random share of it the selection
policy audits (kind ``green_audit``): a uniform sample of the lane, drawn independently of the
score. The lane's miss rate is the share of its events in which an inspection would find
something; its estimate is the finding rate among the audits, ``x`` findings in ``n``, with
the Wilson score interval (E. B. Wilson, JASA 22, 1927; recommended for small rates by Brown,
Cai and DasGupta, "Interval estimation for a binomial proportion", Statistical Science 16,
2001)::

    p = x / n,  centre = (p + z²/2n) / (1 + z²/n),
    half = z / (1 + z²/n) * sqrt(p (1 - p) / n + z² / 4n²),  interval = centre ± half

with ``z`` the normal quantile of the confidence (1.96 for 95%). Unlike ``p ± z sqrt(p(1-p)/n)``
it stays informative with no finding at all: 0 in 400 audits gives [0, 0.95%].

:class:`GreenLaneControl` keeps one stream's last ``window`` audit outcomes, each with the
score its event had, and the lane's score cap (the lane holds the qualifying events scored
below it):

* **estimate**: over the audits in the window scored below the current cap, i.e. of the lane
  as it is now; after a narrowing, the audits of the slice cut off stop counting at once;
* **narrow**: when the upper bound passes ``max_miss_rate`` on a full window of audits inside
  the cap (``min_audits``, by default the whole window: judged on fewer, a single finding
  would fail a lane that runs well under the maximum), or when even the lower bound passes
  it over the newest 100, 200, 400... audits or the whole window (the audits are then sure
  the lane misses too much; the newest ones show a change before older clean audits stop
  diluting it; judged on fewer than ``alarm_audits``, 100, one early finding would close a
  good lane), the cap is halved, again and again until what is left passes or too few audits
  remain to judge, down to ``min_cap``;
* **widen**: once ``min_audits`` audits have come since the last change and the upper bound
  is below ``widen_below`` (three quarters) of the maximum, the cap grows by a quarter, up to
  the cap configured. Narrowing is immediate and widening slow, because the goal is that the
  true miss rate stays under the maximum.

A window must be long enough for a clean lane to pass: with no finding, the upper bound falls
under the maximum only from :func:`clean_audits_needed` audits on (381 for 1% at 95%).

Examples
--------
Audits of a lane of AEO traders: 2 findings in 1000, then smugglers move into the lane, and
the low-scored half of the lane stays clean while the upper half now misses 6%:

>>> import random
>>> rng = random.Random(1)
>>> lane = GreenLaneControl(max_miss_rate=0.01, cap=0.02, window=1000)
>>> for _ in range(1000):
...     _ = lane.update(rng.uniform(0.0, lane.cap), rng.random() < 0.002)
>>> lane.cap, lane.estimate().upper < 0.01
(0.02, True)
>>> changes = []
>>> for i in range(1500):
...     score = rng.uniform(0.0, lane.cap)
...     cap = lane.update(score, rng.random() < (0.06 if score > 0.01 else 0.002))
...     if cap is not None:
...         changes.append((i, cap))
>>> changes  # (audits since the change of the world, new cap)
[(94, 0.01), (1094, 0.0125), (1220, 0.00625)]
>>> estimate = lane.estimate()
>>> estimate.audits, estimate.findings, round(estimate.upper, 4)
(705, 1, 0.008)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "GreenLaneConfig", "GreenLaneControl", "MissRate", "clean_audits_needed", "wilson_interval",
]


def wilson_interval(findings: int, audits: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a rate from ``findings`` in ``audits`` (formula above).

    >>> [round(b, 4) for b in wilson_interval(0, 400)]
    [0.0, 0.0095]
    >>> [round(b, 4) for b in wilson_interval(3, 1000)]
    [0.001, 0.0088]
    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    if not 0 <= findings <= max(audits, 0):
        raise ValueError(f"findings must be within [0, {audits}], got {findings!r}")
    return _wilson(findings, audits, NormalDist().inv_cdf(0.5 + confidence / 2.0))


def _wilson(findings: int, audits: int, z: float) -> tuple[float, float]:
    if audits <= 0:
        return 0.0, 1.0
    p, z2 = findings / audits, z * z
    scale = 1.0 + z2 / audits
    centre = (p + z2 / (2.0 * audits)) / scale
    half = z / scale * math.sqrt(p * (1.0 - p) / audits + z2 / (4.0 * audits * audits))
    lower = 0.0 if findings == 0 else max(0.0, centre - half)
    upper = 1.0 if findings == audits else min(1.0, centre + half)
    return lower, upper


def clean_audits_needed(max_miss_rate: float, confidence: float = 0.95) -> int:
    """The fewest audits whose Wilson upper bound, with no finding, is at most the maximum.

    >>> clean_audits_needed(0.01), clean_audits_needed(0.02), clean_audits_needed(0.01, 0.9)
    (381, 189, 268)
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    return math.ceil(z * z * (1.0 - max_miss_rate) / max_miss_rate)


@dataclass(frozen=True, slots=True)
class MissRate:
    """The lane's estimated miss rate: ``findings`` in ``audits``, the rate and its interval."""

    audits: int
    findings: int
    rate: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class GreenLaneConfig:
    """What the learner's green lanes are configured by (every stream alike)."""

    max_miss_rate: float = 0.01
    cap: float = 0.01
    window: int = 1000
    confidence: float = 0.95

    def __post_init__(self) -> None:
        self.control()  # every problem is reported now, with its reason

    def control(self) -> GreenLaneControl:
        """A lane at its widest, with no audit yet."""
        return GreenLaneControl(self.max_miss_rate, self.cap, self.window, self.confidence)


class GreenLaneControl:
    """One stream's green lane: its audits, its miss-rate estimate and its score cap.

    Parameters
    ----------
    max_miss_rate
        The largest miss rate the lane may run at.
    cap
        The widest score cap: where the lane starts, and how far it may widen again.
    window
        Audit outcomes the estimate is computed over (the newest ones).
    confidence
        Two-sided confidence of the Wilson interval; the upper bound is judged.
    min_audits
        Audits inside the cap before the upper bound is judged (default: ``window``).
    alarm_audits
        The fewest audits (the newest ones inside the cap) the lower bound is judged on.
    shrink, widen
        Factors the cap is narrowed and widened by.
    widen_below
        Share of the maximum the upper bound must be under for the lane to widen.
    min_cap
        The narrowest the lane gets (default: the widest cap / 256).
    """

    def __init__(
        self,
        max_miss_rate: float = 0.01,
        cap: float = 0.02,
        window: int = 1000,
        confidence: float = 0.95,
        min_audits: int | None = None,
        alarm_audits: int = 100,
        shrink: float = 0.5,
        widen: float = 1.25,
        widen_below: float = 0.75,
        min_cap: float | None = None,
    ) -> None:
        if not 0.0 < max_miss_rate < 1.0:
            raise ValueError(f"max_miss_rate must be in (0, 1), got {max_miss_rate!r}")
        if not 0.0 < cap <= 1.0:
            raise ValueError(f"cap must be in (0, 1], got {cap!r}")
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
        if not 0.0 < shrink < 1.0 or not widen > 1.0 or not 0.0 < widen_below <= 1.0:
            raise ValueError("shrink must be in (0, 1), widen above 1, widen_below in (0, 1]")
        self.max_miss_rate = max_miss_rate
        self.max_cap = cap
        self.window = window
        self.confidence = confidence
        needed = clean_audits_needed(max_miss_rate, confidence)
        self.min_audits = window if min_audits is None else min_audits
        if not needed <= self.min_audits <= window:
            raise ValueError(
                f"a miss rate under {max_miss_rate:g} needs at least {needed} audits without a "
                f"finding: min_audits must be in [{needed}, window], got {self.min_audits} "
                f"(window {window})"
            )
        self.alarm_audits = min(alarm_audits, self.min_audits)
        self._z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        self.shrink = shrink
        self.widen = widen
        self.widen_below = widen_below
        self.min_cap = cap / 256.0 if min_cap is None else min_cap
        self.cap = cap
        # (score, finding, decided at in unix seconds) of the newest audits
        self.audits: deque[tuple[float, bool, float]] = deque()
        self._inside = [0, 0]  # audits and findings among them scored below the current cap
        self.since_change = 0
        self.narrowed = 0
        self.widened = 0
        self.audits_total = 0
        self.findings_total = 0

    @property
    def config(self) -> GreenLaneConfig:
        """The configuration this lane runs under."""
        return GreenLaneConfig(self.max_miss_rate, self.max_cap, self.window, self.confidence)

    def _count(self, cap: float) -> tuple[int, int]:
        audits = findings = 0
        for score, finding, _ in self.audits:
            if score < cap:
                audits += 1
                findings += finding
        return audits, findings

    def _count_in(self, audit: tuple[float, bool, float], sign: int) -> None:
        if audit[0] < self.cap:
            self._inside[0] += sign
            self._inside[1] += sign * audit[1]

    def _set_cap(self, cap: float) -> None:
        self.cap = cap
        self._inside = list(self._count(cap))

    def estimate(self, cap: float | None = None) -> MissRate:
        """The miss rate of the lane at ``cap`` (default: the current cap) from the audits in
        the window scored below it."""
        if cap is None or cap == self.cap:
            audits, findings = self._inside
        else:
            audits, findings = self._count(cap)
        lower, upper = _wilson(findings, audits, self._z)
        rate = findings / audits if audits else math.nan
        return MissRate(audits, findings, rate, lower, upper)

    def since(self) -> float:
        """When the oldest audit the estimate counts was decided (unix seconds; NaN if none)."""
        times = [at for score, _, at in self.audits if score < self.cap]
        return min(times) if times else math.nan

    def _too_risky(self) -> bool:
        """Narrow? The upper bound over a full window passes the maximum, or the lower bound
        over the newest 100, 200, 400... audits inside the cap, or over all of them, does."""
        audits, findings = self._inside
        maximum, z = self.max_miss_rate, self._z
        if audits >= self.min_audits and _wilson(findings, audits, z)[1] > maximum:
            return True
        if audits < self.alarm_audits:
            return False
        seen = found = 0
        look = self.alarm_audits
        for score, finding, _ in reversed(self.audits):
            if score < self.cap:
                seen += 1
                found += finding
                if seen == look:
                    if _wilson(found, seen, z)[0] > maximum:
                        return True
                    look *= 2
        return _wilson(found, seen, z)[0] > maximum

    def update(self, score: float, finding: bool, decided_at: float = math.nan) -> float | None:
        """Account one audit outcome; the new cap if the lane narrowed or widened, else None."""
        audit = (float(score), bool(finding), float(decided_at))
        self.audits.append(audit)
        self._count_in(audit, 1)
        if len(self.audits) > self.window:
            self._count_in(self.audits.popleft(), -1)
        self.audits_total += 1
        self.findings_total += bool(finding)
        self.since_change += 1
        before = self.cap
        while self.cap > self.min_cap and self._too_risky():
            self._set_cap(max(self.min_cap, self.cap * self.shrink))
        if self.cap < before:
            self.narrowed += 1
            self.since_change = 0
            return self.cap
        estimate = self.estimate()
        if (
            self.cap < self.max_cap
            and self.since_change >= self.min_audits
            and estimate.audits >= self.min_audits
            and estimate.upper < self.widen_below * self.max_miss_rate
        ):
            self._set_cap(min(self.max_cap, self.cap * self.widen))
            self.widened += 1
            self.since_change = 0
            return self.cap
        return None

    def __repr__(self) -> str:
        return (f"GreenLaneControl(max_miss_rate={self.max_miss_rate!r}, cap={self.cap!r}, "
                f"window={self.window!r}, confidence={self.confidence!r})")
