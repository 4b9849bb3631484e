"""Reading a topic to its end while others keep writing it (streams.reading), on each broker.

A reader that waits for the end-of-partition event chases a log that others write: the
learner reading its newest state, or an operator opening the dead letters during a flood of
bad input, would read until the timeout. Reads stop at the ends the log had when they began.
"""

from __future__ import annotations

import threading
import time

import pytest

from learning.snapshot import seal, unseal
from streams.snapshots import publish, read_newest
from streams.testing import Deployment

pytestmark = [pytest.mark.kafka, pytest.mark.both_brokers]

TIMEOUT_S = 30.0


def test_the_newest_snapshot_is_read_while_others_write_the_topic(
    deployment: Deployment,
) -> None:
    settings = deployment.settings
    topic = deployment.topology.models
    key = settings.snapshot_key.get_secret_value().encode()
    producer = deployment.producer()
    for version in range(3):
        publish(producer, settings, "learner", seal({"version": version}, key))
    stop = threading.Event()
    written = [0]

    def keep_writing() -> None:  # another kind of record, as fast as the broker takes it
        writer = deployment.producer()
        while not stop.is_set():
            writer.produce(topic, b"z" * 200, key=b"other/0")
            writer.poll(0)
            written[0] += 1
            time.sleep(0.001)
        writer.flush(30)

    thread = threading.Thread(target=keep_writing, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # the writer is under way
        started = time.monotonic()
        newest = read_newest(settings, "learner", timeout_s=TIMEOUT_S)
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(30)
    print(f"read the newest of 3 snapshots in {took:.2f} s while {written[0]} other records "
          "were written")
    assert newest is not None
    assert unseal(newest, key)[1] == {"version": 2}, "the newest snapshot, whole"
    assert took < TIMEOUT_S / 3, "stopped at the end it began with, not at the timeout"
