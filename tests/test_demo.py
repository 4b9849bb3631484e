"""`riskstream demo --duration N`: verdicts for all three streams, a hit rate, clean exit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _processes_with(marker: str) -> list[int]:
    """Pids whose environment carries ``marker`` (the children of one demo run)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_demo_runs_scores_all_streams_and_leaves_nothing_behind(tmp_path: Path) -> None:
    marker = f"RISKSTREAM_DEMO_MARKER=run-{os.getpid()}-{time.time_ns()}"
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--duration", "25"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    final = result.stdout.split("final:")[-1]
    per_stream = dict(re.findall(r"(courier|postal|passenger) verdicts (\d+)", final))
    assert set(per_stream) == {"courier", "postal", "passenger"}, final
    assert all(int(count) > 50 for count in per_stream.values()), final
    hit_rate = re.search(r"hit rate among inspections: ([\d.]+)%", final)
    assert hit_rate and float(hit_rate.group(1)) > 0, final
    assert "stopped" in result.stdout
    assert _processes_with(marker) == [], "the demo left processes behind"
