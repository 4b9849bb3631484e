"""The scorer as a plain confluent-kafka loop: consume, score, produce, commit.

faust's per-event machinery costs more CPU than the models it runs around (``riskstream
bench`` measures both engines), so the hot path can also run on confluent-kafka directly,
with the guarantees of the faust agent:

* partitions are owned through the consumer group (classic protocol, the faust app's group
  id ``{prefix}-scorer``, so committed offsets carry over when a deployment switches engines;
  never run both engines in one group at once);
* at-least-once: an offset is committed only after every verdict, scored record and dead
  letter of the records before it was acknowledged by the broker (``producer.flush()``, then
  a synchronous commit). If a delivery fails, nothing is committed and the partitions are
  re-read from the last commit, so a verdict may be published twice, never lost;
* on a revoke (eager or cooperative) the producer is flushed and what was processed of the
  revoked partitions is committed before they go; records of a partition no longer owned
  are not scored (their new owner reads them); lost partitions are forgotten;
* the same scoring (:class:`~streams.scoring.ScoringService`, dead letters included), the
  same metrics, the same snapshot hot swap (:class:`~streams.snapshots.SnapshotFollower`)
  and the same warm start of the selection policy from the recent decisions
  (:func:`~streams.recovery.remember_recent_decisions`), read again at every assignment: a
  record that a killed scorer published but did not commit keeps its decision when another
  worker scores it again;
* a broker outage is ridden out in the same process (:class:`~streams.admin.BrokerWatch`):
  librdkafka reconnects and retries the outputs it holds; nothing is committed while the
  broker is unreachable, and nothing read before an outage is committed after it (the
  broker may have come back without that log: the embedded one keeps it in memory); lost
  topics are created again with their partition counts, and the consumer joins its group
  again so that it reads them (from their start, as no offset was committed on them).

* exactly-once (``RISKSTREAM_PROCESSING_GUARANTEE=exactly_once``, Apache Kafka only,
  checked at start-up by :func:`~streams.transactions.check_transactions`): the outputs of
  the records read in one interval (``RISKSTREAM_TRANSACTION_EVERY_S``) and their input
  offsets are committed in one transaction. If it aborts (or the worker dies in it),
  ``read_committed`` readers never see its outputs and the records are scored again from
  the committed offsets. A fenced worker (another process took its transactional id) stops.
  A producer stuck in a transaction call (a librdkafka bug when the group coordinator
  moves: :func:`~streams.transactions.within`) is replaced; its successor fences it.

Run it with ``riskstream worker --engine fast`` (or ``python -m streams.fastpath``);
:func:`run_fast_worker` is the entry point.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from streams import metrics
from streams.admin import BrokerWatch
from streams.kafka_config import producer_config, scorer_consumer_config
from streams.recovery import remember_recent_decisions
from streams.runtime import build_scoring_service
from streams.scoring import Outbound, ScoringService
from streams.settings import Settings
from streams.snapshots import SnapshotFollower
from streams.topology import STREAMS, Topology
from streams.transactions import (
    TransactionStuck,
    check_transactions,
    commit,
    transactional_producer,
)

log = logging.getLogger(__name__)

COMMIT_EVERY_S = 1.0  # faust commits every 2.8 s; a shorter interval re-delivers less
MAX_BATCH = 500
POLL_S = 0.1
FLUSH_TIMEOUT_S = 30.0
LAG_EVERY_S = 2.0
COMMITTED_TIMEOUT_S = 10.0  # reading the group's offsets after a failed commit
SLOW_COMMIT_S = 1.0
OUTPUT_GROUP = 128  # outputs handed to librdkafka at once: about 64 records' (see _score)

Partition = tuple[str, int]


class ProcessedOffsets:
    """Offsets scored since the last commit, per partition: what to commit, where to rewind.

    >>> ledger = ProcessedOffsets()
    >>> for topic, partition, offset in [("t", 0, 41), ("t", 0, 42), ("t", 1, 7)]:
    ...     ledger.processed(topic, partition, offset)
    >>> ledger.to_commit(), ledger.rewind_points()
    ({('t', 0): 43, ('t', 1): 8}, {('t', 0): 41, ('t', 1): 7})
    >>> ledger.committed([("t", 0)])
    >>> ledger.to_commit(), len(ledger)
    ({('t', 1): 8}, 1)
    """

    def __init__(self) -> None:
        self._next: dict[Partition, int] = {}
        self._first: dict[Partition, int] = {}

    def __len__(self) -> int:
        return len(self._next)

    def processed(self, topic: str, partition: int, offset: int) -> None:
        """Record that the record at ``offset`` was scored and its output produced."""
        key = (topic, partition)
        self._first.setdefault(key, offset)
        self._next[key] = offset + 1

    def to_commit(self, only: Iterable[Partition] | None = None) -> dict[Partition, int]:
        """The next offset to read of each partition (of ``only``, if given)."""
        if only is None:
            return dict(self._next)
        return {key: self._next[key] for key in only if key in self._next}

    def rewind_points(self) -> dict[Partition, int]:
        """The first uncommitted offset of each partition: where a retry starts."""
        return dict(self._first)

    def committed(self, only: Iterable[Partition] | None = None) -> None:
        """Forget what was committed (everything, or the partitions ``only``)."""
        self.forget(only)

    def forget(self, only: Iterable[Partition] | None = None) -> None:
        """Drop the partitions ``only`` (or all): revoked, lost, or to be re-read."""
        if only is None:
            self._next.clear()
            self._first.clear()
            return
        for key in only:
            self._next.pop(key, None)
            self._first.pop(key, None)


class FastWorker:
    """One scorer worker on confluent-kafka; :meth:`run` until :meth:`stop`.

    Parameters
    ----------
    settings
        Where to connect, topic prefix, timings.
    scoring
        The scoring service; default: built from ``settings`` when :meth:`run` starts.
    commit_every_s
        Flush and commit at most this often (and on every revoke and at the end); default
        1 s, or ``transaction_every_s`` in exactly-once mode.
    max_batch
        Records taken from the consumer's queue per round.
    assignment_strategy
        An eager one (``range``, ``roundrobin``) or ``cooperative-sticky``; both are
        handled. The default is eager: on the embedded broker a cooperative rebalance never
        finished (the joining member got no partitions, even after the other one left).

    Clients are created by :meth:`run`, so building a worker touches no broker:

    >>> worker = FastWorker(Settings(topic_prefix="demo"))
    >>> worker.group_id, worker.topics
    ('demo-scorer', ('demo.courier.events', 'demo.postal.events', 'demo.passenger.events'))
    """

    def __init__(
        self,
        settings: Settings,
        scoring: ScoringService | None = None,
        commit_every_s: float | None = None,
        max_batch: int = MAX_BATCH,
        assignment_strategy: str = "range",
    ) -> None:
        self.settings = settings
        self.scoring = scoring
        self.exactly_once = settings.processing_guarantee == "exactly_once"
        if commit_every_s is None:
            commit_every_s = settings.transaction_every_s if self.exactly_once else COMMIT_EVERY_S
        self.commit_every_s = commit_every_s
        self.max_batch = max_batch
        self.assignment_strategy = assignment_strategy
        topology = Topology.from_settings(settings)
        self.topics = tuple(topology.events(stream) for stream in STREAMS)
        self.group_id = f"{settings.topic_prefix}-scorer"  # faust's app id is its group id
        self.scored_total = 0
        self.ledger = ProcessedOffsets()
        self.owned: set[Partition] = set()
        self.watch = BrokerWatch(settings, "scorer")
        self._stop = threading.Event()
        self._outages_seen = 0  # outages of the watch that the ledger has been cleared for
        self._failed_deliveries = 0
        self._in_transaction = False
        self._producer: Producer | None = None
        self._abandoned: list[Producer] = []  # stuck in a call: kept alive, never used
        self._consumer: Consumer | None = None

    def stop(self) -> None:
        """Ask :meth:`run` to commit what it scored and return (safe from any thread)."""
        self._stop.set()

    # -- the loop --------------------------------------------------------------------------

    def run(self, duration_s: float | None = None) -> int:
        """Score until stopped (or ``duration_s``); return the number of records scored."""
        if self.exactly_once:
            # refuses a broker without real transactions
            check_transactions(self.settings, "scorer")
        scoring = self.scoring or build_scoring_service(self.settings)
        self.scoring = scoring
        watch = self.watch.start()
        follower = SnapshotFollower(
            self.settings,
            on_model=self._use_model,
            on_refused=metrics.record_refused_snapshot,
            client_settings=watch.client_settings(),
        )
        if not follower.start(wait_s=10.0):
            log.warning(
                "models topic not read to its end within 10 s; scoring with %s",
                scoring.model.version,
            )
        producer = self._producer = self._new_producer()
        consumer = Consumer(scorer_consumer_config(
            self.settings, self.group_id, self.assignment_strategy, **watch.client_settings()))
        self._consumer = consumer
        self._subscribe(consumer)
        deadline = None if duration_s is None else time.monotonic() + duration_s
        last_commit = last_lag = time.monotonic()
        try:
            while not self._stop.is_set() and (deadline is None or time.monotonic() < deadline):
                if watch.take_rejoin():
                    self._rejoin(consumer)
                first = consumer.poll(POLL_S)
                if first is not None:
                    more = consumer.consume(self.max_batch - 1, 0)  # what is already fetched
                producer = self._producer or producer  # a revoke in there may replace it
                if first is not None:
                    self._score(scoring, producer, [first, *more])
                producer.poll(0)  # serve delivery failures and keep the queue moving
                now = time.monotonic()
                if now - last_commit >= self.commit_every_s:
                    self._commit(consumer)
                    last_commit = now
                    producer = self._producer or producer  # replaced if it was stuck
                if now - last_lag >= LAG_EVERY_S:
                    self._record_lag(consumer)
                    last_lag = now
        except KeyboardInterrupt:
            pass
        finally:
            try:
                self._commit(consumer)
            finally:
                consumer.close()  # leaves the group: the others rebalance at once
                follower.stop()
                (self._producer or producer).flush(FLUSH_TIMEOUT_S)
                watch.stop()
        return self.scored_total

    def _new_producer(self) -> Producer:
        overrides = {
            **self.watch.client_settings(),
            # only failures call back: no Python call per delivered record
            "delivery.report.only.error": True,
            "on_delivery": self._on_delivery,
        }
        if self.exactly_once:
            return transactional_producer(self.settings, "scorer", **overrides)
        return Producer(producer_config(self.settings, **overrides))

    def _subscribe(self, consumer: Consumer) -> None:
        consumer.subscribe(
            list(self.topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def _rejoin(self, consumer: Consumer) -> None:
        """Leave the group and join again: a group that formed while the events topics were
        missing would otherwise never read them."""
        log.warning("joining the consumer group again after broker trouble")
        consumer.unsubscribe()
        self._subscribe(consumer)

    def _score(self, scoring: ScoringService, producer: Producer, batch: list[Message]) -> None:
        # Outputs are handed to librdkafka in groups (up to OUTPUT_GROUP), not one by one:
        # trickled out, nearly every record found its partition's queue empty and woke the
        # client's broker thread, and every linger period sent a request of a record or two
        # (a backlog cost the broker 4x the CPU, and the worker 20% more). A record's outputs
        # wait at most for the group; on a caught-up worker a group is a record or two.
        outbound: list[Outbound] = []
        try:
            self._score_into(scoring, producer, batch, outbound)
        finally:  # what was scored is in the ledger: its outputs go before any commit
            self._produce_all(producer, outbound)

    def _score_into(
        self, scoring: ScoringService, producer: Producer, batch: list[Message],
        outbound: list[Outbound],
    ) -> None:
        ledger, owned = self.ledger, self.owned
        for message in batch:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self.watch.on_error(error)  # e.g. a topic the broker lost: logged once
                continue
            # never None on a record without error; `or` only narrows the types
            topic = message.topic() or ""
            partition = message.partition() or 0
            offset = message.offset() or 0
            if (topic, partition) not in owned:
                # fetched before a revoke that ran inside this consume(): the new owner
                # reads it from the committed offset, so scoring it here would duplicate it
                continue
            if self.exactly_once and not self._in_transaction:
                producer.begin_transaction()
                self._in_transaction = True
            started = time.perf_counter()
            result = scoring.process(topic, partition, offset, message.key(), message.value())
            outbound.extend(result.outbound)
            kind, stamp = message.timestamp()
            arrived = None if kind == TIMESTAMP_NOT_AVAILABLE else stamp / 1000.0
            metrics.record_scoring(result, time.perf_counter() - started, arrived)
            ledger.processed(topic, partition, offset)
            self.scored_total += 1
            if len(outbound) >= OUTPUT_GROUP:
                self._produce_all(producer, outbound)

    def _produce_all(self, producer: Producer, outbound: list[Outbound]) -> None:
        """Hand ``outbound`` to the producer, in order, and empty it."""
        for out in outbound:
            while True:
                try:
                    producer.produce(out.topic, out.value, key=out.key)
                    break
                except BufferError:  # local queue full: let librdkafka send, then retry
                    producer.poll(0.05)
        outbound.clear()

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failed_deliveries += 1
            if self._failed_deliveries == 1:  # the next commit reports how many
                log.error("output to %s not delivered: %s", message.topic(), error)

    # -- commits and rebalances ------------------------------------------------------------

    def _commit(self, consumer: Consumer, only: list[Partition] | None = None) -> bool:
        """Commit what was scored once its output is acknowledged; False if not committed."""
        if self.exactly_once:
            return self._commit_transaction(consumer)
        if self._read_before_an_outage():
            return False
        if self.watch.unreachable:  # nothing can be acknowledged now; try again later
            if only is not None:
                self.ledger.forget(only)  # revoked: the next owner re-reads them
            return False
        offsets = self.ledger.to_commit(only)
        if not offsets or self._producer is None:
            return True
        remaining = self._producer.flush(FLUSH_TIMEOUT_S)
        if self._read_before_an_outage():  # the broker went away during the flush
            return False
        if remaining or self._failed_deliveries:
            log.error(
                "%d outputs not acknowledged, %d failed: not committing; re-reading from the "
                "last commit", remaining, self._failed_deliveries,
            )
            self._failed_deliveries = 0
            if only is None:
                self._rewind(consumer)
            else:
                self.ledger.forget(only)  # revoked: the next owner re-reads them
            return False
        started = time.perf_counter()
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        except KafkaException as exc:  # e.g. fenced by a rebalance: the next owner re-reads
            log.warning("offset commit failed, records may be scored again: %s", exc)
            return False
        metrics.record_commit(time.perf_counter() - started)
        self.ledger.committed(offsets)
        return True

    def _commit_transaction(self, consumer: Consumer) -> bool:
        """Commit the open transaction: the outputs and the input offsets of everything it
        read (on a partial revoke too: all of it was scored). False if nothing committed."""
        producer = self._producer
        if not self._in_transaction or producer is None:
            return True
        if self.watch.unreachable:
            # librdkafka holds the outputs; a transaction that outlives its timeout is
            # aborted by the broker, and the commit below then fails and rewinds
            return False
        offsets = [TopicPartition(t, p, o) for (t, p), o in self.ledger.to_commit().items()]
        started = time.perf_counter()
        try:
            commit(producer, offsets, consumer.consumer_group_metadata(),
                   self.settings.transaction_timeout_s)
        except KafkaException as exc:
            self._abort_transaction(consumer, exc)
            return False
        except TransactionStuck as exc:
            self._replace_producer(consumer, exc)
            return False
        self._in_transaction = False
        took = time.perf_counter() - started
        if took > SLOW_COMMIT_S:  # a coordinator moving, typically; verdicts waited this long
            log.warning("transaction commit took %.1f s", took)
        metrics.record_commit(took)
        metrics.record_transaction("committed")
        self.ledger.committed()
        self._failed_deliveries = 0
        return True

    def _abort_transaction(self, consumer: Consumer, cause: KafkaException | None) -> None:
        """Abort the open transaction and read its records again; stop if fenced."""
        producer, error = self._producer, None if cause is None else cause.args[0]
        if error is not None and error.fatal():
            # another process took this transactional id (or the producer is unusable):
            # whatever this one does now would be a zombie's write
            log.error("transactional producer fenced, stopping: %s", error.str())
            raise cause  # type: ignore[misc]
        log.warning("transaction aborted, its records are scored again: %s",
                    "partitions lost" if error is None else error.str())
        if producer is not None:
            try:
                producer.abort_transaction(FLUSH_TIMEOUT_S)
            except KafkaException as exc:
                if exc.args[0].fatal():
                    log.error("transactional producer fenced, stopping: %s", exc)
                    raise
                log.warning("abort failed (%s); the broker aborts it on timeout", exc)
        self._in_transaction = False
        self._failed_deliveries = 0
        metrics.record_transaction("aborted")
        self._rewind(consumer)

    def _replace_producer(self, consumer: Consumer, cause: TransactionStuck) -> None:
        """Give up on a producer stuck in a transaction call: a new one with the same
        transactional id fences it and aborts its transaction; read those records again."""
        log.warning("%s; replacing the producer (its transaction is aborted), the records "
                    "are scored again", cause)
        if self._producer is not None:  # freeing it mid-call would crash the process
            self._abandoned.append(self._producer)
        self._producer = self._new_producer()
        self._in_transaction = False
        self._failed_deliveries = 0
        metrics.record_transaction("aborted")
        self._rewind(consumer)

    def _read_before_an_outage(self) -> bool:
        """True, and the ledger forgotten, if every broker was unreachable since the ledger
        was last emptied.

        The broker may have come back without the log these offsets belong to (the
        embedded one keeps logs in memory); committing them, or seeking to them, on a new
        log would skip its first records. Not committing them only means reading them
        again if their partitions move (at-least-once).
        """
        if self._outages_seen == self.watch.outages:
            return False
        self._outages_seen = self.watch.outages
        self.ledger.forget()
        self._failed_deliveries = 0  # outputs of those records: re-read after the re-join
        return True

    def _rewind(self, consumer: Consumer) -> None:
        points = self.ledger.rewind_points()
        if self.exactly_once:
            points = self._past_committed(consumer, points)
        for (topic, partition), offset in points.items():
            try:
                consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                log.warning("cannot rewind %s[%d] to %d: %s", topic, partition, offset, exc)
        self.ledger.forget()

    def _past_committed(
        self, consumer: Consumer, points: dict[Partition, int]
    ) -> dict[Partition, int]:
        """Rewind points, moved past the group's committed offsets: a commit that timed out
        or got stuck may still have gone through (seen in a rolling restart), and its
        records must not be scored, and written, a second time."""
        try:
            committed = consumer.committed(
                [TopicPartition(t, p) for t, p in points], timeout=COMMITTED_TIMEOUT_S)
        except KafkaException as exc:
            log.warning("committed offsets unreadable (%s); rewinding to the last known", exc)
            return points
        moved = dict(points)
        for tp in committed:
            key = (tp.topic or "", tp.partition)
            if tp.error is None and tp.offset > moved.get(key, -1):
                moved[key] = tp.offset
        return moved

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if partitions and self.scoring is not None:
            # Records scored but not committed by the partitions' last owner (killed, or
            # this process before a restart) come again: they get the decisions published
            # for them (the tail of the scored topic), not ones from this worker's window.
            remember_recent_decisions(self.settings, self.scoring.policy, self.scoring.codec)
        self.owned.update((tp.topic, tp.partition) for tp in partitions)
        metrics.record_rebalance()
        log.info("scoring %s", sorted((tp.topic, tp.partition) for tp in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Runs inside poll(), between batches: everything scored is in the ledger.
        revoked = [(tp.topic or "", tp.partition) for tp in partitions]
        log.info("handing over %s", sorted(revoked))
        self._commit(consumer, revoked)
        self.owned.difference_update(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        metrics.record_rebalance()
        log.warning("partitions lost without a clean revoke; their new owner re-reads them")
        lost = [(tp.topic or "", tp.partition) for tp in partitions]
        self.ledger.forget(lost)
        self.owned.difference_update(lost)
        if self._in_transaction:  # its offsets can no longer be committed by this member
            self._abort_transaction(consumer, None)

    def _use_model(self, meta: dict[str, Any], model: Any) -> None:
        scoring = self.scoring
        if scoring is None:
            return
        # the model, the random share (raised after a drift) and the green lane's caps
        scoring.apply_snapshot(meta, model)
        metrics.record_model_swap(meta)
        log.info("scoring with model %s", meta.get("model_version"))

    def _record_lag(self, consumer: Consumer) -> None:
        """Lag from the watermarks the fetches brought back: no extra broker round trip."""
        lag = dict.fromkeys(self.topics, 0)
        try:
            for tp in consumer.position(consumer.assignment()):
                _, end = consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset >= 0 and end >= 0 and tp.topic in lag:
                    lag[tp.topic] += max(0, end - tp.offset)
        except KafkaException:  # mid-rebalance: the next round measures again
            return
        metrics.record_lag(lag)


def run_fast_worker(settings: Settings | None = None) -> int:
    """Run a fast scorer worker until SIGTERM or Ctrl-C; return the exit code (0).

    ``riskstream worker --engine fast`` exits with it, as ``riskstream demo`` does with
    ``run_demo``'s.
    """
    settings = settings or Settings()
    settings.check_production()
    metrics.describe_build()
    metrics.preinitialise(random_share=settings.random_share)
    metrics.serve(settings.metrics_port, settings.metrics_addr)
    worker = FastWorker(settings)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: worker.stop())
    scored = worker.run()
    log.info("fast worker stopped after scoring %d records", scored)
    return 0


if __name__ == "__main__":
    _settings = Settings()
    _level = {"warn": "WARNING"}.get(_settings.log_level, _settings.log_level.upper())
    logging.basicConfig(level=_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(run_fast_worker(_settings))
