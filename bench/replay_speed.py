"""How long an in-process replay of 50,000 simulated courier declarations takes.

Run from the repository root (about a minute on 2 cores)::

    .venv/bin/python -m bench.replay_speed [--rows 50000] [--out bench/replay.json]

The simulator exports ``--rows`` courier events at 0.02% of the demo rate (about 1,100 a day,
so 50,000 rows span some six weeks); the first two weeks are history, the rest is replayed
exactly as ``riskstream replay`` does it (the same function). The JSON records the wall and CPU
time of the whole replay (reading, history, live part, report), rows per second, and
Precision@5% against the base rate, so a speed-up that costs accuracy shows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from simulator import DEFAULT_RATES, HubWorld, export_csv, scale_rates
from streams.replay.backtest import replay
from streams.replay.engine import ReplayOptions

MAPPING = Path(__file__).parent.parent / "deploy" / "replay" / "simulator-courier.yaml"
START = datetime(2026, 1, 1, tzinfo=UTC)
LEARN_UNTIL = datetime(2026, 1, 15, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "replay.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "courier.csv"
        rates = scale_rates({"courier": DEFAULT_RATES["courier"]}, 0.0002)
        export_csv(data, HubWorld(seed=args.seed), START, n_rows=args.rows, rates=rates)
        options = ReplayOptions(budget=0.05, learn_until=LEARN_UNTIL, progress_every=10_000)
        started, cpu = time.perf_counter(), time.process_time()
        report = replay(data, MAPPING, options)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = {
        "what": "riskstream replay, in process, simulator courier export",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "history_rows": report["rows"]["history"],
        "live_rows": report["rows"]["live"],
        "elapsed_s": round(elapsed, 1),
        "cpu_s": round(cpu, 1),
        "rows_per_s": round(args.rows / elapsed, 1),
        "rows_per_cpu_s": round(args.rows / cpu, 1),
        "precision_at_5": round(report["precision_at"]["0.05"], 4),
        "base_rate": round(report["base_rate"], 4),
        "roc_auc": round(report["roc_auc"], 4),
        "model_swaps": report["learning"]["model_swaps"],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "river": version("river"),
            "platform": platform.platform(),
            "load_average_1min": round(os.getloadavg()[0], 2),  # other work slows wall time
        },
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
