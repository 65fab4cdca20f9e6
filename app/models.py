"""Every table the application owns, for Alembic's autogenerate and ``alembic check``."""

from __future__ import annotations

from escrow import metadata as escrow_metadata

target_metadata = [escrow_metadata]
