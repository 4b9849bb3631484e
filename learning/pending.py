"""Records waiting for their counterpart, by event id, in bounded memory.

Scored records wait here for an inspection outcome that may come days later, or never. A
dict of dicts would take over a kilobyte per record; :class:`PendingStore` keeps a million
of them in about 230 MB (``bench/pending_memory.py``):

* **arena**: each record is packed by :class:`~learning.packing.RecordPacker` (about 200
  bytes) and appended to 1 MiB pages; a page is released once the oldest record still
  waiting lies beyond it;
* **ring**: one slot per record in insertion order, numpy columns for the id hash, the
  record's time (whole seconds, rounded up) and its place in the arena: 20 bytes;
* **index**: an open-addressing numpy table from id hash to slot, linear probing with
  backward-shift deletion and at most half full: 8 bytes per slot.

Records leave by ``pop`` (joined), by ``expire`` once their time is more than ``ttl_seconds``
before ``now`` (oldest first, in insertion order: one late record holds back the younger
ones behind it), or by eviction when ``max_records`` or ``max_arena_bytes`` is reached. Every
departure is counted. The ring starts at ``initial_records`` slots and doubles when full up
to ``max_records``; memory never grows past ``28 * max_records + max_arena_bytes`` plus the
bounded interning tables of the packer.

The store pickles whole (numpy arrays and pages as they are), so a learner snapshot restores
it exactly; nothing in it depends on the process (hashes are keyed BLAKE2b).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from learning.idset import id_hash
from learning.packing import RecordPacker

__all__ = ["PendingStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EMPTY = -1
_MAX_SECONDS = 2**32 - 1


def _seconds(at: Any, what: str) -> float:
    if not isinstance(at, datetime):
        raise ValueError(f"{what} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime; times must be timezone-aware UTC")
    return (at - _EPOCH).total_seconds()


def _whole_number(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


class PendingStore:
    """Packed records by event id, with a time to live and a memory bound.

    Parameters
    ----------
    ttl_seconds
        A record expires once its ``time_field`` is more than this before ``now``.
    time_field
        The record's timezone-aware time that ``expire`` compares (``decided_at`` for
        scored records, ``outcome_time`` for outcomes).
    initial_records
        Ring slots at the start (rounded up to a power of two); the ring doubles when full.
    max_records
        Ring slots at most (a power of two); beyond, the oldest record is evicted.
    page_bytes
        Size of one arena page; also the largest packed record accepted.
    max_arena_bytes
        Arena pages at most, in bytes; beyond, the oldest records are evicted.
    max_interned
        Distinct strings the packer interns at most.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> store = PendingStore(ttl_seconds=3600.0, max_records=4)
    >>> for i in range(6):
    ...     _ = store.put({"event_id": f"e{i}", "score": i / 10,
    ...                    "decided_at": at + timedelta(minutes=20 * i)})
    >>> len(store), store.evicted_total  # four slots: e0 and e1 made way
    (4, 2)
    >>> store.pop("e3")["score"], store.pop("e3"), store.put({"event_id": "e4",
    ...     "score": 0.0, "decided_at": at})
    (0.3, None, False)
    >>> store.expire(at + timedelta(hours=2)), store.ids()
    (1, ['e4', 'e5'])
    """

    def __init__(
        self,
        ttl_seconds: float = 7 * 86_400.0,
        time_field: str = "decided_at",
        initial_records: int = 1_024,
        max_records: int = 1 << 20,
        page_bytes: int = 1 << 20,
        max_arena_bytes: int = 256 << 20,
        max_interned: int = 65_536,
    ) -> None:
        if not isinstance(ttl_seconds, int | float) or not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be a positive number, got {ttl_seconds!r}")
        _whole_number("initial_records", initial_records, 1)
        _whole_number("max_records", max_records, 1)
        _whole_number("page_bytes", page_bytes, 256)
        _whole_number("max_arena_bytes", max_arena_bytes, page_bytes)
        if max_records & (max_records - 1):
            raise ValueError(f"max_records must be a power of two, got {max_records}")
        if max_records >= 1 << 31:
            raise ValueError(f"max_records must be below 2**31, got {max_records}")
        self.ttl_seconds = float(ttl_seconds)
        self.time_field = time_field
        self.initial_records = initial_records
        self.max_records = max_records
        self.page_bytes = page_bytes
        self.max_arena_bytes = max_arena_bytes
        self.max_interned = max_interned
        self._packer = RecordPacker(max_interned=max_interned)
        capacity = min(max_records, 1 << (initial_records - 1).bit_length())
        self._allocate(capacity)
        self._index = np.full(2 * capacity, _EMPTY, dtype=np.int32)
        self._head = 0  # insertion number of the next record
        self._tail = 0  # insertion number of the oldest slot still in the ring
        self._live = 0
        self._pages: dict[int, bytearray] = {}
        self._first_page = 0
        self._end = 0  # arena position (over all pages ever used) of the next record
        self.puts_total = 0
        self.duplicates_total = 0
        self.popped_total = 0
        self.expired_total = 0
        self.evicted_total = 0

    def _allocate(self, capacity: int) -> None:
        self._capacity = capacity
        self._hash = np.zeros(capacity, dtype=np.uint64)
        self._time = np.zeros(capacity, dtype=np.uint32)
        self._offset = np.full(capacity, _EMPTY, dtype=np.int64)

    # -- public API ------------------------------------------------------------------------

    def put(self, record: Mapping[str, Any]) -> bool:
        """Keep ``record`` until popped or expired; False (and counted) if its id waits already.

        Raises ``ValueError`` naming the event for a record that cannot be kept.
        """
        blob = self._packer.pack(record)
        event_id: str = record["event_id"]
        at = _seconds(record.get(self.time_field), f"event {event_id}: {self.time_field}")
        if len(blob) > self.page_bytes:
            raise ValueError(f"event {event_id}: packed record of {len(blob)} bytes exceeds "
                             f"the page size of {self.page_bytes} bytes")
        key = id_hash(event_id)
        if self._find(key, event_id) >= 0:
            self.duplicates_total += 1
            return False
        if self._head - self._tail >= self._capacity:
            if self._capacity < self.max_records:
                self._grow()
            else:
                self._evict_oldest()
        offset = self._write(blob)
        slot = self._head & (self._capacity - 1)
        self._hash[slot] = key
        self._time[slot] = min(_MAX_SECONDS, max(0, math.ceil(at)))
        self._offset[slot] = offset
        self._head += 1
        self._live += 1
        self._insert(key, slot)
        self._release_pages()  # an emptied ring leaves the page before this record unused
        self.puts_total += 1
        return True

    def pop(self, event_id: str) -> dict[str, Any] | None:
        """Remove and return the record of ``event_id``, or None if none waits."""
        cell = self._find(id_hash(event_id), event_id)
        if cell < 0:
            return None
        slot = int(self._index[cell])
        record = self._packer.unpack(self._blob(slot))
        self._remove(slot, cell)
        self.popped_total += 1
        return record

    def __contains__(self, event_id: object) -> bool:
        return isinstance(event_id, str) and self._find(id_hash(event_id), event_id) >= 0

    def expire(self, now: datetime) -> int:
        """Drop records older than ``ttl_seconds`` before ``now``, oldest first; how many."""
        cutoff = _seconds(now, "now") - self.ttl_seconds
        expired = 0
        while self._tail < self._head:
            slot = self._tail & (self._capacity - 1)
            if self._time[slot] >= cutoff:
                break
            self._remove(slot, self._cell_of(slot))
            expired += 1
        self.expired_total += expired
        return expired

    def ids(self) -> list[str]:
        """Event ids waiting, oldest first."""
        mask = self._capacity - 1
        return [
            self._packer.event_id_of(self._blob(seq & mask))
            for seq in range(self._tail, self._head)
            if self._offset[seq & mask] != _EMPTY
        ]

    def __len__(self) -> int:
        return self._live

    @property
    def capacity(self) -> int:
        """Ring slots now allocated."""
        return self._capacity

    def memory_bytes(self) -> int:
        """Bytes held: ring columns, index, arena pages and the packer's tables."""
        return sum(self.memory_breakdown().values())

    def memory_breakdown(self) -> dict[str, int]:
        """Bytes held by part: ``ring`` and ``index`` grow with the slots allocated,
        ``arena`` with the records waiting, ``interning`` is bounded by ``max_interned``."""
        return {
            "ring": self._hash.nbytes + self._time.nbytes + self._offset.nbytes,
            "index": self._index.nbytes,
            "arena": sum(len(page) for page in self._pages.values())
            + sys.getsizeof(self._pages),
            "interning": self._packer.memory_bytes(),
        }

    def __repr__(self) -> str:
        return (
            f"PendingStore(ttl_seconds={self.ttl_seconds}, time_field={self.time_field!r}, "
            f"max_records={self.max_records}, max_arena_bytes={self.max_arena_bytes})"
        )

    # -- arena -----------------------------------------------------------------------------

    def _blob(self, slot: int) -> memoryview:
        offset = int(self._offset[slot])
        page = self._pages[offset // self.page_bytes]
        return memoryview(page)[offset % self.page_bytes:]

    def _write(self, blob: bytes) -> int:
        size = self.page_bytes
        offset = self._end
        if offset % size + len(blob) > size:  # records never straddle two pages
            offset = (offset // size + 1) * size
        number = offset // size
        if number not in self._pages:
            while len(self._pages) * size + size > self.max_arena_bytes and self._live:
                self._evict_oldest()
            self._pages[number] = bytearray(size)
        start = offset % size
        self._pages[number][start:start + len(blob)] = blob
        self._end = offset + len(blob)
        return offset

    def _release_pages(self) -> None:
        """Free the pages before the oldest record still waiting."""
        if self._tail < self._head:
            oldest = int(self._offset[self._tail & (self._capacity - 1)])
        else:
            oldest = self._end
        keep_from = oldest // self.page_bytes
        while self._first_page < keep_from:
            self._pages.pop(self._first_page, None)
            self._first_page += 1

    # -- ring ------------------------------------------------------------------------------

    def _remove(self, slot: int, cell: int) -> None:
        self._delete_cell(cell)
        self._offset[slot] = _EMPTY
        self._live -= 1
        mask = self._capacity - 1
        if slot == self._tail & mask:
            self._tail += 1
            while self._tail < self._head and self._offset[self._tail & mask] == _EMPTY:
                self._tail += 1
            self._release_pages()

    def _evict_oldest(self) -> None:
        slot = self._tail & (self._capacity - 1)  # the tail slot always holds a live record
        self._remove(slot, self._cell_of(slot))
        self.evicted_total += 1

    def _grow(self) -> None:
        old = self._capacity
        capacity = min(self.max_records, 2 * old)
        seqs = np.arange(self._tail, self._head, dtype=np.int64)
        before, after = seqs & (old - 1), seqs & (capacity - 1)
        hashes, times, offsets = self._hash, self._time, self._offset
        self._allocate(capacity)
        self._hash[after] = hashes[before]
        self._time[after] = times[before]
        self._offset[after] = offsets[before]
        self._rebuild_index(2 * capacity)

    # -- index: linear probing, at most half full ------------------------------------------

    def _find(self, key: int, event_id: str) -> int:
        """Index cell of ``event_id``, or -1."""
        index, hashes = self._index, self._hash
        mask = len(index) - 1
        cell = key & mask
        while True:
            slot = int(index[cell])
            if slot == _EMPTY:
                return -1
            if int(hashes[slot]) == key and self._packer.event_id_of(self._blob(slot)) == event_id:
                return cell
            cell = (cell + 1) & mask

    def _cell_of(self, slot: int) -> int:
        index = self._index
        mask = len(index) - 1
        cell = int(self._hash[slot]) & mask
        while int(index[cell]) != slot:
            cell = (cell + 1) & mask
        return cell

    def _insert(self, key: int, slot: int) -> None:
        index = self._index
        mask = len(index) - 1
        cell = key & mask
        while int(index[cell]) != _EMPTY:
            cell = (cell + 1) & mask
        index[cell] = slot

    def _delete_cell(self, cell: int) -> None:
        """Backward-shift deletion: no tombstones, probe chains stay short."""
        index, hashes = self._index, self._hash
        mask = len(index) - 1
        hole = cell
        probe = cell
        while True:
            probe = (probe + 1) & mask
            slot = int(index[probe])
            if slot == _EMPTY:
                break
            home = int(hashes[slot]) & mask
            # the entry may move into the hole unless its home lies cyclically in (hole, probe]
            if (hole < probe and hole < home <= probe) or (
                hole > probe and (home > hole or home <= probe)
            ):
                continue
            index[hole] = slot
            hole = probe
        index[hole] = _EMPTY

    def _rebuild_index(self, size: int) -> None:
        """Place every live slot in a fresh table of ``size`` cells, vectorised.

        Sorted by home cell, linear probing puts entry ``i`` at ``max(home_i, cell_{i-1} + 1)``,
        which is ``i + cummax(home - i)``; the few entries that would run past the end wrap
        around and are inserted one by one.
        """
        mask = self._capacity - 1
        seqs = np.arange(self._tail, self._head, dtype=np.int64)
        slots = seqs & mask
        slots = slots[self._offset[slots] != _EMPTY]
        homes = (self._hash[slots] & np.uint64(size - 1)).astype(np.int64)
        order = np.argsort(homes, kind="stable")
        slots, homes = slots[order], homes[order]
        rank = np.arange(len(slots), dtype=np.int64)
        cells = rank + np.maximum.accumulate(homes - rank) if len(slots) else rank
        index = np.full(size, _EMPTY, dtype=np.int32)
        inside = cells < size
        index[cells[inside]] = slots[inside]
        self._index = index
        for slot in slots[~inside]:
            self._insert(int(self._hash[slot]), int(slot))
