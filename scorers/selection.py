"""Selection policy: which scored events go to inspection, held to a capacity budget.

Capacity is an inspection *rate* per lane, a lane being one stream at one hub. Rates are
looked up most specific first: ``"postal.hub_LEJ"``, then ``"postal"``, then ``"*"`` (default
5%). The policy keeps the last ``window`` scores of each lane and decides each event as it
arrives, so the rate holds over a sliding window of the continuous score stream; there is no
end-of-day batch.

**Areas.** High-revenue goods (excise: alcohol, tobacco, fuels) can have lanes and budgets of
their own: ``areas`` names HS code prefixes (``{"excise": ["22", "24", "27"]}``), an event whose
HS code starts with one goes to its hub's area lane, and a rate key with a third part sets that
lane's budget (``"courier.hub_LEJ.excise"``, ``"courier.*.excise"``, ``"*.*.excise"``, most
specific first; without one the area lane has its hub's rate).

**Ranking.** Each lane ranks by a key set in ``ranking`` (same keys as the rates):
``"probability"`` (the default), the score itself; ``"revenue"``, the expected revenue,
the score times what a finding would recover relative to a typical finding
(``recovery_ratio``, from the recovery model); or a blend ``a`` in [0, 1], the score times
``recovery_ratio ** a`` (0: probability, 1: revenue). The ratio keeps the key on the score's
scale, so the window's ranks stay comparable.

Four ways into physical inspection share one budget:

* **rule**: an ``always_inspect`` rule fired. Always selected (propensity 1).
* **random**: a draw decided by a hash of ``(seed, event_id)``, with probability
  ``p_rand = rate * random_share``, independent of the score. A replayed event draws the same.
* **model**: the score ranks in the top ``model_share`` of the lane's window.
* **green_audit**: the caller says the event qualifies for the green lane (see
  :mod:`scorers.green_lane`); it is released without any check (kind **green**), except for
  a hashed draw with probability ``green_audit_share``, independent of the score, that sends
  it to physical inspection to keep the lane's miss rate measured.

The model's share adapts so that all of them together select ``rate`` of the traffic: with
``rho`` the rule-hit rate over the window, ``model_share`` solves
``rho + (1 - rho) * (m + (1 - m) * p_rand) = rate``. Rule hits beyond the budget are never
dropped; the model then selects nothing and the lane runs over budget.

Green-lane events spend none of the budget except their audits: the budget stays ``rate`` of
*all* the lane's traffic, the green events' expected audits (``g * green_audit_share`` of the
window, ``g`` the green share) come out of it first, and the rest is shared as above among
the other events, so that their ``rate`` becomes ``(rate - g * green_audit_share) / (1 - g)``.
Capacity a green lane frees goes to the traffic that still needs it. Green events are not
ranked, never get a document check, and are never a model or random pick.

Propensity is the probability that *this* event is selected given its score: 1 for rule hits
and for scores above the threshold, ``p_rand`` below it, ``green_audit_share`` in the green
lane. Scores tied at the threshold share the remaining slots by a second hashed draw and get
the matching probability, so a constant score (an untrained model) cannot send the whole lane
to inspection. The random picks and the
propensities let the learner weight outcomes by inverse propensity and keep evaluation
unbiased; ``Decision.sampled`` marks the uniform random sample of the traffic (of the green
lane, for green events: the audits).

``document_check`` covers the next ``document_check_rate`` of the lane's non-rule traffic
below the inspection threshold, by the same window ranks.

**The budget is a ceiling per accounting period.** Officers' capacity is a promise, not an
average that may drift. Given the event's accounting period (``period``: the day of the
decision by default, :func:`period_of`), each lane keeps a :class:`Ledger` of the period's
arrivals and selections of every kind (rule, model, random, green audit). The model picks
only while the period's selections stay within ``rate * arrivals`` plus one inspection
(``SLACK``), and its share is paced by the balance: multiplied by ``PACING`` (4) per
inspection the lane is behind, divided by it per inspection ahead. Each period ends within
about one inspection of its budget whatever the score stream does: bursts, drift, a lane
with a handful of events a day. What a period left unused or overspent, up to one
inspection, carries over to the next (``Ledger.carry``), so a lane allowed a fraction of an
inspection a day keeps its rate over the days. Random picks and green audits are never held
back (they keep the learner's sample and the green lane's estimate unbiased; the model's next
picks make room for them). Rule hits always inspect; those beyond the budget are the
period's ``overflow``. Propensities are those of the decision as taken: the random share
alone where the ledger allowed no model pick, the paced share's otherwise.

**A new model's scores are a new scale.** A swapped model may score everything higher or
lower: :meth:`SelectionPolicy.rescale` carries a stream's windows over to it, from the same
recent events scored by both models (quantile matching, a monotone map), so the threshold
does not pick every event, or none, until the window has turned over.

Cold start: the window holds whatever has arrived, and the model picks the top
``round(model_share * n)`` of the ``n`` scores seen, none until that rounds to one (about
``1 / (2 * model_share)`` events). Random picks and rule hits apply from the first event.

Replays: an event id still in its lane's window gets its first decision back, unchanged, and
is not counted twice. The policy reads no clock: the same events in the same order give the
same decisions.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_RATE", "GREEN_KINDS", "KINDS", "LEVELS", "MIN_PROPENSITY", "NOT_SELECTED",
    "PACING", "PERIODS", "RANKINGS", "RESCALE_TOLERANCE", "SLACK", "Decision", "Ledger",
    "SelectionPolicy", "mean_score_change", "period_of",
]

STREAMS = ("courier", "postal", "passenger")
LEVELS = ("release", "document_check", "physical_inspection")
KINDS = ("none", "model", "random", "rule", "green", "green_audit")
"""Selection kinds: what sent an event to physical inspection, or what released it."""
NOT_SELECTED = frozenset({"none", "green"})
"""Kinds of events not selected for physical inspection (green: released by the green lane)."""
GREEN_KINDS = frozenset({"green", "green_audit"})
"""Kinds of green-lane events: released (green) or audited at random (green_audit)."""
DEFAULT_RATE = 0.05
"""Inspection rate of lanes that no configured key matches, unless ``"*"`` says otherwise."""
MIN_PROPENSITY = 1e-6
"""Floor of reported propensities; reached only with ``random_share=0`` (no exploration)."""
RANKINGS = {"probability": 0.0, "revenue": 1.0}
"""Named rankings and their blend weight on the recovery ratio."""
PERIODS = ("hour", "day", "week")
"""Accounting periods a budget can be held over."""
SLACK = 1.0
"""Inspections a lane may run ahead of its period's budget at any moment (and behind it before
the model's share is raised)."""
PACING = 4.0
"""Factor on the model's share per inspection a lane is behind its period's budget (and its
inverse per inspection ahead). On daily bursts of one lane (64 a day, a model swap a day) 2
left 22 of 181 days more than one inspection off, 4 left 4 and 8 overshot thin lanes by 4%."""
RECALL_LIMIT = 10_000
"""Decisions known from their verdict alone that wait for their event to come again."""
_CLOSED_KEPT = 400  # closed accounting periods a lane keeps for reports
_RESCALE_MIN = 20  # paired scores needed to carry a window over to a new model's scale
RESCALE_TOLERANCE = 0.05
"""Mean score change over the paired events below which a new model keeps the old scale: the
targeting benchmark's daily swaps move scores by less, and mapping them anyway cost P@5%
(0.279 -> 0.253 on postal_smallparcels seed 2)."""

_UNIT = 2.0**-64


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one event, and why.

    ``level`` is release, document_check or physical_inspection. ``kind`` says what selected
    the event for physical inspection (rule, model, random, green_audit), or none, or green
    (released by the green lane). ``propensity`` is the probability, in (0, 1], that the
    policy selects this event given its score.
    ``threshold`` is the lane's current model threshold (inf while the window is too small
    for a model pick) and ``rate`` the lane's configured budget. ``sampled`` is true when the
    event's random draw fell in the random share, whatever selected it: those events are a
    uniform random sample of the traffic. ``priority`` is the key the lane ranked the event by
    (its score under probability ranking) and ``area`` the lane's area ("" for none).
    ``overflow`` marks a rule hit inspected beyond its accounting period's budget.
    """

    level: str
    kind: str
    propensity: float
    threshold: float
    rate: float
    sampled: bool
    priority: float = math.nan
    area: str = ""
    overflow: bool = False


def period_of(when: datetime, period: str = "day") -> str:
    """The accounting period ``when`` falls in (UTC): ``2026-03-01T13``, ``2026-03-01`` or the
    ISO week ``2026-W09``.

    >>> from datetime import UTC, datetime
    >>> moment = datetime(2026, 3, 1, 13, 5, tzinfo=UTC)
    >>> [period_of(moment, p) for p in PERIODS]
    ['2026-03-01T13', '2026-03-01', '2026-W09']
    """
    when = when.astimezone(UTC) if when.tzinfo is not None else when
    if period == "day":
        return when.strftime("%Y-%m-%d")
    if period == "hour":
        return when.strftime("%Y-%m-%dT%H")
    if period == "week":
        year, week, _ = when.isocalendar()
        return f"{year}-W{week:02d}"
    raise ValueError(f"accounting period must be one of {', '.join(PERIODS)}, got {period!r}")


@dataclass(slots=True)
class Ledger:
    """One lane's accounting period: its arrivals, its selections of every kind, how many of
    them were rule hits beyond the budget (``overflow``, also counted in ``selected``), and
    what the previous period left unused or overspent (``carry``, within ``SLACK``)."""

    period: str
    rate: float
    arrivals: int = 0
    selected: int = 0
    overflow: int = 0
    carry: float = 0.0

    @property
    def budget(self) -> float:
        """Inspections the period's arrivals allow so far."""
        return self.rate * self.arrivals

    @property
    def balance(self) -> float:
        """Inspections still allowed (negative: spent ahead of the arrivals)."""
        return self.rate * self.arrivals + self.carry - self.selected


@dataclass(slots=True)
class _Lane:
    """Sliding window of one stream at one hub (in one area)."""

    rate: float
    p_rand: float
    blend: float
    # (event id, ranking key, rule hit, recovery factor: the key is the score times it)
    recent: deque[tuple[str, float, bool, float]] = field(default_factory=deque)
    ranked: list[float] = field(default_factory=list)  # non-rule keys of the window, sorted
    rule_hits: int = 0
    green: int = 0  # green-lane events in the window (not ranked; their key is NaN here)
    decided: dict[str, Decision] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=lambda: Ledger("", 0.0))
    closed: deque[Ledger] = field(default_factory=lambda: deque(maxlen=_CLOSED_KEPT))

    def account(self, period: str) -> Ledger:
        """The ledger of ``period``, closing the previous period's when a new one starts."""
        ledger = self.ledger
        if ledger.period != period or ledger.rate != self.rate:
            carry = 0.0
            if ledger.arrivals:
                self.closed.append(ledger)
                # what a period overspent or left unused, up to the slack, goes to the next:
                # a lane allowed a fraction of an inspection a day keeps its rate over days
                carry = max(-SLACK, min(SLACK, ledger.balance))
            ledger = self.ledger = Ledger(period, self.rate, carry=carry)
        return ledger


def _quantile_map(x: float, old: list[float], new: list[float]) -> float:
    """``x`` from the scale of the sorted sample ``old`` to that of ``new`` (same size, same
    events): linear between quantiles, shifted beyond the ends."""
    if x <= old[0]:
        return new[0] + (x - old[0])
    if x >= old[-1]:
        return new[-1] + (x - old[-1])
    i = bisect_right(old, x)
    lo, hi = old[i - 1], old[i]
    t = (x - lo) / (hi - lo) if hi > lo else 0.0
    return new[i - 1] + t * (new[i] - new[i - 1])


def _top_share(ranked: list[float], score: float, count: int) -> tuple[float, float]:
    """Threshold of the top ``count`` ranked scores, and the chance ``score`` is among them."""
    n = len(ranked)
    if count <= 0:
        return math.inf, 0.0
    if count >= n:
        return ranked[0], 1.0
    threshold = ranked[n - count]
    if score != threshold:
        return threshold, 1.0 if score > threshold else 0.0
    tied_from, tied_to = bisect_left(ranked, threshold), bisect_right(ranked, threshold)
    return threshold, (count - (n - tied_to)) / (tied_to - tied_from)


def mean_score_change(pairs: Sequence[tuple[float, float]]) -> float:
    """Mean absolute change over (old score, new score) pairs (0 for none): what
    :meth:`SelectionPolicy.rescale` compares with ``RESCALE_TOLERANCE``.

    >>> mean_score_change([(0.25, 0.5), (0.5, 0.25)])
    0.25
    """
    return sum(abs(new - old) for old, new in pairs) / len(pairs) if pairs else 0.0


class SelectionPolicy:
    """Decide release, document check or physical inspection within each lane's budget.

    Parameters
    ----------
    rates
        Inspection rate in (0, 1] by ``"stream.hub"``, ``"stream"`` or ``"*"``; the most
        specific key wins. Without ``"*"``, unmatched lanes get :data:`DEFAULT_RATE`.
    random_share
        Share of each budget spent on random picks, in [0, 1].
    document_check_rate
        Share of traffic sent to a document check just below the inspection threshold.
    window
        Number of recent events per lane that the rate and the ranks are held over.
    seed
        Seed of the hashed random draws.
    ranking
        What each lane ranks by, keyed like ``rates``: ``"probability"`` (default),
        ``"revenue"``, or a blend weight in [0, 1].
    areas
        Area name -> HS code prefixes whose events get lanes of their own.
    green_audit_share
        Share of green-lane events inspected at random to measure the lane's miss rate.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(7)
    >>> policy = SelectionPolicy(rates={"postal.hub_LEJ": 0.1, "*": 0.02}, window=500, seed=1)
    >>> policy.rate_for("postal", "hub_LEJ"), policy.rate_for("courier", "hub_LEJ")
    (0.1, 0.02)
    >>> lane = ("postal", "hub_LEJ")
    >>> decisions = [policy.decide(*lane, f"p{i}", rng.random()) for i in range(3000)]
    >>> sum(d.level == "physical_inspection" for d in decisions[-2000:]) / 2000
    0.1005
    >>> sorted({(d.kind, round(d.propensity, 6)) for d in decisions[-2000:]})
    [('model', 1.0), ('none', 0.01), ('random', 0.01)]
    >>> policy.decide(*lane, "p9999", 0.0, always_inspect=True).kind
    'rule'

    Green-lane events are released, but for their audits, and spend no budget otherwise:

    >>> green = [policy.decide(*lane, f"g{i}", rng.random(), green=True) for i in range(2000)]
    >>> sorted({(d.level, d.kind, d.propensity) for d in green})
    [('physical_inspection', 'green_audit', 0.02), ('release', 'green', 0.02)]
    >>> mixed = [policy.decide(*lane, f"m{i}", rng.random(), green=i % 2 == 0)
    ...          for i in range(4000)]
    >>> sum(d.level == "physical_inspection" for d in mixed[-2000:]) / 2000  # still 10%
    0.096
    """

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        random_share: float = 0.1,
        document_check_rate: float = 0.05,
        window: int = 2000,
        seed: int = 0,
        ranking: Mapping[str, str | float] | None = None,
        areas: Mapping[str, Sequence[str]] | None = None,
        green_audit_share: float = 0.02,
    ) -> None:
        self.rates = dict(rates) if rates is not None else None
        self.random_share = random_share
        self.document_check_rate = document_check_rate
        self.window = window
        self.seed = seed
        self.ranking = dict(ranking) if ranking is not None else None
        self.areas = {k: tuple(v) for k, v in areas.items()} if areas is not None else None
        # longest prefix first, so "2710" (fuels) wins over "27"
        self._prefixes = sorted(
            ((prefix, area) for area, prefixes in (self.areas or {}).items()
             for prefix in prefixes), key=lambda pair: -len(pair[0]))
        self.green_audit_share = green_audit_share
        self._rates = self._checked()
        self._blends = self._checked_ranking()
        self._key = hashlib.blake2b(str(seed).encode(), digest_size=32).digest()
        self._lanes: dict[tuple[str, str, str], _Lane] = {}
        self._share_overrides: dict[str, float] = {}
        # decisions known from their verdict alone, by (stream, hub, event id): see recall()
        self._recalled: OrderedDict[tuple[str, str, str], tuple[Any, ...]] = OrderedDict()

    def set_random_share(self, stream: str, share: float | None) -> None:
        """Use ``share`` as ``stream``'s random share from now on (None: the configured one).

        The learner raises it for a while after a drift, so that more unbiased labels arrive
        while the model catches up.

        >>> policy = SelectionPolicy(rates={"*": 0.05}, random_share=0.1)
        >>> round(policy.decide("postal", "hub_FRA", "e1", 0.2).propensity, 3)
        0.005
        >>> policy.set_random_share("postal", 0.3)
        >>> round(policy.decide("postal", "hub_FRA", "e2", 0.1).propensity, 3)
        0.015
        """
        if share is None:
            self._share_overrides.pop(stream, None)
        elif not _is_fraction(share):
            raise ValueError(f"random share must be in [0, 1], got {share!r}")
        else:
            self._share_overrides[stream] = share
        for (lane_stream, _, _), lane in self._lanes.items():
            if lane_stream == stream:
                lane.p_rand = lane.rate * self._share_overrides.get(stream, self.random_share)

    def _key_problem(self, what: str, key: object) -> str | None:
        """Why a rate or ranking key is not one, or None: ``*``, ``stream``,
        ``stream.hub``, or an area lane ``stream.hub.area`` (``*`` for any stream or hub)."""
        parts = key.split(".") if isinstance(key, str) else [key]
        area = parts[2] if len(parts) == 3 else None
        if key == "*" or (parts[0] in STREAMS and len(parts) <= 2):
            return None
        if parts[0] != "*" and parts[0] not in STREAMS:
            return (f"{what} key {key!r} names unknown stream {parts[0]!r}: use '*', a stream "
                    f"({', '.join(STREAMS)}), 'stream.hub' or 'stream.hub.area'")
        if area is not None and area in (self.areas or {}):
            return None
        if area is not None:
            return f"{what} key {key!r} names area {area!r}, which RISKSTREAM_LANE_AREAS lacks"
        return f"{what} key {key!r} is not '*', a stream, 'stream.hub' or 'stream.hub.area'"

    def _checked(self) -> dict[str, float]:
        problems: list[str] = []
        rates = {"*": DEFAULT_RATE, **(self.rates or {})}
        for area, prefixes in (self.areas or {}).items():
            if not area or "." in area or not prefixes or not all(
                    isinstance(p, str) and p.isdigit() for p in prefixes):
                problems.append(f"area {area!r} needs a name without dots and HS code "
                                f"prefixes of digits, got {prefixes!r}")
        for key, rate in rates.items():
            problem = self._key_problem("rate", key)
            if problem is not None:
                problems.append(problem)
            if not _is_fraction(rate) or rate <= 0:
                problems.append(f"rate for {key!r} must be a number in (0, 1], got {rate!r}")
        if not _is_fraction(self.random_share):
            problems.append(f"random_share must be in [0, 1], got {self.random_share!r}")
        if not _is_fraction(self.document_check_rate):
            problems.append(
                f"document_check_rate must be in [0, 1], got {self.document_check_rate!r}"
            )
        if not isinstance(self.window, int) or isinstance(self.window, bool) or self.window < 1:
            problems.append(f"window must be a whole number of events >= 1, got {self.window!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            problems.append(f"seed must be an integer, got {self.seed!r}")
        if not _is_fraction(self.green_audit_share):
            problems.append(
                f"green_audit_share must be in [0, 1], got {self.green_audit_share!r}"
            )
        if problems:
            raise ValueError("invalid selection policy: " + "; ".join(problems))
        return {key: float(rate) for key, rate in rates.items()}

    def _checked_ranking(self) -> dict[str, float]:
        problems: list[str] = []
        blends: dict[str, float] = {"*": 0.0}
        for key, ranking in (self.ranking or {}).items():
            problem = self._key_problem("ranking", key)
            if problem is not None:
                problems.append(problem)
            if isinstance(ranking, str) and ranking in RANKINGS:
                blends[key] = RANKINGS[ranking]
            elif _is_fraction(ranking):
                blends[key] = float(ranking)
            else:
                problems.append(f"ranking for {key!r} must be 'probability', 'revenue' or a "
                                f"blend weight in [0, 1], got {ranking!r}")
        if problems:
            raise ValueError("invalid selection ranking: " + "; ".join(problems))
        return blends

    @staticmethod
    def _lookup(table: Mapping[str, float], stream: str, hub: str, area: str) -> float:
        """Most specific key first: the area lane's own keys, then the hub's."""
        if area:
            for key in (f"{stream}.{hub}.{area}", f"{stream}.*.{area}", f"*.{hub}.{area}",
                        f"*.*.{area}"):
                if key in table:
                    return table[key]
        for key in (f"{stream}.{hub}", stream):
            if key in table:
                return table[key]
        return table["*"]

    def rate_for(self, stream: str, hub: str, area: str = "") -> float:
        """The configured inspection rate of a lane, most specific key first."""
        return self._lookup(self._rates, stream, hub, area)

    def ranking_for(self, stream: str, hub: str, area: str = "") -> float:
        """The lane's blend weight on the recovery ratio (0: probability, 1: revenue).

        >>> policy = SelectionPolicy(ranking={"courier.*.excise": "revenue", "postal": 0.5},
        ...                          areas={"excise": ["22", "24"]})
        >>> area = policy.area_of("240220")
        >>> area, policy.ranking_for("courier", "hub_LEJ", area)
        ('excise', 1.0)
        >>> policy.ranking_for("postal", "hub_FRA"), policy.ranking_for("courier", "hub_LEJ")
        (0.5, 0.0)
        """
        return self._lookup(self._blends, stream, hub, area)

    def area_of(self, hs_code: str | None) -> str:
        """The area an HS code belongs to ("" for none), longest configured prefix first."""
        if hs_code:
            for prefix, area in self._prefixes:
                if hs_code.startswith(prefix):
                    return area
        return ""

    def _lane(self, stream: str, hub: str, area: str = "") -> _Lane:
        lane = self._lanes.get((stream, hub, area))
        if lane is None:
            rate = self.rate_for(stream, hub, area)
            share = self._share_overrides.get(stream, self.random_share)
            blend = self.ranking_for(stream, hub, area)
            lane = self._lanes[(stream, hub, area)] = _Lane(rate, rate * share, blend)
        return lane

    def _admit(
        self, lane: _Lane, event_id: str, score: float, always_inspect: bool, green: bool = False,
        factor: float = 1.0,
    ) -> None:
        """Add a ranking key to the lane's sliding window, dropping the oldest when it is full.

        A green-lane event is kept with a NaN key: counted in the window, never ranked."""
        recent, ranked = lane.recent, lane.ranked
        if len(recent) >= self.window:
            old_id, old_score, old_rule, _ = recent.popleft()
            lane.decided.pop(old_id, None)
            if old_rule:
                lane.rule_hits -= 1
            elif old_score != old_score:  # NaN: a green-lane event
                lane.green -= 1
            else:
                del ranked[bisect_left(ranked, old_score)]
        if green and not always_inspect:
            recent.append((event_id, math.nan, False, 1.0))
            lane.green += 1
            return
        recent.append((event_id, score, always_inspect, factor))
        if always_inspect:
            lane.rule_hits += 1
        else:
            insort(ranked, score)

    def remember(
        self, stream: str, hub: str, event_id: str, score: float, level: str, kind: str,
        propensity: float, priority: float | None = None, area: str = "",
        period: str | None = None,
    ) -> None:
        """Replay a decision already published (from the scored topic) into the window.

        A restarted scorer remembers the recent decisions of the lanes, so an event
        re-delivered after a crash gets the decision it was given before, and the window
        starts warm. With ``period``, the decision counts in the period's ledger (as much of
        the period as the remembered decisions cover).

        >>> policy = SelectionPolicy(seed=1)
        >>> policy.remember("postal", "hub_FRA", "e1", 0.9, "physical_inspection", "model", 1.0)
        >>> policy.decide("postal", "hub_FRA", "e1", 0.1).kind  # the decision given before
        'model'
        """
        lane = self._lane(stream, hub, area)
        if event_id in lane.decided:
            return
        key = score if priority is None else priority  # a record from before ranking keys
        if not key >= -math.inf:
            key = 0.0
        factor = key / score if score > 0.0 and key > 0.0 else 1.0
        self._admit(lane, event_id, key, kind == "rule", kind in GREEN_KINDS, factor)
        if period is not None:
            ledger = lane.account(period)
            ledger.arrivals += 1
            ledger.selected += kind not in NOT_SELECTED
        lane.decided[event_id] = Decision(
            level, kind, propensity, math.nan, lane.rate, kind in ("random", "green_audit"), key,
            area,
        )

    def recall(
        self, stream: str, hub: str, event_id: str, score: float, level: str, kind: str,
        propensity: float, priority: float | None = None, period: str | None = None,
    ) -> None:
        """Hold a decision known only from its published verdict, whose lane is not known.

        A scorer killed between publishing an event's verdict and its scored record leaves
        a verdict that the scored topic does not repeat. The verdict has no area, so the
        decision waits here until the event comes again: then it is given again and counted
        in its lane (as :meth:`remember` would). At most ``RECALL_LIMIT`` wait, oldest out.

        >>> policy = SelectionPolicy(seed=1)
        >>> policy.recall("postal", "hub_FRA", "e1", 0.9, "physical_inspection", "model", 1.0)
        >>> policy.decide("postal", "hub_FRA", "e1", 0.1, area="excise").kind
        'model'
        """
        self._recalled[(stream, hub, event_id)] = (
            score, level, kind, propensity, priority, period
        )
        while len(self._recalled) > RECALL_LIMIT:
            self._recalled.popitem(last=False)

    def decide(
        self, stream: str, hub: str, event_id: str, score: float, always_inspect: bool = False,
        recovery_ratio: float = 1.0, area: str = "", green: bool = False,
        period: str | None = None,
    ) -> Decision:
        """Decide one event and add its ranking key to the lane's window.

        ``recovery_ratio`` is what a finding would recover against a typical finding (the
        recovery model's; 1 when not known), ``area`` the event's area (:meth:`area_of`),
        ``green`` that the event qualifies for the green lane (an ``always_inspect`` rule
        still wins), ``period`` its accounting period (:func:`period_of`; None: the window
        alone holds the rate, without a ledger).
        """
        lane = self._lane(stream, hub, area)
        known = lane.decided.get(event_id)
        if known is not None:
            return known
        recalled = self._recalled.pop((stream, hub, event_id), None) if self._recalled else None
        if recalled is not None:
            given, level, kind, propensity, priority, at = recalled
            self.remember(stream, hub, event_id, given, level, kind, propensity, priority,
                          area, at)
            return lane.decided[event_id]
        if not score >= -math.inf:  # NaN would corrupt the ranks
            score = 0.0
        factor = 1.0
        if lane.blend and recovery_ratio > 0.0 and recovery_ratio != 1.0:
            factor = recovery_ratio**lane.blend
            score *= factor
        green = green and not always_inspect
        self._admit(lane, event_id, score, always_inspect, green, factor)
        ranked = lane.ranked
        ledger = lane.account(period) if period is not None else None
        room, balance = True, 0.0
        if ledger is not None:
            ledger.arrivals += 1
            balance = ledger.balance
            room = balance + SLACK >= 1.0  # a pick keeps the period within its slack

        digest = hashlib.blake2b(event_id.encode(), digest_size=16, key=self._key).digest()
        draw = int.from_bytes(digest[:8]) * _UNIT
        sampled = draw < lane.p_rand
        tie_draw = int.from_bytes(digest[8:]) * _UNIT
        share = self._lane_model_share(lane)
        if ledger is not None:  # paced by the balance: behind, the model catches up
            share = min(1.0, share * PACING ** max(-3.0, min(balance, 10.0)))
        n = len(ranked)
        threshold, p_model = _top_share(ranked, score, round(share * n))

        if always_inspect:
            decision = Decision("physical_inspection", "rule", 1.0, threshold, lane.rate, sampled,
                                score, area)
        elif green:
            sampled = draw < self.green_audit_share
            level, kind = "release", "green"
            if sampled:
                level, kind = "physical_inspection", "green_audit"
            propensity = max(self.green_audit_share, MIN_PROPENSITY)
            decision = Decision(level, kind, propensity, threshold, lane.rate, sampled, score,
                                area)
        else:
            # without room in the period's budget only the random draw can select
            p_model = p_model if room else 0.0
            propensity = max(p_model + (1.0 - p_model) * lane.p_rand, MIN_PROPENSITY)
            if tie_draw < p_model:
                level, kind = "physical_inspection", "model"
            elif sampled:
                level, kind = "physical_inspection", "random"
            else:
                band = round((share + self.document_check_rate) * n)
                in_band = tie_draw < _top_share(ranked, score, band)[1]
                level, kind = ("document_check" if in_band else "release"), "none"
            decision = Decision(level, kind, propensity, threshold, lane.rate, sampled, score,
                                area)
        if ledger is not None and decision.kind not in NOT_SELECTED:
            ledger.selected += 1
            if decision.kind == "rule" and not room:
                ledger.overflow += 1
                decision = replace(decision, overflow=True)
        lane.decided[event_id] = decision
        return decision

    def rescale(self, stream: str, pairs: Sequence[tuple[float, float]]) -> int:
        """Carry the windows of ``stream``'s lanes over to a new model's score scale.

        ``pairs`` are (old score, new score) of the same recent events under the model that
        scored them and under its successor. Quantile matching gives a monotone map from the
        old scale to the new; every window key's score is mapped through it (its recovery
        factor kept), so the threshold ranks new scores against comparable ones. Returns the
        lanes carried over (none with fewer than 20 pairs, too few to map, or when the scores
        moved by less than ``RESCALE_TOLERANCE`` on average).

        >>> policy = SelectionPolicy(rates={"*": 0.1}, random_share=0.0)
        >>> for i in range(100):
        ...     _ = policy.decide("postal", "FRA", f"e{i}", i / 200)
        >>> policy.decide("postal", "FRA", "x", 0.7).kind  # a new model scores 0.2 higher
        'model'
        >>> policy.rescale("postal", [(i / 200, i / 200 + 0.2) for i in range(0, 100, 3)])
        1
        >>> policy.decide("postal", "FRA", "y", 0.45).kind
        'none'
        """
        if len(pairs) < _RESCALE_MIN:
            return 0
        if mean_score_change(pairs) < RESCALE_TOLERANCE:
            return 0  # the same scale: a sample's quantiles would only add their noise
        old = sorted(o for o, _ in pairs)
        new = sorted(n for _, n in pairs)
        carried = 0
        for (lane_stream, _, _), lane in self._lanes.items():
            if lane_stream != stream:
                continue
            recent: deque[tuple[str, float, bool, float]] = deque()
            ranked: list[float] = []
            for event_id, key, rule, factor in lane.recent:
                if key == key:  # not a green event's NaN
                    key = _quantile_map(key / factor, old, new) * factor
                    if not rule:
                        ranked.append(key)
                recent.append((event_id, key, rule, factor))
            ranked.sort()
            lane.recent, lane.ranked = recent, ranked
            carried += 1
        return carried

    def ledger_of(self, stream: str, hub: str, area: str = "") -> Ledger | None:
        """The lane's current accounting period's ledger (None before its first period)."""
        lane = self._lanes.get((stream, hub, area))
        return lane.ledger if lane is not None and lane.ledger.period else None

    def ledgers(self, closed: bool = False) -> dict[tuple[str, str, str], list[Ledger]]:
        """Per lane ``(stream, hub, area)``: the current accounting period's ledger, or with
        ``closed`` the periods that ended (the most recent few hundred) and then the current.

        Rising scores make every event the best of the window so far: the model would pick
        them all, and the ledger keeps each day within one inspection of its budget (the first
        day's extra one comes out of the second).

        >>> policy = SelectionPolicy(rates={"*": 0.1}, random_share=0.0)
        >>> for i in range(400):
        ...     day = "2026-03-01" if i < 200 else "2026-03-02"
        ...     _ = policy.decide("postal", "FRA", f"e{i}", i / 400, period=day)
        >>> [(l.period, l.arrivals, l.selected, round(l.budget, 1))
        ...  for l in policy.ledgers(closed=True)[("postal", "FRA", "")]]
        [('2026-03-01', 200, 21, 20.0), ('2026-03-02', 200, 20, 20.0)]
        """
        return {
            key: [*lane.closed, lane.ledger] if closed else [lane.ledger]
            for key, lane in self._lanes.items()
            if lane.ledger.period or lane.closed
        }

    def _lane_model_share(self, lane: _Lane) -> float:
        """The model's share of the lane's ranked events, green audits counted in the budget."""
        total = len(lane.recent)
        if not lane.green:
            return self._model_share(lane.rate, lane.p_rand, lane.rule_hits / total)
        others = total - lane.green
        if not others:
            return 0.0
        # the green events' expected audits come out of the budget first
        rate = (lane.rate * total - lane.green * self.green_audit_share) / others
        return self._model_share(min(1.0, rate), lane.p_rand, lane.rule_hits / others)

    @staticmethod
    def _model_share(rate: float, p_rand: float, rule_rate: float) -> float:
        """Share of non-rule events the model picks so that the lane selects ``rate``."""
        if rule_rate >= rate or p_rand >= 1.0:
            return 0.0
        share = ((rate - rule_rate) / (1.0 - rule_rate) - p_rand) / (1.0 - p_rand)
        return min(1.0, max(0.0, share))

    def __repr__(self) -> str:
        return (
            f"SelectionPolicy(rates={self.rates!r}, random_share={self.random_share!r}, "
            f"document_check_rate={self.document_check_rate!r}, window={self.window!r}, "
            f"seed={self.seed!r}, ranking={self.ranking!r}, areas={self.areas!r}, "
            f"green_audit_share={self.green_audit_share!r})"
        )


def _is_fraction(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0.0 <= float(value) <= 1.0
    )
