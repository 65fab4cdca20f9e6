"""Alembic environment: one URL resolver for the app, the CLI and migrations."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from app.db import database_url, sync_url
from app.models import target_metadata

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=sync_url(config.attributes.get("url") or database_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = sync_url(config.attributes.get("url") or database_url())
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
