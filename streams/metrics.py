"""The metric catalogue of riskstream processes (prometheus-client).

Names follow Prometheus conventions: ``riskstream_`` prefix, base units (seconds, ratio,
euros), ``_total`` for counters. Labels are bounded sets only: stream, hub and carrier
(capped by :class:`BoundedLabel`), origin group (a fixed set of world regions), level, kind,
reason, topic. Never an id, an HS code or a personal value.

Every process serves its own registry on ``RISKSTREAM_METRICS_PORT`` (one process per scrape
target, so no multiprocess mode): the scorer worker, the learner and the simulator. The
README's "Metrics and dashboards" section is the catalogue in table form.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from learning.labels import DEFAULT_LABELS
from schemas.errors import ERROR_KINDS
from streams.topology import STREAMS

if TYPE_CHECKING:
    from streams.scoring import ScoringResult

# Scoring takes tens of microseconds: buckets start at 10 µs. 0.015 and 0.05 sit on the
# latency SLOs (p50 15 ms, p99 50 ms at 500 events/s).
FAST_BUCKETS = (
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
    0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
LAG_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
# Verdict to outcome: seconds in the simulator, hours to days at a real border.
TURNAROUND_BUCKETS = (
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0,
    86400.0, 2 * 86400.0, 7 * 86400.0, 14 * 86400.0,
)  # fmt: skip
# Receipt of passenger data before departure: rules usually ask for 24 h to 30 min.
LEAD_BUCKETS = (
    0.0, 300.0, 900.0, 1800.0, 3600.0, 2 * 3600.0, 6 * 3600.0, 12 * 3600.0, 86400.0,
    2 * 86400.0, 3 * 86400.0,
)  # fmt: skip
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
RATIO_BUCKETS = (0.25, 0.5, 0.75, 0.9, 1.0)
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LEVELS = ("release", "document_check", "physical_inspection")
KINDS = ("none", "model", "random", "rule", "green_audit")  # kinds that can get an outcome
REJECT_REASONS = (*ERROR_KINDS, "routing", "scoring")
RESULTS = tuple(DEFAULT_LABELS)
QUALITY_MEASURES = (
    "precision_model_picks",
    "hit_rate_random_picks",
    "precision_rule_picks",
    "roc_auc",
    "roc_auc_random_picks",
    "base_rate",
)
LEARNING_KINDS = ("drift", "promotion")
OTHER = "other"
# Every label name in the catalogue; each has a bounded set of values.
LABEL_NAMES = frozenset(
    {
        "stream", "hub", "level", "kind", "reason", "topic", "carrier", "origin_group",
        "area",  # a lane's area of HS prefixes (RISKSTREAM_LANE_AREAS), or none
        "finding", "result", "measure", "model", "statistic", "input", "fate", "action",
        "source",  # who closed a workbench case: officer, system, elsewhere
        "version", "river", "faust", "python",  # riskstream_build_info
    }
)  # fmt: skip


class BoundedLabel:
    """Admit the first ``limit`` distinct values of a label; later ones become "other".

    Hubs and carriers come from data, so an unbounded label would let one bad producer
    explode the series count.

    >>> hubs = BoundedLabel(limit=2)
    >>> [hubs("hub_LEJ"), hubs("hub_FRA"), hubs("hub_XXX"), hubs("hub_LEJ")]
    ['hub_LEJ', 'hub_FRA', 'other', 'hub_LEJ']
    """

    def __init__(self, limit: int = 32, known: Iterable[str] = ()) -> None:
        self.limit = limit
        self._seen: set[str] = set(known)
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if not value:
            return OTHER
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
        return OTHER


hub_label = BoundedLabel()
area_label = BoundedLabel(limit=16)  # areas come from configuration; "" is no area
carrier_label = BoundedLabel(limit=48)  # a large airport sees dozens of carriers

# -- origin groups ---------------------------------------------------------------------------
# Disparity metrics break selection and hit rates down by where an event comes from. A
# country label would be unbounded in practice and too fine to read, so countries map to
# the UN M49 regions, with the EU split out of Europe and Iran counted with the Middle East.
_REGIONS = {
    "eu": "AT:AUT BE:BEL BG:BGR HR:HRV CY:CYP CZ:CZE DK:DNK EE:EST FI:FIN FR:FRA DE:DEU "
    "GR:GRC HU:HUN IE:IRL IT:ITA LV:LVA LT:LTU LU:LUX MT:MLT NL:NLD PL:POL PT:PRT RO:ROU "
    "SK:SVK SI:SVN ES:ESP SE:SWE",
    "europe_other": "GB:GBR NO:NOR CH:CHE IS:ISL LI:LIE MC:MCO SM:SMR VA:VAT AD:AND AL:ALB "
    "BA:BIH ME:MNE MK:MKD RS:SRB XK:XKX MD:MDA UA:UKR BY:BLR RU:RUS GI:GIB FO:FRO GG:GGY "
    "JE:JEY IM:IMN AX:ALA SJ:SJM",
    "east_asia": "CN:CHN HK:HKG MO:MAC TW:TWN JP:JPN KR:KOR KP:PRK MN:MNG VN:VNM TH:THA "
    "MY:MYS SG:SGP ID:IDN PH:PHL KH:KHM LA:LAO MM:MMR BN:BRN TL:TLS",
    "south_asia": "IN:IND PK:PAK BD:BGD LK:LKA NP:NPL BT:BTN MV:MDV AF:AFG KZ:KAZ UZ:UZB "
    "TM:TKM KG:KGZ TJ:TJK",
    "middle_east": "TR:TUR IL:ISR PS:PSE JO:JOR LB:LBN SY:SYR IQ:IRQ IR:IRN SA:SAU AE:ARE "
    "QA:QAT KW:KWT BH:BHR OM:OMN YE:YEM GE:GEO AM:ARM AZ:AZE",
    "africa": "DZ:DZA AO:AGO BJ:BEN BW:BWA BF:BFA BI:BDI CV:CPV CM:CMR CF:CAF TD:TCD KM:COM "
    "CG:COG CD:COD CI:CIV DJ:DJI EG:EGY GQ:GNQ ER:ERI SZ:SWZ ET:ETH GA:GAB GM:GMB GH:GHA "
    "GN:GIN GW:GNB KE:KEN LS:LSO LR:LBR LY:LBY MG:MDG MW:MWI ML:MLI MR:MRT MU:MUS YT:MYT "
    "MA:MAR MZ:MOZ NA:NAM NE:NER NG:NGA RE:REU RW:RWA SH:SHN ST:STP SN:SEN SC:SYC SL:SLE "
    "SO:SOM ZA:ZAF SS:SSD SD:SDN TZ:TZA TG:TGO TN:TUN UG:UGA EH:ESH ZM:ZMB ZW:ZWE",
    "americas": "US:USA CA:CAN MX:MEX GT:GTM BZ:BLZ SV:SLV HN:HND NI:NIC CR:CRI PA:PAN "
    "CU:CUB DO:DOM HT:HTI JM:JAM TT:TTO BS:BHS BB:BRB AG:ATG DM:DMA GD:GRD KN:KNA LC:LCA "
    "VC:VCT PR:PRI AW:ABW CW:CUW SX:SXM BQ:BES KY:CYM BM:BMU VG:VGB VI:VIR TC:TCA AI:AIA "
    "MS:MSR GP:GLP MQ:MTQ BL:BLM MF:MAF PM:SPM GL:GRL CO:COL VE:VEN GY:GUY SR:SUR GF:GUF "
    "EC:ECU PE:PER BO:BOL BR:BRA PY:PRY UY:URY AR:ARG CL:CHL FK:FLK GS:SGS",
    "oceania": "AU:AUS NZ:NZL PG:PNG FJ:FJI SB:SLB VU:VUT NC:NCL PF:PYF WS:WSM TO:TON "
    "KI:KIR TV:TUV NR:NRU FM:FSM MH:MHL PW:PLW GU:GUM MP:MNP AS:ASM CK:COK NU:NIU TK:TKL "
    "WF:WLF PN:PCN NF:NFK CX:CXR CC:CCK HM:HMD UM:UMI",
}
ORIGIN_GROUPS = (*_REGIONS, OTHER)
_REGION_OF = {
    code: region
    for region, pairs in _REGIONS.items()
    for pair in pairs.split()
    for code in pair.split(":")
}


def origin_group(country: str | None) -> str:
    """The region of an ISO 3166-1 alpha-2 or alpha-3 country code ("other" if unknown).

    >>> origin_group("CN"), origin_group("deu"), origin_group("TUR"), origin_group(None)
    ('east_asia', 'eu', 'middle_east', 'other')
    """
    if not country:
        return OTHER
    return _REGION_OF.get(country.strip().upper(), OTHER)


def origin_of(stream: str, record: Mapping[str, Any]) -> str:
    """The origin group of an event: country of dispatch for goods, nationality for
    passengers (from the travel document; a passenger record has no dispatch country).

    >>> origin_of("postal", {"origin_country": "PK"}), origin_of("passenger", {})
    ('south_asia', 'other')
    """
    field = "nationality" if stream == "passenger" else "origin_country"
    value = record.get(field)
    return origin_group(value if isinstance(value, str) else None)


# -- which process exposes what ----------------------------------------------------------


class Role(CollectorRegistry):
    """The metrics of one kind of process (scorer, learner, simulator).

    Metrics are declared against a role, and :meth:`activate` adds them to the default
    registry, which also holds prometheus-client's process collectors (memory, CPU). So a
    learner does not expose the scorer's series as zeros, which would skew ``min`` and
    ``avg`` across targets.
    """

    def __init__(self, *includes: Role) -> None:
        super().__init__(auto_describe=True)
        self.includes = includes
        self.members: list[Collector] = []
        self.active = False

    def register(self, collector: Collector) -> None:
        super().register(collector)
        self.members.append(collector)

    def activate(self) -> None:
        """Expose this role's metrics (and those of the roles it includes); idempotent."""
        for role in self.includes:
            role.activate()
        if not self.active:
            self.active = True
            for collector in self.members:
                REGISTRY.register(collector)


EVERY_PROCESS = Role()
CONSUMERS = Role()
SCORER = Role(EVERY_PROCESS, CONSUMERS)
LEARNER_PROCESS = Role(EVERY_PROCESS, CONSUMERS)
SIMULATOR = Role(EVERY_PROCESS)
WORKBENCH = Role(EVERY_PROCESS)
ROLES = (EVERY_PROCESS, CONSUMERS, SCORER, LEARNER_PROCESS, SIMULATOR, WORKBENCH)

# -- scorer worker ---------------------------------------------------------------------------

BUILD_INFO = Info(
    "riskstream_build", "riskstream build and library versions", registry=EVERY_PROCESS
)
EVENTS_CONSUMED = Counter(
    "riskstream_events_consumed_total",
    "Events read from the events topics",
    ["stream"],
    registry=SCORER,
)
EVENTS_REJECTED = Counter(
    "riskstream_events_rejected_total",
    "Events rejected and sent to the dead-letter topic, by error kind (every rejected event "
    "is one dead letter)",
    ["stream", "reason"],
    registry=SCORER,
)
VERDICTS = Counter(
    "riskstream_verdicts_total", "Verdicts published", ["stream", "hub", "level"], registry=SCORER
)
SELECTIONS = Counter(
    "riskstream_selections_total",
    "Verdicts by selection kind (none: not selected for physical inspection)",
    ["stream", "hub", "kind"],
    registry=SCORER,
)
CAPACITY = Gauge(
    "riskstream_inspection_capacity_ratio",
    "Configured inspection capacity of the lane, as a share of its traffic",
    ["stream", "hub"],
    registry=SCORER,
)
PERIOD_SELECTED = Gauge(
    "riskstream_budget_period_selected_inspections",
    "Inspections the lane selected so far in its current accounting period (model, random, "
    "rule and green audits together; RISKSTREAM_BUDGET_PERIOD)",
    ["stream", "hub", "area"],
    registry=SCORER,
)
PERIOD_BUDGET = Gauge(
    "riskstream_budget_period_allowed_inspections",
    "Inspections the lane's budget allows so far in its current accounting period (rate "
    "times the period's arrivals)",
    ["stream", "hub", "area"],
    registry=SCORER,
)
BUDGET_OVERFLOW = Counter(
    "riskstream_budget_overflow_inspections_total",
    "Always-inspect rule hits inspected beyond their accounting period's budget",
    ["stream", "hub"],
    registry=SCORER,
)
SCORES = Histogram(
    "riskstream_risk_score_ratio",
    "Risk score of each verdict (0 to 1)",
    ["stream"],
    buckets=SCORE_BUCKETS,
    registry=SCORER,
)
SCORING_SECONDS = Histogram(
    "riskstream_scoring_duration_seconds",
    "Time to decode, score and encode one event inside the worker",
    ["stream"],
    buckets=FAST_BUCKETS,
    registry=SCORER,
)
ARRIVAL_TO_VERDICT_SECONDS = Histogram(
    "riskstream_arrival_to_verdict_seconds",
    "Time from the event's arrival on Kafka (record timestamp) to its verdict being sent",
    ["stream"],
    buckets=LAG_BUCKETS,
    registry=SCORER,
)
EVENT_TO_VERDICT_SECONDS = Histogram(
    "riskstream_event_to_verdict_seconds",
    "Lag from the event's event time (when the hub registered it) to its verdict",
    ["stream"],
    buckets=LAG_BUCKETS,
    registry=SCORER,
)
COMPLETENESS = Histogram(
    "riskstream_declaration_completeness_ratio",
    "Share of the optional declaration fields filled in, per event",
    ["stream", "hub"],
    buckets=RATIO_BUCKETS,
    registry=SCORER,
)
PASSENGER_RECORDS = Counter(
    "riskstream_passenger_data_records_total",
    "Passenger records (API/PNR) received, by operating carrier",
    ["carrier"],
    registry=SCORER,
)
PASSENGER_LATE = Counter(
    "riskstream_passenger_data_late_total",
    "Passenger records whose API data arrived after departure, by carrier",
    ["carrier"],
    registry=SCORER,
)
PASSENGER_INCOMPLETE = Counter(
    "riskstream_passenger_data_incomplete_total",
    "Passenger records with at least one mandatory API field missing, by carrier",
    ["carrier"],
    registry=SCORER,
)
PASSENGER_LEAD = Histogram(
    "riskstream_passenger_data_lead_seconds",
    "How long before departure the API data arrived (late data counts as 0), by carrier",
    ["carrier"],
    buckets=LEAD_BUCKETS,
    registry=SCORER,
)
DISPARITY_VERDICTS = Counter(
    "riskstream_disparity_verdicts_total",
    "Verdicts by origin group (goods: country of dispatch; passengers: nationality) and hub",
    ["stream", "hub", "origin_group"],
    registry=SCORER,
)
DISPARITY_SELECTIONS = Counter(
    "riskstream_disparity_selections_total",
    "Selections for physical inspection by origin group and hub",
    ["stream", "hub", "origin_group"],
    registry=SCORER,
)
CONSUMER_LAG = Gauge(
    "riskstream_consumer_lag_messages",
    "Messages on the topic not yet read by this process (end offset minus position, summed "
    "over its assigned partitions)",
    ["topic"],
    registry=CONSUMERS,
)
REBALANCES = Counter(
    "riskstream_consumer_rebalances_total",
    "Consumer-group rebalances this worker went through",
    registry=SCORER,
)
COMMIT_SECONDS = Histogram(
    "riskstream_consumer_commit_duration_seconds",
    "Time to commit consumer offsets",
    buckets=COMMIT_BUCKETS,
    registry=SCORER,
)
TRANSACTIONS = Counter(
    "riskstream_transactions_total",
    "Kafka transactions of this process (exactly_once mode), committed or aborted; an "
    "aborted one's inputs are read again",
    ["result"],
    registry=CONSUMERS,
)
MODEL_OUTCOMES_LEARNED = Gauge(
    "riskstream_model_outcomes_learned",
    "Outcomes the model in use has learned from (rises with every hot-swapped snapshot)",
    registry=SCORER,
)
MODEL_EVENTS_OBSERVED = Gauge(
    "riskstream_model_events_observed",
    "Scored events the model in use has observed (with outcomes learned: its version)",
    registry=SCORER,
)
MODEL_SNAPSHOT_CREATED = Gauge(
    "riskstream_model_snapshot_created_timestamp_seconds",
    "Creation time of the model snapshot in use (unix seconds)",
    registry=SCORER,
)
MODEL_SWAPS = Counter(
    "riskstream_model_swaps_total", "Model snapshots loaded by this worker", registry=SCORER
)
SNAPSHOTS_REFUSED = Counter(
    "riskstream_model_snapshots_refused_total",
    "Model snapshots refused (bad signature, corrupt, incompatible) and not loaded",
    registry=SCORER,
)
RANDOM_SHARE = Gauge(
    "riskstream_selection_random_share_ratio",
    "Share of the inspection budget picked at random now (raised for a while after a drift)",
    ["stream"],
    registry=SCORER,
)
GREEN_RELEASES = Counter(
    "riskstream_green_lane_releases_total",
    "Events the green lane released without any check",
    ["stream"],
    registry=SCORER,
)
GREEN_AUDITS = Counter(
    "riskstream_green_lane_audits_total",
    "Green-lane events picked at random for physical inspection (its audits, the only "
    "unbiased estimate of its miss rate)",
    ["stream"],
    registry=SCORER,
)
GREEN_TIME_SAVED = Counter(
    "riskstream_green_lane_release_time_saved_seconds_total",
    "Release time the green lane saved: the time an average check costs "
    "(RISKSTREAM_GREEN_LANE_CHECK_SECONDS) for every event it released without a check",
    ["stream"],
    registry=SCORER,
)


def preinitialise(random_share: float | None = None) -> None:
    """Create the scorer's labelled series at start-up so rate() sees the first event."""
    SCORER.activate()
    for stream in STREAMS:
        EVENTS_CONSUMED.labels(stream)
        SCORING_SECONDS.labels(stream)
        SCORES.labels(stream)
        ARRIVAL_TO_VERDICT_SECONDS.labels(stream)
        EVENT_TO_VERDICT_SECONDS.labels(stream)
        for reason in REJECT_REASONS:
            EVENTS_REJECTED.labels(stream, reason)
        if random_share is not None:
            RANDOM_SHARE.labels(stream).set(random_share)
        GREEN_RELEASES.labels(stream)
        GREEN_AUDITS.labels(stream)
        GREEN_TIME_SAVED.labels(stream)
    for reason in REJECT_REASONS:
        EVENTS_REJECTED.labels(OTHER, reason)  # records on a topic of no stream


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Expose /metrics on ``addr:port`` (port 0: not at all)."""
    if port:
        start_http_server(port, addr=addr)


_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: Any, *labels: Any) -> Any:
    """``metric.labels(*labels)``, remembered: ``labels()`` costs ~1.7 µs and the scoring
    path calls it a dozen times per event. The label values are bounded sets, so is this."""
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def record_scoring(result: ScoringResult, seconds: float, arrived_s: float | None = None) -> None:
    """Count one processed input record.

    ``arrived_s`` is the record's Kafka timestamp (unix seconds): its arrival.
    """
    stream = result.stream or OTHER
    _child(EVENTS_CONSUMED, stream).inc()
    if result.rejected is not None:
        _child(EVENTS_REJECTED, stream, result.rejected).inc()
        return
    now = time.time()
    hub = hub_label(result.hub)
    _child(SCORING_SECONDS, stream).observe(seconds)
    _child(VERDICTS, stream, hub, result.level).inc()
    _child(SELECTIONS, stream, hub, result.kind).inc()
    if result.kind == "green":
        _child(GREEN_RELEASES, stream).inc()
        _child(GREEN_TIME_SAVED, stream).inc(result.time_saved_s)
    elif result.kind == "green_audit":
        _child(GREEN_AUDITS, stream).inc()
    if arrived_s:
        _child(ARRIVAL_TO_VERDICT_SECONDS, stream).observe(max(0.0, now - arrived_s))
    if result.event_time is not None:
        lag = now - result.event_time.timestamp()
        _child(EVENT_TO_VERDICT_SECONDS, stream).observe(max(0.0, lag))
    if result.score is not None:
        _child(SCORES, stream).observe(result.score)
    if result.capacity is not None:
        _child(CAPACITY, stream, hub).set(result.capacity)
    if result.ledger is not None:
        area = area_label(result.area) if result.area else "none"
        _child(PERIOD_SELECTED, stream, hub, area).set(result.ledger.selected)
        _child(PERIOD_BUDGET, stream, hub, area).set(result.ledger.budget)
    if result.overflow:
        _child(BUDGET_OVERFLOW, stream, hub).inc()
    record = result.record or {}
    origin = origin_of(stream, record)
    _child(DISPARITY_VERDICTS, stream, hub, origin).inc()
    if result.level == "physical_inspection":
        _child(DISPARITY_SELECTIONS, stream, hub, origin).inc()
    completeness = (result.features or {}).get("completeness")
    if isinstance(completeness, int | float):
        _child(COMPLETENESS, stream, hub).observe(float(completeness))
    if stream == "passenger":
        _record_passenger_data(record)


def _record_passenger_data(record: Mapping[str, Any]) -> None:
    carrier = record.get("carrier")
    label = carrier_label(carrier if isinstance(carrier, str) else None)
    _child(PASSENGER_RECORDS, label).inc()
    lead = record.get("api_received_before_departure_s")
    if isinstance(lead, int | float):
        if lead <= 0:
            _child(PASSENGER_LATE, label).inc()
        _child(PASSENGER_LEAD, label).observe(max(0.0, float(lead)))
    missing = record.get("mandatory_fields_missing")
    if isinstance(missing, int) and missing > 0:
        _child(PASSENGER_INCOMPLETE, label).inc()


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


def record_model_swap(meta: Mapping[str, Any]) -> None:
    MODEL_SWAPS.inc()
    MODEL_OUTCOMES_LEARNED.set(float(meta.get("outcomes_applied", 0)))
    MODEL_EVENTS_OBSERVED.set(float(meta.get("scored_observed", 0)))
    created = meta.get("created_at")
    if isinstance(created, datetime):
        MODEL_SNAPSHOT_CREATED.set(created.timestamp())
    elif created:
        MODEL_SNAPSHOT_CREATED.set(datetime.fromisoformat(str(created)).timestamp())
    for stream, share in (meta.get("random_share") or {}).items():
        if stream in STREAMS and isinstance(share, int | float):
            RANDOM_SHARE.labels(stream).set(float(share))


def record_refused_snapshot(reason: str) -> None:
    SNAPSHOTS_REFUSED.inc()


def record_rebalance() -> None:
    REBALANCES.inc()


def record_commit(seconds: float) -> None:
    COMMIT_SECONDS.observe(seconds)


def record_transaction(result: str) -> None:
    TRANSACTIONS.labels(result).inc()


def record_lag(lag_by_topic: Mapping[str, int]) -> None:
    """Set the consumer lag of each topic (0 for a topic with no partition assigned here)."""
    for topic, lag in lag_by_topic.items():
        CONSUMER_LAG.labels(topic).set(max(0, lag))


# -- learner ---------------------------------------------------------------------------------

SNAPSHOTS_PUBLISHED = Counter(
    "riskstream_learner_snapshots_published_total",
    "Model snapshots published by the learner",
    registry=LEARNER_PROCESS,
)
LAST_SNAPSHOT = Gauge(
    "riskstream_learner_last_snapshot_timestamp_seconds",
    "When the learner last published a model snapshot (unix seconds)",
    registry=LEARNER_PROCESS,
)
LEARNING_EVENTS = Counter(
    "riskstream_learning_events_total",
    "Drift detections and promotions",
    ["kind", "stream"],
    registry=LEARNER_PROCESS,
)
OUTCOMES_RECEIVED = Counter(
    "riskstream_outcomes_received_total",
    "Inspection outcomes read by the learner, by result",
    ["stream", "result"],
    registry=LEARNER_PROCESS,
)
REVENUE = Counter(
    "riskstream_revenue_recovered_euros_total",
    "Duties and taxes recovered by inspections, in euros",
    ["stream"],
    registry=LEARNER_PROCESS,
)
TURNAROUND_SECONDS = Histogram(
    "riskstream_inspection_turnaround_seconds",
    "Time from verdict to inspection outcome",
    ["stream"],
    buckets=TURNAROUND_BUCKETS,
    registry=LEARNER_PROCESS,
)
DISPARITY_OUTCOMES = Counter(
    "riskstream_disparity_outcomes_total",
    "Outcomes of physical inspections by origin group of the goods and hub, and whether "
    "they found something (passengers carry no origin in their scored record: other)",
    ["stream", "hub", "origin_group", "finding"],
    registry=LEARNER_PROCESS,
)
LOG_RESETS = Counter(
    "riskstream_learner_log_resets_total",
    "Times an input's log was found reset under the learner (its end before the offset the "
    "learner expected next: a broker that lost its storage); the learner reads it again from "
    "its start",
    ["input"],
    registry=LEARNER_PROCESS,
)
UNATTRIBUTED = Counter(
    "riskstream_outcomes_unattributed_total",
    "Outcomes whose verdict the learner process did not see (before its start, or evicted), "
    "left out of the turnaround and disparity metrics",
    ["stream"],
    registry=LEARNER_PROCESS,
)


class InspectionLedger:
    """Who was inspected, by event id: what outcome metrics need and outcomes do not carry.

    An outcome names only its event; turnaround and disparity need the verdict's time, hub
    and origin. The learner's own join keeps whole records for learning; this ledger keeps a
    few labels of inspected events only (document check or physical inspection, a few % of
    the traffic), bounded, oldest out first.

    >>> from datetime import UTC, datetime
    >>> ledger = InspectionLedger(limit=2)
    >>> at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> for n, level in enumerate(["physical_inspection", "release", "document_check"]):
    ...     ledger.note({"event_id": f"e{n}", "stream": "postal", "hub": "hub_FRA",
    ...                  "level": level, "decided_at": at,
    ...                  "features": {"origin_country": "CN"}})
    >>> len(ledger), ledger.take("e1"), ledger.take("e0")
    (2, None, ('postal', 'hub_FRA', 'east_asia', 'physical_inspection', 1767603600.0))
    """

    def __init__(self, limit: int = 250_000) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, tuple[str, str, str, str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def note(self, scored: Mapping[str, Any]) -> None:
        """Remember an inspected scored record (released ones never get an outcome)."""
        event_id, decided_at = scored.get("event_id"), scored.get("decided_at")
        if scored.get("level", "release") == "release" or not isinstance(event_id, str):
            return
        if not isinstance(decided_at, datetime):
            return
        stream = str(scored.get("stream"))
        features = scored.get("features") or {}
        origin = origin_of(stream, features) if stream != "passenger" else OTHER
        hub = scored.get("hub")
        self._entries[event_id] = (
            stream,
            hub_label(hub if isinstance(hub, str) else None),
            origin,
            str(scored["level"]),
            decided_at.timestamp(),
        )
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)

    def take(self, event_id: str) -> tuple[str, str, str, str, float] | None:
        """What was noted about ``event_id``: stream, hub, origin group, level, decided at."""
        return self._entries.pop(event_id, None)


LEDGER = InspectionLedger()


def record_learner_input(source: object, record: Mapping[str, Any]) -> None:
    """Account one decoded learner input: a scored record or an inspection outcome."""
    if not record:
        return
    if source == "scored":
        LEDGER.note(record)
        return
    stream = record.get("stream")
    if stream not in STREAMS:
        return
    result = str(record.get("result"))
    OUTCOMES_RECEIVED.labels(stream, result if result in RESULTS else OTHER).inc()
    amount = record.get("recovered_amount")
    if isinstance(amount, Decimal | int | float) and amount > 0:
        REVENUE.labels(stream).inc(float(amount))
    event_id = record.get("event_id")
    seen = LEDGER.take(event_id) if isinstance(event_id, str) else None
    if seen is None:
        UNATTRIBUTED.labels(stream).inc()
        return
    _, hub, origin, level, decided_at = seen
    outcome_time = record.get("outcome_time")
    if isinstance(outcome_time, datetime):
        TURNAROUND_SECONDS.labels(stream).observe(max(0.0, outcome_time.timestamp() - decided_at))
    finding = DEFAULT_LABELS.get(result)
    # physical inspections only, like the selections they are compared with
    if finding is not None and level == "physical_inspection":
        DISPARITY_OUTCOMES.labels(stream, hub, origin, str(finding).lower()).inc()


class LearnerCollector:
    """Expose the active learner's own counters at scrape time (they survive restarts,
    because they live in its state snapshot)."""

    def __init__(self) -> None:
        self.learner: Any = None
        self.last_learn: float = 0.0
        self.applied = -1
        self.registered = False

    def collect(self) -> Iterator[Metric]:
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
            "Records dropped after waiting longer than the TTL, or evicted for memory",
            labels=["input"],
        )
        expired.add_metric(["scored"], counts["expired_scored"] + counts["evicted_scored"])
        expired.add_metric(["outcomes"], counts["expired_outcomes"] + counts["evicted_outcomes"])
        yield expired
        privacy = CounterMetricFamily(
            "riskstream_learner_privacy",
            "Data-protection work of the learner: erasure requests applied, and personal profile "
            "keys erased, masked by retention, or carried over to a new pseudonymisation key",
            labels=["action"],
        )
        for action in ("erasures", "profiles_erased", "profiles_expired", "profiles_carried"):
            privacy.add_metric([action], counts[action])
        yield privacy
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
            "When the learner last learned an outcome (unix seconds)",
            value=self.last_learn,
        )
        yield from _monitor_metrics(learner)
        yield from _green_lane_metrics(learner)
        if learner.arena is not None:
            race = GaugeMetricFamily(
                "riskstream_model_challenger_quality_ratio",
                "Off-policy quality on random picks (the promotion metric, rolling ROC AUC by "
                "default) of the champion and its shadow challenger; NaN until known",
                labels=["stream", "model"],
            )
            for stream in learner.monitors:
                standing = learner.arena.standing(stream)
                # River reports an AUC of 0 before random picks hold both classes
                known = 0 < standing["findings"] < standing["random_outcomes"]
                for role in ("champion", "challenger"):
                    race.add_metric([stream, role], float(standing[role]) if known else math.nan)
            yield race


def _monitor_metrics(learner: Any) -> Iterator[Metric]:
    quality = GaugeMetricFamily(
        "riskstream_model_quality_ratio",
        "Rolling quality of the deployed model among labelled events (precision among model "
        "and rule picks, hit rate among random picks, ROC AUC, IPW base rate); NaN until known",
        labels=["stream", "measure"],
    )
    outcomes = CounterMetricFamily(
        "riskstream_learner_outcomes",
        "Outcomes learned, by selection kind, and whether they found something",
        labels=["stream", "kind", "finding"],
    )
    drift_active = GaugeMetricFamily(
        "riskstream_model_drift_active",
        "1 while the reaction to the last detected drift runs (raised random share)",
        labels=["stream"],
    )
    delay = GaugeMetricFamily(
        "riskstream_model_label_delay_seconds",
        "Rolling quantiles of the time from verdict to outcome among learned outcomes",
        labels=["stream", "statistic"],
    )
    for stream, monitor in learner.monitors.items():
        for measure, value in (
            ("precision_model_picks", monitor.model_precision),
            ("hit_rate_random_picks", monitor.random_hit_rate),
            ("precision_rule_picks", monitor.rule_precision),
            ("roc_auc", monitor.auc),
            ("roc_auc_random_picks", monitor.auc_random),
            ("base_rate", monitor.base_rate),
        ):
            quality.add_metric([stream, measure], float(value))
        for kind in KINDS:
            found = monitor.findings_by_kind.get(kind, 0)
            outcomes.add_metric([stream, kind, "true"], found)
            outcomes.add_metric(
                [stream, kind, "false"], monitor.outcomes_by_kind.get(kind, 0) - found
            )
        drift_active.add_metric([stream], float(monitor.drift_active))
        delay.add_metric([stream, "median"], float(monitor.label_delay_median_seconds))
        delay.add_metric([stream, "p90"], float(monitor.label_delay_p90_seconds))
    yield quality
    yield outcomes
    yield drift_active
    yield delay


def _green_lane_metrics(learner: Any) -> Iterator[Metric]:
    miss_rate = GaugeMetricFamily(
        "riskstream_green_lane_miss_rate_ratio",
        "Green lane's miss rate (share of its events in which an inspection would find "
        "something) estimated from its random audits, the bounds of its 95% Wilson interval, "
        "and the configured maximum; NaN until known, or without a green lane",
        labels=["stream", "statistic"],
    )
    cap = GaugeMetricFamily(
        "riskstream_green_lane_score_cap_ratio",
        "Score cap of the green lane the learner gives the scorers (qualifying events scored "
        "below it are released); 0 without a green lane",
        labels=["stream"],
    )
    audits = GaugeMetricFamily(
        "riskstream_green_lane_estimate_audits",
        "Audit outcomes the green lane's miss-rate estimate counts (the newest ones, of "
        "events scored below the current cap)",
        labels=["stream"],
    )
    changes = CounterMetricFamily(
        "riskstream_green_lane_cap_changes",
        "Times the learner narrowed or widened a green lane's score cap",
        labels=["stream", "action"],
    )
    lanes = getattr(learner, "green_lanes", None) or {}
    for stream in STREAMS:
        lane = lanes.get(stream)
        if lane is None:
            for statistic in ("estimate", "lower", "upper", "maximum"):
                miss_rate.add_metric([stream, statistic], math.nan)
            cap.add_metric([stream], 0.0)
            audits.add_metric([stream], 0.0)
            changes.add_metric([stream, "narrowed"], 0.0)
            changes.add_metric([stream, "widened"], 0.0)
            continue
        estimate = lane.estimate()
        known = estimate.audits > 0
        miss_rate.add_metric([stream, "estimate"], estimate.rate)
        miss_rate.add_metric([stream, "lower"], estimate.lower if known else math.nan)
        miss_rate.add_metric([stream, "upper"], estimate.upper if known else math.nan)
        miss_rate.add_metric([stream, "maximum"], lane.max_miss_rate)
        cap.add_metric([stream], lane.cap)
        audits.add_metric([stream], float(estimate.audits))
        changes.add_metric([stream, "narrowed"], float(lane.narrowed))
        changes.add_metric([stream, "widened"], float(lane.widened))
    yield miss_rate
    yield cap
    yield audits
    yield changes


FATES = ("seen", "observed", "applied", "duplicate", "rejected", "replayed", "unlabelled")
LEARNER = LearnerCollector()


def preinitialise_learner() -> None:
    """Create the learner's labelled series at start-up (drift and promotion are rare)."""
    LEARNER_PROCESS.activate()
    for stream in STREAMS:
        for kind in LEARNING_KINDS:
            LEARNING_EVENTS.labels(kind, stream)
        REVENUE.labels(stream)
        TURNAROUND_SECONDS.labels(stream)
        UNATTRIBUTED.labels(stream)
        for result in RESULTS:
            OUTCOMES_RECEIVED.labels(stream, result)
    for source in ("scored", "outcomes"):
        LOG_RESETS.labels(source)


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


def record_log_reset(source: str) -> None:
    LOG_RESETS.labels(source).inc()


class LagProbe:
    """Consumer lag of a confluent-kafka consumer, measured at most every ``every_s``."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self._last = -math.inf

    def __call__(self, consumer: Any, topics: Iterable[str]) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        self._last = now
        lag = dict.fromkeys(topics, 0)
        try:
            assigned = consumer.assignment()
            for tp in consumer.position(assigned):
                _, end = consumer.get_watermark_offsets(tp, timeout=1.0, cached=False)
                if tp.offset >= 0 and tp.topic in lag:
                    lag[tp.topic] += max(0, end - tp.offset)
        except Exception:  # a broker hiccup must not stop learning; the next probe retries
            return
        record_lag(lag)


# -- simulator -------------------------------------------------------------------------------

SIM_EVENTS = Counter(
    "riskstream_simulator_events_published_total",
    "Events the hub simulator published",
    ["stream", "hub"],
    registry=SIMULATOR,
)
SIM_OUTCOMES = Counter(
    "riskstream_simulator_outcomes_published_total",
    "Inspection outcomes the authority simulator published",
    ["stream"],
    registry=SIMULATOR,
)
SIM_VERDICTS = Counter(
    "riskstream_simulator_verdicts_read_total",
    "Verdicts the authority simulator read",
    registry=SIMULATOR,
)


def preinitialise_simulator() -> None:
    SIMULATOR.activate()
    for stream in STREAMS:
        SIM_OUTCOMES.labels(stream)


def record_simulated_event(stream: str, hub: str) -> None:
    SIM_EVENTS.labels(stream, hub_label(hub)).inc()


def record_simulated_outcome(stream: str) -> None:
    SIM_OUTCOMES.labels(stream if stream in STREAMS else OTHER).inc()


def record_simulated_verdict() -> None:
    SIM_VERDICTS.inc()


# -- officer workbench -----------------------------------------------------------------------

CASE_SOURCES = ("officer", "system", "elsewhere")
CASE_RESULTS = ("seizure", "revenue_adjustment", "no_finding", "documentary_irregularity")


class CaseQueueCollector:
    """Open cases per hub, the age of the oldest and the unpublished outbox, asked of the
    workbench's case store at scrape time (so they survive its restarts)."""

    def __init__(self) -> None:
        # hub -> (open or claimed cases, when the oldest was decided, unix seconds)
        self.open_by_hub: Callable[[], Mapping[str, tuple[int, float]]] | None = None
        self.outbox_pending: Callable[[], int] | None = None
        # hubs keep their series once seen (0 when nothing waits), as hub_label bounds them
        self.hubs: set[str] = set()

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "riskstream_workbench_open_cases",
                "Cases waiting in the workbench (open or claimed, no outcome yet), per hub",
                labels=["hub"],
            ),
            GaugeMetricFamily(
                "riskstream_workbench_oldest_open_case_age_seconds",
                "Age of the oldest case still waiting for its outcome (since its verdict), "
                "per hub; 0 when none waits",
                labels=["hub"],
            ),
            GaugeMetricFamily(
                "riskstream_workbench_outbox_pending_outcomes",
                "Outcomes recorded in the workbench and not yet acknowledged by Kafka",
            ),
        )

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        if self.open_by_hub is None or self.outbox_pending is None:
            return
        count, age, outbox = self._families()
        now = time.time()
        found: dict[str, tuple[int, float]] = {}
        for hub, (waiting, oldest) in self.open_by_hub().items():
            label = hub_label(hub)
            total, first = found.get(label, (0, now))
            found[label] = (total + waiting, min(first, oldest))
        self.hubs |= set(found)
        for hub in self.hubs:
            found.setdefault(hub, (0, now))
        for hub, (waiting, oldest) in sorted(found.items()):
            count.add_metric([hub], waiting)
            age.add_metric([hub], max(0.0, now - oldest) if waiting else 0.0)
        outbox.add_metric([], self.outbox_pending())
        yield count
        yield age
        yield outbox


CASE_QUEUE = CaseQueueCollector()
WORKBENCH.register(CASE_QUEUE)
CASES_OPENED = Counter(
    "riskstream_workbench_cases_opened_total",
    "Cases the workbench opened from verdicts (physical inspections and document checks)",
    ["hub"],
    registry=WORKBENCH,
)
CASES_CLOSED = Counter(
    "riskstream_workbench_cases_closed_total",
    "Cases closed with an outcome, by result and by who gave it (an officer here, an "
    "automated answerer here, or another system on the outcomes topic)",
    ["hub", "result", "source"],
    registry=WORKBENCH,
)
VERDICT_TO_OUTCOME_SECONDS = Histogram(
    "riskstream_workbench_verdict_to_outcome_seconds",
    "Time from a case's verdict to its outcome, per hub",
    ["hub"],
    buckets=TURNAROUND_BUCKETS,
    registry=WORKBENCH,
)


def preinitialise_workbench(
    hubs: Iterable[str],
    open_by_hub: Callable[[], Mapping[str, tuple[int, float]]],
    outbox_pending: Callable[[], int],
) -> None:
    """Expose the workbench's metrics, with the series of the officers' hubs created."""
    WORKBENCH.activate()
    CASE_QUEUE.open_by_hub, CASE_QUEUE.outbox_pending = open_by_hub, outbox_pending
    CASE_QUEUE.hubs = {hub_label(hub) for hub in hubs}
    for hub in sorted(CASE_QUEUE.hubs):
        CASES_OPENED.labels(hub)
        VERDICT_TO_OUTCOME_SECONDS.labels(hub)
        for source in CASE_SOURCES:
            for result in CASE_RESULTS:
                CASES_CLOSED.labels(hub, result, source)


def record_case_opened(hub: str) -> None:
    CASES_OPENED.labels(hub_label(hub)).inc()


def record_case_closed(
    hub: str | None, result: str, source: str, decided_at: datetime | None, closed_at: datetime
) -> None:
    """Count a closed case and observe its time from verdict to outcome."""
    label = hub_label(hub)
    CASES_CLOSED.labels(label, result if result in CASE_RESULTS else OTHER,
                        source if source in CASE_SOURCES else OTHER).inc()
    if decided_at is not None:
        seconds = (closed_at - decided_at).total_seconds()
        VERDICT_TO_OUTCOME_SECONDS.labels(label).observe(max(0.0, seconds))


# -- the catalogue as documentation ----------------------------------------------------------

_PROCESSES = {
    "EVERY_PROCESS": "every process",
    "CONSUMERS": "scorer, learner",
    "SCORER": "scorer",
    "LEARNER_PROCESS": "learner",
    "SIMULATOR": "simulator",
    "WORKBENCH": "workbench",
}


def catalogue() -> list[tuple[str, str, tuple[str, ...], str, str]]:
    """(name, type, labels, process, help) of every metric riskstream exposes."""
    from learning.challenger import with_learning_rate
    from learning.learner import Learner, LearnerConfig
    from scorers.model import RiskModel

    suffix = {"counter": "_total", "info": "_info"}
    rows = []
    for role_name, process in _PROCESSES.items():
        role: Role = globals()[role_name]
        for collector in role.members:
            labels = tuple(getattr(collector, "_labelnames", ()))
            described: Any = collector
            for family in described.describe():
                # a custom collector's families name their own labels
                named = labels or tuple(getattr(family, "_labelnames", ()))
                name = family.name + suffix.get(family.type, "")
                rows.append((name, family.type, named, process, family.documentation))
    model = RiskModel(seed=0)
    collector = LearnerCollector()
    collector.learner = Learner(model, LearnerConfig(), with_learning_rate(model, 0.1))
    for family in collector.collect():
        first = family.samples[0]
        name = family.name + suffix.get(family.type, "")
        rows.append((name, family.type, tuple(first.labels), "learner", family.documentation))
    return rows


def catalogue_table() -> str:
    """The metric catalogue as the README's Markdown table."""
    lines = ["| metric | type | labels | process | what it measures |", "|---|---|---|---|---|"]
    for name, kind, labels, process, documentation in catalogue():
        shown = ", ".join(labels) if labels else ""
        lines.append(f"| `{name}` | {kind} | {shown} | {process} | {documentation} |")
    return "\n".join(lines)
