"""Targeting benchmark: riskstream against reference baselines on realistic worlds, one run.

``python -m bench.targeting`` (also ``make bench-targeting``) generates every world preset of
:mod:`simulator.worlds` for every seed, and scores each through

* ``riskstream``: the production replay (:func:`streams.replay.engine.replay_in_process`, what
  ``riskstream replay`` runs): history learned with all labels, then the live part at the
  inspection budget, learning only from the outcomes of what its own policy selected;
* the baselines of :mod:`bench.baselines`: ``baseline_river_te``, ``random`` and
  ``offline_gbdt``, under the same protocol on the same rows.

Every system is judged on the last three months (``World.measure_from``): pooled daily
Precision@n% for n = 1, 5 and 10% and ROC AUC, as :func:`streams.replay.report.figures`
computes them. The report goes to ``bench/targeting.json``; :func:`readme_table` renders the
README's table from it. ``--ablations-only`` replays riskstream variants (each sub-scorer
alone, each left out, and the design choices: profile evidence and shrinkage, rule
calibration, weight clipping, the stacker's step, no challenger, warm start only) on every
world and seed into ``bench/targeting_ablations.json``, with each variant's wins and losses
against the defaults. ``--jobs`` runs that many replays at once (results do not depend on it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench.baselines import offline_gbdt, random_selection, river_te
from simulator.worlds import PRESETS, SEEDS, World, generate
from streams.replay.engine import (
    LiveRun,
    Progress,
    ReplayOptions,
    plan_replay,
    replay_in_process,
)
from streams.replay.engine import replay_settings as configured_settings
from streams.replay.mapping import ReplayMapping
from streams.replay.report import ScoredRow, figures
from streams.settings import Settings

REPORT = Path(__file__).with_name("targeting.json")
ABLATIONS_REPORT = Path(__file__).with_name("targeting_ablations.json")
SHARES = (0.01, 0.05, 0.1)
BUDGET = 0.05
#: The margins the targeting issue asks for, on every world and seed.
MIN_RATIO_TO_BASELINE = 1.05
MIN_RATIO_TO_GBDT = 1.0

#: The stacker's inputs per sub-scorer (``StreamEnsemble(parts=...)``).
PARTS: Mapping[str, tuple[str, ...]] = {
    "supervised": ("supervised",),
    "profiles": ("profile",),
    "valuation": ("valuation_under", "valuation_over"),
    "tariff": ("tariff",),
    "anomaly": ("anomaly",),
    "rules": ("rules",),
}


def _parts(*names: str) -> dict[str, Any]:
    return {"ensemble": {"parts": [p for name in names for p in PARTS[name]]}}


#: riskstream variants for the ablations: name -> settings changed from the defaults
#: (``ensemble``: StreamEnsemble parameters; ``frozen``: outcomes never reach the learner).
ABLATIONS: Mapping[str, Mapping[str, Any]] = {
    **{f"{name}_only": _parts(name) for name in PARTS},
    **{f"without_{name}": _parts(*(p for p in PARTS if p != name)) for name in PARTS},
    "single_model": {"ensemble": {"stacking": "single"}},
    "combined_profile": {"ensemble": {"profile_evidence": "combined"}},
    "fixed_shrinkage": {"ensemble": {"shrinkage": "fixed"}},
    "rule_severity": {"ensemble": {"rule_evidence": "severity"}},
    "rule_prior_20": {"ensemble": {"rule_prior_strength": 20.0}},
    "weight_clip_5": {"weight_clip": 5.0},
    "weight_clip_20": {"weight_clip": 20.0},
    "stacker_rate_0.03": {"ensemble": {"learning_rate": 0.03}},
    "no_challenger": {"challenger_learning_rate": None},
    "warm_start_only": {"frozen": True},
}


def riskstream(
    world: World, workdir: Path, update: Mapping[str, Any] | None = None,
    budget: float = BUDGET,
) -> list[ScoredRow]:
    """The world replayed through the production path, as ``riskstream replay`` does it."""
    return replay_run(world, workdir, update, budget).rows


def replay_run(
    world: World, workdir: Path, update: Mapping[str, Any] | None = None,
    budget: float = BUDGET,
) -> LiveRun:
    """:func:`riskstream`'s whole live run: its rows, and how each lane kept its budget."""
    csv_path, mapping_path = workdir / f"{world.name}-{world.seed}.csv", workdir / "mapping.yaml"
    world.write_csv(csv_path)
    world.write_mapping(mapping_path)
    mapping = ReplayMapping.from_yaml(mapping_path)
    update = dict(update or {})
    # frozen: every outcome is due after the live part ends, so only the warm start teaches
    delay = 400 if update.pop("frozen", False) else 0  # past the 6 live months
    options = ReplayOptions(budget=budget, learn_until=world.learn_until, seed=world.seed,
                            progress_every=0, outcome_delay_days=delay)
    settings = configured_settings(options, Settings())
    if update:
        settings = settings.model_copy(update=update)
    plan = plan_replay(csv_path, mapping, options)
    run, _ = replay_in_process(plan, settings, options, Progress(len(plan.live), 0))
    return run


def measured(rows: Sequence[ScoredRow], world: World) -> dict[str, Any]:
    """The figures of the judged period: Precision@n% and ROC AUC."""
    judged = [row for row in rows if row.time >= world.measure_from]
    result = figures(judged, SHARES, revenue=True)
    return {
        "precision_at": result["precision_at"],
        "revenue_at": result["revenue_at"],
        "roc_auc": result["roc_auc"],
        "rows": len(judged),
    }


#: riskstream ranking every lane by expected revenue (probability x expected recovery)
REVENUE_RANKING = {"ranking": {"*": "revenue"}}
#: the riskstream systems of the report, by the settings each replays with
RISKSTREAM_SYSTEMS: dict[str, Mapping[str, Any]] = {
    "riskstream": {}, "riskstream_revenue": REVENUE_RANKING,
}


def systems(with_gbdt: bool = True) -> dict[str, Callable[[World, Path], list[ScoredRow]]]:
    chosen: dict[str, Callable[[World, Path], list[ScoredRow]]] = {
        **{name: partial(riskstream, update=update)
           for name, update in RISKSTREAM_SYSTEMS.items()},
        "baseline_river_te": lambda world, _: river_te(world, BUDGET),
        "random": lambda world, _: random_selection(world),
    }
    if with_gbdt:
        chosen["offline_gbdt"] = lambda world, _: offline_gbdt(world)
    return chosen


def variant(name: str) -> str:
    """The system name of an ablation variant."""
    return f"riskstream[{name}]"


def _update_of(name: str) -> Mapping[str, Any] | None:
    """The settings a riskstream system replays with (None: not a riskstream system)."""
    if name.startswith("riskstream["):
        return ABLATIONS[name[len("riskstream["):-1]]
    return RISKSTREAM_SYSTEMS.get(name)


def budget_kept(lanes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One replay's budget use over its lanes (:func:`streams.replay.report.budget_use`)."""
    return {
        "periods": sum(lane["periods"] for lane in lanes.values()),
        "within": sum(lane["within"] for lane in lanes.values()),
        "selected": sum(lane["selected"] for lane in lanes.values()),
        "allowed": round(sum(lane["allowed"] for lane in lanes.values()), 1),
        "rule_overflow": sum(lane["rule_overflow"] for lane in lanes.values()),
    }


def _run_system(task: tuple[str, int, float, str]) -> tuple[dict[str, Any], float]:
    """One system on one world: its figures and the seconds it took (a pool's unit)."""
    preset, seed, scale, name = task
    world = generate(preset, seed, scale)
    started = time.monotonic()
    update = _update_of(name)
    with tempfile.TemporaryDirectory(prefix="riskstream-targeting-") as folder:
        if update is None:
            return (measured(systems()[name](world, Path(folder)), world),
                    round(time.monotonic() - started, 2))
        run = replay_run(world, Path(folder), update)
    figures_of = {**measured(run.rows, world), "budget": budget_kept(run.budget)}
    return figures_of, round(time.monotonic() - started, 2)


def run_worlds(
    presets: Sequence[str], seeds: Sequence[int], scale: float, names: Sequence[str],
    jobs: int = 1, log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every system of ``names`` on every preset and seed, ``jobs`` replays at a time."""
    keys = [(preset, seed) for preset in presets for seed in seeds]
    tasks = [(preset, seed, scale, name) for preset, seed in keys for name in names]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_run_system, tasks))
    else:
        results = [_run_system(task) for task in tasks]
    worlds = []
    for index, (preset, seed) in enumerate(keys):
        world = generate(preset, seed, scale)
        entry: dict[str, Any] = {
            "name": world.name, "seed": world.seed, "rows": len(world.rows),
            "base_rate": round(world.base_rate, 4), "systems": {}, "seconds": {},
        }
        for offset, name in enumerate(names):
            figures_of, seconds = results[index * len(names) + offset]
            entry["systems"][name] = figures_of
            entry["seconds"][name] = seconds
        worlds.append(entry)
        _log(log, entry)
    return worlds


def ratio(entry: Mapping[str, Any], system: str, other: str, share: str = "0.05") -> float:
    mine = entry["systems"][system]["precision_at"][share] or 0.0
    theirs = entry["systems"][other]["precision_at"][share] or 0.0
    return mine / theirs if theirs else float("inf")


def checks(worlds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The issue's margins, per world and seed, and whether each is met."""
    rows = []
    for entry in worlds:
        to_baseline = ratio(entry, "riskstream", "baseline_river_te")
        row: dict[str, Any] = {
            "world": entry["name"], "seed": entry["seed"],
            "p5_to_baseline": round(to_baseline, 3),
            "met_baseline": to_baseline >= MIN_RATIO_TO_BASELINE,
        }
        if "offline_gbdt" in entry["systems"]:
            to_gbdt = ratio(entry, "riskstream", "offline_gbdt")
            row["p5_to_gbdt"] = round(to_gbdt, 3)
            row["met_gbdt"] = to_gbdt >= MIN_RATIO_TO_GBDT
        rows.append(row)
    return {
        "min_ratio_to_baseline": MIN_RATIO_TO_BASELINE,
        "min_ratio_to_gbdt": MIN_RATIO_TO_GBDT,
        "per_world": rows,
        "all_met": all(r["met_baseline"] and r.get("met_gbdt", True) for r in rows),
        "revenue_ranking": revenue_checks(worlds),
    }


def revenue_checks(worlds: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Revenue@5% and Precision@5% of ranking by expected revenue against ranking by
    probability, per world and seed."""
    rows = []
    for entry in worlds:
        if "riskstream_revenue" not in entry["systems"]:
            continue
        by_p, by_rev = entry["systems"]["riskstream"], entry["systems"]["riskstream_revenue"]
        rows.append({
            "world": entry["name"], "seed": entry["seed"],
            "revenue5_probability": by_p["revenue_at"]["0.05"],
            "revenue5_revenue": by_rev["revenue_at"]["0.05"],
            "p5_probability": by_p["precision_at"]["0.05"],
            "p5_revenue": by_rev["precision_at"]["0.05"],
        })
    return rows


def run_benchmark(
    presets: Sequence[str] | None = None, seeds: Sequence[int] = SEEDS, scale: float = 1.0,
    with_gbdt: bool = True, log: Callable[[str], None] | None = None, jobs: int = 1,
) -> dict[str, Any]:
    """Every preset and seed through every system."""
    started = time.monotonic()
    worlds = run_worlds(presets or list(PRESETS), seeds, scale, list(systems(with_gbdt)),
                        jobs, log)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "protocol": {
            "budget": BUDGET, "history": "first 12 months, all labels",
            "live": "6 months, labels of selected rows only", "judged": "last 3 months",
            "metric": "pooled daily Precision@n% (n = 1, 5, 10%) and ROC AUC", "scale": scale,
        },
        "worlds": worlds,
        "summary": summary(worlds),
        "checks": checks(worlds),
        "ablations": f"{ABLATIONS_REPORT.name} (--ablations-only)",
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def run_ablations(
    presets: Sequence[str] | None = None, seeds: Sequence[int] = SEEDS, scale: float = 1.0,
    jobs: int = 1, log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """riskstream and every variant of ``ABLATIONS`` on every preset and seed."""
    started = time.monotonic()
    names = ["riskstream", *(variant(name) for name in ABLATIONS)]
    worlds = run_worlds(presets or list(PRESETS), seeds, scale, names, jobs, log)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale,
        "variants": {name: dict(update) for name, update in ABLATIONS.items()},
        "worlds": worlds,
        "summary": summary(worlds),
        "against_default": against_default(worlds),
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def against_default(worlds: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant, on how many world-seeds its P@5% (and ROC AUC) is above, equal to or
    below riskstream's defaults, and its mean difference."""
    out: dict[str, dict[str, Any]] = {}
    for name in worlds[0]["systems"]:
        if name == "riskstream":
            continue
        p5 = [(w["systems"][name]["precision_at"]["0.05"] or 0.0)
              - (w["systems"]["riskstream"]["precision_at"]["0.05"] or 0.0) for w in worlds]
        auc = [(w["systems"][name]["roc_auc"] or 0.0) - (w["systems"]["riskstream"]["roc_auc"]
                                                         or 0.0) for w in worlds]
        out[name] = {
            "p5_better": sum(d > 1e-9 for d in p5), "p5_equal": sum(abs(d) <= 1e-9 for d in p5),
            "p5_worse": sum(d < -1e-9 for d in p5), "p5_mean_diff": round(statistics.fmean(p5), 4),
            "auc_better": sum(d > 1e-9 for d in auc), "auc_worse": sum(d < -1e-9 for d in auc),
            "auc_mean_diff": round(statistics.fmean(auc), 4),
        }
    return out


def _log(log: Callable[[str], None] | None, entry: Mapping[str, Any]) -> None:
    if log is not None:
        p5 = {k: v["precision_at"]["0.05"] for k, v in entry["systems"].items()}
        log(f"{entry['name']} seed {entry['seed']} ({entry['rows']} rows): P@5% " + ", ".join(
            f"{k} {v:.3f}" for k, v in p5.items() if v is not None))


def summary(worlds: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean P@5% and ROC AUC per world preset and system, over the seeds."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in dict.fromkeys(w["name"] for w in worlds):
        entries = [w for w in worlds if w["name"] == name]
        out[name] = {}
        for system in entries[0]["systems"]:
            figures_of = [e["systems"][system] for e in entries]
            def mean(
                pick: Callable[[Mapping[str, Any]], float | None],
                figures_of: list[Mapping[str, Any]] = figures_of,
            ) -> float:
                return round(statistics.fmean(pick(f) or 0.0 for f in figures_of), 3)

            out[name][system] = {
                "p1": mean(lambda f: f["precision_at"]["0.01"]),
                "p5": mean(lambda f: f["precision_at"]["0.05"]),
                "p10": mean(lambda f: f["precision_at"]["0.1"]),
                "r5": mean(lambda f: f["revenue_at"]["0.05"]),
                "roc_auc": mean(lambda f: f["roc_auc"]),
            }
    return out


def readme_table(report: Mapping[str, Any]) -> str:
    """The README's targeting tables: mean over seeds per world, then the issue's margins on
    every world and seed, from the report."""
    return (summary_table(report) + "\n\n" + margins_table(report) + "\n\n"
            + revenue_table(report) + "\n\n" + budget_table(report))


def margins_table(report: Mapping[str, Any]) -> str:
    """riskstream's P@5% against the baseline's and the anchor's, per world and seed."""
    figures_of = {(w["name"], w["seed"]): w["systems"] for w in report["worlds"]}
    lines = [
        "| world | seed | riskstream P@5% | / baseline_river_te | / offline_gbdt | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["checks"]["per_world"]:
        p5 = figures_of[(row["world"], row["seed"])]["riskstream"]["precision_at"]["0.05"]
        met = row["met_baseline"] and row.get("met_gbdt", True)
        lines.append(f"| {row['world']} | {row['seed']} | {p5:.3f} | "
                     f"{row['p5_to_baseline']:.2f}x | {row.get('p5_to_gbdt', 0.0):.2f}x | "
                     f"{'yes' if met else 'no'} |")
    return "\n".join(lines)


def summary_table(report: Mapping[str, Any]) -> str:
    """Mean P@n%, Revenue@5% and ROC AUC per world and system, over the seeds."""
    lines = [
        "| world | system | P@1% | P@5% | P@10% | Revenue@5% | ROC AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for world, by_system in report["summary"].items():
        for system, f in by_system.items():
            lines.append(f"| {world} | {system} | {f['p1']:.3f} | {f['p5']:.3f} | "
                         f"{f['p10']:.3f} | {f['r5']:.3f} | {f['roc_auc']:.3f} |")
    return "\n".join(lines)


def revenue_table(report: Mapping[str, Any]) -> str:
    """Ranking by expected revenue against ranking by probability, per world and seed."""
    lines = [
        "| world | seed | Revenue@5% by probability | by expected revenue | "
        "P@5% by probability | by expected revenue |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["checks"]["revenue_ranking"]:
        lines.append(f"| {row['world']} | {row['seed']} | {row['revenue5_probability']:.3f} | "
                     f"{row['revenue5_revenue']:.3f} | {row['p5_probability']:.3f} | "
                     f"{row['p5_revenue']:.3f} |")
    return "\n".join(lines)


def budget_table(report: Mapping[str, Any]) -> str:
    """How riskstream's lanes (one per customs office) kept their budget per day, per world
    and seed: periods within 5% or one inspection of their allowance, and the selections of
    the six live months against what they allowed."""
    lines = [
        "| world | seed | office-days kept | selected | allowed | rule overflow |",
        "|---|---|---|---|---|---|",
    ]
    for entry in report["worlds"]:
        kept = entry["systems"]["riskstream"].get("budget")
        if not kept or not kept["periods"]:
            continue
        lines.append(f"| {entry['name']} | {entry['seed']} | {kept['within']:,} of "
                     f"{kept['periods']:,} | {kept['selected']} | {kept['allowed']} | "
                     f"{kept['rule_overflow']} |")
    return "\n".join(lines)


def ablation_table(report: Mapping[str, Any]) -> str:
    """Per variant: mean P@5% and ROC AUC per world over the seeds, and against the defaults
    on every world-seed (P@5% better / worse, mean difference)."""
    worlds = list(report["summary"])
    lines = ["| variant | " + " | ".join(f"{w} P@5% / AUC" for w in worlds)
             + " | P@5% vs defaults: better / worse (mean) |",
             "|---" * (len(worlds) + 2) + "|"]
    for name in report["summary"][worlds[0]]:
        cells = [f"{report['summary'][w][name]['p5']:.3f} / "
                 f"{report['summary'][w][name]['roc_auc']:.3f}" for w in worlds]
        versus = report["against_default"].get(name)
        cells.append("" if versus is None else f"{versus['p5_better']} / {versus['p5_worse']} "
                     f"({versus['p5_mean_diff']:+.3f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", default=None,
                        help=f"default: bench/{REPORT.name}, or bench/{ABLATIONS_REPORT.name} "
                             "with --ablations-only")
    parser.add_argument("--preset", action="append", choices=sorted(PRESETS))
    parser.add_argument("--seed", action="append", type=int)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=1, help="replays at once")
    parser.add_argument("--no-gbdt", action="store_true")
    parser.add_argument("--ablations-only", action="store_true",
                        help="only the ablations, into bench/targeting_ablations.json")
    args = parser.parse_args(argv)
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.ablations_only:
        ablations = run_ablations(args.preset, args.seed or SEEDS, args.scale, args.jobs, log)
        Path(args.report or ABLATIONS_REPORT).write_text(
            json.dumps(ablations, indent=2) + "\n", encoding="utf-8")
        print(ablation_table(ablations))
        return 0
    report = run_benchmark(args.preset, args.seed or SEEDS, args.scale, not args.no_gbdt,
                           log, args.jobs)
    Path(args.report or REPORT).write_text(json.dumps(report, indent=2) + "\n",
                                           encoding="utf-8")
    print(readme_table(report))
    return 0 if report["checks"]["all_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
