"""Memory and speed of the learner's PendingStore with a million realistic scored records.

Run from the repository root (about a minute)::

    .venv/bin/python -m bench.pending_memory [--records 1000000] [--seed 7]

A few thousand events of the simulated hubs are pseudonymised, scored by a RiskModel that
learns as it goes (so sub-scores look like a trained model's), selected by the policy and
round-tripped through the ScoredRecord Avro schema, exactly as the learner decodes them.
Those records are then put into one store a million times over, each time with the next
event id in the simulator's format and a later decision time. Memory is the larger of the
store's own account (``memory_bytes()``: numpy columns, index, arena pages, interning) and
the growth of the process's resident set. tracemalloc slows every allocation sixfold, so it
cross-checks ``memory_bytes()`` on a smaller store instead (``tracemalloc_over_estimate``
near 1 means the account is complete). Prints one JSON object; ``met`` says whether the
million records fit in 256 MiB.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from learning.pending import PendingStore
from learning.testing import scored_record
from schemas import AvroCodec, Pseudonymiser
from scorers.model import RiskModel
from scorers.selection import SelectionPolicy
from simulator.world import HubWorld

TARGET_BYTES = 256 * 1024 * 1024
SCHEMAS = {"courier": "CourierConsignment", "postal": "PostalItem",
           "passenger": "PassengerRecord"}
_FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def rss_bytes() -> int:
    """Resident set size now (Linux), else the peak so far."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except OSError:  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def realistic_records(seed: int, seconds: float) -> list[dict[str, Any]]:
    """Scored records of ``seconds`` of simulated traffic, as the learner decodes them."""
    world = HubWorld(seed=seed)
    pseudonymiser = Pseudonymiser(b"bench-key-not-a-real-secret-0001")
    model = RiskModel(seed=seed)
    policy = SelectionPolicy(window=500, seed=seed)
    codec = AvroCodec()
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    rng = random.Random(seed)
    out = []
    for event in world.events(start, seconds):
        record = pseudonymiser.apply(SCHEMAS[event.stream], event.record)
        decided_at = record["event_time"] + timedelta(milliseconds=rng.randint(5, 900))
        scored = scored_record(model, policy, event.stream, record, decided_at)
        if scored["level"] != "release" or rng.random() < 0.05:
            model.learn_outcome(event.stream, scored["features"], scored["entities"],
                                scored["sub_scores"], event.truth.illicit)
        payload = codec.encode("ScoredRecord", scored)
        out.append(codec.decode("ScoredRecord", payload, now=_FAR_FUTURE))
    return out


def variant(base: dict[str, Any], i: int, seed: int, start: datetime) -> dict[str, Any]:
    """The i-th record: a base record under the next event id, decided a little later."""
    return {
        **base,
        "event_id": f"{base['stream']}-{seed}-{i:09d}",
        "decided_at": start + timedelta(milliseconds=37 * i),
    }


def fill(
    bases: list[dict[str, Any]], seed: int, n: int, traced: bool
) -> tuple[PendingStore, int, float]:
    """A store of ``n`` records: the store, the bytes it grew by, puts per second.

    The growth is what tracemalloc saw (``traced``) or the growth of the resident set.
    """
    start = bases[0]["decided_at"]
    store = PendingStore(max_records=1 << 20)
    gc.collect()
    if traced:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if traced else rss_bytes()
    began = time.perf_counter()
    for i in range(n):
        store.put(variant(bases[i % len(bases)], i, seed, start))
    seconds = time.perf_counter() - began
    gc.collect()
    grown = (tracemalloc.get_traced_memory()[0] if traced else rss_bytes()) - before
    if traced:
        tracemalloc.stop()
    return store, grown, n / seconds


def pop_rate(store: PendingStore, bases: list[dict[str, Any]], seed: int, n: int) -> float:
    """Pops per second of a quarter of the records, in random order."""
    start = bases[0]["decided_at"]
    ids = [
        variant(bases[i % len(bases)], i, seed, start)["event_id"]
        for i in random.Random(seed).sample(range(n), n // 4)
    ]
    began = time.perf_counter()
    popped = sum(store.pop(event_id) is not None for event_id in ids)
    seconds = time.perf_counter() - began
    assert popped == len(ids), "a record put was not found again"
    return len(ids) / seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--traced-records", type=int, default=50_000,
                        help="records of the (slow) tracemalloc cross-check")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sim-seconds", type=float, default=40.0,
                        help="simulated traffic the base records come from")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    bases = realistic_records(args.seed, args.sim_seconds)
    # the cross-check: does memory_bytes() account for what tracemalloc sees?
    sample, traced, _ = fill(bases, args.seed, args.traced_records, traced=True)
    traced_ratio = traced / sample.memory_bytes()
    del sample
    store, rss_delta, puts = fill(bases, args.seed, args.records, traced=False)
    assert len(store) == args.records, "records were evicted: raise max_records"
    estimate = store.memory_bytes()
    pops = pop_rate(store, bases, args.seed, args.records)
    measured = max(estimate, rss_delta)
    report = {
        "records": args.records,
        "bytes": measured,
        "bytes_per_record": round(measured / args.records, 1),
        "target_bytes": TARGET_BYTES,
        "met": measured <= TARGET_BYTES,
        "store_memory_bytes": estimate,
        "rss_delta_bytes": rss_delta,
        "tracemalloc_over_estimate": round(traced_ratio, 3),
        "features_per_record": round(sum(len(b["features"]) for b in bases) / len(bases), 1),
        "base_records": len(bases),
        "put_per_s": round(puts),
        "pop_per_s": round(pops),
        "seconds": round(time.perf_counter() - began, 1),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    sys.exit(0 if main()["met"] else 1)
