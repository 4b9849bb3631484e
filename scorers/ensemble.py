"""The ensemble of one stream: every sub-scorer, rules included, in one calibrated score.

``assess(record)`` computes features and entity keys, asks every sub-scorer, and stacks the
sub-scores into one probability of a finding with a :class:`Stacker`. Before the first
outcome the stacker's initial weights act as a prior: rules and strong valuation or tariff
evidence raise the score, the rest barely moves it. Outcomes then calibrate the weights.
``assess`` never learns, so any number of scorer replicas can run it on the same snapshot.

Learning is split the way the learner sees events:

* ``observe(assessment)`` for EVERY scored event: the unsupervised parts (reference prices,
  tariff text model, anomaly trees, the supervised encoder's scaling statistics);
* ``learn_outcome(features, entities, sub_scores, y, weight)`` for every inspection outcome:
  the supervised model, the entity profiles and the stacker, from what the scored record
  kept at scoring time. The stacker thus learns from out-of-sample sub-scores.

Goods streams also run the circumvention checks (:mod:`scorers.circumvention`): origin
against route, a sudden origin after a duty rise, a trader's switch after a finding. Each
is one stacker input while it fires, and its reason is kept verbatim.

The ensemble also speaks the scorer grammar on raw records (``learn_one``, ``score_one``,
``predict_proba_one``, ``explain_one``), which is what the contract tests check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from scorers.anomaly import AnomalyScorer
from scorers.base import Features, Reason
from scorers.circumvention import NAMES as CIRCUMVENTION
from scorers.circumvention import PREFIX as CIRCUMVENTION_PREFIX
from scorers.circumvention import CircumventionBook, CircumventionChecks
from scorers.features import check_stream, entities_for, features_for
from scorers.profiles import ProfileScorer
from scorers.recovery import RecoveryModel
from scorers.rule_outcomes import EXPECTED, RULE, RuleOutcomes, rule_hits
from scorers.stacking import Stacker
from scorers.supervised import SupervisedScorer
from scorers.tariff import TariffScorer
from scorers.valuation import ValuationScorer

GOODS_STREAMS = frozenset({"courier", "postal"})
_GOODS_ONLY = frozenset({"valuation_under", "valuation_over", "tariff"})
ANOMALY_FEATURES: Mapping[str, tuple[str, ...]] = {
    "courier": (
        "value_eur", "weight_kg", "log_value_per_kg", "value_per_item", "route_length",
        "description_words", "completeness",
    ),
    "postal": (
        "value_eur", "weight_kg", "log_value_per_kg", "value_per_item", "description_words",
        "completeness",
    ),
    "passenger": (
        "booking_lead_hours", "checkin_lead_hours", "itinerary_length", "baggage_count",
        "trips_last_year", "api_lead_minutes", "mandatory_fields_missing", "completeness",
    ),
}
# Stacker weights before any outcome, on the evidence scale of `StreamEnsemble.evidence`.
PRIOR_WEIGHTS = (
    ("supervised", 1.0),
    ("profile", 1.0),
    ("valuation_under", 0.6),
    ("valuation_over", 0.15),
    ("tariff", 0.6),
    ("anomaly", 0.15),
    ("rules", 4.0),
)
# How a rule hit becomes evidence: "calibrated" (the default), each rule's severity calibrated
# by its hits' outcomes (scorers.rule_outcomes), already on the log-odds scale, so it enters
# the stacker with weight 1; "severity", the highest severity as written, weighed 4 by the
# stacker (the ablation ``rule_severity``, and snapshots taken before calibration existed).
RULE_EVIDENCE = ("calibrated", "severity")
# "stacked": the supervised model's score is one stacker input; "single": its encoded features
# are stacker inputs themselves (the ablation ``single_model``).
STACKING = ("stacked", "single")
_SINGLE = "x."
_RULE_WEIGHT = {"calibrated": 1.0, "severity": 4.0}
# Initial stacker weight of each entity kind's own lift (``profile.<kind>`` evidence): a
# naive-Bayes sum would give every kind 1.0 and count correlated entities twice.
PROFILE_KIND_WEIGHT = 0.5
# Initial stacker weight of each circumvention check (``circumvention.<check>`` evidence), as
# strong as valuation's and tariff's: domain evidence an officer acts on. A check that does
# not fire gives no input at all, so it moves no score and learns nothing.
CIRCUMVENTION_WEIGHT = 0.6
PROFILE_EVIDENCE = ("per_kind", "combined")
FALLBACK_REASON = Reason("score.none", "no risk indicator above threshold", 0.0)
# Sub-scores whose evidence is one-sided: only a high value says something.
_ONE_SIDED = ("valuation_under", "valuation_over", "tariff", "anomaly")
_CLIP = 0.01
_NEUTRAL_MEMORY = 10_000.0


# sub-score prefix of an entity kind's lift over its parent, kept in the scored record as
# the sigmoid of the log-odds lift (0.5: no lift)
LIFT = "lift."


# log-odds of the 1e-6 clip evidence() applies to a lift sub-score
_MAX_LIFT = math.log((1.0 - 1e-6) / 1e-6)
# names are built once per kind; bounded, since attr_* kinds come with the traffic
_NAMES_CACHED = 4096


@lru_cache(maxsize=_NAMES_CACHED)
def _lift_name(kind: str) -> str:
    return LIFT + kind


@lru_cache(maxsize=_NAMES_CACHED)
def _evidence_name(lift_name: str) -> str:
    return "profile." + lift_name[len(LIFT):]


def profile_keys(features: Features, entities: Mapping[str, str]) -> dict[str, str]:
    """What the profiles rate: the entity keys, the office (hub), and the authority's own
    categorical declaration fields (``attr_*`` features; personal ones arrive as tokens).

    >>> profile_keys({"hub": "office_7", "attr_tax_type": "B", "weight_kg": 2.0},
    ...              {"consignee": "px_1"})
    {'consignee': 'px_1', 'office': 'office_7', 'attr_tax_type': 'B'}
    """
    keys = dict(entities)
    hub = features.get("hub")
    if isinstance(hub, str):
        keys["office"] = hub
    for name, value in features.items():
        if name.startswith("attr_") and isinstance(value, str):
            keys[name] = value
    return keys


def _logit(p: float) -> float:
    # conditionals, not min(max()): this runs a dozen times per assessment
    p = _CLIP if p < _CLIP else 1.0 - _CLIP if p > 1.0 - _CLIP else p
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))


class RuleBookLike(Protocol):
    """What the ensemble needs of a rule book (``scorers.rules.RuleBook`` is one)."""

    def score_one(self, x: Features) -> float: ...

    def explain_one(self, x: Features) -> list[Reason]: ...

    def always_inspect(self, x: Mapping[str, Any]) -> bool: ...


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict material for one event: score, reasons and what they were computed from.

    ``features``, ``entities`` and ``sub_scores`` are what the scored record keeps, so that
    ``learn_outcome`` later learns from exactly what the scorer saw.
    """

    score: float
    reasons: list[Reason]
    sub_scores: dict[str, float]
    features: dict[str, Any]
    entities: dict[str, str]
    rule_hits: tuple[str, ...] = ()
    always_inspect: bool = False
    # what a finding would recover (EUR; None before the recovery model has learnt enough),
    # and that against the typical recovery (1.0: typical or not known)
    expected_recovery: float | None = None
    recovery_ratio: float = 1.0


class StreamEnsemble:
    """All scorers of one stream, stacked into one calibrated probability of a finding.

    Parameters
    ----------
    stream
        ``"courier"``, ``"postal"`` or ``"passenger"``.
    seed
        Seed of the anomaly trees, the only randomised part.
    rulebook
        Optional rules (``score_one``, ``explain_one``, ``always_inspect``). They see the
        record's fields with the features on top, so they can test both.
    prior_rate
        Finding rate the stacker assumes before it has seen an outcome.
    learning_rate
        Step size of the stacker. 0.01 ranked better than 0.03 on the targeting benchmark's
        worlds: the live outcomes are the model's own picks, and a slower stacker is less
        pulled by them (ablation ``stacker_rate_0.03``).
    max_reasons
        Reasons kept per assessment; rule, valuation and tariff reasons are always kept.
    min_evidence
        Log-odds the supervised model, the profiles or the anomaly score must add to the
        score before their reasons are named.
    infer_chapter_at
        Tariff model confidence from which an event without HS code is priced against the
        chapter its description reads like; 1.0 switches this off.
    profile_evidence
        ``"combined"``: one naive-Bayes sum of all lifts (``profile``); ``"per_kind"``: each
        entity kind's lift over its parent is a stacker input of its own
        (``profile.importer``, ``profile.hs6``...), so outcomes teach which kinds matter.
        Per-kind is the default: it ranked better on the targeting benchmark's worlds
        (bench/targeting_ablations.json, ablation ``combined_profile``).
    parts
        The sub-scorers whose evidence the stacker weighs (default: all); the targeting
        benchmark's ablations switch parts off here.
    prior_strength
        Pseudo-inspections of the profiles' Beta prior (their shrinkage to the parent rate)
        for a kind whose strength is not fitted (``shrinkage="fixed"``, or too few repeat
        inspections yet).
    rule_evidence
        ``"calibrated"``: a rule hit weighs what the rule's inspected hits found beyond what
        the rest of the model expected of them, starting from its severity
        (:mod:`scorers.rule_outcomes`); ``"severity"``: its severity as written, whatever its
        hits find (ablation ``rule_severity``). Calibrated is the default: a rule book written
        for other traffic held the top of the ranking by severity alone on the targeting
        benchmark's worlds.
    stacking
        ``"stacked"``: the supervised model learns from the features and its score is one
        input of the stacker; ``"single"``: one logistic regression over the encoded features
        and the other parts' evidence (ablation ``single_model``).
    rule_prior_strength
        Pseudo-inspections of a rule's severity prior: how many inspected hits it takes
        before the rule's own record outweighs what the analyst wrote. 5, as the profiles'
        prior; 10 and 20 ranked alike on eight of the nine benchmark world-seeds and worse on
        one (ablation ``rule_prior_20``).
    shrinkage
        How the profiles shrink a key's rate towards its parent's: ``"empirical"`` with a
        strength fitted per kind (:meth:`~scorers.profiles.ProfileScorer.fit_strengths`),
        ``"fixed"`` with ``prior_strength`` for every kind (ablation ``fixed_shrinkage``).
        Empirical is the default: it ranked better in ROC AUC on all nine world-seeds of the
        targeting benchmark and in Precision@5% on seven.
    supervised_learning_rate
        SGD step of the supervised model. A constant step remembers only the last few
        hundred outcomes, and live outcomes are the inspected, high-scoring few.
    circumvention_book
        What the circumvention checks of a goods stream work from (re-labelling hubs,
        trade-defence measures, the switch window); ``None``, an empty book: silent.

    Examples
    --------
    >>> from itertools import islice
    >>> from scorers.synth import records
    >>> ensemble = StreamEnsemble("courier", seed=42)
    >>> stream = records("courier", 3300, seed=1)
    >>> for record, finding in islice(stream, 3000):
    ...     assessment = ensemble.assess(record)
    ...     ensemble.observe(assessment)
    ...     ensemble.learn_outcome(assessment.features, assessment.entities,
    ...                            assessment.sub_scores, finding)
    >>> scored = [ensemble.assess(record) for record, _ in stream]
    >>> top = max(scored, key=lambda a: a.score)
    >>> round(top.score, 2)
    0.95
    >>> for reason in top.reasons:
    ...     print(reason.text)
    description reads like HS chapter 95, declared chapter 85
    declared 3.7 EUR/kg; median for HS 851713 from TR is 253 EUR/kg
    value per kg 3.7 (low) +1.4
    weight kg 3.6 (high) +0.6
    HS chapter 85 +0.5
    >>> min(scored, key=lambda a: a.score).reasons
    [Reason(code='score.none', text='no risk indicator above threshold', weight=0.0)]
    """

    def __init__(
        self,
        stream: str,
        seed: int = 42,
        rulebook: RuleBookLike | None = None,
        prior_rate: float = 0.05,
        learning_rate: float = 0.01,
        max_reasons: int = 5,
        min_evidence: float = 0.2,
        infer_chapter_at: float = 0.5,
        profile_evidence: str = "per_kind",
        parts: tuple[str, ...] | None = None,
        prior_strength: float = 5.0,
        supervised_learning_rate: float = 0.05,
        shrinkage: str = "empirical",
        rule_evidence: str = "calibrated",
        rule_prior_strength: float = 5.0,
        stacking: str = "stacked",
        circumvention_book: CircumventionBook | None = None,
    ) -> None:
        check_stream(stream)
        if profile_evidence not in PROFILE_EVIDENCE:
            raise ValueError(f"profile_evidence must be one of {PROFILE_EVIDENCE}, "
                             f"not {profile_evidence!r}")
        if stacking not in STACKING:
            raise ValueError(f"stacking must be one of {STACKING}, not {stacking!r}")
        if rule_evidence not in RULE_EVIDENCE:
            raise ValueError(f"rule_evidence must be one of {RULE_EVIDENCE}, "
                             f"not {rule_evidence!r}")
        self.stream = stream
        self.seed = seed
        self.rulebook = rulebook
        self.prior_rate = prior_rate
        self.learning_rate = learning_rate
        self.max_reasons = max_reasons
        self.min_evidence = min_evidence
        self.infer_chapter_at = infer_chapter_at
        self.profile_evidence = profile_evidence
        self.parts = tuple(parts) if parts is not None else None
        self.prior_strength = prior_strength
        self.supervised_learning_rate = supervised_learning_rate
        goods = stream in GOODS_STREAMS
        self.supervised = SupervisedScorer(
            learning_rate=supervised_learning_rate, scale_from_labels=False
        )
        self.shrinkage = shrinkage
        self.profiles = ProfileScorer(prior_strength=prior_strength, shrinkage=shrinkage)
        self.valuation = ValuationScorer() if goods else None
        self.tariff = TariffScorer() if goods else None
        self.anomaly = AnomalyScorer(seed=seed, features=ANOMALY_FEATURES[stream])
        self.rule_evidence = rule_evidence
        self.rule_prior_strength = rule_prior_strength
        self.stacking = stacking
        self.rule_outcomes = RuleOutcomes(prior_strength=rule_prior_strength)
        self.circumvention_book = circumvention_book
        self.circumvention = CircumventionChecks(circumvention_book) if goods else None
        # shares the supervised model's encoder: one encoding of each event serves both
        self.recovery = RecoveryModel(encoder=self.supervised.encoder)
        prior_weights = {**dict(PRIOR_WEIGHTS), "rules": _RULE_WEIGHT[rule_evidence]}
        self.stacker = Stacker(
            tuple((k, w) for k, w in prior_weights.items() if goods or k not in _GOODS_ONLY),
            intercept_init=_logit(prior_rate),
            learning_rate=learning_rate,
            prefix_weights=(
                ("profile.", PROFILE_KIND_WEIGHT),
                (CIRCUMVENTION_PREFIX, CIRCUMVENTION_WEIGHT),
            ),
        )
        # running mean log-odds of the supervised and profile sub-scores over all observed
        # events: their neutral point, so that their evidence is centred on the typical event
        self.neutral: dict[str, list[float]] = {"supervised": [0.0, 0.0], "profile": [0.0, 0.0]}
        self.observed = 0
        self.outcomes = 0
        self.findings = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a snapshot taken before per-kind evidence existed keeps the combined profile
        state.setdefault("profile_evidence", "combined")
        state.setdefault("parts", None)
        state.setdefault("prior_strength", 5.0)
        state.setdefault("supervised_learning_rate", 0.05)
        state.setdefault("shrinkage", "fixed")
        # ...and before rule calibration, weighs rules by severity as its stacker learnt them
        state.setdefault("rule_evidence", "severity")
        state.setdefault("rule_prior_strength", 5.0)
        state.setdefault("stacking", "stacked")
        state.setdefault("rule_outcomes", RuleOutcomes())
        # ...and before the circumvention checks: an empty book until configured
        state.setdefault("circumvention_book", None)
        if "circumvention" not in state:
            goods = state.get("stream") in GOODS_STREAMS
            state["circumvention"] = CircumventionChecks() if goods else None
            stacker = state.get("stacker")
            prefixes = getattr(stacker, "prefix_weights", None)
            if stacker is not None and CIRCUMVENTION_PREFIX not in dict(prefixes or ()):
                stacker.prefix_weights = (
                    *(prefixes or ()), (CIRCUMVENTION_PREFIX, CIRCUMVENTION_WEIGHT)
                )
        state.setdefault("recovery", RecoveryModel(encoder=state["supervised"].encoder))
        self.__dict__.update(state)

    def configure_circumvention(self, book: CircumventionBook | None) -> None:
        """Let the circumvention checks work from ``book``; what they learnt stays."""
        self.circumvention_book = book
        if self.circumvention is not None:
            self.circumvention.configure(book if book is not None else CircumventionBook())

    def _profile_keys(self, features: Features, entities: Mapping[str, str]) -> dict[str, str]:
        """The entity keys the profiles rate; per-kind evidence adds the office and attr_*."""
        if self.profile_evidence == "per_kind":
            return profile_keys(features, entities)
        return dict(entities)

    # -- scoring ---------------------------------------------------------------------------

    def sub_scores_one(
        self,
        features: Features,
        entities: Mapping[str, str],
        contributions: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Every model sub-score in [0, 1], plus the base rates they are judged against.

        ``contributions`` are the supervised model's, when the caller has them already.
        """
        if contributions is None:
            contributions = self.supervised.contributions(features)
        keys = self._profile_keys(features, entities)
        per_kind = self.profile_evidence == "per_kind"
        if per_kind:
            profile, lifts = self.profiles.score_and_lifts_one(keys)
        else:
            profile, lifts = self.profiles.score_one(keys), {}
        sub = {
            "supervised": self.supervised.proba_from(contributions),
            "supervised_base": _sigmoid(self.neutral["supervised"][1]),
            "profile": profile,
            "profile_base": _sigmoid(self.neutral["profile"][1]),
        }
        exp = math.exp
        for kind, lift in lifts.items():
            # sub-scores stay in [0, 1]; evidence() takes the log-odds back (|lift| < 13.8)
            lift = _MAX_LIFT if lift > _MAX_LIFT else -_MAX_LIFT if lift < -_MAX_LIFT else lift
            sub[_lift_name(kind)] = 1.0 / (1.0 + exp(-lift))
        if self.valuation is not None:
            valuation = self.valuation.scores_one(self._priced(features))
            sub["valuation_under"] = valuation["under"]
            sub["valuation_over"] = valuation["over"]
        if self.tariff is not None:
            sub["tariff"] = self.tariff.score_one(features)
        sub["anomaly"] = self.anomaly.score_one(features)
        if self.circumvention is not None:  # only the checks that fire
            sub.update(self.circumvention.scores_one(features, entities))
        return sub

    def _priced(self, features: Features) -> Features:
        """The features valuation judges: without an HS code, the chapter the words read like.

        Most gifts and many small sales arrive without an HS code, and that is where
        under-valuation hides; the tariff model's reading of the description gives them a
        chapter-level reference price.
        """
        if self.tariff is None or "hs_chapter" in features or self.infer_chapter_at >= 1.0:
            return features
        chapter = self.tariff.likely_chapter(features, self.infer_chapter_at)
        if chapter is None:
            return features
        return {**features, "hs_chapter": chapter, "hs_inferred": True}

    def evidence(
        self, sub_scores: Mapping[str, float], features: Mapping[str, Any] | None = None
    ) -> dict[str, float]:
        """Stacker inputs: log-odds of each sub-score against its own neutral value, and
        (``per_kind``) each entity kind's own lift in place of the combined profile.

        With ``stacking="single"``, the supervised model's encoded ``features`` (``x.*``)
        replace its score: one logistic regression over every feature and evidence."""
        per_kind = self.profile_evidence == "per_kind"
        e: dict[str, float] = {}
        for base_of in ("supervised", "profile"):
            if base_of in sub_scores and not (per_kind and base_of == "profile"):
                base = sub_scores.get(f"{base_of}_base", 0.5)
                e[base_of] = _logit(sub_scores[base_of]) - _logit(base)
        if per_kind:
            log = math.log
            for name, lift in sub_scores.items():
                if name.startswith(LIFT):
                    p = 1e-6 if lift < 1e-6 else 1.0 - 1e-6 if lift > 1.0 - 1e-6 else lift
                    e[_evidence_name(name)] = log(p / (1.0 - p))
        for name in _ONE_SIDED:
            value = sub_scores.get(name)
            if value is not None:
                z = _logit(value)
                e[name] = z if z > 0.0 else 0.0
        for name in CIRCUMVENTION:  # present only when the check fired
            value = sub_scores.get(name)
            if value is not None and value > 0.5:
                e[name] = _logit(value)
        if "rules" in sub_scores:
            if self.rule_evidence == "calibrated":
                # a record without its rules' ids (scored before calibration): as written
                hits = rule_hits(sub_scores) or {RULE: sub_scores["rules"]}
                e["rules"] = self.rule_outcomes.lift_one(hits) if sub_scores["rules"] else 0.0
            else:
                e["rules"] = min(1.0, max(0.0, sub_scores["rules"]))
        if self.stacking == "single" and features is not None:
            e.pop("supervised", None)
            e.update((_SINGLE + k, v) for k, v in self.supervised.encoder.transform_one(
                dict(features)).items())
        if self.parts is not None:
            parts = self.parts
            e = {k: v for k, v in e.items()
                 if ("supervised" if k.startswith(_SINGLE) else k.split(".", 1)[0]) in parts}
        return e

    def assess(self, record: Mapping[str, Any]) -> Assessment:
        """Score one decoded, pseudonymised event; learns nothing."""
        features = features_for(self.stream, record)
        entities = entities_for(self.stream, record)
        encoded = self.supervised.encoder.transform_one(features)
        contributions = self.supervised.contributions_encoded(encoded)
        sub = self.sub_scores_one(features, entities, contributions)
        rule_reasons: list[Reason] = []
        always = False
        if self.rulebook is not None:
            # rules may test record fields too; the features win on a name clash
            rule_input = {**record, **features}
            sub["rules"] = min(1.0, max(0.0, float(self.rulebook.score_one(rule_input))))
            rule_reasons = list(self.rulebook.explain_one(rule_input))
            for reason in rule_reasons:  # "rule.<id>": the rule's severity
                sub[reason.code] = min(1.0, max(0.0, float(reason.weight)))
            always = bool(self.rulebook.always_inspect(rule_input))
        evidence = self.evidence(sub, features)
        score = self.stacker.predict_proba_one(evidence)[True]
        reasons = self._reasons(features, entities, sub, evidence, rule_reasons, contributions)
        expected = self.recovery.predict_encoded(encoded)
        return Assessment(
            score=score,
            reasons=reasons,
            sub_scores=sub,
            features=features,
            entities=entities,
            rule_hits=tuple(r.code for r in rule_reasons),
            always_inspect=always,
            expected_recovery=expected,
            recovery_ratio=self.recovery.ratio_of(expected),
        )

    def _reasons(
        self,
        features: Features,
        entities: Mapping[str, str],
        sub: Mapping[str, float],
        evidence: Mapping[str, float],
        rule_reasons: list[Reason],
        contributions: Mapping[str, float],
    ) -> list[Reason]:
        weight = self.stacker.contributions(evidence)
        # (strength of the sub-score, must keep, reasons), computed only where they can fire
        groups: list[tuple[float, bool, list[Reason]]] = []
        if rule_reasons:
            groups.append((weight.get("rules", 0.0), True, rule_reasons))
        # a fired check is named only while the stacker counts it as risk, not as relief
        valuation = max(weight.get("valuation_under", 0.0), weight.get("valuation_over", 0.0))
        if (
            self.valuation is not None
            and valuation > 0.0
            and max(sub["valuation_under"], sub["valuation_over"])
            >= self.valuation.explain_threshold
        ):
            groups.append((valuation, True, self.valuation.explain_one(self._priced(features))))
        tariff = weight.get("tariff", 0.0)
        if self.tariff is not None and tariff > 0.0 and (
            sub["tariff"] >= self.tariff.explain_threshold
        ):
            groups.append((tariff, True, self.tariff.explain_one(features)))
        profile = weight.get("profile", 0.0) + sum(
            w for k, w in weight.items() if k.startswith("profile.")
        )
        if profile >= self.min_evidence:
            keys = self._profile_keys(features, entities)
            groups.append((profile, False, self.profiles.explain_one(keys)))
        if weight.get("supervised", 0.0) >= self.min_evidence:
            supervised_reasons = self.supervised.reasons_from(features, contributions)
            groups.append((weight["supervised"], False, supervised_reasons))
        anomaly = weight.get("anomaly", 0.0)
        if anomaly >= self.min_evidence and sub["anomaly"] >= self.anomaly.explain_threshold:
            groups.append((anomaly, False, self.anomaly.explain_one(features)))
        if self.circumvention is not None:
            for name in CIRCUMVENTION:  # kept verbatim while the stacker counts it as risk
                strength = weight.get(name, 0.0)
                if strength > 0.0:
                    groups.append(
                        (strength, True, self.circumvention.explain_one(features, entities, name))
                    )
        groups.sort(key=lambda g: g[0], reverse=True)
        reasons: list[Reason] = []
        for _, must_keep, group in groups:
            for reason in group:
                if must_keep or len(reasons) < self.max_reasons:
                    reasons.append(reason)
        return reasons or [FALLBACK_REASON]

    # -- learning --------------------------------------------------------------------------

    def observe(self, assessment_or_record: Assessment | Mapping[str, Any]) -> None:
        """Learn the unsupervised parts from one scored event (call it for every event)."""
        if isinstance(assessment_or_record, Assessment):
            features = assessment_or_record.features
            entities: Mapping[str, str] = assessment_or_record.entities
            sub = assessment_or_record.sub_scores
        else:
            features = features_for(self.stream, assessment_or_record)
            entities = entities_for(self.stream, assessment_or_record)
            sub = self.sub_scores_one(features, entities)
        for name, running in self.neutral.items():
            if name in sub:
                running[0] = min(running[0] + 1.0, _NEUTRAL_MEMORY)
                running[1] += (_logit(sub[name]) - running[1]) / running[0]
        self.supervised.learn_one(features)
        if self.valuation is not None:
            self.valuation.learn_one(features)
        if self.tariff is not None:
            self.tariff.learn_one(features)
        self.anomaly.learn_one(features)
        if self.circumvention is not None:
            self.circumvention.observe(features, entities)
        self.observed += 1

    def learn_outcome(
        self,
        features: Features,
        entities: Mapping[str, str],
        sub_scores: Mapping[str, float],
        y: bool,
        weight: float = 1.0,
        day: int | None = None,
        recovered: float | None = None,
    ) -> None:
        """Learn from one inspection outcome, with what the scored record kept.

        ``day`` (see :func:`~scorers.profiles.day_number`) stamps the entities' profiles for
        the retention job; ``recovered`` (EUR) is what a finding recovered, which the
        recovery model learns.
        """
        finding = bool(y)
        self.supervised.learn_one(features, finding, weight)
        self.profiles.learn_one(self._profile_keys(features, entities), finding, day=day)
        if self.circumvention is not None:
            self.circumvention.learn_outcome(features, entities, finding, day)
        evidence = self.evidence(sub_scores, features)
        hits = rule_hits(sub_scores)
        if hits:  # what the rest of the model expected of this rule hit
            rest = {k: v for k, v in evidence.items() if k != "rules"}
            hits[EXPECTED] = self.stacker.predict_proba_one(rest)[True]
        self.rule_outcomes.learn_one(hits, finding)
        self.stacker.learn_one(evidence, finding, weight)
        if finding and recovered is not None:
            self.recovery.learn_one(features, recovered)
        self.outcomes += 1
        self.findings += finding

    # -- the scorer grammar, on raw records ------------------------------------------------

    def learn_one(self, x: Mapping[str, Any], y: Any = None, w: float = 1.0) -> None:
        """Observe a record and, with a label, learn its outcome as well."""
        assessment = self.assess(x)
        self.observe(assessment)
        if y is not None:
            self.learn_outcome(
                assessment.features, assessment.entities, assessment.sub_scores, bool(y), w
            )

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[bool, float]:
        score = self.assess(x).score
        return {False: 1.0 - score, True: score}

    def score_one(self, x: Mapping[str, Any]) -> float:
        return self.assess(x).score

    def explain_one(self, x: Mapping[str, Any]) -> list[Reason]:
        return self.assess(x).reasons

