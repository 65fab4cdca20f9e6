"""Create or drop a throw-away database on a PostgreSQL server (used by scripts/test).

python scripts/scratchdb.py create SERVER_URL   # prints the new database's URL
python scripts/scratchdb.py drop DATABASE_URL
"""

from __future__ import annotations

import secrets
import sys

from sqlalchemy import make_url

from app.db import create_database, drop_database, libpq_url

PREFIX = "pguard_scratch_"


def main(action: str, url: str) -> None:
    """Run one action; the URL is any libpq or SQLAlchemy PostgreSQL URL."""
    if action == "create":
        made = create_database(url, f"{PREFIX}{secrets.token_hex(4)}")
        sys.stdout.write(libpq_url(made))
    elif action == "drop":
        name = make_url(url).database or ""
        if not name.startswith(PREFIX):
            sys.exit(f"refusing to drop {name!r}: not a scratch database")
        drop_database(url)
    else:
        sys.exit(f"unknown action {action!r}: use create or drop")


if __name__ == "__main__":
    main(*sys.argv[1:3])
