"""``riskstream workbench``: serve the officers' web application, manage its officers."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

workbench_cli = typer.Typer(
    help="The officer workbench: the case queue in a browser, outcomes entered where the "
    "inspection happens.",
    pretty_exceptions_show_locals=False,  # locals may hold passwords
)


@workbench_cli.callback(invoke_without_command=True)
def serve(ctx: typer.Context) -> None:
    """Serve the workbench on RISKSTREAM_WORKBENCH_ADDR:RISKSTREAM_WORKBENCH_PORT until
    stopped (migrates the case store first)."""
    if ctx.invoked_subcommand is not None:
        return
    from streams.settings import Settings
    from workbench.server import run_workbench
    from workbench.settings import WorkbenchSettings

    settings = Settings()
    level = {"warn": "WARNING"}.get(settings.log_level, settings.log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_workbench(settings, WorkbenchSettings())
    except ValueError as exc:  # a refused setting: say which, not a traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@workbench_cli.command("add-officer")
def add_officer(
    username: Annotated[str, typer.Argument(help="login name, e.g. olga.meier")],
    hub: Annotated[list[str], typer.Option(help="a hub the officer works at (repeat)")] = [],  # noqa: B006
    supervisor: Annotated[bool, typer.Option(help="sees and closes every hub's cases")] = False,
    unit: Annotated[
        str | None, typer.Option(help="customs unit named on outcomes (default: unit_<HUB>)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="read the password from the first line of stdin")
    ] = False,
) -> None:
    """Create an officer, or replace one (password, hubs, role). The password is asked for,
    or read from stdin, never taken from the command line."""
    from workbench.database import connect, migrate
    from workbench.officers import add_officer as create
    from workbench.settings import WorkbenchSettings

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    engine = connect(WorkbenchSettings().database_url.get_secret_value())
    migrate(engine)
    try:
        officer = create(engine, username, password, hub,
                         role="supervisor" if supervisor else "officer", unit=unit)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    hubs = "every hub" if officer.supervisor else ", ".join(sorted(officer.hubs))
    typer.echo(f"{officer.role} {officer.username} ({officer.unit}): {hubs}")


@workbench_cli.command("migrate")
def migrate_store() -> None:
    """Bring the case store's tables up to date (the server does this when it starts)."""
    from workbench.database import connect, migrate
    from workbench.settings import WorkbenchSettings

    engine = connect(WorkbenchSettings().database_url.get_secret_value())
    typer.echo(f"case store at migration {migrate(engine)}")
