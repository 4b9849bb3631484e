"""Create riskstream's topics explicitly and idempotently (``riskstream topics create``), and
put them back when a broker lost them (:class:`BrokerWatch`)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streams.kafka_config import client_config
from streams.settings import Settings
from streams.topology import Topology

log = logging.getLogger(__name__)

# what a request fails with while no broker answers
UNREACHABLE = frozenset({
    KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT,
    KafkaError._RESOLVE,
})


@dataclass(frozen=True)
class TopicReport:
    name: str
    action: str  # "created", "exists", or "exists with N partitions (wanted M)"


def create_topics(
    settings: Settings, timeout_s: float = 15.0, admin: AdminClient | None = None
) -> list[TopicReport]:
    """Create every topic of the topology; existing ones are left as they are and reported."""
    topology = Topology.from_settings(settings)
    admin = admin or AdminClient(client_config(settings))
    existing = admin.list_topics(timeout=timeout_s).topics
    reports: list[TopicReport] = []
    wanted = []
    for spec in topology.specs():
        if spec.name in existing:
            have = len(existing[spec.name].partitions)
            action = (
                "exists"
                if have == spec.partitions
                else (f"exists with {have} partitions (wanted {spec.partitions})")
            )
            reports.append(TopicReport(spec.name, action))
        else:
            wanted.append(
                NewTopic(
                    spec.name,
                    spec.partitions,
                    settings.replication_factor,
                    config=dict(spec.config),
                )
            )
    if wanted:
        for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
            try:
                future.result(timeout_s)
                reports.append(TopicReport(name, "created"))
            except KafkaException as exc:
                error = exc.args[0]
                if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:  # lost a race: fine
                    raise
                reports.append(TopicReport(name, "exists"))
    return reports


class BrokerWatch:
    """Log broker trouble once per condition, and put lost topics back when it is over.

    librdkafka reconnects by itself and retries what it could not send. What it cannot do
    is create the topics a broker lost (the embedded broker keeps everything in memory, so
    a restart loses every topic, record and committed offset), nor make a consumer group
    notice that a topic it subscribes to exists again (a known librdkafka limitation: the
    group stays on an empty assignment). So a worker hands every client error to
    :meth:`on_error` (``error_cb``, and the errors its consumers return), and a background
    thread, from the first sign of trouble:

    * logs each condition (error kind) once, however often librdkafka repeats it;
    * tries every ``retry_s`` to list the topics and create the missing ones with their
      partition counts and configs (:func:`create_topics`), so they come back right and
      not with the broker's default partition count. Producers of a watched worker never
      create topics themselves (:meth:`client_settings`), their records wait;
    * once that works, logs the recovery with what it held back, and raises
      :meth:`take_rejoin` when the broker had been unreachable or topics were missing:
      the worker's consumer then leaves its group and joins again, which makes it see the
      topics as they are now.

    ``outages`` counts the times every broker was unreachable; records read before an
    outage may belong to a log that is gone, so their offsets must not be committed.

    >>> watch = BrokerWatch(Settings(topic_prefix="demo"), "scorer")
    >>> watch.unreachable, watch.outages, watch.take_rejoin()
    (False, 0, False)
    """

    def __init__(
        self, settings: Settings, role: str, retry_s: float = 0.5, timeout_s: float = 2.0
    ) -> None:
        self.settings = settings
        self.role = role
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self.unreachable = False
        self.outages = 0
        self.topics_recreated = 0
        self._lock = threading.Lock()
        self._trouble = threading.Event()
        self._stop = threading.Event()
        self._seen: dict[str, int] = {}  # condition -> occurrences in this episode
        self._since: float | None = None
        self._outage = False
        self._rejoin = False
        self._wrong: set[TopicReport] = set()  # reported once each
        self._thread = threading.Thread(target=self._run, name="broker-watch", daemon=True)

    def client_settings(self) -> dict[str, Any]:
        """Overrides for every client of the watched worker."""
        # (producers never auto-create a lost topic: see producer_config; their records
        # wait until this watch has created it with its partition count)
        return {
            "error_cb": self.on_error,
            # librdkafka's own error lines repeat what on_error logs once
            "log_level": 2,
        }

    def start(self) -> BrokerWatch:
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._trouble.set()
        if self._thread.is_alive():
            self._thread.join(self.timeout_s + 1.0)

    def on_error(self, error: KafkaError) -> None:
        """A client error (librdkafka's ``error_cb``, or a consumer error); any thread."""
        name = error.name()
        with self._lock:
            first = name not in self._seen
            self._seen[name] = self._seen.get(name, 0) + 1
            if self._since is None:
                self._since = time.monotonic()
            if error.code() == KafkaError._ALL_BROKERS_DOWN and not self._outage:
                self._outage = True
                self.unreachable = True
                self.outages += 1
        if first:
            log.warning("%s: %s (logged once until the broker is healthy)", self.role, error.str())
        self._trouble.set()

    def suspect(self) -> None:
        """Check the topics now, with no error to show for it (e.g. on a timer, for clients
        that report no errors here)."""
        self._trouble.set()

    def take_rejoin(self) -> bool:
        """True once after a recovery that needs the consumer to join its group again."""
        with self._lock:
            due, self._rejoin = self._rejoin, False
        return due

    def _run(self) -> None:
        admin = AdminClient({**client_config(self.settings), "log_level": 0})
        while not self._stop.is_set():
            self._trouble.wait()
            if self._stop.is_set():
                return
            self._trouble.clear()
            try:
                reports = create_topics(self.settings, self.timeout_s, admin)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError) and not (
                    error.retriable() or error.code() in UNREACHABLE
                ):  # e.g. not allowed to create topics: say so, and stop trying
                    log.error("%s: cannot re-create topics: %s", self.role, error.str())
                    self._recovered([])
                    continue
                self._trouble.set()  # still unreachable: try again
                self._stop.wait(self.retry_s)
                continue
            self._recovered(reports)

    def _recovered(self, reports: list[TopicReport]) -> None:
        created = [report.name for report in reports if report.action == "created"]
        with self._lock:
            seen, since, outage = self._seen, self._since, self._outage
            self._seen, self._since, self._outage = {}, None, False
            self.unreachable = False
            self.topics_recreated += len(created)
            if outage or created:
                self._rejoin = True
        if seen or created:
            held = ", ".join(f"{name} x{count}" for name, count in sorted(seen.items()))
            elapsed = time.monotonic() - since if since is not None else 0.0
            log.log(
                logging.WARNING if outage or created else logging.INFO,
                "%s: broker healthy again after %.1f s (errors: %s); topics re-created: %s",
                self.role, elapsed, held or "none", ", ".join(created) or "none",
            )
        for report in reports:
            if report.action.startswith("exists with") and report not in self._wrong:
                self._wrong.add(report)
                log.error(
                    "%s: topic %s %s: someone else created it (a producer that may "
                    "auto-create topics?); delete it and run `riskstream topics create`",
                    self.role, report.name, report.action,
                )
