"""Deterministic merge of the learner's two input partitions (scored records and outcomes).

The learner must end in the same state whether it ran straight through or was killed and
restarted from a snapshot. Its state depends on the order in which it sees scored records
and outcomes, and the order in which a consumer's fetches return two partitions is not
deterministic. So records are released in (timestamp, input rank, offset) order, and a head
is held back until the other input has a later head or is known to be at its end.

>>> merge = TwoWayMerge(("scored", "outcomes"))
>>> merge.offer("outcomes", 5, 100, "o5")
>>> merge.release()            # the scored side may still hold something older
[]
>>> merge.offer("scored", 7, 90, "s7")
>>> merge.offer("scored", 8, 120, "s8")
>>> [item for _, item in merge.release()]
['s7', 'o5']
>>> merge.at_end("outcomes")
>>> [item for _, item in merge.release()]
['s8']
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")


class TwoWayMerge(Generic[Item]):
    """Merge two ordered inputs by (timestamp, input rank, offset), holding back when unsure."""

    def __init__(self, inputs: tuple[Hashable, Hashable]) -> None:
        self.inputs = inputs
        self._rank = {name: rank for rank, name in enumerate(inputs)}
        self._queues: dict[Hashable, deque[tuple[int, int, Item]]] = {
            name: deque() for name in inputs
        }
        self._ended: dict[Hashable, bool] = dict.fromkeys(inputs, False)

    def offer(self, source: Hashable, offset: int, timestamp_ms: int, item: Item) -> None:
        """Add the next record of ``source`` (records of one source arrive in offset order)."""
        self._queues[source].append((timestamp_ms, offset, item))
        self._ended[source] = False

    def at_end(self, source: Hashable) -> None:
        """``source`` has nothing more right now (its consumer reached the end)."""
        self._ended[source] = True

    def release(self) -> list[tuple[Hashable, Item]]:
        """Every record whose place in the merged order is certain, in that order."""
        out: list[tuple[Hashable, Item]] = []
        first, second = self.inputs
        while True:
            heads = {name: q[0] for name, q in self._queues.items() if q}
            if not heads:
                return out
            if len(heads) == 1:
                (source,) = heads
                other = second if source == first else first
                if not self._ended[other]:
                    return out
            else:
                source = min(heads, key=lambda name: self._key(name, heads[name]))
            _, _, item = self._queues[source].popleft()
            out.append((source, item))

    def _key(self, name: Hashable, head: tuple[int, int, Any]) -> tuple[int, int, int]:
        timestamp, offset, _ = head
        return (timestamp, self._rank[name], offset)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())
