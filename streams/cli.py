"""The ``riskstream`` command line."""

from __future__ import annotations

import logging
import time
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
def simulate(
    duration: Annotated[float | None, typer.Option(help="seconds; default: until Ctrl-C")] = None,
    rate_scale: Annotated[float, typer.Option(help="multiply every hub's event rate")] = 1.0,
    seed: Annotated[int, typer.Option(help="seed of the synthetic world")] = 7,
    outcome_delay: Annotated[float, typer.Option(help="seconds from verdict to outcome")] = 2.0,
    drift_after: Annotated[
        float | None, typer.Option(help="seconds until smugglers change pattern")
    ] = None,
    authority: Annotated[bool, typer.Option(help="also answer verdicts with outcomes")] = True,
) -> None:
    """Publish simulated hub traffic and inspection outcomes at real-time rates."""
    from simulator import DEFAULT_RATES
    from streams.hubsim import HubSimulator

    _configure_logging()
    rates = {s: {h: r * rate_scale for h, r in hubs.items()} for s, hubs in DEFAULT_RATES.items()}
    sim = HubSimulator(
        Settings(),
        rates,
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
