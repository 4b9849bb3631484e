"""Event ids as 64-bit hashes, and a bounded memory of the ids already applied.

``id_hash`` is a keyed BLAKE2b of the event id, the same in every process and every run
(Python's own ``hash`` of a string changes with each interpreter). Two different ids share a
hash with probability about ``n / 2**64`` per lookup among ``n`` ids: about one in 10**13
for a million ids.

:class:`RecentIds` remembers applied event ids in two numpy hash tables used in turn. When
the current table holds ``capacity`` ids, the older one is cleared and becomes the current
one, so an id is remembered for at least ``capacity`` and at most ``2 * capacity`` further
additions, in at most ``32 * capacity`` bytes. That is the window within which a duplicate
outcome is recognised.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["RecentIds", "id_hash"]

_PERSON = b"riskstream-id"


def id_hash(event_id: str) -> int:
    """A stable, non-zero 64-bit hash of an event id.

    >>> id_hash("courier-7-000000001")
    9377362315040935988
    """
    digest = hashlib.blake2b(event_id.encode("utf-8"), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "little") or 1  # 0 marks an empty cell


class RecentIds:
    """The event ids seen in the last ``capacity`` to ``2 * capacity`` additions.

    Parameters
    ----------
    capacity
        Ids the current table takes before the older one is cleared.

    Examples
    --------
    >>> recent = RecentIds(capacity=2)
    >>> [recent.add(event_id) for event_id in ("a", "b", "c", "a")]
    [True, True, True, False]
    >>> "a" in recent, "c" in recent, "z" in recent, len(recent)
    (True, True, False, 3)
    >>> recent.add("d"), recent.add("e")  # the table holding a and b is cleared
    (True, True)
    >>> "a" in recent, "c" in recent, recent.rotations
    (False, True, 2)
    """

    def __init__(self, capacity: int = 500_000) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(f"capacity must be a whole number >= 1, got {capacity!r}")
        self.capacity = capacity
        size = 1 << max(3, (2 * capacity - 1).bit_length())  # load stays at most 1/2
        self._mask = size - 1
        self._tables = [np.zeros(size, dtype=np.uint64), np.zeros(size, dtype=np.uint64)]
        self._counts = [0, 0]
        self._current = 0
        self.rotations = 0

    def add(self, event_id: str) -> bool:
        """Remember ``event_id``; False if it was remembered already."""
        key = id_hash(event_id)
        if self._has(key):
            return False
        current = self._current
        if self._counts[current] >= self.capacity:
            current = self._current = 1 - current
            self._tables[current].fill(0)
            self._counts[current] = 0
            self.rotations += 1
        table = self._tables[current]
        mask = self._mask
        cell = key & mask
        while table[cell]:
            cell = (cell + 1) & mask
        table[cell] = key
        self._counts[current] += 1
        return True

    def _has(self, key: int) -> bool:
        mask = self._mask
        for table in self._tables:
            cell = key & mask
            while True:
                found = int(table[cell])
                if found == key:
                    return True
                if not found:
                    break
                cell = (cell + 1) & mask
        return False

    def __contains__(self, event_id: object) -> bool:
        return isinstance(event_id, str) and self._has(id_hash(event_id))

    def __len__(self) -> int:
        return self._counts[0] + self._counts[1]

    def memory_bytes(self) -> int:
        """Bytes held by both tables."""
        return sum(table.nbytes for table in self._tables)

    def __repr__(self) -> str:
        return f"RecentIds(capacity={self.capacity})"
