"""Scale-out under load on Apache Kafka: three fast scorers in one group over the 12 events
partitions (4 per stream), then, three times: a fourth joins, and one of the others is
killed with SIGKILL (3 -> 4 -> 3 workers).

The group uses the KIP-848 protocol (``group.protocol=consumer``: the broker assigns, and
a member's partitions move without stopping the others); each test prints it. Then, read
back: every acknowledged event has a verdict and a scored record, any duplicate carries
the same decision (at-least-once), and in exactly-once mode the ``read_committed`` verdicts
hold no duplicate at all.
"""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest
from test_apache_kafka_durability import AckedFeed
from test_apache_kafka_failover import ROUNDS, Run, check_nothing_lost, scoring_goes_on

from streams.broker import ApacheKafkaCluster, free_port
from streams.testing import new_deployment

pytestmark = [pytest.mark.apache_kafka, pytest.mark.slow]

RATE = 100  # events per second, over the three streams
# each step reads verdicts on for a second after the last one it waited for, as it always
# did: the paces of joins and kills under KIP-848 stay those this test was written with
GRACE_S = 1.0
PROTOCOL = "consumer"  # KIP-848; confluent-kafka 2.16 supports it, Apache Kafka 4.x serves it


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_three_to_four_to_three_scorers_lose_nothing(
    apache_kafka: ApacheKafkaCluster, tmp_path: Path, guarantee: str
) -> None:
    deployment = new_deployment(apache_kafka.bootstrap, tmp_path)
    env = {"RISKSTREAM_PROCESSING_GUARANTEE": guarantee, "RISKSTREAM_GROUP_PROTOCOL": PROTOCOL}
    learner_port = free_port()
    feed = AckedFeed(deployment, RATE)
    with ExitStack() as stack:
        stack.enter_context(deployment.process(
            "learner", name="learner", RISKSTREAM_METRICS_PORT=str(learner_port),
            RISKSTREAM_PROCESSING_GUARANTEE=guarantee))
        started = 0

        def scorer(**extra: str) -> subprocess.Popen[bytes]:
            nonlocal started
            started += 1
            # a worker id of its own: one transactional id per scorer
            return stack.enter_context(deployment.process(
                "worker", "--engine", "fast", name=f"scorer{started}",
                RISKSTREAM_WORKER_ID=f"scorer{started}", **env, **extra))

        workers = [scorer(), scorer(), scorer()]
        feed.start()
        try:
            run = Run(deployment, feed, learner_port)
            # the group scores: whichever worker the broker gave which partitions to
            scoring_goes_on(run, first=True, grace_s=GRACE_S)
            for _ in range(ROUNDS):
                workers.append(scorer())
                run.mark(f"worker {started} joins")
                scoring_goes_on(run, grace_s=GRACE_S)
                victim = workers.pop(0)
                run.mark("a worker is SIGKILLed")
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait(10)
                scoring_goes_on(run, grace_s=GRACE_S)
                run.mark("scoring went on")
        finally:
            feed.stopping.set()
        alive = [w.poll() is None for w in workers]
        print(f"group.protocol={PROTOCOL}, {guarantee}, 3 -> 4 -> 3 workers x {ROUNDS}")
        check_nothing_lost(run, exactly_once=guarantee == "exactly_once")
        assert all(alive), f"a surviving worker died: {alive}"
