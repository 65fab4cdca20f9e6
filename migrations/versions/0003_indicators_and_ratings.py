"""Indicator records and imports, scoring model files, ratings, grade changes, re-rate queue.

Grade changes are history: PostgreSQL refuses to update, delete or truncate them (the
ledger's append-only function is reused).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:04:05.415504
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


HISTORY_TRIGGERS = """
CREATE TRIGGER rating_changes_append_only BEFORE UPDATE OR DELETE ON rating_changes
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER rating_changes_no_truncate BEFORE TRUNCATE ON rating_changes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "indicator_imports",
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("imported_by", sa.Uuid(), nullable=True),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("unknown", sa.Integer(), nullable=False),
        sa.Column("malformed", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('csv', 'api')", name=op.f("ck_indicator_imports_channel")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_imports")),
        sa.UniqueConstraint("digest", name=op.f("uq_indicator_imports_digest")),
    )
    op.create_table(
        "scoring_models",
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("file", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_scoring_models")),
    )
    op.create_index(
        "uq_scoring_models_active",
        "scoring_models",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "indicator_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('registration', 'tax', 'court', 'credit', 'social_security', 'bank', 'complaints', 'sales')",
            name=op.f("ck_indicator_records_source"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["indicator_imports.id"],
            name=op.f("fk_indicator_records_import_id_indicator_imports"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_indicator_records_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_records")),
    )
    op.create_index(
        "ix_indicator_records_latest",
        "indicator_records",
        ["merchant_id", "source", "kind", "as_of", "id"],
        unique=False,
    )
    op.create_index(
        "uq_indicator_records_merchant_fingerprint",
        "indicator_records",
        ["merchant_id", "fingerprint"],
        unique=True,
    )
    op.create_table(
        "rating_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("from_grade", sa.String(length=1), nullable=True),
        sa.Column("to_grade", sa.String(length=1), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("cause_ref", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_rating_changes_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_changes")),
    )
    op.create_index(
        "ix_rating_changes_merchant_at",
        "rating_changes",
        ["merchant_id", "changed_at"],
        unique=False,
    )
    op.create_table(
        "ratings",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("reference_probability", sa.Float(), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("model_grade", sa.String(length=1), nullable=False),
        sa.Column("overrides", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("contributions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("cut_points_version", sa.Text(), nullable=False),
        sa.Column("scored_for", sa.Date(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D', 'E')", name=op.f("ck_ratings_grade")),
        sa.CheckConstraint(
            "model_grade IN ('A', 'B', 'C', 'D', 'E')", name=op.f("ck_ratings_model_grade")
        ),
        sa.CheckConstraint("probability BETWEEN 0 AND 1", name=op.f("ck_ratings_probability")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_ratings_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_ratings")),
    )
    op.create_index(op.f("ix_ratings_grade"), "ratings", ["grade"], unique=False)
    op.execute(HISTORY_TRIGGERS)
    op.create_table(
        "rerate_queue",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("cause_ref", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_rerate_queue_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_rerate_queue")),
    )


def downgrade() -> None:
    op.drop_table("rerate_queue")
    op.drop_index(op.f("ix_ratings_grade"), table_name="ratings")
    op.drop_table("ratings")
    op.drop_index("ix_rating_changes_merchant_at", table_name="rating_changes")
    op.drop_table("rating_changes")
    op.drop_index("uq_indicator_records_merchant_fingerprint", table_name="indicator_records")
    op.drop_index("ix_indicator_records_latest", table_name="indicator_records")
    op.drop_table("indicator_records")
    op.drop_index(
        "uq_scoring_models_active", table_name="scoring_models", postgresql_where=sa.text("active")
    )
    op.drop_table("scoring_models")
    op.drop_table("indicator_imports")
