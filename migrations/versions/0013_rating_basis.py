"""What a rating's reasons were built from, so that a re-rating rebuilds them only on a change.

A night's re-rating of a district rates every merchant, but few merchants' records change in a
day. ``basis`` is a digest of what a rating's reasons are made of (the model and cut points,
the merchant's feature values, the records they came from); when a re-rating finds the same
digest, it keeps the stored reasons instead of building their JSON again. ``NULL`` (ratings
written before this revision) never matches, so those are rebuilt once.

Ratings are rewritten every night while their grade rarely changes: room left on each page
(fillfactor 70) lets PostgreSQL write the new row version beside the old one without touching
the indexes (a heap-only tuple update).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the digest; leave room on the pages for the next version of each row."""
    op.add_column("ratings", sa.Column("basis", sa.LargeBinary(), nullable=True))
    op.execute("ALTER TABLE ratings SET (fillfactor = 70)")


def downgrade() -> None:
    """Drop the digest and the page room."""
    op.execute("ALTER TABLE ratings RESET (fillfactor)")
    op.drop_column("ratings", "basis")
