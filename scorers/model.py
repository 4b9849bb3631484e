"""The risk model of every stream: what the learner trains, snapshots and ships to scorers.

``RiskModel`` holds one :class:`StreamEnsemble` per stream with a ``version`` label and
counters. It pickles whole: the learner snapshots it (the snapshot is HMAC-signed by the
caller, since unpickling runs code) and every scorer hot-swaps to the newest one. The
``river_version`` it was built with travels along, because River pickles break across some
releases.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from importlib.metadata import version as package_version
from typing import Any

from scorers.base import Features
from scorers.circumvention import CircumventionBook
from scorers.ensemble import Assessment, RuleBookLike, StreamEnsemble
from scorers.features import STREAMS, check_stream


class RiskModel:
    """One ensemble per stream, versioned, picklable.

    Parameters
    ----------
    seed
        Seed of every randomised part.
    version
        Label of this model state; the learner sets a new one for every snapshot.
    rulebook
        Rules shared by all streams (each rule names its streams), or ``None``.
    prior_rate
        Finding rate assumed before the first outcome.
    options
        Further :class:`StreamEnsemble` parameters for every stream (``parts``,
        ``profile_evidence``, ``prior_strength``...), as the configuration gives them.
    circumvention
        The analysts' circumvention book (re-labelling hubs, trade-defence measures, the
        switch window) for the goods streams' circumvention checks, or ``None`` (silent).

    Examples
    --------
    >>> import pickle
    >>> from scorers.synth import records
    >>> model = RiskModel(seed=42, version="demo-1")
    >>> for i, (record, finding) in enumerate(records("postal", 500, seed=3)):
    ...     assessment = model.assess("postal", record)
    ...     model.observe("postal", assessment)
    ...     if i % 5 == 0:  # one item in five inspected
    ...         model.learn_outcome("postal", assessment.features, assessment.entities,
    ...                             assessment.sub_scores, finding)
    >>> model.counters["postal"]
    {'observed': 500, 'outcomes': 100, 'findings': 6}
    >>> replica = pickle.loads(pickle.dumps(model))
    >>> replica.version, replica.assess("postal", record) == model.assess("postal", record)
    ('demo-1', True)
    >>> model.assess("ferry", record)
    Traceback (most recent call last):
    ...
    ValueError: unknown stream 'ferry': expected one of courier, postal, passenger
    """

    def __init__(
        self,
        seed: int = 42,
        version: str = "untrained",
        rulebook: RuleBookLike | None = None,
        prior_rate: float = 0.05,
        options: Mapping[str, Any] | None = None,
        circumvention: CircumventionBook | None = None,
    ) -> None:
        self.seed = seed
        self.version = version
        self.rulebook = rulebook
        self.prior_rate = prior_rate
        self.river_version = package_version("river")
        self.options = dict(options or {})
        self.circumvention = circumvention
        self.ensembles: dict[str, StreamEnsemble] = {
            stream: StreamEnsemble(
                stream, seed=seed, rulebook=rulebook, prior_rate=prior_rate,
                circumvention_book=circumvention, **self.options,
            )
            for stream in STREAMS
        }

    # a model pickled before the circumvention checks existed has no book
    circumvention: CircumventionBook | None = None

    def ensemble(self, stream: str) -> StreamEnsemble:
        """The ensemble of ``stream``, with a clear error for an unknown stream."""
        check_stream(stream)
        return self.ensembles[stream]

    def assess(self, stream: str, record: Mapping[str, Any]) -> Assessment:
        """Score one decoded, pseudonymised event of ``stream``; learns nothing."""
        return self.ensemble(stream).assess(record)

    def observe(self, stream: str, assessment_or_record: Assessment | Mapping[str, Any]) -> None:
        """Learn the unsupervised parts from one scored event (every event, once)."""
        self.ensemble(stream).observe(assessment_or_record)

    def learn_outcome(
        self,
        stream: str,
        features: Features,
        entities: Mapping[str, str],
        sub_scores: Mapping[str, float],
        y: bool,
        weight: float = 1.0,
        day: int | None = None,
        recovered: float | None = None,
    ) -> None:
        """Learn one inspection outcome from what its scored record kept (``recovered``: the
        EUR a finding recovered)."""
        self.ensemble(stream).learn_outcome(
            features, entities, sub_scores, y, weight, day, recovered
        )

    # -- privacy: the personal-derived state is the entity profiles' token keys, and the ----
    # -- circumvention switch check's per-trader records, which follow them -----------------

    def forget_older_than(self, cutoff_days: Mapping[str, int]) -> int:
        """Retention: drop each stream's personal profile keys last inspected before its
        cut-off day (see :func:`~scorers.profiles.day_number`); return how many went. The
        switch check's trader records older than the cut-off go too (not counted)."""
        dropped = 0
        for stream, day in cutoff_days.items():
            ensemble = self.ensemble(stream)
            dropped += ensemble.profiles.forget_older_than(day)
            if ensemble.circumvention is not None:
                ensemble.circumvention.forget_older_than(day)
        return dropped

    def erase(self, tokens: Collection[str]) -> int:
        """Erasure on request: drop every profile key built from one of a subject's tokens,
        and the switch check's records of them; return how many profile keys went."""
        dropped = 0
        for ensemble in self.ensembles.values():
            dropped += ensemble.profiles.forget_tokens(tokens)
            if ensemble.circumvention is not None:
                ensemble.circumvention.forget_tokens(tokens)
        return dropped

    def carry_over(
        self, stream: str, entities: Mapping[str, str], previous: Mapping[str, str]
    ) -> int:
        """Key rotation: move profiles from the ``previous`` key's tokens to ``entities``'.

        ``previous`` holds, by entity kind, the token the previous pseudonymisation key gives
        the same subject; returns how many profiles moved.
        """
        ensemble = self.ensemble(stream)
        moved = 0
        for kind, old in previous.items():
            if kind not in entities:
                continue
            moved += ensemble.profiles.carry_over(kind, old, entities[kind])
            if ensemble.circumvention is not None:
                ensemble.circumvention.carry_over(kind, old, entities[kind])
        return moved

    def set_circumvention(self, book: CircumventionBook | None) -> None:
        """Swap the analysts' circumvention book in every stream; what was learnt stays."""
        self.circumvention = book
        for ensemble in self.ensembles.values():
            ensemble.configure_circumvention(book)

    def set_rulebook(self, rulebook: RuleBookLike | None) -> None:
        """Swap the analysts' rules in every stream without touching what was learnt."""
        self.rulebook = rulebook
        for ensemble in self.ensembles.values():
            ensemble.rulebook = rulebook

    @property
    def counters(self) -> dict[str, dict[str, int]]:
        """Events observed, outcomes learnt and findings among them, per stream."""
        return {
            stream: {
                "observed": e.observed,
                "outcomes": e.outcomes,
                "findings": e.findings,
            }
            for stream, e in self.ensembles.items()
        }

    def __repr__(self) -> str:
        return f"RiskModel(version={self.version!r}, river={self.river_version})"
