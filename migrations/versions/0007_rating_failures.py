"""Merchants that cannot be rated are set aside with their error; a warning rule says so.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RULES = (
    "'grade-drop', 'complaint-surge', 'sales-surge', 'deep-discount', 'custody-shortfall',"
    " 'hard-override', 'dispute-overdue'"
)


def _rules(rules: str) -> None:
    op.execute("ALTER TABLE warnings DROP CONSTRAINT ck_warnings_rule")
    op.execute(f"ALTER TABLE warnings ADD CONSTRAINT ck_warnings_rule CHECK (rule IN ({rules}))")


def upgrade() -> None:
    op.create_table(
        "rating_failures",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("cause_ref", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("attempts > 0", name=op.f("ck_rating_failures_attempts")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_rating_failures_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_rating_failures")),
    )
    op.create_index("ix_rating_failures_next", "rating_failures", ["next_attempt_at"], unique=False)
    _rules(RULES + ", 'rating-failed'")


def downgrade() -> None:
    op.execute("DELETE FROM warnings WHERE rule = 'rating-failed'")
    _rules(RULES)
    op.drop_index("ix_rating_failures_next", table_name="rating_failures")
    op.drop_table("rating_failures")
