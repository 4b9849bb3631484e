"""Alembic environment of the case store: run on the connection workbench.database gives it,
or on ``sqlalchemy.url`` when alembic is called by hand (``alembic -c ... upgrade head``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from workbench.tables import metadata

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {},
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
