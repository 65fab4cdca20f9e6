"""Database URLs as people and tools write them, one server or several (a primary and its
standbys, as ``pg_autoctl show uri`` prints them), for SQLAlchemy and for libpq."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import make_url
from sqlalchemy.dialects.postgresql.psycopg import PGDialectAsync_psycopg

from app.db import async_url, libpq_url, sync_url

PAIR = {"host": "127.0.0.1,127.0.0.1", "port": "6001,6002"}


def _connect_args(url: str) -> dict[str, object]:
    """What SQLAlchemy hands psycopg for ``url``."""
    _, options = PGDialectAsync_psycopg().create_connect_args(make_url(url))
    return dict(options)


@pytest.mark.parametrize(
    "given",
    [
        # pg_autoctl show uri
        "postgres://postgres@127.0.0.1:6001,127.0.0.1:6002/pguard?target_session_attrs=read-write",
        "postgresql://postgres@/pguard?host=127.0.0.1:6001,127.0.0.1:6002&target_session_attrs=read-write",
        "postgresql://postgres@/pguard?host=127.0.0.1:6001&host=127.0.0.1:6002&target_session_attrs=read-write",
        "postgresql://postgres@/pguard?host=127.0.0.1,127.0.0.1&port=6001,6002&target_session_attrs=read-write",
        "postgresql+psycopg://postgres@/pguard?host=127.0.0.1:6001&host=127.0.0.1:6002&target_session_attrs=read-write",
    ],
)
def test_every_way_of_naming_two_servers_reaches_psycopg_as_both(given: str) -> None:
    url = async_url(given)
    assert url.startswith("postgresql+psycopg://")
    assert sync_url(given) == url
    assert async_url(url) == url  # stable: a URL made here can be given again
    expected = {"user": "postgres", "dbname": "pguard", "target_session_attrs": "read-write"}
    assert _connect_args(url) == expected | PAIR
    assert psycopg.conninfo.conninfo_to_dict(libpq_url(given)) == expected | PAIR
    assert libpq_url(url) == libpq_url(given)


def test_one_server_keeps_its_url() -> None:
    url = "postgresql://app:s%40cret@db.example:5433/pguard?sslmode=require"
    assert (
        async_url(url) == "postgresql+psycopg://app:s%40cret@db.example:5433/pguard?sslmode=require"
    )
    assert libpq_url(async_url(url)) == url
    assert psycopg.conninfo.conninfo_to_dict(libpq_url(url))["password"] == "s@cret"


def test_a_unix_socket_directory_stays_a_host() -> None:
    url = "postgresql://postgres:@/pguard?host=/run/postgresql"
    assert _connect_args(async_url(url))["host"] == "/run/postgresql"
    assert psycopg.conninfo.conninfo_to_dict(libpq_url(url))["host"] == "/run/postgresql"


def test_several_servers_without_ports_take_the_default_port() -> None:
    options = psycopg.conninfo.conninfo_to_dict(libpq_url("postgres://postgres@a,b/pguard"))
    assert options["host"] == "a,b"
    assert options.get("port", "") in {"", ","}


def test_a_database_other_than_postgresql_is_refused() -> None:
    with pytest.raises(ValueError, match="only PostgreSQL"):
        async_url("mysql://root@localhost/pguard")
