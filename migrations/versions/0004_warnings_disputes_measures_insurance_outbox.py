"""Closed loop: warnings, disputes, measures, insurers, policies, claims, outbox, custody.

Measures and dispute steps are history kept with who and when; the outbox holds insurer
events written in the same transaction as the change that caused them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 17:30:52.886865
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody_statements",
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.Uuid(), nullable=True),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("unexpected", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_statements")),
        sa.UniqueConstraint("digest", name=op.f("uq_custody_statements_digest")),
    )
    op.create_table(
        "insurers",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurers")),
        sa.UniqueConstraint("name", name=op.f("uq_insurers_name")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("insurer_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered')", name=op.f("ck_outbox_events_status")
        ),
        sa.ForeignKeyConstraint(
            ["insurer_id"], ["insurers.id"], name=op.f("fk_outbox_events_insurer_id_insurers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_outbox_events_seq")),
    )
    op.create_index(
        "ix_outbox_events_due", "outbox_events", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(
        "ix_outbox_events_insurer_seq", "outbox_events", ["insurer_id", "seq"], unique=False
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_delivery_attempts_event_id_outbox_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_delivery_attempts_event_id"), "delivery_attempts", ["event_id"], unique=False
    )
    op.create_table(
        "policies",
        sa.Column("insurer_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("coverage_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("premium_schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'ended')", name=op.f("ck_policies_status")),
        sa.CheckConstraint("coverage_fen > 0", name=op.f("ck_policies_coverage")),
        sa.ForeignKeyConstraint(
            ["insurer_id"], ["insurers.id"], name=op.f("fk_policies_insurer_id_insurers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_policies_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("number", name=op.f("uq_policies_number")),
    )
    op.create_index(op.f("ix_policies_insurer_id"), "policies", ["insurer_id"], unique=False)
    op.create_index(
        "uq_policies_active_merchant",
        "policies",
        ["merchant_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "claims",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("insurer_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("cards", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("default_seq", sa.BigInteger(), nullable=False),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_ref", sa.Text(), nullable=True),
        sa.Column("payment_seq", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('triggered', 'acknowledged', 'paid', 'closed')",
            name=op.f("ck_claims_status"),
        ),
        sa.CheckConstraint("total_fen >= 0", name=op.f("ck_claims_total")),
        sa.ForeignKeyConstraint(
            ["insurer_id"], ["insurers.id"], name=op.f("fk_claims_insurer_id_insurers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_claims_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_claims_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_claims_merchant_id")),
    )
    op.create_index(op.f("ix_claims_insurer_id"), "claims", ["insurer_id"], unique=False)
    op.create_index("ix_claims_status", "claims", ["status"], unique=False)
    op.create_table(
        "disputes",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("consumer_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("amount_asked", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=16), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merchant_answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_amount", sa.BigInteger(), nullable=True),
        sa.Column("decision_text", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_seq", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('refund', 'partial', 'reject')",
            name=op.f("ck_disputes_decision"),
        ),
        sa.CheckConstraint(
            "owner IN ('merchant', 'regulator', 'consumer', 'nobody')",
            name=op.f("ck_disputes_owner"),
        ),
        sa.CheckConstraint(
            "status IN ('filed', 'mediation', 'decided', 'confirmed', 'reopened')",
            name=op.f("ck_disputes_status"),
        ),
        sa.CheckConstraint("amount_asked >= 0", name=op.f("ck_disputes_amount_asked")),
        sa.CheckConstraint(
            "decided_amount IS NULL OR decided_amount >= 0", name=op.f("ck_disputes_decided_amount")
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_disputes_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_disputes_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_disputes_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    op.create_index(op.f("ix_disputes_card_id"), "disputes", ["card_id"], unique=False)
    op.create_index(op.f("ix_disputes_consumer_id"), "disputes", ["consumer_id"], unique=False)
    op.create_index(
        "ix_disputes_merchant_filed", "disputes", ["merchant_id", "filed_at"], unique=False
    )
    op.create_index(
        "ix_disputes_owner_deadline", "disputes", ["status", "deadline_at"], unique=False
    )
    op.create_table(
        "measures",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("taken_by", sa.Uuid(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('raise-custody-ratio', 'lift-custody-ratio', 'suspend-sales', 'lift-suspension', 'declare-default')",
            name=op.f("ck_measures_kind"),
        ),
        sa.CheckConstraint("char_length(reason) > 0", name=op.f("ck_measures_reason")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_measures_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["taken_by"], ["users.id"], name=op.f("fk_measures_taken_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measures")),
    )
    op.create_index(
        "ix_measures_merchant_at", "measures", ["merchant_id", "taken_at"], unique=False
    )
    op.create_table(
        "warnings",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("cause_key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_to", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Uuid(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "rule IN ('grade-drop', 'complaint-surge', 'sales-surge', 'deep-discount', 'custody-shortfall', 'hard-override', 'dispute-overdue')",
            name=op.f("ck_warnings_rule"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'closed')", name=op.f("ck_warnings_status")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_warnings_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to"], ["users.id"], name=op.f("fk_warnings_assigned_to_users")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["users.id"], name=op.f("fk_warnings_closed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_warnings_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warnings")),
    )
    op.create_index("ix_warnings_district_status", "warnings", ["district", "status"], unique=False)
    op.create_index(
        "uq_warnings_cause", "warnings", ["merchant_id", "rule", "cause_key"], unique=True
    )
    op.create_table(
        "claim_cards",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), nullable=False),
        sa.Column("custody_paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_claim_cards_amount")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_cards_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("claim_id", "card_id", name=op.f("pk_claim_cards")),
    )
    op.create_table(
        "dispute_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["disputes.id"], name=op.f("fk_dispute_events_dispute_id_disputes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_events")),
    )
    op.create_index(
        op.f("ix_dispute_events_dispute_id"), "dispute_events", ["dispute_id"], unique=False
    )
    op.create_table(
        "warning_notes",
        sa.Column("warning_id", sa.Uuid(), nullable=False),
        sa.Column("author", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author"], ["users.id"], name=op.f("fk_warning_notes_author_users")
        ),
        sa.ForeignKeyConstraint(
            ["warning_id"], ["warnings.id"], name=op.f("fk_warning_notes_warning_id_warnings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_notes")),
    )
    op.create_index(
        op.f("ix_warning_notes_warning_id"), "warning_notes", ["warning_id"], unique=False
    )
    op.add_column("merchants", sa.Column("sales_blocked", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("insurer_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_users_insurer_id_insurers"), "users", "insurers", ["insurer_id"], ["id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_users_insurer_id_insurers"), "users", type_="foreignkey")
    op.drop_column("users", "insurer_id")
    op.drop_column("merchants", "sales_blocked")
    op.drop_index(op.f("ix_warning_notes_warning_id"), table_name="warning_notes")
    op.drop_table("warning_notes")
    op.drop_index(op.f("ix_dispute_events_dispute_id"), table_name="dispute_events")
    op.drop_table("dispute_events")
    op.drop_table("claim_cards")
    op.drop_index("uq_warnings_cause", table_name="warnings")
    op.drop_index("ix_warnings_district_status", table_name="warnings")
    op.drop_table("warnings")
    op.drop_index("ix_measures_merchant_at", table_name="measures")
    op.drop_table("measures")
    op.drop_index("ix_disputes_owner_deadline", table_name="disputes")
    op.drop_index("ix_disputes_merchant_filed", table_name="disputes")
    op.drop_index(op.f("ix_disputes_consumer_id"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_card_id"), table_name="disputes")
    op.drop_table("disputes")
    op.drop_index("ix_claims_status", table_name="claims")
    op.drop_index(op.f("ix_claims_insurer_id"), table_name="claims")
    op.drop_table("claims")
    op.drop_index(
        "uq_policies_active_merchant",
        table_name="policies",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_index(op.f("ix_policies_insurer_id"), table_name="policies")
    op.drop_table("policies")
    op.drop_index(op.f("ix_delivery_attempts_event_id"), table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_outbox_events_insurer_seq", table_name="outbox_events")
    op.drop_index("ix_outbox_events_due", table_name="outbox_events")
    op.drop_table("outbox_events")
    op.drop_table("insurers")
    op.drop_table("custody_statements")
