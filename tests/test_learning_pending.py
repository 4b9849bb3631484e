"""PendingStore: a bounded, exact, picklable map of records waiting by event id."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from learning.pending import PendingStore
from learning.testing import learner_feed

AT = datetime(2026, 1, 5, 9, tzinfo=UTC)
TARGET_BYTES = 256 * 1024 * 1024


def record(i: int, minutes: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"courier-7-{i:09d}", "score": i / 1000,
            "decided_at": AT + timedelta(minutes=minutes), **extra}


def test_put_pop_contains_and_duplicates() -> None:
    store = PendingStore()
    assert store.put(record(1)) and store.put(record(2))
    assert not store.put(record(1, score=0.9))  # first one wins
    assert len(store) == 2 and "courier-7-000000001" in store and "nope" not in store
    assert store.pop("courier-7-000000001") == record(1)
    assert store.pop("courier-7-000000001") is None
    assert (store.puts_total, store.duplicates_total, store.popped_total) == (2, 1, 1)


def test_expire_is_oldest_first_never_early_and_counted() -> None:
    store = PendingStore(ttl_seconds=3600.0)
    for i in range(10):
        store.put(record(i, minutes=10 * i + 0.5))
    assert store.expire(AT + timedelta(minutes=60)) == 0
    # record 2 was decided at 20.5 min: an hour later, at 80.5 min, it is due, not before
    assert store.expire(AT + timedelta(minutes=80, seconds=29)) == 2
    assert store.expire(AT + timedelta(minutes=80, seconds=31)) == 1
    assert store.expired_total == 3 and len(store) == 7
    assert store.ids()[0] == "courier-7-000000003"


def test_a_late_record_holds_back_younger_ones_behind_it() -> None:
    store = PendingStore(ttl_seconds=60.0)
    store.put(record(1, minutes=30))
    store.put(record(2, minutes=0))
    assert store.expire(AT + timedelta(minutes=20)) == 0  # insertion order decides
    assert store.expire(AT + timedelta(minutes=40)) == 2


def test_capacity_evicts_the_oldest_and_counts_it() -> None:
    store = PendingStore(initial_records=2, max_records=8)
    for i in range(20):
        store.put(record(i))
    assert len(store) == 8 and store.evicted_total == 12 and store.capacity == 8
    assert store.ids() == [f"courier-7-{i:09d}" for i in range(12, 20)]


def test_arena_bound_evicts_the_oldest_and_caps_memory() -> None:
    store = PendingStore(page_bytes=1024, max_arena_bytes=4096)
    padding = "y" * 100
    for i in range(500):
        store.put(record(i, note=f"{padding}{i}"))
    breakdown = store.memory_breakdown()
    assert breakdown["arena"] - 4096 < 512  # pages, plus the dict holding them
    assert store.evicted_total > 400 and len(store) + store.evicted_total == 500
    assert all(store.pop(event_id) is not None for event_id in store.ids())


def test_records_larger_than_a_page_are_refused_clearly() -> None:
    store = PendingStore(page_bytes=256, max_arena_bytes=1024)
    with pytest.raises(ValueError, match="event courier-7-000000001: packed record of"):
        store.put(record(1, note="z" * 400))


@pytest.mark.parametrize("ttl", [0, -1.0, "1h"])
def test_invalid_settings_are_refused(ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        PendingStore(ttl_seconds=ttl)
    with pytest.raises(ValueError, match="power of two"):
        PendingStore(max_records=1000)


def test_random_operations_match_a_dict_and_survive_pickling() -> None:
    """Model-based: tiny initial ring (many growths and index rebuilds), heavy deletion."""
    rng = random.Random(5)
    store = PendingStore(ttl_seconds=600.0, initial_records=4, max_records=1 << 12)
    reference: dict[str, dict[str, Any]] = {}
    clock = 0.0
    for step in range(12_000):
        action = rng.random()
        if action < 0.55:
            i = rng.randrange(40_000)
            clock += rng.random()
            item = record(i, minutes=clock / 60, score=rng.random())
            fresh = item["event_id"] not in reference
            assert store.put(item) is fresh
            if fresh:
                reference[item["event_id"]] = item
        elif action < 0.95:
            i = rng.randrange(40_000)
            key = f"courier-7-{i:09d}"
            assert store.pop(key) == reference.pop(key, None)
        else:
            store.expire(AT + timedelta(seconds=clock))
            cutoff = clock - 600.0
            # insertion order is time order here, so the oldest ones went
            reference = {k: v for k, v in reference.items()
                         if (v["decided_at"] - AT).total_seconds() >= cutoff - 1}
            assert set(store.ids()) <= set(reference)
            reference = {k: reference[k] for k in store.ids()}
        if step == 6_000:
            store = pickle.loads(pickle.dumps(store))
    assert store.evicted_total == 0
    assert store.ids() == list(reference) and len(store) == len(reference)
    assert all(store.pop(k) == v for k, v in reference.items())
    assert len(store) == 0


def test_pickled_store_continues_exactly_like_the_original() -> None:
    a = PendingStore(initial_records=8)
    for i in range(300):
        a.put(record(i, minutes=i))
    b = pickle.loads(pickle.dumps(a))
    for store in (a, b):
        for i in range(0, 300, 3):
            store.pop(f"courier-7-{i:09d}")
        for i in range(300, 400):
            store.put(record(i, minutes=i))
        store.expire(AT + timedelta(days=7, minutes=150))
    assert a.ids() == b.ids()
    assert (a.expired_total, a.popped_total, len(a)) == (b.expired_total, b.popped_total, len(b))


def test_memory_for_a_million_records_extrapolates_under_256_mib() -> None:
    """20,000 realistic scored records: arena bytes per record plus the ring and index of a
    million-record store (28 bytes per slot, 2**20 slots) and the bounded interning."""
    scored = [r for topic, r in learner_feed(1_000, seed=9) if topic == "scored"]
    store = PendingStore()
    for i in range(20_000):
        base = scored[i % len(scored)]
        store.put({**base, "event_id": f"{base['stream']}-9-{i:09d}",
                   "decided_at": AT + timedelta(milliseconds=37 * i)})
    parts = store.memory_breakdown()
    per_slot = (parts["ring"] + parts["index"]) / store.capacity
    assert per_slot == 28
    million = parts["arena"] / 20_000 * 1_000_000 + per_slot * (1 << 20) + parts["interning"]
    assert parts["interning"] < 4 * 1024 * 1024
    assert million < TARGET_BYTES, f"{million / 2**20:.0f} MiB"
