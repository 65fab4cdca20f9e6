"""Create or drop a throw-away database on a PostgreSQL server (used by scripts/test).

python scripts/scratchdb.py create SERVER_URL   # prints the new database's URL
python scripts/scratchdb.py drop DATABASE_URL
"""

from __future__ import annotations

import secrets
import sys

import psycopg
from psycopg import sql
from sqlalchemy import make_url


def main(action: str, url: str) -> None:
    """Run one action; the URL is any libpq or SQLAlchemy PostgreSQL URL."""
    target = make_url(url).set(drivername="postgresql")
    admin = target.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if action == "create":
            name = f"pguard_scratch_{secrets.token_hex(4)}"
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            sys.stdout.write(target.set(database=name).render_as_string(hide_password=False))
        elif action == "drop":
            name = target.database or ""
            if not name.startswith("pguard_scratch_"):
                sys.exit(f"refusing to drop {name!r}: not a scratch database")
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        else:
            sys.exit(f"unknown action {action!r}: use create or drop")


if __name__ == "__main__":
    main(*sys.argv[1:3])
