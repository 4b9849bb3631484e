"""A synthetic customs world for riskstream's demo, tests, replays and benchmarks.

``HubWorld`` generates courier consignments, postal items and passenger records as plain
dicts that match the Avro schemas in ``schemas/avro`` exactly, each paired with a hidden
``Truth``. The truth follows learnable smuggling patterns (undervaluation, HS
misclassification, repeat offenders, risky routes, short-notice cash bookings, late API
data) that change at a configurable concept drift. ``InspectionAuthority`` turns inspection
decisions into delayed ``InspectionOutcome`` dicts, and ``export_csv`` writes flat,
pseudonymised CSV files for replays. Everything is a pure function of a seed: no wall clock,
no global random state. All people and companies are synthetic.

>>> from datetime import datetime, timezone
>>> world = HubWorld(seed=1)
>>> event = world.event("passenger", "hub_MUC", datetime(2025, 1, 6, tzinfo=timezone.utc))
>>> event.record["arrival_airport"], event.truth.illicit
('MUC', False)
"""

from __future__ import annotations

from simulator.authority import LEVELS, InspectionAuthority, OutcomeQueue
from simulator.export import csv_columns, entity_token, export_csv, flatten
from simulator.personal import (
    STREAMS,
    avsc_path,
    load_avsc,
    personal_fields,
    personal_values,
    stream_of,
)
from simulator.regimes import BASE, DRIFTED, Regime
from simulator.schedule import poisson_arrivals, scale_rates
from simulator.truth import RESULTS, SimEvent, Truth
from simulator.world import DEFAULT_RATES, HubWorld

__all__ = [
    "BASE",
    "DEFAULT_RATES",
    "DRIFTED",
    "LEVELS",
    "RESULTS",
    "STREAMS",
    "HubWorld",
    "InspectionAuthority",
    "OutcomeQueue",
    "Regime",
    "SimEvent",
    "Truth",
    "avsc_path",
    "csv_columns",
    "entity_token",
    "export_csv",
    "flatten",
    "load_avsc",
    "personal_fields",
    "personal_values",
    "poisson_arrivals",
    "scale_rates",
    "stream_of",
]
