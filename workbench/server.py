"""``riskstream workbench``: the case store, the Kafka bridge, the outbox publisher and the
web application in one process, served by waitress until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, Producer
from sqlalchemy import Engine

from schemas import AvroCodec
from streams import metrics
from streams.kafka_config import consumer_config, producer_config
from streams.registry import registry_for
from streams.settings import Settings
from streams.topology import Topology
from workbench.bridge import VerdictBridge
from workbench.cases import open_by_hub
from workbench.database import connect, migrate
from workbench.ingest import Ingested
from workbench.officers import known_hubs
from workbench.outbox import OutboxPublisher, end_offsets, pending
from workbench.settings import WorkbenchSettings
from workbench.web import create_app

log = logging.getLogger(__name__)


def _count(report: Ingested) -> None:
    for hub in report.opened:
        metrics.record_case_opened(hub)
    for hub, result, decided_at, closed_at in report.closed:
        metrics.record_case_closed(hub, result, "elsewhere", decided_at, closed_at)


def _open_by_hub(engine: Engine) -> dict[str, tuple[int, float]]:
    now = time.time()
    return {hub: (count, oldest.timestamp() if oldest else now)
            for hub, (count, oldest) in open_by_hub(engine).items()}


def run_workbench(settings: Settings, workbench: WorkbenchSettings) -> None:
    """Serve the workbench until stopped; refuses development secrets in production."""
    settings.check_production()
    workbench.check_production(settings.mode)
    engine = connect(workbench.database_url.get_secret_value())
    log.info("case store at migration %s", migrate(engine))
    topology = Topology.from_settings(settings)
    codec = AvroCodec(registry_for(settings))

    metrics.describe_build()
    metrics.preinitialise_workbench(known_hubs(engine), lambda: _open_by_hub(engine),
                                    lambda: pending(engine))
    metrics.serve(settings.metrics_port, settings.metrics_addr)

    group = f"{settings.topic_prefix}-workbench"
    bridge = VerdictBridge(engine, Consumer(consumer_config(settings, group)), codec,
                           topology.verdicts, topology.outcomes, on_batch=_count)
    probe = Consumer(consumer_config(settings, f"{group}-probe"))
    publisher = OutboxPublisher(
        engine, Producer(producer_config(settings)), codec, topology.outcomes,
        offsets=lambda: dict(bridge.position),
        watermarks=lambda: end_offsets(probe, topology.outcomes),
    )
    stop = threading.Event()
    threads = [threading.Thread(target=bridge.run, args=(stop,), name="bridge", daemon=True),
               threading.Thread(target=publisher.run, args=(stop,), name="outbox", daemon=True)]
    for thread in threads:
        thread.start()

    from waitress import create_server

    app = create_app(engine, workbench, production=settings.mode == "production",
                     on_recorded=publisher.wake.set)
    server: Any = create_server(app, host=workbench.addr, port=workbench.port,
                                threads=workbench.threads, ident="riskstream-workbench")
    host, port = server.effective_host, server.effective_port
    # one line for people and for the tests and demo that wait for it
    print(f"workbench serving on http://{host}:{port} ({datetime.now(UTC):%H:%M:%S} UTC)",
          flush=True)

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # waitress's loop ends on it and shuts its threads down

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()  # returns, closed, on KeyboardInterrupt
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        probe.close()
        engine.dispose()
