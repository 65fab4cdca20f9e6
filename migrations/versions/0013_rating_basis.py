"""A cheaper nightly re-rating: inputs kept until records change, reasons rebuilt on a change.

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
merchants). Another partial index holds the registration events the exit path reads (through
the main index, three probes a merchant: 6 ms a thousand).

The index that finds a merchant's latest record of each kind now holds the record's value as
well: a rating reads nothing else of the records, so PostgreSQL answers from the index alone,
walking it backwards in the order the read needs (no table visits, no sort; a batch's read went
from 49 to 35 ms a thousand merchants).

What a rating read is kept (``rating_inputs``), with the version of the merchant's records it
was read at. ``record_stamps`` holds that version: statement triggers on ``indicator_records``
count every insert, update and delete of a merchant's records and keep the newest ``as_of``.
A re-rating takes the kept values of a merchant whose records have not changed since, and
none of whose records had yet to come into force (dated on or after the day they were read
for); every other merchant is read from its records. Nothing else in a record can change a
rating, so both ways give the same numbers (``tests/e2e/test_rating_paths.py``).

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


STAMP = """
CREATE FUNCTION stamp_indicator_records() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- In merchant order, so that two statements lock the stamps they share in the same order.
  INSERT INTO record_stamps AS s (merchant_id, version, newest_as_of)
  SELECT merchant_id, 1, max(as_of) FROM changed GROUP BY merchant_id ORDER BY merchant_id
  ON CONFLICT (merchant_id) DO UPDATE
     SET version = s.version + 1, newest_as_of = greatest(s.newest_as_of, excluded.newest_as_of);
  RETURN NULL;
END $$
"""
"""Count a statement's changes to each merchant's records (a record never moves to another
merchant, so the new rows of an update name the merchants it changed)."""

EXIT_KINDS = ("capital_change", "equity_transfer", "legal_representative_change")
"""The registration kinds of the exit path when this revision was written."""

TRIGGERS = {
    "stamp_inserted_records": "INSERT ON indicator_records REFERENCING NEW TABLE AS changed",
    "stamp_updated_records": "UPDATE ON indicator_records REFERENCING NEW TABLE AS changed",
    "stamp_deleted_records": "DELETE ON indicator_records REFERENCING OLD TABLE AS changed",
}


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
    op.create_index(
        "ix_indicator_records_exit_steps",
        "indicator_records",
        ["merchant_id", "as_of"],
        postgresql_where=sa.text(f"source = 'registration' AND kind IN {EXIT_KINDS!r}"),
    )
    op.create_table(
        "record_stamps",
        sa.Column("merchant_id", sa.Uuid(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("newest_as_of", sa.Date(), nullable=False),
    )
    op.execute(
        "INSERT INTO record_stamps (merchant_id, version, newest_as_of)"
        " SELECT merchant_id, 1, max(as_of) FROM indicator_records GROUP BY merchant_id"
    )
    op.execute(STAMP)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {when}"
            " FOR EACH STATEMENT EXECUTE FUNCTION stamp_indicator_records()"
        )
    op.create_table(
        "rating_inputs",
        sa.Column("merchant_id", sa.Uuid(), sa.ForeignKey("merchants.id"), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("read_for", sa.Date(), nullable=False),
        sa.Column("held", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    """Drop the kept inputs, the stamps, the indexes' changes, the digest and the page room."""
    op.drop_table("rating_inputs")
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON indicator_records")
    op.execute("DROP FUNCTION stamp_indicator_records()")
    op.drop_table("record_stamps")
    op.drop_index("ix_indicator_records_platform_complaints", table_name="indicator_records")
    op.drop_index("ix_indicator_records_exit_steps", table_name="indicator_records")
    op.drop_index("ix_indicator_records_latest", table_name="indicator_records")
    op.create_index(
        "ix_indicator_records_latest",
        "indicator_records",
        ["merchant_id", "source", "kind", "as_of", "id"],
    )
    op.execute("ALTER TABLE ratings RESET (fillfactor)")
    op.drop_column("ratings", "basis")
