"""Journal entries of two new kinds: claim payments and dispute compensation.

The CHECK on ``journal_entries.kind`` is replaced by one listing them. The downgrade fails,
correctly, once an entry of a new kind exists: the journal is append-only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 17:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "'purchase', 'redemption', 'refund', 'receivable_settlement', 'default_payout'"
NEW = f"{OLD}, 'claim_payment', 'compensation'"


def _kinds(kinds: str) -> None:
    op.execute("ALTER TABLE journal_entries DROP CONSTRAINT ck_journal_entries_kind")
    op.execute(
        f"ALTER TABLE journal_entries ADD CONSTRAINT ck_journal_entries_kind CHECK (kind IN ({kinds}))"
    )


def upgrade() -> None:
    _kinds(NEW)


def downgrade() -> None:
    _kinds(OLD)
