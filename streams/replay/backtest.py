"""One replay from CSV to report: read, split, replay (in process or via Kafka), measure.

:func:`replay` is what ``riskstream replay`` runs; it returns the report as a dict and
writes the report, the score dump and the plot when asked to.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from scorers.history import WarmStartReport
from streams.replay.engine import (
    LiveRun,
    Progress,
    ReplayOptions,
    ReplayPlan,
    plan_replay,
    replay_in_process,
    replay_settings,
)
from streams.replay.mapping import ReplayMapping
from streams.replay.report import SHARES, figures, monthly, write_dump
from streams.settings import Settings

__all__ = ["build_report", "replay"]


def build_report(
    plan: ReplayPlan,
    run: LiveRun,
    history: WarmStartReport,
    settings: Settings,
    options: ReplayOptions,
    mode: str,
    sources: Mapping[str, str],
    elapsed_s: float,
) -> dict[str, Any]:
    """The report: parameters, what was read and skipped, the figures, per month too."""
    mapping = plan.mapping
    revenue = mapping.revenue is not None
    stream = mapping.stream
    return {
        "input": sources.get("input"),
        "mapping": sources.get("mapping"),
        "stream": stream,
        "mode": mode,
        "parameters": {
            "budget": options.budget,
            "learn_until": options.learn_until.isoformat() if options.learn_until else None,
            "seed": settings.seed,
            "outcome_delay_days": options.outcome_delay_days,
            "random_share": settings.random_share,
            "selection_window": settings.selection_window,
            "shares": list(SHARES),
        },
        "rows": {
            "total": plan.read.total,
            "skipped": plan.read.skipped,
            "history": len(plan.history),
            "live": len(plan.live),
            "rejected": run.rejected,
        },
        "skipped_rows": plan.read.skipped,
        "skipped_by_column": dict(sorted(plan.read.skipped_by_column.items())),
        "problems": list(plan.read.problems),
        "not_used_by_model": list(mapping.unused),
        "history": {
            "rows": history.learned.get(stream, 0),
            "illicit": history.findings.get(stream, 0),
        },
        **figures(run.rows, SHARES, revenue),
        "months": monthly(run.rows, SHARES, revenue),
        "budget": {"period": settings.budget_period, "lanes": run.budget},
        "learning": {
            "outcomes": run.outcomes,
            "model_swaps": run.model_swaps,
            "final_model_version": run.final_model_version,
            "drifts": run.learner_events.get("drifts", 0),
            "promotions": run.learner_events.get("promotions", 0),
            "rejected_by_kind": dict(sorted(run.rejected_reasons.items())),
        },
        "run": {
            "elapsed_s": round(elapsed_s, 3),
            "rows_per_s": round(plan.read.total / elapsed_s, 1) if elapsed_s else None,
        },
    }


def replay(
    input_csv: str | Path,
    mapping_file: str | Path,
    options: ReplayOptions,
    *,
    report_path: str | Path | None = None,
    dump_scores: str | Path | None = None,
    plot_path: str | Path | None = None,
    via_kafka: bool = False,
    bootstrap: str | None = None,
    workdir: str | Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replay ``input_csv`` as ``mapping_file`` says; return (and write) the report.

    Raises :class:`~streams.replay.mapping.MappingError` for a mapping or file that cannot
    work, and :class:`~streams.replay.engine.ReplayError` for a replay that cannot finish.
    """
    started = time.monotonic()
    mapping = ReplayMapping.from_yaml(mapping_file)
    plan = plan_replay(input_csv, mapping, options)
    configured = replay_settings(options, settings, mapping)
    meter = progress or Progress(len(plan.live), options.progress_every)
    for column in mapping.unused:
        meter.note(f"column {column} has no field in {mapping.schema}: not used by the model")
    if plan.read.skipped:
        meter.note(f"skipped {plan.read.skipped} unreadable rows, first: {plan.read.problems[0]}")
    meter.note(f"{len(plan.history)} history rows to learn, {len(plan.live)} live rows to replay")
    if via_kafka:
        from streams.replay.via_kafka import replay_via_kafka

        with tempfile.TemporaryDirectory(prefix="riskstream-replay-") as scratch:
            folder = Path(workdir) if workdir is not None else Path(scratch)
            run, history = replay_via_kafka(
                plan, configured, options, meter, folder, bootstrap=bootstrap
            )
    else:
        run, history = replay_in_process(plan, configured, options, meter)
    report = build_report(
        plan,
        run,
        history,
        configured,
        options,
        "via-kafka" if via_kafka else "in-process",
        {"input": str(input_csv), "mapping": str(mapping_file)},
        time.monotonic() - started,
    )
    if report_path is not None:
        Path(report_path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if dump_scores is not None:
        write_dump(dump_scores, run.rows)
    if plot_path is not None:
        from streams.replay.plot import draw

        title = f"{mapping.stream} replay of {Path(input_csv).name}, budget {options.budget:.0%}"
        draw(run.rows, plot_path, title)
    return report


def parse_day(text: str) -> datetime:
    """A ``--learn-until`` value: an ISO date or time, UTC when no zone is given.

    >>> parse_day("2021-01-01").isoformat()
    '2021-01-01T00:00:00+00:00'
    """
    from schemas.tabular import parse_time

    return parse_time(text)
