"""A signal that lives only in one of the authority's own columns is learned by a replay.

The data set below hides its fraud in two columns that no event schema names: a procedure
code (categorical, so it lands in ``attributes``) and a risk index (numeric, so it lands in
``measures``). Every other column is noise. A replay whose mapping lists the columns must
rank well; the same replay with the column left out of the mapping is the control.
"""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.replay.engine import Progress, ReplayOptions, plan_replay, replay_in_process
from streams.replay.mapping import ReplayMapping
from streams.replay.report import figures
from streams.settings import Settings

START = datetime(2025, 1, 1, tzinfo=UTC)
LEARN_UNTIL = START + timedelta(days=60)
COLUMNS = ("ref", "at", "office", "importer", "hs6", "origin", "value", "kg", "procedure",
           "risk_index", "fraud")


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        procedure = f"P{rng.randrange(10)}"
        risk_index = rng.random()
        # fraud only where the procedure is P7 or the index is high: nothing else tells
        odds = -3.6 + (2.6 if procedure == "P7" else 0.0) + (2.6 if risk_index > 0.85 else 0.0)
        rows.append({
            "ref": f"D{i:06d}",
            "at": (START + timedelta(minutes=43 * i)).isoformat(),
            "office": f"OF{rng.randrange(4)}",
            "importer": f"IMP{rng.randrange(3000)}",
            "hs6": rng.choice(("851712", "640399", "420222", "950300")),
            "origin": rng.choice(("CN", "TR", "VN", "US")),
            "value": f"{rng.lognormvariate(4, 1):.2f}",
            "kg": f"{rng.lognormvariate(0, 1):.3f}",
            "procedure": procedure,
            "risk_index": f"{risk_index:.4f}",
            "fraud": int(rng.random() < 1 / (1 + math.exp(-odds))),
        })
    return rows


def _mapping(**own: list[str]) -> ReplayMapping:
    return ReplayMapping.from_dict({
        "stream": "courier", "id": "ref", "time": "at", "label": "fraud", "hub": "office",
        "hs_code": "hs6", "value": "value", "mass": "kg", "origin": "origin",
        "entities": ["importer"], **own,
        "defaults": {"destination_country": "XX", "currency": "EUR", "goods_description": "",
                     "air_waybill": "", "pieces": "1"},
    })


def _auc(tmp_path: Path, mapping: ReplayMapping) -> float:
    data = tmp_path / "declarations.csv"
    if not data.exists():
        with data.open("w", newline="") as out:
            writer = csv.DictWriter(out, COLUMNS)
            writer.writeheader()
            writer.writerows(_rows(4000, seed=3))
    options = ReplayOptions(budget=0.1, learn_until=LEARN_UNTIL, seed=1, progress_every=0)
    plan = plan_replay(data, mapping, options)
    assert not mapping.unused
    run, _ = replay_in_process(plan, Settings(), options, Progress(len(plan.live), 0))
    return float(figures(run.rows, revenue=False)["roc_auc"])


@pytest.mark.parametrize(("kind", "column"), [("categorical", "procedure"),
                                              ("numeric", "risk_index")])
def test_a_signal_only_in_an_own_column_is_learned(
    tmp_path: Path, kind: str, column: str
) -> None:
    other = "numeric" if kind == "categorical" else "categorical"
    other_column = "risk_index" if column == "procedure" else "procedure"
    both = _auc(tmp_path, _mapping(**{kind: [column], other: [other_column]}))
    without = _auc(tmp_path, _mapping(**{other: [other_column]}))
    print(f"ROC AUC with {column}: {both:.3f}, without it: {without:.3f}")
    # Each column carries about half of the fraud: leaving it out costs a clear margin.
    # Measured: 0.746 with both, 0.668 without the procedure, 0.629 without the index (with
    # the budget held per day; 0.643 and 0.638 with the window alone); the true odds rank
    # the live rows at 0.811.
    assert both >= without + 0.06
    assert both >= 0.70
