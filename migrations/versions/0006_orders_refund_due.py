"""Orders paid after their merchant defaulted: ``refund_due`` (no card, the money goes back).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "'pending', 'paid', 'failed'"
NEW = f"{OLD}, 'refund_due'"


def _statuses(statuses: str) -> None:
    op.execute("ALTER TABLE orders DROP CONSTRAINT ck_orders_status")
    op.execute(f"ALTER TABLE orders ADD CONSTRAINT ck_orders_status CHECK (status IN ({statuses}))")


def upgrade() -> None:
    _statuses(NEW)


def downgrade() -> None:
    _statuses(OLD)
