"""Settings read from the environment once, as typed dataclasses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout the service runs from (it is installed in editable mode)."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class DatabaseSettings:
    """Where PostgreSQL is."""

    url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    """Any PostgreSQL server (``postgresql://…``); unset means the embedded one under var/."""
    embedded_dir: Path = field(
        default_factory=lambda: Path(_env("PGUARD_VAR_DIR", str(PROJECT_ROOT / "var"))) / "pgdata"
    )
    """Data directory of the embedded PostgreSQL, reused on the next start."""
    embedded_database: str = field(default_factory=lambda: _env("PGUARD_DB_NAME", "pguard"))
    """Database created inside the embedded server."""
    pool_size: int = field(default_factory=lambda: int(_env("PGUARD_DB_POOL_SIZE", "10")))
    """Connections each app process keeps open."""
    echo: bool = field(default_factory=lambda: _env("PGUARD_DB_ECHO", "") == "1")
    """Log every SQL statement (development only)."""


@dataclass(frozen=True)
class ServerSettings:
    """How ``pguard run`` serves."""

    host: str = field(default_factory=lambda: _env("PGUARD_HOST", "127.0.0.1"))
    """Interface to bind."""
    port: int = field(default_factory=lambda: int(_env("PGUARD_PORT", "8000")))
    """Port to bind."""


@dataclass(frozen=True)
class LogSettings:
    """Structured logging."""

    level: str = field(default_factory=lambda: _env("PGUARD_LOG_LEVEL", "INFO"))
    """Minimum level of log lines."""
    json: bool = field(default_factory=lambda: _env("PGUARD_LOG_JSON", "") == "1")
    """One JSON object a line (production) instead of readable console lines."""


@dataclass(frozen=True)
class Settings:
    """All settings of one process."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    log: LogSettings = field(default_factory=LogSettings)
    debug: bool = field(default_factory=lambda: _env("PGUARD_DEBUG", "") == "1")
    """Show tracebacks in error responses (never in production)."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
