"""A cheaper nightly re-rating: reasons rebuilt only on a change, in-place rows, indexes.

A night's re-rating of a district rates every merchant, but few merchants' records change in a
day. ``basis`` is a digest of what a rating's reasons are made of (the model and cut points,
the merchant's feature values, the records they came from); when a re-rating finds the same
digest, it keeps the stored reasons instead of building their JSON again. ``NULL`` (ratings
written before this revision) never matches, so those are rebuilt once.

Ratings are rewritten every night while their grade rarely changes: room left on each page
(fillfactor 70) lets PostgreSQL write the new row version beside the old one without touching
the indexes (a heap-only tuple update).

Every rating asks whether the platform has counted a merchant's complaints before (a quiet
week must bring the count back to zero). A partial index of the platform's own complaint
records answers it from the index; through the records' main index PostgreSQL read every
complaint record of the batch from the table to check its provenance (30 ms a thousand
merchants).

The index that finds a merchant's latest record of each kind now holds the record's value as
well: a rating reads nothing else of the records, so PostgreSQL answers from the index alone,
walking it backwards in the order the read needs (no table visits, no sort; a batch's read went
from 49 to 35 ms a thousand merchants).

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
    op.drop_index("ix_indicator_records_latest", table_name="indicator_records")
    op.create_index(
        "ix_indicator_records_latest",
        "indicator_records",
        ["merchant_id", "source", "kind", "as_of", "id"],
        postgresql_include=["value"],
    )
    op.create_index(
        "ix_indicator_records_platform_complaints",
        "indicator_records",
        ["merchant_id"],
        postgresql_where=sa.text("source = 'complaints' AND provenance = 'platform:complaints'"),
    )


def downgrade() -> None:
    """Drop the index, the value from the other, the digest and the page room."""
    op.drop_index("ix_indicator_records_platform_complaints", table_name="indicator_records")
    op.drop_index("ix_indicator_records_latest", table_name="indicator_records")
    op.create_index(
        "ix_indicator_records_latest",
        "indicator_records",
        ["merchant_id", "source", "kind", "as_of", "id"],
    )
    op.execute("ALTER TABLE ratings RESET (fillfactor)")
    op.drop_column("ratings", "basis")
