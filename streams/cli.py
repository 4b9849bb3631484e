"""The ``riskstream`` command line."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from streams.settings import Settings

cli = typer.Typer(
    help="riskstream: real-time customs risk scoring on Kafka.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets or personal data
)
topics_cli = typer.Typer(help="Manage riskstream's Kafka topics.", no_args_is_help=True)
cli.add_typer(topics_cli, name="topics")
rules_cli = typer.Typer(help="Work with rule books.", no_args_is_help=True)
cli.add_typer(rules_cli, name="rules")


def _configure_logging() -> None:
    level = {"warn": "WARNING"}.get(Settings().log_level, Settings().log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.command()
def broker(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 9092,
) -> None:
    """Run the embedded Kafka-compatible broker (Tansu) in the foreground, in memory."""
    from streams.broker import BrokerUnavailable, EmbeddedBroker

    try:
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
def worker() -> None:
    """Run a scorer worker (faust) until stopped."""
    from streams.worker import run_worker

    run_worker()


@cli.command()
def learner(
    duration: Annotated[float | None, typer.Option(help="seconds; default: until stopped")] = None,
) -> None:
    """Run the learner: the single writer of learned state, publishing model snapshots."""
    from streams.learner import run_learner

    _configure_logging()
    run_learner(duration)


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
    sim = HubSimulator(
        Settings(),
        scaled,
        seed=seed,
        outcome_delay_s=outcome_delay,
        drift_after_s=drift_after,
        authority=authority,
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
    from schemas import Pseudonymiser
    from scorers.history import read_history
    from scorers.history import warm_start as learn_history
    from streams.runtime import build_model, write_model_file

    settings = Settings()
    model = build_model(settings)
    report = learn_history(
        model,
        read_history(history),
        Pseudonymiser(settings.pseudonym_key.get_secret_value().encode()),
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
) -> None:
    """Start broker, topics, worker and simulators, and show a live summary."""
    from streams.broker import BrokerUnavailable
    from streams.demo import run_demo

    try:
        code = run_demo(duration, rate_scale=rate_scale, metrics_port=metrics_port)
    except BrokerUnavailable as exc:
        raise typer.Exit(_fail(str(exc))) from None
    raise typer.Exit(code)


def _fail(message: str) -> int:
    typer.echo(f"error: {message}", err=True)
    return 1


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
