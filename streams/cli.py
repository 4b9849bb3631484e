"""The ``riskstream`` command line."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from streams.settings import Settings
from workbench.cli import workbench_cli

cli = typer.Typer(
    help="riskstream: real-time customs risk scoring on Kafka.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets or personal data
)
topics_cli = typer.Typer(help="Manage riskstream's Kafka topics.", no_args_is_help=True)
cli.add_typer(topics_cli, name="topics")
rules_cli = typer.Typer(help="Work with rule books.", no_args_is_help=True)
cli.add_typer(rules_cli, name="rules")
privacy_cli = typer.Typer(help="Data-subject requests.", no_args_is_help=True)
cli.add_typer(privacy_cli, name="privacy")
deadletter_cli = typer.Typer(help="Repair rejected input.", no_args_is_help=True)
cli.add_typer(deadletter_cli, name="deadletter")
cli.add_typer(workbench_cli, name="workbench")


def _configure_logging() -> None:
    level = {"warn": "WARNING"}.get(Settings().log_level, Settings().log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.command()
def broker(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (embedded broker)")] = 9092,
    kind: Annotated[
        str, typer.Option(help="embedded (Tansu, in memory) or apache (Apache Kafka, KRaft)")
    ] = "embedded",
    nodes: Annotated[int, typer.Option(help="Apache Kafka nodes (1 or 3)")] = 1,
    data: Annotated[
        Path, typer.Option(help="Apache Kafka's log dirs; a second run reuses them")
    ] = Path(".riskstream/kafka"),
) -> None:
    """Run a broker in the foreground: the embedded one (Tansu, in memory), or Apache Kafka
    from its Maven jars (needs java, and mvn for the first fetch)."""
    from streams.broker import (
        KAFKA_SERVER_JVM_OPTS,
        ApacheKafkaCluster,
        BrokerUnavailable,
        EmbeddedBroker,
    )

    if kind not in ("embedded", "apache"):
        raise typer.Exit(_fail(f"unknown broker kind {kind!r}: use embedded or apache"))
    try:
        if kind == "apache":
            with ApacheKafkaCluster(data, nodes=nodes, jvm_opts=KAFKA_SERVER_JVM_OPTS) as cluster:
                typer.echo(
                    f"Apache Kafka ({nodes} node(s)) on {cluster.bootstrap}, data in {data}; "
                    "Ctrl-C stops"
                )
                while all(node.running for node in cluster.nodes):
                    time.sleep(0.5)
                return
        with EmbeddedBroker(port=port, quiet=False) as running:
            typer.echo(f"broker listening on {running.bootstrap} (memory storage); Ctrl-C stops")
            while running.running:
                time.sleep(0.5)
    except BrokerUnavailable as exc:
        raise typer.Exit(_fail(str(exc))) from None
    except KeyboardInterrupt:
        pass


@topics_cli.command("create")
def topics_create() -> None:
    """Create every topic with its partition count and config; idempotent."""
    from streams.admin import create_topics

    reports = create_topics(Settings())
    for report in reports:
        typer.echo(f"{report.name}: {report.action}")
    if all(report.action == "exists" for report in reports):
        typer.echo("nothing to do: every topic exists")


@topics_cli.command("list")
def topics_list() -> None:
    """Show the topic table: name, key, schema, partitions."""
    from streams.topology import Topology

    for spec in Topology.from_settings(Settings()).specs():
        typer.echo(f"{spec.name}\t{spec.key}\t{spec.schema}\t{spec.partitions}\t{spec.purpose}")


@cli.command()
def worker(
    engine: Annotated[
        str | None,
        typer.Option(help="fast (a plain confluent-kafka loop) or faust (the agent); "
                     "default: RISKSTREAM_ENGINE, fast"),
    ] = None,
) -> None:
    """Run a scorer worker until stopped."""
    settings = Settings()
    engine = engine or settings.engine
    if engine == "fast":
        from streams.fastpath import run_fast_worker
        from streams.transactions import ExactlyOnceUnsupported

        _configure_logging()
        try:
            raise typer.Exit(run_fast_worker())
        except ExactlyOnceUnsupported as exc:
            raise typer.Exit(_fail(str(exc))) from None
    if engine != "faust":
        raise typer.Exit(_fail(f"unknown engine {engine!r}: use faust or fast"))
    if settings.processing_guarantee == "exactly_once":
        raise typer.Exit(_fail(
            "exactly_once is implemented by the fast engine; use --engine fast, or "
            "RISKSTREAM_PROCESSING_GUARANTEE=at_least_once with faust"
        ))
    from streams.worker import run_worker

    run_worker()


@cli.command()
def learner(
    duration: Annotated[float | None, typer.Option(help="seconds; default: until stopped")] = None,
) -> None:
    """Run the learner: the single writer of learned state, publishing model snapshots."""
    from streams.learner import run_learner
    from streams.transactions import ExactlyOnceUnsupported

    _configure_logging()
    try:
        run_learner(duration)
    except ExactlyOnceUnsupported as exc:
        raise typer.Exit(_fail(str(exc))) from None


@cli.command()
def simulate(
    duration: Annotated[float | None, typer.Option(help="seconds; default: until Ctrl-C")] = None,
    rate_scale: Annotated[float, typer.Option(help="multiply every hub's event rate")] = 1.0,
    seed: Annotated[int, typer.Option(help="seed of the synthetic world")] = 7,
    outcome_delay: Annotated[float, typer.Option(help="seconds from verdict to outcome")] = 2.0,
    drift_after: Annotated[
        float | None, typer.Option(help="seconds until smugglers change pattern")
    ] = None,
    authority: Annotated[bool, typer.Option(help="also answer verdicts with outcomes")] = True,
    rates: Annotated[
        str | None,
        typer.Option(help='events/s per stream and hub, JSON: {"postal": {"hub_FRA": 5}}'),
    ] = None,
    export_csv: Annotated[
        Path | None, typer.Option(help="write events with hidden truth to this CSV and stop")
    ] = None,
    rows: Annotated[int, typer.Option(help="rows to export with --export-csv")] = 10_000,
    stream: Annotated[str | None, typer.Option(help="only this stream (export)")] = None,
    workbench_url: Annotated[
        str | None,
        typer.Option(help="answer through this officer workbench: only the cases nobody "
                     "claimed within --outcome-delay (token: RISKSTREAM_WORKBENCH_SYSTEM_TOKEN)"),
    ] = None,
) -> None:
    """Publish simulated hub traffic and inspection outcomes at real-time rates."""
    import json
    from datetime import UTC, datetime

    from simulator import DEFAULT_RATES, HubWorld, scale_rates
    from simulator import export_csv as write_csv
    from streams.hubsim import HubSimulator

    _configure_logging()
    chosen = json.loads(rates) if rates else DEFAULT_RATES
    if stream is not None:
        chosen = {stream: chosen[stream]}
    scaled = scale_rates(chosen, rate_scale)
    if export_csv is not None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        drift_at = None if drift_after is None else start + timedelta(seconds=drift_after)
        world = HubWorld(seed=seed, drift_at=drift_at)
        written = write_csv(export_csv, world, start, n_rows=rows, rates=scaled)
        typer.echo(f"wrote {written} rows to {export_csv}")
        return
    from streams import metrics

    settings = Settings()
    client = None
    if workbench_url is not None:
        from streams.workbench_client import WorkbenchClient
        from workbench.settings import WorkbenchSettings

        token = WorkbenchSettings().system_token
        if token is None:
            raise typer.Exit(_fail("--workbench-url needs RISKSTREAM_WORKBENCH_SYSTEM_TOKEN, "
                                   "the token the workbench was started with"))
        client = WorkbenchClient(workbench_url, token.get_secret_value())
    metrics.describe_build()
    metrics.preinitialise_simulator()
    metrics.serve(settings.metrics_port, settings.metrics_addr)
    sim = HubSimulator(
        settings,
        scaled,
        seed=seed,
        outcome_delay_s=outcome_delay,
        drift_after_s=drift_after,
        authority=authority,
        workbench=client,
    )
    try:
        tally = sim.run(duration)
    except KeyboardInterrupt:
        tally = sim.tally
    typer.echo(f"published {tally.published}, outcomes {tally.outcomes}")


@cli.command("warm-start")
def warm_start(
    history: Annotated[Path, typer.Argument(help="CSV of past declarations with a label column")],
    out: Annotated[Path, typer.Option(help="where to write the signed model snapshot")] = Path(
        "model.snapshot"
    ),
    stream: Annotated[str | None, typer.Option(help="stream of every row (else a column)")] = None,
) -> None:
    """Train the models on history before the worker goes live; writes a signed snapshot."""
    from scorers.history import read_history
    from scorers.history import warm_start as learn_history
    from streams.runtime import build_model, build_pseudonymiser, write_model_file

    settings = Settings()
    model = build_model(settings)
    report = learn_history(
        model,
        read_history(history),
        build_pseudonymiser(settings),
        stream=stream,
    )
    for problem in report.problems:
        typer.echo(f"skipped {problem}", err=True)
    model.version = f"warm-{sum(report.learned.values())}"
    size = write_model_file(settings, model, out)
    typer.echo(
        f"learned {report.learned} ({report.findings} findings), skipped {report.skipped}; "
        f"wrote {out} ({size} bytes, version {model.version})"
    )


@rules_cli.command("check")
def rules_check(path: Annotated[Path, typer.Argument(help="rule book YAML")]) -> None:
    """Validate a rule book; every problem is reported with its line."""
    from scorers.rules import RuleBook, RuleFileError

    try:
        book = RuleBook.from_yaml(path)
    except RuleFileError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{path}: {len(book.rules)} rules, {len(book.watchlists)} watch lists, all valid")


@cli.command()
def demo(
    duration: Annotated[float | None, typer.Option(help="seconds; default: until Ctrl-C")] = None,
    rate_scale: Annotated[float, typer.Option(help="multiply every hub's event rate")] = 1.0,
    metrics_port: Annotated[int | None, typer.Option(help="port of the worker's /metrics")] = None,
    unattended_after: Annotated[
        float, typer.Option(help="seconds a workbench case waits for an officer before the "
                            "simulated authority answers it")
    ] = 10.0,
) -> None:
    """Start broker, topics, worker, learner, workbench and simulators; show a live summary."""
    from streams.broker import BrokerUnavailable
    from streams.demo import run_demo

    try:
        code = run_demo(duration, rate_scale=rate_scale, metrics_port=metrics_port,
                        unattended_after_s=unattended_after)
    except BrokerUnavailable as exc:
        raise typer.Exit(_fail(str(exc))) from None
    raise typer.Exit(code)


@cli.command()
def replay(
    input_csv: Annotated[Path, typer.Argument(help="CSV of past declarations, one row each")],
    mapping: Annotated[
        Path, typer.Option(help="YAML mapping of the CSV's columns (see deploy/replay/)")
    ],
    budget: Annotated[float, typer.Option(help="inspection rate the policy holds")] = 0.05,
    learn_until: Annotated[
        str | None, typer.Option(help="ISO date: earlier rows are history, learnt with labels")
    ] = None,
    report: Annotated[Path, typer.Option(help="JSON report")] = Path("replay-report.json"),
    plot: Annotated[
        Path | None, typer.Option(help="PNG of precision@n% over time and score distributions")
    ] = None,
    dump_scores: Annotated[
        Path | None, typer.Option(help="CSV of every live row: score, selection, truth")
    ] = None,
    via_kafka: Annotated[
        bool, typer.Option("--via-kafka", help="real worker and learner on the embedded broker")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="default: RISKSTREAM_SEED")] = None,
    outcome_delay_days: Annotated[
        int, typer.Option(help="outcomes arrive at the end of the row's day plus these days")
    ] = 0,
    progress_every: Annotated[int, typer.Option(help="progress line every N rows; 0: none")] = (
        10_000
    ),
    max_bad_share: Annotated[
        float, typer.Option(help="stop if more than this share of rows is unreadable")
    ] = 0.01,
    workdir: Annotated[
        Path | None, typer.Option(help="--via-kafka: keep the worker and learner logs here")
    ] = None,
) -> None:
    """Replay past declarations through the production logic and report Precision@n%."""
    from streams.broker import BrokerUnavailable
    from streams.replay.backtest import parse_day
    from streams.replay.backtest import replay as run_replay
    from streams.replay.engine import ReplayError, ReplayOptions
    from streams.replay.mapping import MappingError

    try:
        cut = parse_day(learn_until) if learn_until else None
    except ValueError:
        raise typer.Exit(_fail(f"--learn-until {learn_until!r} is not an ISO date")) from None
    try:
        options = ReplayOptions(
            budget=budget, learn_until=cut, seed=seed, outcome_delay_days=outcome_delay_days,
            progress_every=progress_every, max_bad_share=max_bad_share,
        )
        result = run_replay(
            input_csv, mapping, options, report_path=report, dump_scores=dump_scores,
            plot_path=plot, via_kafka=via_kafka, workdir=workdir,
        )
    except (MappingError, ReplayError, BrokerUnavailable, ValueError) as exc:
        raise typer.Exit(_fail(str(exc))) from None
    precision = ", ".join(
        f"P@{float(n):.0%} {p:.3f}" for n, p in result["precision_at"].items() if p is not None
    )
    typer.echo(
        f"scored {result['n_scored']} live rows, selected {result['n_selected']} "
        f"(hit rate {result['hit_rate'] or 0:.3f}, base rate {result['base_rate'] or 0:.3f}); "
        f"{precision}; ROC AUC {result['roc_auc'] or float('nan'):.3f}; "
        f"skipped {result['skipped_rows']} rows; report in {report}"
    )


@cli.command()
def bench(
    report: Annotated[Path, typer.Option(help="where to write the JSON report")] = Path(
        "bench/report.json"
    ),
    quick: Annotated[bool, typer.Option(help="smaller runs: a smoke test, noisier")] = False,
    keep: Annotated[
        Path | None, typer.Option(help="keep the workers' and learner's logs in this folder")
    ] = None,
) -> None:
    """Benchmark one worker (faust and fast engines), the learner and the broker, on the
    embedded broker and on Apache Kafka side by side (~9 min)."""
    import sys

    # bench/ ships with the source tree, not the package: find it next to streams/
    root = Path(__file__).resolve().parent.parent
    if not (root / "bench" / "run.py").is_file():
        raise typer.Exit(_fail(f"no bench/run.py next to {root / 'streams'}: run from a checkout"))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from bench.run import run_benchmark, summary

    result = run_benchmark(
        report, quick=quick, keep=keep, say=lambda line: typer.echo(line, err=True)
    )
    typer.echo(summary(result))
    typer.echo(f"report: {report} ({result['seconds']} s)")

@privacy_cli.command("erase")
def privacy_erase(
    request_id: Annotated[str | None, typer.Option(help="id for the audit trail")] = None,
) -> None:
    """Erase a subject's risk profiles: personal values on stdin, one per line (name,
    document number, account id, phone...); only their tokens are sent."""
    import sys

    from streams.privacy import erasure_request, publish_erasure

    settings = Settings()
    try:
        request = erasure_request(settings, sys.stdin.read().splitlines(), request_id)
        publish_erasure(settings, request)
    except (ValueError, RuntimeError) as exc:
        raise typer.Exit(_fail(str(exc))) from None
    typer.echo(
        f"erasure request {request['request_id']} published: {len(request['tokens'])} tokens; "
        "the learner applies it and publishes a snapshot without the subject's profiles"
    )


@deadletter_cli.command("open")
def deadletter_open(
    out: Annotated[Path, typer.Option(help="folder for the unsealed payloads")] = Path(
        "deadletters"
    ),
) -> None:
    """Write every dead letter's raw payload, unsealed, to a folder, with its reason."""
    from streams.privacy import open_dead_letters

    letters = open_dead_letters(Settings(), out)
    for letter in letters:
        where = letter.path or "(payload dropped, or sealed under another key)"
        typer.echo(f"{letter.source}\t{where}\t{letter.reason}")
    typer.echo(f"{len(letters)} dead letters; payloads in {out}")


def _fail(message: str) -> int:
    typer.echo(f"error: {message}", err=True)
    return 1


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
