"""A redemption code keeps what was redeemed with it, for the holder's screen.

The consumer's code page turns into "核销成功 ¥10.00" the moment the merchant redeems, and
the card list tells of recent redemptions: both read what the code was used for from the
code itself. Codes used before this revision show no amount (the ledger has it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("redemption_codes", sa.Column("used_units", sa.BigInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_redemption_codes_used_units"),
        "redemption_codes",
        "used_units IS NULL OR (used_units > 0 AND used_units <= max_units AND used_at IS NOT NULL)",
    )


def downgrade() -> None:
    op.drop_column("redemption_codes", "used_units")
