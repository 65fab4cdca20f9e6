"""The embedded PostgreSQL, killed under ``pguard run``, is started again on its own data."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import psycopg

from app.db import EmbeddedSupervisor, _embedded_server, embedded_server_url, libpq_url

WAIT_SECONDS = 60.0


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


def _answers(url: str) -> bool:
    with (
        contextlib.suppress(psycopg.OperationalError),
        psycopg.connect(url, connect_timeout=2) as conn,
    ):
        return conn.execute("SELECT count(*) FROM kept").fetchone() == (1,)
    return False


def test_a_killed_embedded_server_is_started_again_on_the_same_data() -> None:
    root = Path(tempfile.mkdtemp(prefix="pguard-embedded-"))
    data_dir = root / "pgdata"
    supervisor = EmbeddedSupervisor(data_dir, interval=0.1)
    try:
        url = libpq_url(embedded_server_url(data_dir, "postgres"))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept AS SELECT 1 AS one")
        supervisor.start()
        killed = _postmaster_pid(data_dir)
        os.kill(killed, signal.SIGKILL)

        deadline = time.monotonic() + WAIT_SECONDS
        while not _answers(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _answers(url), "the embedded server was not started again"
        assert _postmaster_pid(data_dir) != killed
    finally:
        supervisor.stop()
        _embedded_server(data_dir).cleanup()
        shutil.rmtree(root, ignore_errors=True)
