"""Resolution packs: a record of every pack built, append-only like the journal.

* ``resolution_packs``: the merchant, the role and staff member who asked, when, what the
  pack held (cards, money owed, ledger entries) and the SHA-256 of its signed manifest.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 22:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE resolution_packs (
            id uuid PRIMARY KEY,
            merchant_id uuid NOT NULL REFERENCES merchants (id),
            role varchar(16) NOT NULL,
            requested_by uuid REFERENCES users (id),
            built_at timestamptz NOT NULL,
            cards bigint NOT NULL,
            owed_fen bigint NOT NULL,
            entries bigint NOT NULL,
            manifest_sha256 bytea NOT NULL,
            kid varchar(32) NOT NULL,
            CONSTRAINT ck_resolution_packs_role CHECK (role IN ('regulator', 'insurer', 'operator')),
            CONSTRAINT ck_resolution_packs_manifest_sha256 CHECK (octet_length(manifest_sha256) = 32)
        );
        CREATE INDEX ix_resolution_packs_merchant_id ON resolution_packs (merchant_id);
        CREATE TRIGGER resolution_packs_append_only BEFORE UPDATE OR DELETE ON resolution_packs
            FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
        CREATE TRIGGER resolution_packs_no_truncate BEFORE TRUNCATE ON resolution_packs
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
    """)


def downgrade() -> None:
    op.execute("DROP TABLE resolution_packs")
