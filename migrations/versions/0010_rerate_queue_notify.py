"""A queued re-rating wakes the workers: NOTIFY ``rerate_queue`` when the queue is written.

A statement-level trigger, so that a batch that queues many merchants sends one
notification; PostgreSQL delivers it at commit (none for a rolled-back transaction) and folds
duplicates within a transaction. The workers LISTEN and poll only as a fallback.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 21:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Notify on every statement that writes the queue."""
    op.execute("""
        CREATE FUNCTION rerate_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('rerate_queue', '');
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER rerate_queue_notify AFTER INSERT OR UPDATE ON rerate_queue
            FOR EACH STATEMENT EXECUTE FUNCTION rerate_queue_notify()
    """)


def downgrade() -> None:
    """Back to polling only."""
    op.execute("DROP TRIGGER rerate_queue_notify ON rerate_queue")
    op.execute("DROP FUNCTION rerate_queue_notify()")
