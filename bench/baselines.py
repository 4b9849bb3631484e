"""Reference systems of the targeting benchmark, kept out of the product on purpose.

Each takes a :class:`simulator.worlds.World` and returns one :class:`ScoredRow` per live row
(rows from ``learn_until`` on), scored under the same protocol as ``riskstream replay``:
history learned with all its labels, then each day scored before any of that day's labels
are known.

* :func:`river_te`: the 60-line River script the targeting issue measured against. Logistic
  regression on smoothed target encodings of the entity ids, HS4/HS2, origin and office, plus
  log value, log mass and log value per kg. In the live part it learns only from its own
  top-``budget`` picks of each day, labels revealed at the day's end.
* :func:`random_selection`: a score drawn at random, the floor.
* :func:`offline_gbdt`: LightGBM trained once on the history with all labels, then frozen:
  the anchor customs research publishes.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from itertools import groupby
from typing import Any

from river import linear_model, optim, preprocessing

from simulator.worlds import World
from streams.replay.report import ScoredRow, top_count

Row = Mapping[str, str]


def _time(row: Row, world: World) -> datetime:
    return datetime.fromisoformat(row[world.mapping["time"]].replace("Z", "+00:00"))


def _label(row: Row, world: World) -> bool:
    return row[world.mapping["label"]] == "1"


def _revenue(row: Row, world: World) -> float:
    return float(row.get(world.mapping.get("revenue", ""), 0.0) or 0.0)


def _split(world: World) -> tuple[list[Row], list[Row]]:
    history = [r for r in world.rows if _time(r, world) < world.learn_until]
    live = [r for r in world.rows if _time(r, world) >= world.learn_until]
    return history, live


def _scored(world: World, row: Row, score: float, selected: bool, version: str) -> ScoredRow:
    mapping = world.mapping
    return ScoredRow(row[mapping["id"]], _time(row, world), score, selected,
                     "model" if selected else "none", _label(row, world),
                     _revenue(row, world), version)


def _numbers(row: Row, world: World) -> dict[str, float]:
    value = max(float(row[world.mapping["value"]] or 0.0), 0.0)
    mass = max(float(row[world.mapping["mass"]] or 0.0), 0.01)
    return {
        "log_value": math.log1p(value),
        "log_mass": math.log1p(mass),
        "log_value_per_kg": math.log1p(value / mass),
    }


class TargetEncodedLR:
    """Smoothed target encodings of a few keys, scaled, into an online logistic regression."""

    def __init__(self, keys: Callable[[Row], dict[str, str]], smoothing: float = 10.0) -> None:
        self.keys = keys
        self.smoothing = smoothing
        self.counts: dict[str, dict[str, list[float]]] = defaultdict(dict)
        self.n = 0.0
        self.hits = 0.0
        self.scaler = preprocessing.StandardScaler()
        self.lr = linear_model.LogisticRegression(optimizer=optim.SGD(0.02), l2=1e-4)

    def x(self, row: Row, numbers: dict[str, float]) -> dict[str, float]:
        prior = (self.hits + 1.0) / (self.n + 2.0)
        x = dict(numbers)
        for kind, key in self.keys(row).items():
            seen, hit = self.counts[kind].get(key, (0.0, 0.0))
            x[f"te_{kind}"] = (hit + self.smoothing * prior) / (seen + self.smoothing)
        return x

    def predict(self, x: dict[str, float]) -> float:
        return float(self.lr.predict_proba_one(self.scaler.transform_one(x)).get(True, 0.0))

    def learn(self, row: Row, x: dict[str, float], y: bool) -> None:
        self.scaler.learn_one(x)
        self.lr.learn_one(self.scaler.transform_one(x), y)
        for kind, key in self.keys(row).items():
            count = self.counts[kind].setdefault(key, [0.0, 0.0])
            count[0] += 1.0
            count[1] += y
        self.n += 1.0
        self.hits += y


def river_te(world: World, budget: float = 0.05) -> list[ScoredRow]:
    """The River target-encoding script: warm on history, then learn its own top picks."""
    m = world.mapping
    entity_columns = [c for c in m.get("entities", []) if c in world.columns]

    def keys(row: Row) -> dict[str, str]:
        hs = row[m["hs_code"]]
        found = {c: row[c] for c in entity_columns}
        found.update(hs4=hs[:4], hs2=hs[:2], origin=row[m["origin"]], office=row[m["hub"]])
        return found

    model = TargetEncodedLR(keys)
    history, live = _split(world)
    for row in history:  # out of sample: each row scored (encoded) before its label counts
        model.learn(row, model.x(row, _numbers(row, world)), _label(row, world))
    out: list[ScoredRow] = []
    for _, day in groupby(live, key=lambda r: _time(r, world).date()):
        rows = list(day)
        xs = [model.x(r, _numbers(r, world)) for r in rows]
        scores = [model.predict(x) for x in xs]
        order = sorted(range(len(rows)), key=lambda i: -scores[i])
        picked = set(order[: top_count(budget, len(rows))])
        for i, row in enumerate(rows):
            out.append(_scored(world, row, scores[i], i in picked, "river-te"))
        for i in sorted(picked):  # labels of the day's picks come back at its end
            model.learn(rows[i], xs[i], _label(rows[i], world))
    return out


def random_selection(world: World, seed: int = 0) -> list[ScoredRow]:
    """Scores drawn uniformly at random."""
    rng = random.Random(f"random-{world.name}-{world.seed}-{seed}")
    _, live = _split(world)
    return [_scored(world, row, rng.random(), False, "random") for row in live]


def _gbdt_numbers(world: World, rows: Iterable[Row]) -> Any:
    import numpy as np

    m = world.mapping
    numeric = [c for c in m.get("numeric", []) if c in world.columns]
    table = []
    for row in rows:
        values = list(_numbers(row, world).values())
        values += [float(row[c] or "nan") for c in numeric]
        table.append(values)
    return np.array(table, dtype=float)


def offline_gbdt(world: World) -> list[ScoredRow]:
    """LightGBM on history with all labels (categoricals as frequency-ranked codes), frozen."""
    import lightgbm as lgb
    import numpy as np

    m = world.mapping
    history, live = _split(world)
    cats = [c for c in [*m.get("entities", []), m["hs_code"], m["origin"], m["hub"],
                        *m.get("categorical", [])] if c in world.columns]
    codes: dict[str, dict[str, int]] = {}
    for c in cats:  # codes by frequency in history; unseen and rare values share code 0
        seen: dict[str, int] = defaultdict(int)
        for row in history:
            seen[row[c]] += 1
        ranked = sorted((v for v, n in seen.items() if n >= 3), key=lambda v: -seen[v])
        codes[c] = {v: i + 1 for i, v in enumerate(ranked)}

    def matrix(rows: list[Row]) -> Any:
        numbers = _gbdt_numbers(world, rows)
        hs = np.array([[float(r[m["hs_code"]][:2] or 0), float(r[m["hs_code"]][:4] or 0)]
                       for r in rows])
        cat = np.array([[codes[c].get(r[c], 0) for c in cats] for r in rows], dtype=float)
        return np.hstack([numbers, hs, cat])

    x = matrix(history)
    y = np.array([_label(r, world) for r in history], dtype=int)
    n_num = x.shape[1] - len(cats)
    params = {
        "objective": "binary", "learning_rate": 0.05, "num_leaves": 31,
        "min_data_in_leaf": 20, "bagging_fraction": 0.8, "bagging_freq": 1,
        "feature_fraction": 0.8, "seed": world.seed, "verbose": -1, "num_threads": 1,
    }
    data = lgb.Dataset(x, y, categorical_feature=list(range(n_num, x.shape[1])))
    booster = lgb.train(params, data, num_boost_round=300)
    scores = booster.predict(matrix(live))
    return [_scored(world, row, float(s), False, "gbdt") for row, s in zip(live, scores,
                                                                         strict=True)]
