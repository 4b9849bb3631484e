"""The targeting benchmark's worlds: deterministic, heavy-tailed, readable by a replay."""

from __future__ import annotations

from collections import Counter

import pytest

from simulator.worlds import PRESETS, generate
from streams.replay.mapping import ReplayMapping

BASE_RATES = {"national_imports": (0.10, 0.32), "express_courier": (0.02, 0.06),
              "postal_smallparcels": (0.05, 0.12)}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_world_is_deterministic_heavy_tailed_and_mappable(preset: str) -> None:
    world = generate(preset, seed=2, scale=0.2)
    assert world.rows == generate(preset, seed=2, scale=0.2).rows
    assert world.rows != generate(preset, seed=3, scale=0.2).rows
    low, high = BASE_RATES[preset]
    assert low <= world.base_rate <= high, world.base_rate
    importers = Counter(row["importer"] for row in world.rows)
    seen_once = sum(1 for n in importers.values() if n <= 2) / len(importers)
    assert seen_once > 0.5, "most traders are seen once or twice"
    assert importers.most_common(1)[0][1] >= 50, "a few are seen very often"
    times = [row["registered_at"] for row in world.rows]
    assert times == sorted(times)
    assert world.learn_until < world.measure_from
    mapping = ReplayMapping.from_dict(world.mapping)
    assert set(mapping.named_columns()) <= set(world.columns)
