"""No personal value leaves riskstream in clear text: topics, snapshots, logs and metrics.

Events with known personal values (names, addresses, phones, document numbers, personal
ids) go through a live worker and learner; then every output is scanned for them, dead
letters whole: their raw payload (kept for repair) is sealed by default.
"""

from __future__ import annotations

import pickle
import re
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from test_learning_loop import model_snapshots, wait_for

from learning.snapshot import Reassembler, unseal
from schemas import AvroCodec
from simulator import HubWorld, personal_values
from streams.broker import free_port
from streams.testing import Deployment
from streams.topology import STREAM_SCHEMAS

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

HUBS = {"courier": "hub_LEJ", "postal": "hub_FRA", "passenger": "hub_MUC"}

Trie = dict[int | None, "Trie"]  # a byte, or None where a word ends


def trie_pattern(words: Iterable[bytes]) -> re.Pattern[bytes]:
    """A regex that matches where any of ``words`` starts: their trie as nested groups.

    One search over the 18 MB of pickled snapshots takes 0.05 s here; one ``in`` per word
    (3,500 of them) took 17 s. A branch ends at its shortest word (a longer word of the
    branch starts with it), so no match means exactly that no word occurs.
    """
    trie: Trie = {}
    for word in words:
        node = trie
        for byte in word:
            node = node.setdefault(byte, {})
        node[None] = {}

    def branch(node: Trie) -> bytes:
        if None in node:
            return b""
        options = [re.escape(bytes([byte])) + branch(child)
                   for byte, child in sorted(node.items()) if byte is not None]
        return options[0] if len(options) == 1 else b"(?:" + b"|".join(options) + b")"

    return re.compile(branch(trie), re.DOTALL)


def test_personal_values_never_appear_in_clear_text(deployment: Deployment) -> None:
    codec = AvroCodec()
    world = HubWorld(seed=31)
    producer = deployment.producer()
    secrets: set[str] = set()
    valid = 0
    for i in range(300):
        for stream, schema in STREAM_SCHEMAS.items():
            record = world.event(stream, HUBS[stream], datetime.now(UTC)).record
            secrets |= {v for v in personal_values(record, stream) if len(v) >= 5}
            if i % 50 == 0:  # invalid records go to the dead-letter topic, with a reason
                record = dict(record, hub="")
            else:
                valid += 1
            producer.produce(deployment.topology.events(stream), codec.encode(schema, record),
                             key=record["event_id"].encode())
    producer.flush(30)
    worker_port, learner_port = free_port(), free_port()
    with (
        deployment.process("learner", name="learner", RISKSTREAM_LOG_LEVEL="info",
                           RISKSTREAM_METRICS_PORT=str(learner_port),
                           RISKSTREAM_SNAPSHOT_EVERY_S="0.5",
                           RISKSTREAM_STATE_SNAPSHOT_EVERY_S="2"),
        deployment.process("worker", name="worker", RISKSTREAM_LOG_LEVEL="info",
                           RISKSTREAM_METRICS_PORT=str(worker_port)),
    ):
        deployment.read_topic(deployment.topology.verdicts, until=valid, timeout_s=90)
        # the learner observes the scored records and publishes its state (every 2 s, and
        # once more after its input went quiet)
        waited = wait_for(lambda: any(meta["offsets"].get("scored", 0) >= valid
                                      for meta, _ in model_snapshots(deployment, kind="learner")),
                          60)
        exposition = b"".join(
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            for port in (worker_port, learner_port)
        )

    found: dict[str, bytes] = {"metrics": exposition}
    for name in ("verdicts", "scored", "learning"):
        topic = getattr(deployment.topology, name)
        found[name] = b"".join(m.value() or b"" for m in deployment.read_topic(topic))
    letters = [codec.decode("DeadLetter", m.value())
               for m in deployment.read_topic(deployment.topology.deadletter)]
    assert letters, "the invalid records were dead-lettered"
    assert {letter["raw_payload_protection"] for letter in letters} == {"sealed"}
    found["deadletter"] = b"".join(
        m.value() or b"" for m in deployment.read_topic(deployment.topology.deadletter)
    )
    key = deployment.settings.snapshot_key.get_secret_value().encode()
    assembler, newest = Reassembler(), {}
    for message in deployment.read_topic(deployment.topology.models):
        blob = assembler.add(message.value() or b"")
        if blob is not None:  # keep the newest model and the newest learner state
            newest[(message.key() or b"").decode().split("/")[0]] = blob
    assert set(newest) == {"model", "learner"}, "model and learner state snapshots published"
    found["snapshots"] = b"".join(pickle.dumps(unseal(blob, key)[1]) for blob in newest.values())
    found["logs"] = b"".join(path.read_bytes() for path in deployment.workdir.glob("*.log"))
    assert b"rejected" in found["logs"], "the logs do say what was rejected"

    anywhere = trie_pattern(s.encode() for s in secrets)
    leaks = {where: sorted(s for s in secrets if s.encode() in blob)[:3]
             for where, blob in found.items() if anywhere.search(blob)}
    print(f"learner state covered the feed {waited:.1f} s after its verdicts; "
          f"scanned {len(secrets)} personal values in "
          f"{ {k: len(v) for k, v in found.items()} } bytes")
    assert not any(leaks.values()), f"personal values in clear text: {leaks}"
