"""The metric catalogue of riskstream workers (prometheus-client).

Names follow Prometheus conventions: ``riskstream_`` prefix, base units, ``_total`` for
counters. Labels are bounded sets only: stream, hub (capped), level, kind, reason kind.
Never an id, an HS code or a personal value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, Info, start_http_server

from streams.topology import STREAMS

# Scoring takes tens of microseconds: buckets start at 10 µs. 0.015 and 0.05 sit on the
# latency SLOs (p50 15 ms, p99 50 ms at 500 events/s).
FAST_BUCKETS = (
    1e-5,
    2.5e-5,
    5e-5,
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    2.5e-3,
    5e-3,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
LAG_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
LEVELS = ("release", "document_check", "physical_inspection")
KINDS = ("none", "model", "random", "rule")
OTHER = "other"


class BoundedLabel:
    """Admit the first ``limit`` distinct values of a label; later ones become "other".

    Hubs come from data, so an unbounded label would let one bad producer explode the
    series count.

    >>> hubs = BoundedLabel(limit=2)
    >>> [hubs("hub_LEJ"), hubs("hub_FRA"), hubs("hub_XXX"), hubs("hub_LEJ")]
    ['hub_LEJ', 'hub_FRA', 'other', 'hub_LEJ']
    """

    def __init__(self, limit: int = 32, known: Iterable[str] = ()) -> None:
        self.limit = limit
        self._seen: set[str] = set(known)
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if value is None:
            return OTHER
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
        return OTHER


hub_label = BoundedLabel()

BUILD_INFO = Info("riskstream_build", "riskstream build and library versions")
EVENTS_CONSUMED = Counter(
    "riskstream_events_consumed_total", "Events read from the events topics", ["stream"]
)
EVENTS_REJECTED = Counter(
    "riskstream_events_rejected_total",
    "Events sent to the dead-letter topic, by error kind",
    ["stream", "reason"],
)
VERDICTS = Counter("riskstream_verdicts_total", "Verdicts published", ["stream", "hub", "level"])
SELECTIONS = Counter(
    "riskstream_selections_total",
    "Events selected for inspection, by selection kind",
    ["stream", "kind"],
)
SCORING_SECONDS = Histogram(
    "riskstream_scoring_duration_seconds",
    "Time to decode, score and encode one event inside the worker",
    ["stream"],
    buckets=FAST_BUCKETS,
)
EVENT_TO_VERDICT_SECONDS = Histogram(
    "riskstream_event_to_verdict_seconds",
    "Lag from the event's event time to its verdict",
    ["stream"],
    buckets=LAG_BUCKETS,
)
MODEL_OUTCOMES_LEARNED = Gauge(
    "riskstream_model_outcomes_learned",
    "Outcomes the model in use has learned from (rises with every hot-swapped snapshot)",
)
MODEL_SNAPSHOT_CREATED = Gauge(
    "riskstream_model_snapshot_created_timestamp_seconds",
    "Creation time of the model snapshot in use (unix seconds)",
)
MODEL_SWAPS = Counter("riskstream_model_swaps_total", "Model snapshots loaded by this worker")
SNAPSHOTS_REFUSED = Counter(
    "riskstream_model_snapshots_refused_total",
    "Model snapshots refused (bad signature, corrupt, incompatible) and not loaded",
)


def preinitialise() -> None:
    """Create the labelled series at start-up so rate() sees the first event."""
    for stream in STREAMS:
        EVENTS_CONSUMED.labels(stream)
        SCORING_SECONDS.labels(stream)
        EVENT_TO_VERDICT_SECONDS.labels(stream)
        for kind in KINDS:
            SELECTIONS.labels(stream, kind)


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Expose /metrics on ``addr:port`` (port 0: not at all)."""
    if port:
        start_http_server(port, addr=addr)


def record_scoring(result: Any, seconds: float) -> None:
    """Count one processed input record (a ``streams.scoring.ScoringResult``)."""
    stream = result.stream or OTHER
    EVENTS_CONSUMED.labels(stream).inc()
    if result.rejected is not None:
        EVENTS_REJECTED.labels(stream, result.rejected).inc()
        return
    SCORING_SECONDS.labels(stream).observe(seconds)
    VERDICTS.labels(stream, hub_label(result.hub), result.level).inc()
    SELECTIONS.labels(stream, result.kind).inc()
    if result.event_time is not None:
        lag = time.time() - result.event_time.timestamp()
        EVENT_TO_VERDICT_SECONDS.labels(stream).observe(max(0.0, lag))


def describe_build() -> None:
    """Publish versions as riskstream_build_info (snapshots must match the river version)."""
    import platform
    from importlib.metadata import version

    BUILD_INFO.info(
        {
            "version": version("riskstream"),
            "river": version("river"),
            "faust": version("faust-streaming"),
            "python": platform.python_version(),
        }
    )


def record_model_swap(meta: dict[str, Any]) -> None:
    from datetime import datetime

    MODEL_SWAPS.inc()
    MODEL_OUTCOMES_LEARNED.set(float(meta.get("outcomes_applied", 0)))
    created = meta.get("created_at")
    if created:
        MODEL_SNAPSHOT_CREATED.set(datetime.fromisoformat(created).timestamp())


def record_refused_snapshot(reason: str) -> None:
    SNAPSHOTS_REFUSED.inc()


# -- learner -------------------------------------------------------------------------------

SNAPSHOTS_PUBLISHED = Counter(
    "riskstream_learner_snapshots_published_total", "Model snapshots published by the learner"
)
LAST_SNAPSHOT = Gauge(
    "riskstream_learner_last_snapshot_timestamp_seconds", "When the learner last published"
)
LEARNING_EVENTS = Counter(
    "riskstream_learning_events_total", "Drift detections and promotions", ["kind", "stream"]
)


class LearnerCollector:
    """Expose the active learner's own counters at scrape time (they survive restarts,
    because they live in its state snapshot)."""

    def __init__(self) -> None:
        self.learner: Any = None
        self.last_learn: float = 0.0
        self.applied = -1
        self.registered = False

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        learner = self.learner
        if learner is None:
            return
        counts = learner.counters
        records = CounterMetricFamily(
            "riskstream_learner_records",
            "Records the learner read, by input and fate",
            labels=["input", "fate"],
        )
        for name, value in counts.items():
            for source in ("scored", "outcomes"):
                prefix = f"{source}_"
                fate = name.removeprefix(prefix)
                if name.startswith(prefix) and fate in FATES:
                    records.add_metric([source, fate], value)
        yield records
        expired = CounterMetricFamily(
            "riskstream_learner_expired",
            "Records dropped after waiting longer than the TTL",
            labels=["input"],
        )
        expired.add_metric(["scored"], counts["expired_scored"] + counts["evicted_scored"])
        expired.add_metric(["outcomes"], counts["expired_outcomes"] + counts["evicted_outcomes"])
        yield expired
        yield GaugeMetricFamily(
            "riskstream_learner_pending_records",
            "Scored records waiting for an outcome",
            value=counts["pending"],
        )
        yield GaugeMetricFamily(
            "riskstream_learner_waiting_outcomes",
            "Outcomes waiting for their scored record",
            value=counts["outcomes_waiting"],
        )
        yield GaugeMetricFamily(
            "riskstream_model_last_learn_timestamp_seconds",
            "When the learner last learned an outcome",
            value=self.last_learn,
        )
        quality = GaugeMetricFamily(
            "riskstream_model_quality_ratio",
            "Rolling model quality among labelled events (precision among model picks, hit "
            "rate among random picks, ROC AUC)",
            labels=["stream", "measure"],
        )
        for stream, monitor in learner.monitors.items():
            for measure, value in (
                ("precision_model_picks", monitor.model_precision),
                ("hit_rate_random_picks", monitor.random_hit_rate),
                ("roc_auc", monitor.auc),
            ):
                if value == value:  # NaN until there is data
                    quality.add_metric([stream, measure], value)
        yield quality
        outcomes = CounterMetricFamily(
            "riskstream_learner_outcomes",
            "Outcomes learned, and findings among them",
            labels=["stream", "finding"],
        )
        for stream in learner.monitors:
            findings = counts.get(f"findings_{stream}", 0)
            outcomes.add_metric([stream, "true"], findings)
            outcomes.add_metric([stream, "false"], counts.get(f"outcomes_{stream}", 0) - findings)
        yield outcomes
        if learner.arena is not None:
            race = GaugeMetricFamily(
                "riskstream_model_challenger_quality_ratio",
                "Off-policy quality on random picks of the champion and its shadow challenger",
                labels=["stream", "model"],
            )
            for stream in learner.monitors:
                standing = learner.arena.standing(stream)
                for role in ("champion", "challenger"):
                    if standing[role] == standing[role]:
                        race.add_metric([stream, role], standing[role])
            yield race


FATES = ("seen", "observed", "applied", "duplicate", "rejected", "replayed", "unlabelled")
LEARNER = LearnerCollector()


def record_learner(learner: Any) -> None:
    """Point the learner collector at ``learner`` and note when it last learned."""
    if not LEARNER.registered:
        from prometheus_client import REGISTRY

        REGISTRY.register(LEARNER)
        LEARNER.registered = True
    applied = learner.counters["outcomes_applied"]
    if applied != LEARNER.applied:
        LEARNER.applied, LEARNER.last_learn = applied, time.time()
    LEARNER.learner = learner


def record_snapshot(learner: Any, offsets: str) -> None:
    SNAPSHOTS_PUBLISHED.inc()
    LAST_SNAPSHOT.set(time.time())


def record_learning_event(kind: str, stream: str) -> None:
    LEARNING_EVENTS.labels(kind, stream).inc()
