"""Circumvention signals: detection on worlds that plant them, false alarms on worlds without.

``python -m bench.circumvention`` generates, per seed, a declaration world of
:mod:`simulator.worlds` with the three circumvention patterns planted and its clean
counterpart (same rows, routes and habitual importers, nothing planted), and replays both
through the production path (:func:`streams.replay.engine.replay_in_process`: history
learnt with all labels, then the live part at a 5% budget, learning only from the
outcomes of what the policy selected), with the world's circumvention book. For every
live declaration it reads which checks fired (the scored record's sub-scores) and the
reasons of its verdict. Per check:

* **recall**: planted live declarations of its pattern it fired on; for the switch, also
  among those whose finding the model was told of before (in the history, or inspected
  live on an earlier day), and on the history, where the warm start learns every finding;
* **precision**: of the declarations it fired on, those planted with its pattern;
* **reason shown**: fired planted declarations whose verdict carries the check's reason;
* **false alarms**: the share of the clean world's live declarations it fired on, and of
  the benchmark worlds' (``simulator.worlds`` presets as the targeting benchmark runs
  them, no routes, the packaged book).

It also measures what the checks add to ``assess`` (µs per event). The report goes to
``bench/circumvention.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import AvroCodec, Pseudonymiser
from scorers.circumvention import NAMES, CircumventionBook
from scorers.history import SCHEMAS, record_of
from scorers.model import RiskModel
from simulator.circumvention import PATTERNS
from simulator.worlds import World, generate
from streams.replay.engine import (
    Progress,
    ReplayOptions,
    ReplayPlan,
    plan_replay,
    replay_in_process,
    replay_settings,
    with_personal,
)
from streams.replay.mapping import MappedRow, ReplayMapping
from streams.runtime import build_model
from streams.scoring import ScoringResult
from streams.settings import Settings

REPORT = Path(__file__).with_name("circumvention.json")
PRESET = "express_courier"
#: Which check finds which planted pattern.
SIGNAL_OF = dict(zip(PATTERNS, NAMES, strict=True))
_CODEC = AvroCodec()


@dataclass
class Seen:
    """One live declaration as the replay decided it."""

    index: int
    selected: bool
    fired: frozenset[str]
    reasons: dict[str, str] = field(default_factory=dict)  # verdict reason code -> text


def replay(world: World, workdir: Path, book: str | Path | None = None,
           budget: float = 0.05) -> tuple[list[Seen], list[Seen]]:
    """``world``'s declarations through the production replay, with ``book`` (default: the
    world's own circumvention book, else the packaged one): (history, live).

    The history is learnt as the replay's warm start learns it (every row scored, observed
    and learnt with its label, in order); what fired there is read from each assessment.
    """
    name = f"{world.name}-{world.seed}-{'c' if world.circumvention else 'b'}"
    csv_path, mapping_path = workdir / f"{name}.csv", workdir / f"{name}.yaml"
    world.write_csv(csv_path)
    world.write_mapping(mapping_path)
    if book is None and world.circumvention is not None:
        book = workdir / f"{name}-book.yaml"
        world.write_circumvention(book)
    mapping = ReplayMapping.from_yaml(mapping_path)
    options = ReplayOptions(budget=budget, learn_until=world.learn_until, seed=world.seed,
                            progress_every=0)
    settings = replay_settings(options, Settings(circumvention_file=None if book is None
                                                 else str(book)))
    plan = plan_replay(csv_path, mapping, options)
    index = {row["declaration_id"]: i for i, row in enumerate(world.rows)}
    seen: list[Seen] = []

    def observe(row: MappedRow, result: ScoringResult) -> None:
        verdict_topic = result.outbound[0].topic if result.outbound else ""
        if result.rejected is not None or "verdicts" not in verdict_topic:
            return
        verdict = _CODEC.decode("RiskVerdict", result.outbound[0].value)
        scored = _CODEC.decode("ScoredRecord", result.outbound[1].value)
        fired = frozenset(n for n in NAMES if n in scored["sub_scores"])
        reasons = {r["code"]: r["text"] for r in verdict["reasons"] if r["code"] in NAMES}
        inspected = verdict["selection_kind"] not in ("none", "green")  # green: released
        seen.append(Seen(index[row.event_id], inspected, fired,
                         reasons))

    replay_in_process(plan, settings, options, Progress(len(plan.live), 0), observe)
    return _history(plan, settings, index), seen


def _history(plan: ReplayPlan, settings: Settings, index: Mapping[str, int]) -> list[Seen]:
    """What fired on each history row, learnt as :func:`scorers.history.warm_start` does."""
    model = build_model(settings)
    pseudonymiser = Pseudonymiser(
        settings.pseudonym_key.get_secret_value().encode(),
        personal_attributes=with_personal(settings, plan.mapping).personal_attributes,
    )
    stream = plan.mapping.stream
    seen = []
    for row in plan.history:
        record = pseudonymiser.apply(SCHEMAS[stream], record_of(stream, row.fields))
        assessment = model.assess(stream, record)
        fired = frozenset(n for n in NAMES if n in assessment.sub_scores)
        reasons = {r.code: r.text for r in assessment.reasons if r.code in NAMES}
        seen.append(Seen(index[row.event_id], True, fired, reasons))
        model.observe(stream, assessment)
        model.learn_outcome(stream, assessment.features, assessment.entities,
                            assessment.sub_scores, row.label)
    return seen


def detection(
    world: World, seen: Sequence[Seen], history: Sequence[Seen] = ()
) -> dict[str, dict[str, float]]:
    """Per planted pattern: recall, precision and reasons shown, on the live declarations
    (and the recall on the history, where every finding is learnt)."""
    assert world.circumvention is not None
    marks = world.circumvention.patterns
    selected = {s.index for s in seen if s.selected}
    live = {s.index for s in seen}
    day = [row["registered_at"][:10] for row in world.rows]
    out: dict[str, dict[str, float]] = {}
    for pattern, signal in SIGNAL_OF.items():
        planted = [s for s in seen if marks[s.index] == pattern]
        fired = [s for s in seen if signal in s.fired]
        hits = [s for s in planted if signal in s.fired]
        figures = {
            "planted": float(len(planted)),
            "fired": float(len(fired)),
            "recall": _share(len(hits), len(planted)),
            "precision": _share(len(hits), len(fired)),
            "reason_shown": _share(sum(signal in s.reasons for s in hits), len(hits)),
            "fired_on_unplanted": _share(sum(not marks[s.index] for s in fired),
                                         sum(not marks[s.index] for s in seen)),
        }
        if pattern == "switch_after_finding":
            triggers = world.circumvention.triggers
            told = [s for s in planted if triggers[s.index] not in live or (
                triggers[s.index] in selected and day[triggers[s.index]] < day[s.index])]
            figures["told"] = float(len(told))
            figures["recall_told"] = _share(sum(signal in s.fired for s in told), len(told))
        past = [s for s in history if marks[s.index] == pattern]
        figures["planted_history"] = float(len(past))
        figures["recall_history"] = _share(sum(signal in s.fired for s in past), len(past))
        out[pattern] = figures
    return out


def false_alarms(seen: Sequence[Seen]) -> dict[str, float]:
    """Per check, the share of live declarations it fired on."""
    return {signal: _share(sum(signal in s.fired for s in seen), len(seen))
            for signal in NAMES} | {"declarations": float(len(seen))}


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def _jsonable(value: Any) -> Any:
    """``value`` with NaN (a share of nothing) as null, as JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def examples(seen: Iterable[Seen]) -> dict[str, str]:
    """One verdict reason per check, as an officer reads it."""
    found: dict[str, str] = {}
    for s in seen:
        for code, text in s.reasons.items():
            found.setdefault(code, text)
    return found


def assess_cost(world: World, rounds: int = 7, events: int = 3000) -> dict[str, float]:
    """What the checks add to ``assess``, in µs per event, on the world's last ``events``
    declarations (decoded and pseudonymised as a worker does) after learning them all.

    ``checks_us`` times the checks alone (``CircumventionChecks.scores_one``), the cost they
    add; ``observe_us`` what learning one event adds to the learner
    (``CircumventionChecks.observe``); ``assess_us`` and ``assess_empty_book_us`` time whole
    assessments with the world's book and with an empty one, interleaved, best of ``rounds``
    (on a busy machine the difference of the two is noise, the checks' own time is not).
    """
    assert world.circumvention is not None
    mapping = ReplayMapping.from_dict(world.mapping)
    pseudonymiser = Pseudonymiser(b"bench-circumvention-key-0123456789")
    records = []
    for number, cells in enumerate(world.rows, start=2):
        row = mapping.row(cells, number)
        encoded = _CODEC.encode(mapping.schema, mapping.record(row))
        decoded = _CODEC.decode(mapping.schema, encoded)
        records.append((pseudonymiser.apply(mapping.schema, decoded), row.label))
    book = CircumventionBook.from_dict(world.circumvention.book)
    model = RiskModel(seed=1, circumvention=book)
    for record, finding in records:
        assessment = model.assess("courier", record)
        model.observe("courier", assessment)
        model.learn_outcome("courier", assessment.features, assessment.entities,
                            assessment.sub_scores, finding)
    probes = [record for record, _ in records[-events:]]
    checks = model.ensemble("courier").circumvention
    assert checks is not None
    pairs = [(a.features, a.entities) for a in (model.assess("courier", r) for r in probes)]
    best = {"checks_us": float("inf"), "assess_us": float("inf"),
            "assess_empty_book_us": float("inf")}
    order = (("assess_us", book), ("assess_empty_book_us", None))
    for round_ in range(rounds):
        model.set_circumvention(book)
        started = time.perf_counter()
        for features, entities in pairs:
            checks.scores_one(features, entities)
        best["checks_us"] = min(best["checks_us"], time.perf_counter() - started)
        for name, configured in order if round_ % 2 else order[::-1]:  # alternate
            model.set_circumvention(configured)
            started = time.perf_counter()
            for record in probes:
                model.assess("courier", record)
            best[name] = min(best[name], time.perf_counter() - started)
    model.set_circumvention(book)
    fired = sum(bool(checks.scores_one(f, e)) for f, e in pairs)
    best["observe_us"] = float("inf")
    for _ in range(rounds):  # what the learner's observe adds: counts and habits
        started = time.perf_counter()
        for features, entities in pairs:
            checks.observe(features, entities)
        best["observe_us"] = min(best["observe_us"], time.perf_counter() - started)
    return {**{k: v / len(probes) * 1e6 for k, v in best.items()},
            "fired_share": fired / len(pairs)}


def run(seeds: Sequence[int], scale: float, benchmark_presets: Sequence[str] = (),
        log: Any = None) -> dict[str, Any]:
    """The report: detection and false alarms per seed, their means, and the cost."""
    worlds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="riskstream-circumvention-") as folder:
        work = Path(folder)
        for seed in seeds:
            planted = generate(PRESET, seed, scale, circumvention=PATTERNS)
            clean = generate(PRESET, seed, scale, circumvention=())
            history, seen_planted = replay(planted, work)
            _, seen_clean = replay(clean, work)
            entry = {
                "world": PRESET, "seed": seed, "rows": len(planted.rows),
                "detection": detection(planted, seen_planted, history),
                "false_alarms_clean": false_alarms(seen_clean),
                "examples": examples(seen_planted),
            }
            worlds.append(entry)
            if log:
                log(json.dumps(entry))
        bench_worlds = []
        for preset in benchmark_presets:
            world = generate(preset, seeds[0], scale)
            entry = {"world": preset, "seed": seeds[0],
                     "false_alarms": false_alarms(replay(world, work)[1])}
            bench_worlds.append(entry)
            if log:
                log(json.dumps(entry))
    cost = assess_cost(generate(PRESET, seeds[0], scale, circumvention=PATTERNS))
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale,
        "worlds": worlds,
        "benchmark_worlds": bench_worlds,
        "mean": _means(worlds),
        "assess_us": cost,
    }


def _means(worlds: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for pattern in PATTERNS:
        keys = worlds[0]["detection"][pattern].keys()
        out[pattern] = {k: statistics.fmean(v for w in worlds
                                            if (v := w["detection"][pattern][k]) == v)
                        if any(w["detection"][pattern][k] == w["detection"][pattern][k]
                               for w in worlds) else float("nan")
                        for k in keys}
    out["false_alarms_clean"] = {
        k: statistics.fmean(w["false_alarms_clean"][k] for w in worlds)
        for k in worlds[0]["false_alarms_clean"]
    }
    return out


def table(report: Mapping[str, Any]) -> str:
    """The README's table: per check, detection on the planted worlds (means over seeds),
    false alarms on their clean counterparts and on the benchmark worlds."""
    rows = ["| check | planted, live | recall | precision | reason in verdict | "
            "fires on the clean world | fires on benchmark worlds |",
            "|---|---|---|---|---|---|---|"]
    mean = report["mean"]
    for pattern, signal in SIGNAL_OF.items():
        d = mean[pattern]
        bench = [w["false_alarms"][signal] for w in report["benchmark_worlds"]]
        recall = f"{d['recall']:.2f}"
        if d.get("recall_told") is not None:
            recall += (f"; {d['recall_told']:.2f} of those whose finding it was told of; "
                       f"{d['recall_history']:.2f} on the history")
        rows.append(
            f"| `{signal}` | {d['planted']:.0f} | {recall} | {d['precision']:.2f} | "
            f"{d['reason_shown']:.2f} | {100 * mean['false_alarms_clean'][signal]:.2f}% | "
            + (f"{100 * max(bench):.2f}%" if bench else "-") + " |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--benchmark-presets", nargs="*",
                        default=["national_imports", "express_courier", "postal_smallparcels"])
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    report = run(args.seeds, args.scale, args.benchmark_presets,
                 log=lambda line: print(line, file=sys.stderr, flush=True))
    args.report.write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
    print(table(report))
    print(f"assess: {report['assess_us']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
